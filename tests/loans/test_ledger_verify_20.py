"""Issue 20 §4: "ledger verification has no progress and can be clicked twice". The audit page's button is
disabled while its request runs and shows what is being checked; the endpoint runs one verification at a time
(a second request meanwhile is refused at once, with a sentence in the page's language)."""

from __future__ import annotations

import re
from typing import Any

from creditplan.ledger import api as ledger_api
from creditplan.ledger.models import VerificationRun
from factories import PASSWORD


def test_the_verify_button_is_disabled_while_it_runs_and_shows_progress(client: Any, bank: dict[str, Any]) -> None:
    assert client.login(username="auditor", password=PASSWORD)
    page = client.get("/audit/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    button = re.search(r'<button[^>]*id="verify-ledger"[^>]*>', page).group(0)
    assert 'hx-disabled-elt="this"' in button and 'hx-indicator="#verify-progress"' in button
    progress = re.search(r'<span id="verify-progress"[^>]*>(.*?)</span>', page, re.S).group(1)
    assert "<progress" in progress and "Verifying" in progress
    zh = client.get("/audit/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "正在校验" in re.search(r'<span id="verify-progress"[^>]*>(.*?)</span>', zh, re.S).group(1)


def test_a_second_verification_while_one_runs_is_refused(client: Any, bank: dict[str, Any]) -> None:
    assert client.login(username="auditor", password=PASSWORD)
    assert ledger_api._verifying.acquire(blocking=False)  # a verification is running (another click, another tab)
    try:
        r = client.post("/api/v1/ledger/verifications", content_type="application/json")
        assert r.status_code == 409 and r.json()["code"] == "verification_running"
        assert not VerificationRun.objects.exists()
    finally:
        ledger_api._verifying.release()
    r = client.post("/api/v1/ledger/verifications", content_type="application/json")
    assert r.status_code == 200 and r.json()["ok"] and VerificationRun.objects.count() == 1
