"""Lists that scale (issue 20 §4): the audit trail (it showed the latest 100 events, no paging, no filter, no
export), the customers list and the webhook delivery log page, filter, sort and export what they show — and an
export never lets a spreadsheet run a cell as a formula."""

from __future__ import annotations

import datetime as dt
import io
import json
from typing import Any

import pytest
from django.db import transaction
from django.test import Client
from openpyxl import load_workbook

from creditplan.customers.services import create_customer
from creditplan.integration import services as integration
from creditplan.integration.models import WebhookDelivery
from creditplan.ledger import services as ledger
from creditplan.ledger.models import Event
from factories import company, individual

T0 = dt.datetime(2025, 7, 1, 9, 0, tzinfo=dt.UTC)


def _client(user: Any, lang: str = "en") -> Client:
    c = Client(HTTP_ACCEPT_LANGUAGE=lang)
    c.force_login(user)
    return c


def _csv(response: Any) -> list[list[str]]:
    import csv

    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert response.content.startswith(b"\xef\xbb\xbf")  # Excel opens Chinese text right
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


def _events(n: int, *, kind: str = "customer.pii_viewed", actor: Any = None, subject: str = "customer") -> None:
    with transaction.atomic():
        for i in range(n):
            ledger.append(actor, kind, subject, str(1000 + i), {"n": i})


# ---- the audit trail ----

