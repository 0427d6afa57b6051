"""Security issue 14, finding 4: a reservation belongs to its branch. Staff of another branch cannot release,
consume or repay it — they get the very answer a reservation that does not exist gets (404, the same body) and
nothing moves — and the quota explanation shows each viewer only the applications of their own branch subtree,
over the API and on the page."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from creditplan.core.errors import NotFound
from creditplan.ledger.models import Event
from creditplan.org import services as org
from creditplan.plans import services as plans
from creditplan.plans.models import Movement, Reservation
from factories import PASSWORD

TODAY = dt.date.today()
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


@pytest.fixture
def world(bank: dict[str, Any]) -> dict[str, Any]:
    """bank + approver_sh (an approver of the Shanghai branch), an active plan (BJ and SH quotas) and two
    reservations: BJ-APP at BJ01 (reserved) and BJ-PAID at BJ01 (paid out, 1 m outstanding)."""
    approver_sh = org.create_user(None, username="approver_sh", password=PASSWORD, role="approver",
                                  branch_code="SH", display_name="approver_sh")
    p = plans.create_plan(bank["planner"], code="scope", name="范围",
                          period_start=TODAY.replace(month=1, day=1),
                          period_end=TODAY.replace(month=12, day=31), net_capital="500000000",
                          new_lending_limit="100000000", balance_limit="80000000")
    bj, sh = plans.split_quota(bank["planner"], p.root.id, [
        {"branch": "BJ", "new_lending_limit": "60000000", "balance_limit": "50000000"},
        {"branch": "SH", "new_lending_limit": "30000000", "balance_limit": "25000000"},
    ])
    plans.activate_plan(bank["planner"], p.id)
    plans.reserve_quota(bank["approver_bj"], application_ref="BJ-APP", amount="2000000", branch="BJ01")
    plans.reserve_quota(bank["approver_bj"], application_ref="BJ-PAID", amount="1000000", branch="BJ01")
    plans.consume_quota(bank["approver_bj"], application_ref="BJ-PAID")
    plans.reserve_quota(approver_sh, application_ref="SH-APP", amount="500000", branch="SH01")
    return {**bank, "approver_sh": approver_sh, "plan": p, "root": p.root.id, "bj": bj.id, "sh": sh.id}


@pytest.fixture
def call(client: Any, world: dict[str, Any]):  # type: ignore[no-untyped-def]
    tokens: dict[str, str] = {}

    def _call(method: str, path: str, user: str, body: Any = None) -> Any:
        if user not in tokens:
            r = client.post("/api/v1/auth/token", {"username": user, "password": PASSWORD},
                            content_type="application/json")
            tokens[user] = r.json()["token"]
        kw = {"HTTP_AUTHORIZATION": f"Bearer {tokens[user]}"}
        if method == "get":
            return client.get(path, **kw)
        return client.post(path, body or {}, content_type="application/json", **kw)

    return _call


def _state() -> tuple[Any, ...]:
    return (sorted(Reservation.objects.values_list("application_ref", "status", "outstanding_minor")),
            Movement.objects.count(), Event.objects.filter(kind__startswith="plan.").count())


def test_another_branch_cannot_release_consume_or_repay_a_reservation_over_the_api(call: Any,
                                                                                   world: Any) -> None:
    before = _state()
    for action, body in (("release", {"reason": "customer withdrew"}), ("consume", {}),
                         ("repay", {"amount": "1000"})):
        ref = "BJ-PAID" if action == "repay" else "BJ-APP"
        theirs = call("post", f"/api/v1/plans/reservations/{ref}/{action}", "approver_sh", body)
        missing = call("post", f"/api/v1/plans/reservations/NO-SUCH/{action}", "approver_sh", body)
        assert theirs.status_code == missing.status_code == 404, (action, theirs.content)
        assert theirs.json() == {**missing.json(), "detail": missing.json()["detail"].replace("NO-SUCH", ref)}
        assert theirs.json()["code"] == "reservation_not_found"
    assert _state() == before  # nothing released, consumed or repaid; no movement, no event
    # the application's own branch still may
    r = call("post", "/api/v1/plans/reservations/BJ-APP/release", "approver_bj",
             {"reason": "customer withdrew"})
    assert r.status_code == 200 and r.json()["status"] == "released"


def test_scope_is_checked_before_the_input_so_a_bad_request_reveals_nothing(world: Any) -> None:
    with pytest.raises(NotFound):  # a missing reason would be 422 for a reservation of one's own
        plans.release_quota(world["approver_sh"], application_ref="BJ-APP", reason="")
    with pytest.raises(NotFound):  # and an amount above what is outstanding 409
        plans.repay_principal(world["approver_sh"], application_ref="BJ-PAID", amount="99999999")
    with pytest.raises(NotFound):
        plans.unrepay_principal(world["approver_sh"], application_ref="BJ-PAID", amount="1")
    # trusted callers (the close, origination releasing on withdrawal) act without an actor, as before
    assert plans.release_quota(None, application_ref="BJ-APP", reason="withdrawn").status == "released"


def test_the_quota_explanation_shows_only_the_viewers_branch(call: Any, world: Any) -> None:
    def refs(user: str, quota: int) -> Any:
        r = call("get", f"/api/v1/plans/quotas/{quota}/reservations", user)
        return r.status_code, sorted(x["application_ref"] for x in r.json()) if r.status_code == 200 else None

    assert refs("planner", world["root"]) == (200, ["BJ-APP", "BJ-PAID", "SH-APP"])  # head office: all
    assert refs("approver_sh", world["root"]) == (200, ["SH-APP"])  # the root carries every branch's
    assert refs("approver_bj", world["root"]) == (200, ["BJ-APP", "BJ-PAID"])
    theirs, missing = (call("get", f"/api/v1/plans/quotas/{q}/reservations", "approver_sh")
                       for q in (world["bj"], 999_999))
    assert theirs.status_code == missing.status_code == 404
    assert theirs.json()["code"] == missing.json()["code"] == "quota_not_found"


def test_the_quota_explanation_page_shows_only_the_viewers_branch(client: Any, world: Any) -> None:
    assert client.login(username="approver_sh", password=PASSWORD)
    page = client.get(f"/plans/{world['plan'].id}/quotas/{world['root']}/", **EN)
    assert page.status_code == 200
    text = page.content.decode()
    assert "SH-APP" in text and "BJ-APP" not in text and "BJ-PAID" not in text
    assert client.get(f"/plans/{world['plan'].id}/quotas/{world['bj']}/", **EN).status_code == 404
    client.logout()
    assert client.login(username="planner", password=PASSWORD)
    text = client.get(f"/plans/{world['plan'].id}/quotas/{world['root']}/", **EN).content.decode()
    assert "SH-APP" in text and "BJ-APP" in text and "BJ-PAID" in text
