"""The risk API: indicators listed, read, defined and changed (a bad definition refused as problem+json naming the
field and the offending part), values by date, indicator and dimension, the alert workflow, the runs."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from creditplan.core.money import format_minor
from creditplan.ledger import services as ledger
from creditplan.loans import payments
from creditplan.loans import services as loans
from creditplan.risk.models import Alert, Indicator, IndicatorValue
from factories import PASSWORD


@pytest.fixture
def call(client: Any, bank: dict[str, Any]) -> Any:
    tokens: dict[str, str] = {}

    def _call(method: str, path: str, user: str, body: Any = None) -> Any:
        if user not in tokens:
            r = client.post("/api/v1/auth/token", {"username": user, "password": PASSWORD},
                            content_type="application/json")
            tokens[user] = r.json()["token"]
        kw = {"HTTP_AUTHORIZATION": f"Bearer {tokens[user]}"}
        if method == "get":
            return client.get(path, body or {}, **kw)
        return getattr(client, method)(path, body or {}, content_type="application/json", **kw)

    return _call


DEFINITION = {"code": "npl_consumer", "name_en": "Consumer NPL", "name_zh": "消费贷不良率", "fact": "loans",
              "formula": 'sum(outstanding, risk_class >= 3 and product == "consumer") / sum(outstanding)',
              "dimensions": ["total", "branch"], "amber": "0.02", "red": 0.03,
              "rules": [{"kind": "red"}, {"kind": "worsening", "periods": 3}]}


def test_indicators_are_read_defined_and_changed(call: Any, risk_book: dict[str, Any]) -> None:
    listed = call("get", "/api/v1/risk/indicators", "auditor")
    assert listed.status_code == 200
    npl = next(i for i in listed.json() if i["code"] == "npl_ratio")
    assert npl["formula"] == "sum(outstanding, risk_class >= 3) / sum(outstanding)" and npl["amber"] == "0.02"
    assert call("get", "/api/v1/risk/indicators/npl_ratio", "ops").json()["name_zh"] == "不良贷款率"
    assert call("get", "/api/v1/risk/indicators/nothing", "risk").json()["code"] == "indicator_not_found"

    made = call("post", "/api/v1/risk/indicators", "risk", DEFINITION)
    assert made.status_code == 201, made.content
    assert made.json()["red"] == "0.03" and made.json()["rules"] == [{"kind": "red", "periods": 3},
                                                                     {"kind": "worsening", "periods": 3}]
    changed = call("patch", "/api/v1/risk/indicators/npl_consumer", "risk", {"amber": "0.01", "active": False})
    assert changed.status_code == 200, changed.content
    assert (changed.json()["amber"], changed.json()["red"], changed.json()["active"]) == ("0.01", "0.03", False)
    assert Indicator.objects.get(code="npl_consumer").version == 2
    # only risk managers define
    refused = call("post", "/api/v1/risk/indicators", "planner", {**DEFINITION, "code": "other"})
    assert refused.status_code == 403 and refused.json()["code"] == "permission_denied"
    assert call("patch", "/api/v1/risk/indicators/npl_ratio", "auditor", {"red": "0.5"}).status_code == 403


@pytest.mark.parametrize(("change", "field", "code", "named"), [
    ({"formula": "sum(balance) / sum(outstanding)"}, "formula", "unknown_field", "balance"),
    ({"amber": "0.05", "red": "0.03"}, "amber", "amber_beyond_red", "0.05"),
    ({"dimensions": ["total", "planet"]}, "dimensions", "unknown_dimension", "planet"),
    ({"fact": "quotas", "formula": "sum(used) / sum(limit)", "dimensions": ["channel"]}, "dimensions",
     "dimension_not_in_data", "channel"),
    ({"amber": "lots"}, "amber", "threshold_not_number", "amber"),
    ({"rules": [{"kind": "worsening", "periods": 40}]}, "rules", "periods_out_of_range", "24"),
])
def test_a_bad_definition_is_refused_naming_the_field(call: Any, risk_book: dict[str, Any], change: dict[str, Any],
                                                     field: str, code: str, named: str) -> None:
    events = ledger.count_events("risk.indicator_defined")
    r = call("post", "/api/v1/risk/indicators", "risk", {**DEFINITION, **change})
    assert r.status_code == 422 and r.headers["Content-Type"] == "application/problem+json"
    problem = next(e for e in r.json()["errors"] if e["field"] == field)
    assert problem["code"] == code and named in problem["message"]
    assert not Indicator.objects.filter(code="npl_consumer").exists()
    assert ledger.count_events("risk.indicator_defined") == events
    # a change is refused the same way and leaves the definition as it was
    r = call("patch", "/api/v1/risk/indicators/npl_ratio", "risk", change)
    assert r.status_code == 422 and any(e["field"] == field and e["code"] == code for e in r.json()["errors"])
    assert Indicator.objects.get(code="npl_ratio").version == 1


def test_values_alerts_and_runs(call: Any, risk_book: dict[str, Any], close_days: Any, settings: Any) -> None:
    settings.RISK_AFTER_CLOSE = "off"  # the indicators run on the dates the test chooses only
    payers = [risk_book["loans"][k] for k in (0, 2, 3)]

    def pay(day: dt.date) -> None:
        for loan in payers:
            fresh = loans.get_loan(risk_book["ops"], loan.ref)
            for inst in fresh.installments.filter(due_date=day, version=fresh.schedule_version):
                due = inst.principal_minor + inst.interest_minor + inst.fee_minor
                payments.post_payment(risk_book["ops"], loan_ref=loan.ref, amount=format_minor(due, grouping=False),
                                      value_date=day, reference=f"T-{loan.ref}-{day:%Y%m%d}", channel="teller")

    last = dt.date(2025, 5, 20)
    close_days(dt.date(2025, 1, 15), last, run_on=[dt.date(2025, 4, 30), last], pay=pay)

    values = call("get", "/api/v1/risk/values", "auditor", {"indicator": "npl_ratio", "dimension": "branch"}).json()
    assert {v["member"]: v["rag"] for v in values} == {"BJ01": "red", "SH01": "green"}
    assert all(v["as_of"] == last.isoformat() for v in values)
    earlier = call("get", "/api/v1/risk/values", "auditor", {"date": "2025-04-30", "indicator": "npl_ratio"}).json()
    assert {v["dimension"] for v in earlier} >= {"total", "branch"} and earlier[0]["as_of"] == "2025-04-30"
    stored = IndicatorValue.objects.get(indicator__code="npl_ratio", as_of=last, dimension="total")
    total = next(v for v in call("get", "/api/v1/risk/values", "risk", {"indicator": "npl_ratio"}).json()
                 if v["dimension"] == "total")
    assert (total["value"], total["numerator"], total["denominator"]) == (stored.value, stored.numerator,
                                                                         stored.denominator)
    bad_date = call("get", "/api/v1/risk/values", "risk", {"date": "2025-13-01"})
    assert bad_date.status_code == 422 and bad_date.json()["errors"][0]["field"] == "date"

    alerts = call("get", "/api/v1/risk/alerts", "risk").json()
    npl = next(a for a in alerts if a["indicator"] == "npl_ratio" and a["dimension"] == "total")
    assert npl["status"] == "open" and npl["rag"] == "red" and npl["owner_role"] == "risk_manager"
    assert alerts[0]["rag"] == "red"  # red first
    # planners see the plan's alerts only; a risk manager's alert is not theirs to read
    assert all(a["owner_role"] == "planner" for a in call("get", "/api/v1/risk/alerts", "planner").json())
    assert call("get", f"/api/v1/risk/alerts/{npl['id']}", "planner").status_code == 404

    url = f"/api/v1/risk/alerts/{npl['id']}"
    assert call("post", f"{url}/acknowledge", "auditor").status_code == 403
    assert call("post", f"{url}/acknowledge", "risk").json()["status"] == "acknowledged"
    again = call("post", f"{url}/acknowledge", "risk")
    assert again.status_code == 409 and again.json()["code"] == "alert_not_open"
    assert call("post", f"{url}/comment", "risk", {"text": "collections called"}).json()["comments"][0]["text"] == \
        "collections called"
    empty = call("post", f"{url}/comment", "risk", {"text": "  "})
    assert empty.status_code == 422 and empty.json()["errors"][0]["field"] == "text"
    wrong = call("post", f"{url}/resolve", "risk", {"reason": "bored"})
    assert wrong.status_code == 422 and wrong.json()["errors"][0]["field"] == "reason"
    note = call("post", f"{url}/resolve", "risk", {"reason": "other"})
    assert note.status_code == 422 and note.json()["code"] == "note_required"
    done = call("post", f"{url}/resolve", "risk", {"reason": "within_appetite", "note": "one loan, in collection"})
    assert done.status_code == 200 and done.json()["status"] == "resolved"
    assert Alert.objects.get(pk=npl["id"]).resolution == "within_appetite"
    assert npl["id"] in {a["id"] for a in call("get", "/api/v1/risk/alerts", "risk", {"status": "resolved"}).json()}
    assert call("get", "/api/v1/risk/alerts", "risk", {"status": "bogus"}).json()["code"] == "unknown_status"

    runs = call("get", "/api/v1/risk/runs", "auditor").json()
    assert [r["as_of"] for r in runs] == [last.isoformat(), "2025-04-30"] and runs[0]["loans"] == 4
    assert call("get", "/api/v1/risk/runs", "officer_bj").status_code == 403
