"""The contract with receivers, without a database: the signature, subscriptions, the retry schedule and what a
customer is told."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac

import pytest

from creditplan.core.errors import ValidationError
from creditplan.integration import domain

NOW = dt.datetime(2025, 7, 1, 9, 0, tzinfo=dt.UTC)


def test_the_signature_is_hmac_sha256_of_timestamp_dot_body_and_a_receiver_can_check_it() -> None:
    body = b'{"event":{"kind":"application.approved"}}'
    signature = domain.sign("whsec_abc", 1751360400, body)
    expected = hmac.new(b"whsec_abc", b"1751360400." + body, hashlib.sha256).hexdigest()
    assert signature == "sha256=" + expected
    assert domain.verify("whsec_abc", "1751360400", body, signature, now=1751360400 + 10) is None


@pytest.mark.parametrize(("secret", "ts", "body", "now", "why"), [
    ("other-secret", "1751360400", b"{}", 1751360400, "does not match"),
    ("whsec_abc", "1751360400", b'{"x":1}', 1751360400, "does not match"),  # body altered
    ("whsec_abc", "1751360400", b"{}", 1751360400 + 3600, "timestamp"),  # replayed an hour later
    ("whsec_abc", None, b"{}", 1751360400, "not signed"),
])
def test_a_forged_altered_or_replayed_request_is_refused(secret: str, ts: str | None, body: bytes, now: int,
                                                         why: str) -> None:
    good = domain.sign("whsec_abc", 1751360400, b"{}")
    assert why in (domain.verify(secret, ts, body, good, now=now) or "")


def test_subscriptions_cover_a_family_or_one_event() -> None:
    patterns = domain.clean_patterns("application.*, loan.disbursed")
    assert patterns == ["application.*", "loan.disbursed"]
    assert domain.matches(patterns, "application.approved")
    assert domain.matches(patterns, "loan.disbursed")
    assert not domain.matches(patterns, "loan.repayment")
    assert not domain.matches(patterns, "customer.created")


@pytest.mark.parametrize("bad", ["", "customer.*", "application", "loan.*; drop", "*"])
def test_a_bad_subscription_is_refused_with_the_field(bad: str) -> None:
    with pytest.raises(ValidationError) as e:
        domain.clean_patterns(bad)
    assert e.value.field == "events"


def test_retries_back_off_then_give_up() -> None:
    waits = []
    for attempts in range(1, domain.MAX_ATTEMPTS + 1):
        nxt = domain.next_attempt(attempts, NOW)
        waits.append(None if nxt is None else nxt - NOW)
    assert waits == [dt.timedelta(minutes=1), dt.timedelta(minutes=5), dt.timedelta(minutes=30),
                     dt.timedelta(hours=2), dt.timedelta(hours=12), None]


def test_the_customer_is_told_in_plain_words_in_both_languages() -> None:
    w = domain.notification_for("application.approved", "AP20250701ABC", {"amount_minor": 3_000_000})
    assert w is not None
    assert w.body_zh == "您的贷款申请 AP20250701ABC 已批准，批准金额 30,000.00 元。详情请登录查看。"
    assert w.body_en == "Your loan application AP20250701ABC has been approved for 30,000.00 yuan. Log in for the details."
    straight = domain.notification_for("application.submitted", "AP1", {"status": "referred"})
    assert straight is not None and "正在人工审核" in straight.body_zh
    assert domain.notification_for("application.approval_recorded", "AP1", {}) is None  # internal step
    paid = domain.notification_for("loan.disbursed", "LN1", {"principal_minor": 12_345_600})
    assert paid is not None and "123,456.00 元" in paid.body_zh
