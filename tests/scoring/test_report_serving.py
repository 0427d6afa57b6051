"""Security issue 14, finding 3: a validation report is HTML written by whoever uploads the model. It must never run
in the session of the colleague who opens it (the second risk manager who approves, an admin, an auditor): it is
served sandboxed on the page and as a download over the API."""

from __future__ import annotations

import pytest

from creditplan.scoring import services
from factories import PASSWORD

EVIL = "<html><body><h1>Report</h1><script>fetch('/api/v1/models/1/approve', {method: 'POST'})</script></body></html>"


@pytest.fixture(scope="module")
def german_artifact():  # type: ignore[no-untyped-def]
    from creditplan.scoring.domain import datasets
    from creditplan.scoring.domain.data import prepare_target
    from creditplan.scoring.domain.train import train_scorecard

    df, target, bad = datasets.german_credit()
    X, y = prepare_target(df, target, bad)
    return train_scorecard(X, y, seed=0, holdout=0.3).artifact


@pytest.fixture
def evil_version(bank, german_artifact):  # type: ignore[no-untyped-def]
    from creditplan.org import services as org

    org.create_user(None, username="risk2", password=PASSWORD, role="risk_manager", branch_code="HO")
    return services.register_version(bank["risk"], model_name="retail-pd", artifact=german_artifact,
                                     report_html=EVIL)


def _sandboxed(response) -> None:  # type: ignore[no-untyped-def]
    csp = response["Content-Security-Policy"]
    directives = [d.strip().split()[0] for d in csp.split(";") if d.strip()]
    assert "sandbox" in directives and "sandbox" in [d.strip() for d in csp.split(";")]  # no allow-* tokens
    assert "default-src 'none'" in csp
    assert response["X-Content-Type-Options"] == "nosniff"


def test_the_report_page_serves_an_uploaded_script_sandboxed(client, evil_version) -> None:  # type: ignore[no-untyped-def]
    assert client.login(username="risk2", password=PASSWORD)
    r = client.get(f"/models/{evil_version.id}/report/")
    assert r.status_code == 200 and "<script>" in r.content.decode()  # the report is shown as uploaded…
    _sandboxed(r)  # …but in a sandbox: no script runs, no request leaves with the viewer's session
    page = client.get(f"/models/{evil_version.id}/").content.decode()
    frame = page.split('<iframe', 1)[1].split(">", 1)[0]
    assert 'sandbox=""' in frame and "allow-" not in frame


def test_the_api_serves_the_report_as_a_sandboxed_download(client, evil_version) -> None:  # type: ignore[no-untyped-def]
    token = client.post("/api/v1/auth/token", {"username": "risk2", "password": PASSWORD},
                        content_type="application/json").json()["token"]
    r = client.get(f"/api/v1/models/{evil_version.id}/report", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert r.status_code == 200 and r.content.decode() == EVIL
    assert r["Content-Disposition"].startswith("attachment")
    _sandboxed(r)
    # a browser session on the API (session auth) gets the same headers
    assert client.login(username="risk2", password=PASSWORD)
    r = client.get(f"/api/v1/models/{evil_version.id}/report")
    assert r.status_code == 200 and r["Content-Disposition"].startswith("attachment")
    _sandboxed(r)
