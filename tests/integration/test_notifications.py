"""Customers hear about their application: the approval of a referred case becomes a message in plain words,
handed to the configured sender (here the memory sender), once."""

from __future__ import annotations

from typing import Any

from application_data import REFER

from creditplan.integration import services as integration
from creditplan.origination import services as origination


def test_an_approval_is_sent_to_the_customer_once_in_plain_words(world: dict[str, Any], submit: Any,
                                                                  memory_sender: Any) -> None:
    app = submit(REFER)
    assert app.status == "referred"
    origination.approve(world["risk"], app.ref, "within_policy")
    integration.run_once(timeout=1)
    integration.run_once(timeout=1)  # a second pass sends nothing twice
    texts = [m.body_zh for m in memory_sender.outbox]
    assert texts == [f"您的贷款申请 {app.ref} 已受理，正在人工审核。详情请登录查看。",
                     f"您的贷款申请 {app.ref} 已批准，批准金额 30,000.00 元。详情请登录查看。"]
    sms = memory_sender.outbox[-1]
    assert sms.channel == "sms" and sms.to == "13800138000" and sms.to_masked == "138****8000"
    assert sms.body_en == f"Your loan application {app.ref} has been approved for 30,000.00 yuan. Log in for the details."
    mine = integration.my_notifications(world["customer"])
    assert [n.status for n in mine] == ["sent", "sent"] and mine[0].to == "138****8000"


def test_a_failing_sender_is_retried_and_the_error_kept(world: dict[str, Any], submit: Any,
                                                       memory_sender: Any) -> None:
    import datetime as dt

    from django.utils import timezone

    memory_sender.fail_with = ConnectionError("gateway down")
    submit(REFER)
    now = timezone.now()
    report = integration.run_once(now=now, timeout=1)
    assert (report.send.sent, report.send.retrying) == (0, 1)
    [n] = integration.my_notifications(world["customer"])
    assert n.status == "pending" and "gateway down" in n.error
    memory_sender.fail_with = None
    assert integration.send_due(now=now + dt.timedelta(minutes=1)).sent == 1
