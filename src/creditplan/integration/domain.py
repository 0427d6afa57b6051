"""Integration rules as plain functions: which events an endpoint subscribes to, how a webhook is signed, when a
failed delivery is tried again, and what a customer is told when their application or loan changes.

No Django here: the signature and the retry schedule are the contract with receivers (docs/integration.md) and
are tested without a database.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import ipaddress
import re
import urllib.parse
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from creditplan.core.errors import ValidationError
from creditplan.core.money import format_minor

# --- subscriptions ------------------------------------------------------------------------------------------

#: Event families a webhook may subscribe to: what a CRM needs to stay in sync with applications and loans, and
#: the risk alerts a monitoring or ticketing system follows.
SUBSCRIBABLE = ("application", "loan", "risk")
#: Of the risk family only the alerts leave the system (not the indicator runs, nor comments written on alerts).
RISK_ALERT_EVENTS = ("risk.alert_raised", "risk.alert_acknowledged", "risk.alert_resolved")
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
        if (m is None or m["family"] not in SUBSCRIBABLE
                or m["family"] == "risk" and m["rest"] != "*" and item not in RISK_ALERT_EVENTS):
            raise ValidationError(f"{item!r} is not an event pattern: use application.*, loan.*, risk.* or an event "
                                  "name such as application.approved or risk.alert_raised", field="events",
                                  code="bad_event_pattern")
        if item not in out:
            out.append(item)
    if not out:
        raise ValidationError("subscribe to at least one kind of event, e.g. application.*", field="events",
                              code="required")
    return out


def matches(patterns: Sequence[str], kind: str) -> bool:
    """Does an event of `kind` go to an endpoint subscribed to `patterns`? (`application.*` = the whole family;
    `risk.*` = the alerts raised, acknowledged and resolved)"""
    if kind.startswith("risk.") and kind not in RISK_ALERT_EVENTS:
        return False
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


# --- where a webhook may post --------------------------------------------------------------------------------

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
#: NAT64 prefixes (RFC 6052, RFC 8215): the last 32 bits are an IPv4 address the gateway connects to.
_NAT64 = (ipaddress.IPv6Network("64:ff9b::/96"), ipaddress.IPv6Network("64:ff9b:1::/48"))
_PART = re.compile(r"^(?:0[xX][0-9a-fA-F]*|0[0-7]*|[1-9][0-9]*)$")


@dataclass(frozen=True)
class Target:
    """A webhook URL taken apart: where to connect and what to ask for."""

    scheme: str  # http | https
    host: str  # as written, lower case, without brackets
    port: int
    path: str  # path and query, at least "/"


def parse_target(url: str, *, https_only: bool) -> Target:
    """A receiver's URL, checked for form (ValidationError on field `url`): http(s) only — https only when
    `https_only` (everywhere but a development machine) —, a host, no user name or password, a valid port."""
    text = str(url or "").strip()
    if not text:
        raise ValidationError("the receiver's URL is required", field="url", code="required")
    bad_form = ValidationError("the URL must be an http(s) address, e.g. https://crm.example.com/hooks/creditplan",
                               field="url", code="bad_url")
    if len(text) > 500 or any(ch.isspace() or ord(ch) < 32 or ch == "\\" for ch in text):
        raise bad_form
    try:
        parts = urllib.parse.urlsplit(text)
        port = parts.port
    except ValueError:
        raise bad_form from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not text.lower().startswith(("http://", "https://")):
        raise bad_form
    if "@" in parts.netloc or not parts.hostname:
        raise ValidationError("the URL needs a host and may not carry a user name or password", field="url",
                              code="bad_url")
    if scheme != "https" and https_only:
        raise ValidationError("the URL must be https: webhooks carry customers' application and loan events",
                              field="url", code="webhook_https_required")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(scheme, parts.hostname, port or (443 if scheme == "https" else 80), path)


def _inet_aton(text: str) -> ipaddress.IPv4Address | None:
    """An IPv4 address in any spelling the C resolver accepts (inet_aton): 127.0.0.1, 127.1, 2130706433,
    0x7f000001, 0x7f.0.0.1, 0177.0.0.1 … ; None for anything else (a name)."""
    parts = text.split(".")
    if not 1 <= len(parts) <= 4 or not all(_PART.match(p) for p in parts):
        return None
    nums = [int(p[2:] or "0", 16) if p[:2].lower() == "0x" else int(p, 8) if p.startswith("0") else int(p)
            for p in parts]
    *head, last = nums
    if any(n > 255 for n in head) or last >= 256 ** (4 - len(head)):
        return None
    value = 0
    for n in head:
        value = value * 256 + n
    return ipaddress.IPv4Address(value * 256 ** (4 - len(head)) + last)


def literal_address(host: str) -> Address | None:
    """The address a host spells by itself (no name lookup), in any form a resolver would accept, or None for a
    name. IPv6 with or without brackets, with a zone (fe80::1%eth0) too."""
    text = host.strip().strip("[]")
    if ":" in text:
        try:
            return ipaddress.IPv6Address(text)
        except ValueError:
            return None
    return _inet_aton(text)


def _embedded_ipv4(address: Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address leads to: mapped (::ffff:a.b.c.d), 6to4, Teredo, NAT64."""
    if not isinstance(address, ipaddress.IPv6Address):
        return []
    out = [a for a in (address.ipv4_mapped, address.sixtofour) if a is not None]
    if address.teredo:
        out.append(address.teredo[1])
    if any(address in net for net in _NAT64):
        out.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return out


