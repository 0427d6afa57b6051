"""Record replays: the ledger replays the records of every subject type an app registered with it (customers,
from CustomersConfig.ready()), and only those — the ledger itself knows no business record."""

from __future__ import annotations

from typing import Any

from django.db import connection, transaction

from creditplan.customers.replay import CustomerReplay
from creditplan.ledger import replay
from creditplan.ledger import services as ledger
from creditplan.ledger.replay import Report


class WidgetReplay:
    """A replay of a made-up record kind: keeps what it is fed, and says widget 2 differs from its record."""

    fed: list[tuple[int, str, str, dict[str, Any]]] = []

    def __init__(self, report: Report) -> None:
        self.report = report

    def feed(self, seq: int, kind: str, subject_id: str, data: dict[str, Any]) -> None:
        WidgetReplay.fed.append((seq, kind, subject_id, data))

    def compare(self) -> int:
        self.report(None, "widget 2: colour is 'red' but its events say 'blue'", "widget:2")
        return 3


def test_verification_replays_the_subject_types_registered_with_the_ledger(bank, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(WidgetReplay, "fed", [])
    monkeypatch.setitem(replay._replays, "widget", WidgetReplay)
    with transaction.atomic():
        ledger.append(bank["admin"], "loan.repaid", "loan", 1, {"n": 1})
        first = ledger.append(bank["admin"], "widget.made", "widget", 2, {"colour": "blue"})
        second = ledger.append(bank["admin"], "widget.painted", "widget", 2, {"colour": "red"})
    report = ledger.verify_ledger(None, record=False)
    assert WidgetReplay.fed == [(first.seq, "widget.made", "2", {"colour": "blue"}),
                                (second.seq, "widget.painted", "2", {"colour": "red"})]  # its events only, in order
    assert not report.ok and report.records_checked == 3
    assert [(f.subject, f.reason) for f in report.findings] == [
        ("widget:2", "widget 2: colour is 'red' but its events say 'blue'")]


def test_customers_are_replayed_through_the_registration_of_the_customers_app(bank, monkeypatch):  # type: ignore[no-untyped-def]
    from creditplan.customers import services as customers
    from factories import individual

    assert replay.registered()["customer"] is CustomerReplay
    view = customers.create_customer(bank["officer_bj"], individual(1))
    with connection.cursor() as cur:  # changed behind the ledger's back
        cur.execute("UPDATE customers_customer SET name = %s WHERE id = %s", ["王五", view.id])
    report = ledger.verify_ledger(None, record=False)
    assert not report.ok and report.first.subject == f"customer:{view.id}" and report.records_checked == 1
    monkeypatch.delitem(replay._replays, "customer")  # no replay registered: events checked, records not
    report = ledger.verify_ledger(None, record=False)
    assert report.ok and report.records_checked == 0
