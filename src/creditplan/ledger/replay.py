"""Replays of business records: what `verify_ledger` compares each audited record's current row with.

The ledger sits below every business app and knows none of their records. An app whose records are audited
registers a replay for their subject type from its AppConfig.ready() (customers: customers/apps.py):

    ledger.replay.register("customer", CustomerReplay)

`verify_ledger` then makes one replay per registered subject type, feeds it every event of that subject type in
seq order, and at the end asks it to compare the replayed state with the records as they are now. A replay says
what is wrong through the `report` function it was made with: (the event's seq or None, the reason, the subject,
e.g. "customer:42"). Events of a subject type nobody registered are checked like every event (hash, columns,
tree) but not replayed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

#: (seq of the first event concerned, or None for a record; why; which record, e.g. "customer:42")
Report = Callable[[int | None, str, str], None]


class Replay(Protocol):
    def feed(self, seq: int, kind: str, subject_id: str, data: dict[str, Any]) -> None:
        """One event of the subject type, in seq order (`data`: the event's data, {} when it has none)."""

    def compare(self) -> int:
        """Compare the replayed state with every current record; report each difference. Returns how many
        records were compared."""


ReplayFactory = Callable[[Report], Replay]

_replays: dict[str, ReplayFactory] = {}


def register(subject_type: str, factory: ReplayFactory) -> None:
    """Replay the events of `subject_type` with `factory(report)` in every verification. Registering a subject
    type again replaces its replay (an AppConfig's ready() may run more than once)."""
    _replays[subject_type] = factory


def registered() -> dict[str, ReplayFactory]:
    """Subject type → replay factory, as registered now."""
    return dict(_replays)
