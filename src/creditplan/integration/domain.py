"""Integration rules as plain functions: which events an endpoint subscribes to, how a webhook is signed, when a
failed delivery is tried again, and what a customer is told when their application or loan changes.

No Django here: the signature and the retry schedule are the contract with receivers (docs/integration.md) and
are tested without a database.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from creditplan.core.errors import ValidationError
from creditplan.core.money import Money

# --- subscriptions ------------------------------------------------------------------------------------------

#: Event families a webhook may subscribe to: what a CRM needs to stay in sync with applications and loans.
SUBSCRIBABLE = ("application", "loan")
_PATTERN = re.compile(r"^(?P<family>[a-z]+)\.(?P<rest>\*|[a-z][a-z_]*)$")


def clean_patterns(raw: str | Iterable[str]) -> list[str]:
    """Subscription patterns from a list or a comma/space-separated text: `application.*`, `loan.disbursed`…
    Refused (ValidationError on field `events`) when empty, malformed or outside the subscribable families."""
    items = re.split(r"[\s,]+", raw) if isinstance(raw, str) else list(raw)
    out: list[str] = []
    for item in (str(i).strip().lower() for i in items):
        if not item:
            continue
        m = _PATTERN.match(item)
        if m is None or m["family"] not in SUBSCRIBABLE:
            raise ValidationError(f"{item!r} is not an event pattern: use application.*, loan.* or an event name "
                                  "such as application.approved", field="events", code="bad_event_pattern")
        if item not in out:
            out.append(item)
    if not out:
        raise ValidationError("subscribe to at least one kind of event, e.g. application.*", field="events",
                              code="required")
    return out


def matches(patterns: Sequence[str], kind: str) -> bool:
    """Does an event of `kind` go to an endpoint subscribed to `patterns`? (`application.*` = the whole family)"""
    return any(p == kind or (p.endswith(".*") and kind.startswith(p[:-1])) for p in patterns)


def relevant_prefixes() -> tuple[str, ...]:
    return tuple(f"{f}." for f in SUBSCRIBABLE)


# --- signing ------------------------------------------------------------------------------------------------

SIGNATURE_HEADER = "X-Creditplan-Signature"
TIMESTAMP_HEADER = "X-Creditplan-Timestamp"
EVENT_HEADER = "X-Creditplan-Event"
DELIVERY_HEADER = "X-Creditplan-Delivery"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """`sha256=<hex>`: HMAC-SHA256 under the shared secret of "<timestamp>.<body>". The timestamp is inside the
    signed text so a captured request cannot be replayed later with a fresh timestamp."""
    mac = hmac.new(secret.encode("utf-8"), str(timestamp).encode("ascii") + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(secret: str, timestamp: str | None, body: bytes, signature: str | None, *, now: int,
           tolerance_s: int = 300) -> str | None:
    """Why a signed request must be refused, or None when it is genuine and fresh (constant-time compare)."""
    if not timestamp or not signature:
        return "the request is not signed (X-Creditplan-Timestamp and X-Creditplan-Signature headers)"
    try:
        ts = int(timestamp)
    except ValueError:
        return "X-Creditplan-Timestamp is not a Unix time in seconds"
    if abs(now - ts) > tolerance_s:
        return f"the signature timestamp is more than {tolerance_s} s away from now (replayed or clock skew)"
    if not hmac.compare_digest(sign(secret, ts, body), signature.strip()):
        return "the signature does not match the body (wrong secret or altered body)"
    return None


# --- retries ------------------------------------------------------------------------------------------------

#: Wait after the 1st, 2nd … failed attempt. After the last one the delivery is dead (redeliver by hand).
RETRY_DELAYS = (dt.timedelta(minutes=1), dt.timedelta(minutes=5), dt.timedelta(minutes=30), dt.timedelta(hours=2),
                dt.timedelta(hours=12))
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1


def next_attempt(attempts: int, now: dt.datetime) -> dt.datetime | None:
    """When to try again after `attempts` failed attempts, or None: give up (dead)."""
    if attempts >= MAX_ATTEMPTS:
        return None
    return now + RETRY_DELAYS[attempts - 1]


def delivered(status_code: int | None) -> bool:
    return status_code is not None and 200 <= status_code < 300


# --- notifications ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Wording:
    subject_zh: str
    body_zh: str
    subject_en: str
    body_en: str


def _yuan(minor: Any) -> tuple[str, str] | None:
    try:
        amount: Decimal = Money(int(minor), "CNY").amount
    except (TypeError, ValueError):
        return None
    return f"{amount:,.2f}", f"{amount:,.2f}"


_STATUS_WORDS: dict[str, tuple[str, str]] = {
    "approved": ("已批准", "has been approved"),
    "referred": ("已受理，正在人工审核", "has been received and is being reviewed"),
    "declined": ("未获批准", "was not approved"),
    "info_requested": ("需要您补充资料", "needs more information from you"),
    "withdrawn": ("已撤回", "has been withdrawn"),
    "expired": ("因超过期限未完成已关闭", "was closed because it was not completed in time"),
    "contract_offered": ("的合同已生成，请登录后在线签署", "has a contract ready for you to sign online"),
    "contract_signed": ("的合同已签署", "contract has been signed"),
    "signed": ("的合同已签署", "contract has been signed"),
    "ready_to_disburse": ("已准备放款", "is ready to be paid out"),
    "disbursed": ("已放款", "has been paid out"),
}
#: event kind → the status it announces (application.submitted announces the automated outcome in its data).
_KIND_STATUS = {f"application.{s}": s for s in _STATUS_WORDS}


def notification_for(kind: str, subject_id: str, data: dict[str, Any]) -> Wording | None:
    """What to tell the customer about an event, in plain words (Chinese and English), or None when the event is
    internal (an approval recorded, information provided, a daily close…)."""
    if kind == "loan.disbursed":
        amount = _yuan(data.get("principal_minor"))
        zh_amt = f"，金额 {amount[0]} 元" if amount else ""
        en_amt = f" ({amount[1]} yuan)" if amount else ""
        return Wording(f"贷款 {subject_id} 已放款", f"您的贷款 {subject_id} 已放款{zh_amt}。请按还款计划按时还款。",
                       f"Loan {subject_id} paid out", f"Your loan {subject_id} has been paid out{en_amt}. Please "
                       "repay on the dates of your schedule.")
    status = data.get("status") if kind == "application.submitted" else _KIND_STATUS.get(kind)
    if not status or status not in _STATUS_WORDS:
        return None
    zh, en = _STATUS_WORDS[status]
    zh_extra = en_extra = ""
    if status == "approved":
        amount = _yuan(data.get("amount_minor"))
        if amount:
            zh_extra, en_extra = f"，批准金额 {amount[0]} 元", f" for {amount[1]} yuan"
    if status == "info_requested" and data.get("note"):
        zh_extra = f"：{str(data['note'])[:200]}"
        en_extra = f": {str(data['note'])[:200]}"
    joiner_zh = "" if zh.startswith("的") else " "
    body_zh = f"您的贷款申请 {subject_id}{joiner_zh}{zh}{zh_extra}。详情请登录查看。"
    body_en = f"Your loan application {subject_id} {en}{en_extra}. Log in for the details."
    return Wording(f"贷款申请 {subject_id}：{zh.lstrip('的')}", body_zh,
                   f"Loan application {subject_id}: {en}", body_en)


def mask_email(address: str) -> str:
    name, _, host = address.partition("@")
    return (name[:1] + "***@" + host) if host else "***"