def test_audit_trail_pages_beyond_the_latest_100_events(bank) -> None:
    _events(180, actor=bank["ops"])
    total = Event.objects.count()
    auditor = _client(bank["auditor"])
    first = auditor.get("/audit/?per_page=100").content.decode()
    assert f"Rows 1–100 of {total}" in first
    last_page = -(-total // 100)
    page = auditor.get(f"/audit/?per_page=100&page={last_page}").content.decode()
    assert f"of {total}" in page and "<td>1</td>" in page  # the oldest event is reachable


def test_audit_trail_filters_by_area_actor_subject_and_period(bank) -> None:
    _events(30, actor=bank["ops"])
    _events(5, kind="loan.repayment", actor=bank["officer_bj"], subject="loan")
    auditor = _client(bank["auditor"])
    loans = auditor.get("/audit/?family=loan").content.decode()
    assert "Rows 1–5 of 5" in loans and "customer.pii_viewed" not in loans and "Loans" in loans
    ops = auditor.get("/audit/?who=ops&per_page=25").content.decode()
    assert "of 30" in ops and "loan.repayment" not in ops
    one = auditor.get("/audit/?subject=loan:1003").content.decode()
    assert "Rows 1–1 of 1" in one
    today = dt.date.today()
    future = auditor.get(f"/audit/?from={today + dt.timedelta(days=2)}").content.decode()
    assert "No event matches." in future
    assert "of 35" not in auditor.get(f"/audit/?to={today - dt.timedelta(days=2)}").content.decode()
    # a hand-edited address never fails the page
    assert auditor.get("/audit/?from=yesterday&page=abc&sort=nonsense&per_page=7").status_code == 200


def test_audit_trail_sorts_by_a_column(bank) -> None:
    _events(3, kind="plan.activated", actor=bank["planner"], subject="plan")
    rows = _csv(_client(bank["auditor"]).get("/audit/?sort=kind&export=csv"))
    kinds = [r[5] for r in rows[1:]]  # the event code column (the words follow another order)
    assert kinds == sorted(kinds)


def test_audit_trail_export_holds_every_filtered_row_as_words_and_is_formula_safe(bank) -> None:
    from creditplan.org import services as org

    _events(120, actor=bank["ops"])
    # a user name may start with + - or @ (Django's user name rule allows them): a spreadsheet would compute it
    odd = org.create_user(None, username="-2+3@x", password="a-good-password-1", role="operations", branch_code="HO")
    with transaction.atomic():
        ledger.append(odd, "integration.customer_synced", "customer", "42", {})
    auditor = _client(bank["auditor"])
    rows = _csv(auditor.get("/audit/?family=customer&export=csv"))
    assert rows[0] == ["No.", "When", "Who", "Area", "Event", "Event code", "Record", "Leaf hash"]
    assert len(rows) - 1 == Event.objects.filter(kind__startswith="customer.").count() >= 120
    assert all(r[3] == "Customers" for r in rows[1:])
    book = load_workbook(io.BytesIO(auditor.get("/audit/?family=integration&export=xlsx").content))
    cells = [c.value for row in book.active.iter_rows() for c in row]
    assert "'-2+3@x" in cells and "-2+3@x" not in cells
    zh = _csv(_client(bank["auditor"], "zh-hans").get("/audit/?family=customer&export=csv"))
    assert zh[0][:3] == ["序号", "时间", "操作人"] and zh[1][3] == "客户"


def test_audit_trail_stays_closed_to_roles_without_the_permission(bank) -> None:
    assert _client(bank["officer_bj"]).get("/audit/?export=csv").status_code == 403


# ---- customers ----

def test_customer_list_pages_filters_sorts_and_exports_masked(bank) -> None:
    officer = bank["officer_bj"]
    for i in range(1, 61):
        create_customer(officer, individual(i, name=f"客户{i:02d}", monthly_income=f"{1000 + i}.00"))
    create_customer(officer, company(1))
    create_customer(bank["officer_sh"], individual(99, name="上海客户"))
    create_customer(officer, individual(100, name="=HYPERLINK(\"http://evil\")"))
    risk = _client(bank["risk"])
    page = risk.post("/customers/", {"per_page": "25", "page": "3", "branch": "BJ01"}).content.decode()
    assert "62 customers · page 3 of 3" in page and "上海客户" not in page
    sorted_page = risk.post("/customers/", {"kind": "individual", "resort": "-income", "per_page": "25"}
                            ).content.decode()
    assert sorted_page.index("1,060.00") < sorted_page.index("1,059.00")
    rows = _csv(risk.post("/customers/", {"branch": "BJ", "kind": "individual", "export": "csv"}))
    assert rows[0] == ["No.", "Name", "Kind", "ID / USCC", "Phone", "Branch", "Monthly income", "Status"]
    assert len(rows) == 1 + 61 and all(r[2] == "Individual" for r in rows[1:])
    # ID and phone numbers masked for every role, in the export as on the page
    assert all(r[3].startswith("*") and r[4].startswith("*") for r in rows[1:]), rows[1]
    evil = [r for r in rows if "HYPERLINK" in r[1]]
    assert evil and evil[0][1].startswith("'=")
    event = Event.objects.filter(kind="customer.list_exported").get()
    assert event.actor_name == "risk" and json.loads(event.entry)["data"]["rows"] == 61


def test_customer_export_holds_no_identifier_in_the_address(bank) -> None:
    create_customer(bank["officer_bj"], individual(1))
    response = _client(bank["officer_bj"]).get("/customers/?q=110108198506150011&export=csv")
    assert response.status_code == 302  # an ID number in the address is not searched, nor exported
    assert not Event.objects.filter(kind="customer.list_exported").exists()


def test_branch_staff_export_only_their_branch(bank) -> None:
    create_customer(bank["officer_bj"], individual(1, name="北京客户"))
    create_customer(bank["officer_sh"], individual(2, name="上海客户"))
    rows = _csv(_client(bank["officer_bj"]).post("/customers/", {"branch": "SH", "export": "csv"}))
    assert rows[1:] == []
    names = [r[1] for r in _csv(_client(bank["officer_bj"]).post("/customers/", {"export": "csv"}))[1:]]
    assert names == ["北京客户"]


# ---- webhook deliveries ----

@pytest.fixture
def deliveries(bank: dict[str, Any], settings: Any) -> dict[str, Any]:
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    settings.DEVELOPMENT = True
    crm = integration.create_endpoint(bank["admin"], name="CRM", url="http://127.0.0.1:9/hooks", events="loan.*")
    dwh = integration.create_endpoint(bank["admin"], name="DWH", url="http://127.0.0.1:9/dwh", events="application.*")
    _events(130, kind="loan.repayment", subject="loan")
    _events(10, kind="application.approved", subject="application")
    integration.dispatch(now=T0)
    WebhookDelivery.objects.filter(endpoint_id=dwh.endpoint.id).update(status="dead", attempts=6,
                                                                         last_error="=cmd|' /C calc'!A0")
    return {"crm": crm.endpoint.id, "dwh": dwh.endpoint.id}


def test_delivery_log_pages_beyond_100_and_filters(bank, deliveries) -> None:
    admin = _client(bank["admin"])
    assert "Rows 101–140 of 140" in admin.get("/integration/deliveries/?per_page=100&page=2").content.decode()
    dead = admin.get("/integration/deliveries/?status=dead").content.decode()
    assert "Rows 1–10 of 10" in dead and "loan.repayment" not in dead
    crm = admin.get(f"/integration/deliveries/?endpoint={deliveries['crm']}&kind=loan.").content.decode()
    assert "of 130" in crm
    assert admin.get("/integration/deliveries/?status=bogus").status_code == 200


def test_delivery_log_export_is_in_words_and_formula_safe(bank, deliveries) -> None:
    rows = _csv(_client(bank["admin"]).get("/integration/deliveries/?status=dead&sort=-attempts&export=csv"))
    assert rows[0][:5] == ["#", "Webhook", "Event", "Subject", "Status"]
    assert len(rows) == 11 and {r[4] for r in rows[1:]} == {"Given up"} and {r[1] for r in rows[1:]} == {"DWH"}
    assert all(r[6].startswith("'=") for r in rows[1:])
    zh = _csv(_client(bank["admin"], "zh-hans").get("/integration/deliveries/?status=dead&export=csv"))
    assert zh[1][4] == "已放弃"


def test_delivery_log_is_closed_to_other_roles(bank, deliveries) -> None:
    assert _client(bank["auditor"]).get("/integration/deliveries/?export=csv").status_code == 403
