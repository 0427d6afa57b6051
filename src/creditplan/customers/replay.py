"""The replay of customer records from their ledger events, which `creditplan ledger verify` compares with every
customer as it is now: a record changed without an event shows up as a difference.

Registered with the ledger (which sits below customers and knows no business record) by CustomersConfig.ready().
"""

from __future__ import annotations

import json
from typing import Any

from creditplan.customers import services as customers
from creditplan.ledger.domain import canonical_json
from creditplan.ledger.replay import Report

SUBJECT_TYPE = "customer"


class CustomerReplay:
    """customer.created carries the full audited snapshot (`after`), customer.updated and
    customer.identity_corrected the changed fields as [old, new], customer.archived sets the status,
    customer.pii_digested replaces the masked / clear personal values of the first releases' events by keyed
    digests (checked against its keyed digest of those values). Other kinds (customer.pii_viewed) change nothing.
    """

    def __init__(self, report: Report) -> None:
        self.report = report
        self.state: dict[str, dict[str, Any]] = {}
        self.last_seq: dict[str, int] = {}

    def feed(self, seq: int, kind: str, sid: str, data: dict[str, Any]) -> None:
        subject = f"customer:{sid}"
        snap = self.state.get(sid)
        if kind == "customer.created":
            if snap is not None:
                self.report(seq, f"customer {sid} is created a second time", subject)
            self.state[sid] = dict(data.get("after") or {})
        elif kind in ("customer.updated", "customer.archived", "customer.identity_corrected",
                      "customer.pii_digested"):
            if snap is None:
                self.report(seq, f"{kind} for customer {sid} before any customer.created", subject)
                return
            if kind == "customer.archived":
                snap["status"] = "archived"
            elif kind == "customer.pii_digested":
                after = data.get("after") or {}
                if customers.legacy_audit_digest({k: snap.get(k) for k in after}) != data.get("legacy"):
                    self.report(seq, f"customer {sid}: the personal data this event replaces by digests differ "
                                     "from what the events before it left", subject)
                snap.update(after)
            else:
                for field, change in (data.get("changed") or {}).items():
                    old, new = change
                    if snap.get(field) != old:
                        self.report(seq, f"customer {sid}: the update says {field} was {old!r}, but the events "
                                         f"before it left {snap.get(field)!r}", subject)
                    snap[field] = new
        else:
            return
        self.last_seq[sid] = seq

    def compare(self) -> int:
        seen: set[str] = set()
        count = 0
        for pk, snapshot in customers.audited_snapshots():
            count += 1
            sid = str(pk)
            seen.add(sid)
            subject = f"customer:{sid}"
            current = json.loads(canonical_json(snapshot))
            replayed = self.state.get(sid)
            if replayed is None:
                self.report(None, f"customer {sid} has no customer.created event: the record was written "
                                  "without an event", subject)
                continue
            diff = sorted(k for k in set(current) | set(replayed) if current.get(k) != replayed.get(k))
            if diff:
                k = diff[0]
                self.report(None, f"customer {sid}: {k} is {current.get(k)!r} but its events (last: event "
                                  f"{self.last_seq.get(sid)}) say {replayed.get(k)!r}; changed without an "
                                  f"event ({', '.join(diff)})", subject)
        for sid in sorted(set(self.state) - seen, key=lambda s: (len(s), s)):
            self.report(self.last_seq.get(sid), f"customer {sid} has events but no record (deleted?)",
                        f"customer:{sid}")
        return count