def _kind(address: Address) -> str | None:
    if address.is_unspecified:
        return "unspecified"
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_multicast:
        return "multicast"
    if address.is_reserved:
        return "reserved"
    if address.is_private:
        return "private"
    if not address.is_global:
        return "non-public"  # e.g. 100.64.0.0/10, shared by carrier-grade NAT
    return None


def address_problem(address: Address, allowed: Sequence[Network] = ()) -> str | None:
    """What is wrong with posting to `address` — its kind: "loopback", "private", "link-local", "multicast",
    "reserved", "unspecified" or "non-public" — or None when it is a public address, or one inside an `allowed`
    network (the bank's own receivers: CREDITPLAN_WEBHOOK_ALLOWED_NETWORKS). An IPv4-mapped IPv6 address is
    judged as the IPv4 address; 6to4, Teredo and NAT64 addresses as the IPv4 address they lead to as well.
    Unspecified and multicast addresses are never a receiver, allowed or not."""
    plain = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped else address
    if isinstance(plain, ipaddress.IPv6Address) and plain.scope_id:
        plain = ipaddress.IPv6Address(str(plain).split("%")[0])
    if plain.is_unspecified or plain.is_multicast:
        return _kind(plain)
    if any(plain.version == net.version and plain in net for net in allowed):
        return None
    for candidate in (plain, *_embedded_ipv4(plain)):
        kind = _kind(candidate)
        if kind is not None:
            return kind
    return None


def parse_networks(raw: str | Iterable[str] | None) -> tuple[Network, ...]:
    """The allowlist from a comma/space separated text or a list: CIDR networks (10.20.0.0/16) or single
    addresses (127.0.0.1 = 127.0.0.1/32). ValueError naming the entry that is not one."""
    items = re.split(r"[\s,]+", raw) if isinstance(raw, str) else list(raw or [])
    out: list[Network] = []
    for item in (str(i).strip() for i in items):
        if not item:
            continue
        try:
            out.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ValueError(f"{item!r} in the webhook allowlist is not a network (e.g. 10.20.0.0/16)") from None
    return tuple(out)


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


def _yuan(minor: Any) -> str | None:
    """An amount an event carries (an int of fen) as a message writes it ("12,345.67"); None when it has none."""
    if isinstance(minor, bool) or not isinstance(minor, int):
        return None
    return format_minor(minor)


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


#: Risk events a customer is told about (to them, never to webhooks): a change of their credit line by the bank's
#: dynamic-limit rules, applied at once or approved (risk.services.limits; the event carries the amounts and reasons).
CUSTOMER_RISK_EVENTS = ("risk.limit_changed",)


def _limit_wording(data: dict[str, Any]) -> Wording | None:
    before, after = _yuan(data.get("amount_before_minor")), _yuan(data.get("amount_after_minor"))
    why_zh, why_en = str(data.get("message_zh") or "")[:200], str(data.get("message_en") or "")[:200]
    reason_zh = f"原因：{why_zh}。" if why_zh else ""
    reason_en = f" Why: {why_en}." if why_en else ""
    kind = data.get("kind")
    if kind == "freeze":
        return Wording("您的授信额度已冻结", f"您的授信额度已冻结，冻结期间不能新增贷款。{reason_zh}如有疑问请联系您的开户网点。",
                       "Your credit line is frozen", "Your credit line has been frozen: no new loan can be taken on it "
                       f"while it is frozen.{reason_en} Please contact your branch with any question.")
    if kind not in ("increase", "reduce") or before is None or after is None:
        return None
    zh_verb, en_verb = ("提高", "raised") if kind == "increase" else ("调整", "changed")
    return Wording("您的授信额度已调整", f"您的授信额度已由 {before} 元{zh_verb}为 {after} 元。{reason_zh}详情请登录查看。",
                   "Your credit line has changed", f"Your credit line has been {en_verb} from {before} to {after} "
                   f"yuan.{reason_en} Log in for the details.")


