"""Notification senders: how a message reaches a customer (or a member of staff: risk alerts routed to them, by
e-mail; `message.recipient` says which). Pluggable by setting

    CREDITPLAN_NOTIFICATION_SENDER = "creditplan.integration.senders.console"   (default; the demo)

to the dotted path of an object with `send(message)`, a class with such a method (instantiated once), or a plain
function `send(message)`. `message` is an `OutgoingMessage`. Raise any exception to report a failure: the
notification is tried again later (see services.send_due) and the error is shown to staff.

Shipped: `console` (writes the message to the log / standard output), `memory` (keeps messages in `outbox`, for
tests), `email` (Django's e-mail backend: configure EMAIL_HOST etc.; SMS notifications are skipped with an error
saying so). An SMS gateway is a class of a few lines that POSTs `message.to` and `message.body_zh` to the
gateway's HTTP API; see docs/integration.md.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("creditplan.notifications")


@dataclass(frozen=True)
class OutgoingMessage:
    id: int
    channel: str  # "sms" | "email"
    to: str  # the address in clear (phone number or e-mail address)
    to_masked: str
    subject_zh: str
    body_zh: str
    subject_en: str
    body_en: str
    language: str = "zh-hans"  # the recipient's preferred language, when known
    recipient: str = "customer"  # "customer", or "staff": a risk alert to a member of staff (e-mail)

    @property
    def subject(self) -> str:
        return self.subject_en if self.language.startswith("en") else self.subject_zh

    @property
    def body(self) -> str:
        return self.body_en if self.language.startswith("en") else self.body_zh


class ConsoleSender:
    """Prints each message (masked address) to standard output and the log: the demo's sender."""

    def send(self, message: OutgoingMessage) -> None:
        line = f"[notification {message.channel} → {message.to_masked}] {message.subject}: {message.body}"
        log.info("%s", line)
        print(line, file=sys.stdout, flush=True)


class MemorySender:
    """Keeps what it was given, for tests; `fail_with` makes every send raise (to test failures)."""

    def __init__(self) -> None:
        self.outbox: list[OutgoingMessage] = []
        self.fail_with: Exception | None = None

    def send(self, message: OutgoingMessage) -> None:
        if self.fail_with is not None:
            raise self.fail_with
        self.outbox.append(message)

    def clear(self) -> None:
        self.outbox.clear()
        self.fail_with = None


class EmailSender:
    """E-mail through Django's configured backend (EMAIL_BACKEND, EMAIL_HOST…): both languages in one mail."""

    def send(self, message: OutgoingMessage) -> None:
        if message.channel != "email":
            raise RuntimeError("the e-mail sender cannot send SMS: configure an SMS gateway sender")
        from django.conf import settings
        from django.core.mail import send_mail

        send_mail(message.subject, f"{message.body_zh}\n\n{message.body_en}",
                  getattr(settings, "DEFAULT_FROM_EMAIL", "noreply@localhost"), [message.to], fail_silently=False)


console = ConsoleSender()
memory = MemorySender()
email = EmailSender()


def resolve(path: str) -> Any:
    """The `send` callable of the sender named by `path`."""
    from django.utils.module_loading import import_string

    target = import_string(path)
    if isinstance(target, type):
        target = target()
    send = getattr(target, "send", None)
    if callable(send):
        return send
    if callable(target):
        return target
    raise TypeError(f"{path} is not a notification sender (no send(message))")
