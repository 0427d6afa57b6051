"""`creditplan ledger …`: the operator's and auditor's ledger commands.

    creditplan ledger verify [--json]               recompute everything; exit 1 naming the first bad entry
    creditplan ledger sth [--reason R]              integrate new events and sign a tree head (cron this)
    creditplan ledger prove-inclusion SEQ [--tree-size N] [--out FILE]
    creditplan ledger prove-consistency A B [--out FILE]
    creditplan ledger export-sth --out FILE [--all] [--webhook URL]
    creditplan ledger public-key                    the key auditors check tree heads with
    creditplan ledger new-key                       a fresh CREDITPLAN_LEDGER_SIGNING_KEY
    creditplan ledger integrate                     extend the node store now (proofs and sth do it lazily)

Proof and tree-head files are what `python verifier.py …` (src/creditplan/ledger/verifier.py) reads.
"""

from __future__ import annotations

import base64
import json
import os
import urllib.request
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from creditplan.core.errors import CreditplanError, ValidationError
from creditplan.ledger import services as ledger


def send_to_webhook(url: str, payload: dict[str, Any], *, timeout: float = 10.0) -> int:
    """POST tree heads (JSON) to a receiver outside the institution that the operator names; the HTTP status.
    (Not integration's webhooks: those follow business events, below which the ledger sits.)"""
    if not url.startswith(("https://", "http://")):
        raise ValidationError("the webhook must be an http(s) URL", field="webhook")
    req = urllib.request.Request(url, data=json.dumps(payload).encode("utf-8"), method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - operator-given URL
        return int(resp.status)


class Command(BaseCommand):
    help = "Tamper-evident ledger: verify, sign tree heads, prove inclusion and consistency, export heads."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, parser_class=type(parser))
        p = sub.add_parser("verify", help="recompute the tree, check every signed head and every record")
        p.add_argument("--json", action="store_true", help="print the report as JSON")
        p.add_argument("--no-record", action="store_true", help="do not record the run for the audit page")
        p = sub.add_parser("sth", help="integrate new events and issue a signed tree head")
        p.add_argument("--reason", default="schedule", help="why: schedule, close, manual …")
        p = sub.add_parser("prove-inclusion", help="inclusion proof of one event")
        p.add_argument("seq", type=int)
        p.add_argument("--tree-size", type=int, default=None)
        p.add_argument("--out", default="-", help="file to write (default: standard output)")
        p = sub.add_parser("prove-consistency", help="consistency proof between two tree sizes")
        p.add_argument("first", type=int)
        p.add_argument("second", type=int)
        p.add_argument("--out", default="-")
        p = sub.add_parser("export-sth", help="write the latest signed tree head (or all) for safekeeping")
        p.add_argument("--out", required=True, help="file to write ('-' for standard output)")
        p.add_argument("--all", action="store_true", help="every head ever issued")
        p.add_argument("--webhook", default=os.environ.get("CREDITPLAN_LEDGER_WEBHOOK", ""),
                       help="also POST it to this URL (default: $CREDITPLAN_LEDGER_WEBHOOK)")
        sub.add_parser("public-key", help="print the ledger's Ed25519 public key (base64)")
        sub.add_parser("new-key", help="print a new random signing key for CREDITPLAN_LEDGER_SIGNING_KEY")
        sub.add_parser("integrate", help="extend the node store with the events appended since")

    def handle(self, *args: Any, **opts: Any) -> None:
        action = opts["action"].replace("-", "_")
        try:
            getattr(self, f"_{action}")(opts)
        except CreditplanError as exc:
            raise CommandError(exc.message)

    def _write(self, data: dict[str, Any], out: str) -> None:
        text = json.dumps(data, ensure_ascii=False, indent=2) + "\n"
        if out == "-":
            self.stdout.write(text, ending="")
        else:
            Path(out).write_text(text, encoding="utf-8")
            self.stderr.write(f"wrote {out}")

    def _verify(self, opts: dict[str, Any]) -> None:
        with Progress(TextColumn("verifying"), BarColumn(), TextColumn("{task.completed:,} events"),
                      TimeRemainingColumn(), transient=True, disable=opts["json"]) as bar:
            task = bar.add_task("verify", total=None)
            report = ledger.verify_ledger(None, record=not opts["no_record"],
                                          progress=lambda done, total: bar.update(task, completed=done, total=total))
        if opts["json"]:
            self.stdout.write(json.dumps(report.as_dict(), ensure_ascii=False, indent=2, default=str))
        else:
            self.stdout.write(f"events checked: {report.events_checked:,}; in the tree: {report.tree_size:,}; "
                              f"signed tree heads: {report.heads_checked}; records replayed: "
                              f"{report.records_checked:,}; {report.duration_s:.1f} s")
            for finding in report.findings[:20]:
                self.stdout.write(f"  - {finding}")
            if len(report.findings) > 20:
                self.stdout.write(f"  … and {len(report.findings) - 20} more")
        if not report.ok:
            first = report.first
            where = f"first bad entry: event {first.seq}" if first and first.seq is not None else (
                "first problem" if first else "")
            raise CommandError(f"ledger verification FAILED — {where}: {first.reason if first else ''}")
        if not opts["json"]:
            self.stdout.write(self.style.SUCCESS("ledger verified: no problem found"))

    def _sth(self, opts: dict[str, Any]) -> None:
        head = ledger.issue_tree_head(None, reason=opts["reason"])
        self._write(head.as_dict(), "-")

    def _prove_inclusion(self, opts: dict[str, Any]) -> None:
        proof = ledger.inclusion_proof(None, opts["seq"], tree_size=opts["tree_size"])
        self._write(proof.as_dict(), opts["out"])

    def _prove_consistency(self, opts: dict[str, Any]) -> None:
        proof = ledger.consistency_proof(None, opts["first"], opts["second"])
        self._write(proof.as_dict(), opts["out"])

    def _export_sth(self, opts: dict[str, Any]) -> None:
        data = ledger.export_tree_heads(None, all_heads=opts["all"])
        self._write(data, opts["out"])
        if opts["webhook"]:
            try:
                status = send_to_webhook(opts["webhook"], data)
            except OSError as exc:
                raise CommandError(f"webhook {opts['webhook']} failed: {exc}")
            self.stderr.write(f"posted to {opts['webhook']}: HTTP {status}")

    def _public_key(self, opts: dict[str, Any]) -> None:
        health = ledger.ledger_health(None)
        self.stdout.write(health.public_key)
        self.stderr.write(f"key id {health.key_id}" + (" (development mode: this machine's random key)"
                          if getattr(settings, "DEVELOPMENT", False) and not os.environ.get(ledger.SIGNING_KEY_ENV)
                          else ""))

    def _new_key(self, opts: dict[str, Any]) -> None:
        self.stdout.write(base64.b64encode(os.urandom(32)).decode("ascii"))
        self.stderr.write("set it as CREDITPLAN_LEDGER_SIGNING_KEY (keep it secret), then give auditors the "
                          "output of `creditplan ledger public-key`")

    def _integrate(self, opts: dict[str, Any]) -> None:
        size = ledger.integrate()
        self.stdout.write(f"the tree covers {size:,} events")