def notification_for(kind: str, subject_id: str, data: dict[str, Any]) -> Wording | None:
    """What to tell the customer about an event, in plain words (Chinese and English), or None when the event is
    internal (an approval recorded, information provided, a daily close…)."""
    if kind in CUSTOMER_RISK_EVENTS:
        return _limit_wording(data)
    if kind == "loan.disbursed":
        amount = _yuan(data.get("principal_minor"))
        zh_amt = f"，金额 {amount} 元" if amount else ""
        en_amt = f" ({amount} yuan)" if amount else ""
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
            zh_extra, en_extra = f"，批准金额 {amount} 元", f" for {amount} yuan"
    if status == "info_requested" and data.get("note"):
        zh_extra = f"：{str(data['note'])[:200]}"
        en_extra = f": {str(data['note'])[:200]}"
    joiner_zh = "" if zh.startswith("的") else " "
    body_zh = f"您的贷款申请 {subject_id}{joiner_zh}{zh}{zh_extra}。详情请登录查看。"
    body_en = f"Your loan application {subject_id} {en}{en_extra}. Log in for the details."
    return Wording(f"贷款申请 {subject_id}：{zh.lstrip('的')}", body_zh,
                   f"Loan application {subject_id}: {en}", body_en)


_RAG_WORDS = {"red": ("红色", "red"), "amber": ("黄色", "amber")}
_RULE_WORDS = {"red": ("达到红色阈值", "reached its red threshold"),
               "amber": ("达到黄色阈值", "reached its amber threshold"),
               "worsening": ("连续恶化", "has worsened period after period")}


def _figure(value: Any, unit: Any) -> str | None:
    """An alert's value as the event carries it ("0.052300", None) written for people: 5.23 % for a ratio."""
    try:
        x = float(str(value))
    except (TypeError, ValueError):
        return None
    if x != x or x in (float("inf"), float("-inf")):
        return None
    return f"{x * 100:.2f}%" if unit in (None, "", "ratio") else f"{x:,.2f}"


def staff_notification_for(kind: str, subject_id: str, data: dict[str, Any]) -> Wording | None:
    """What to tell the staff an alert is routed to (its indicator's owner role) when it is raised, in Chinese and
    English; None for any other event."""
    if kind != "risk.alert_raised":
        return None
    name_zh = str(data.get("name_zh") or data.get("indicator") or "")
    name_en = str(data.get("name_en") or data.get("indicator") or "")
    member = str(data.get("member") or "")
    if data.get("dimension") in (None, "", "total"):
        where_zh, where_en = "全行", "the whole institution"
    else:
        where_zh = f"{data.get('dimension_zh') or data.get('dimension')} {member}"
        where_en = f"{data.get('dimension_en') or data.get('dimension')} {member}"
    figure = _figure(data.get("value"), data.get("unit"))
    rag_zh, rag_en = _RAG_WORDS.get(str(data.get("rag")), ("", ""))
    rule_zh, rule_en = _RULE_WORDS.get(str(data.get("rule")), ("触发预警", "raised an alert"))
    as_of = str(data.get("as_of") or "")
    value_zh = f"为 {figure}，" if figure else ""
    value_en = f" at {figure}" if figure else ""
    return Wording(
        f"风险预警{('（' + rag_zh + '）') if rag_zh else ''}：{name_zh}（{where_zh}）",
        f"{as_of} 日终后，指标“{name_zh}”（{where_zh}）{value_zh}{rule_zh}。预警编号 {subject_id}，"
        "请登录风险监测页面查看并处理。",
        f"Risk alert{(' (' + rag_en + ')') if rag_en else ''}: {name_en} ({where_en})",
        f"After the close of {as_of}, {name_en} for {where_en}{value_en} {rule_en}. Alert {subject_id}: log in to "
        "risk monitoring to review and handle it.")


def mask_email(address: str) -> str:
    name, _, host = address.partition("@")
    return (name[:1] + "***@" + host) if host else "***"
