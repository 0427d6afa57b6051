"""Named points of the close's chunk pipeline: the time spent up to each (summed over the process; the benchmark
reads it), and fault injection for the restartability tests (kill the process outright at the n-th time a point
is reached).
"""

from __future__ import annotations

import os
import signal
import time

__all__ = ["FAULT_ENV", "PHASE_SECONDS", "fault", "point"]

FAULT_ENV = "CREDITPLAN_COB_FAULT"
"""Test hook: "point:n" kills this process (SIGKILL) the n-th time the close reaches `point` (see `fault`)."""

_fault_hits: dict[str, int] = {}
PHASE_SECONDS: dict[str, float] = {}
"""Seconds spent up to each point of the chunk pipeline, summed over the process (the benchmark reads it)."""
_last_point = [0.0]


def point(name: str) -> None:
    """A named point of the chunk pipeline: accounts the time since the previous point, then `fault`."""
    now = time.perf_counter()
    if name != "chunk_start" and _last_point[0]:
        PHASE_SECONDS[name] = PHASE_SECONDS.get(name, 0.0) + now - _last_point[0]
    _last_point[0] = now
    fault(name)


def fault(point: str) -> None:
    """Kill the process outright (no cleanup, no rollback handler: as a power cut would) the n-th time
    `point` is reached, when CREDITPLAN_COB_FAULT="point:n". Used by the restartability tests."""
    spec = os.environ.get(FAULT_ENV)
    if not spec:
        return
    name, _, nth = spec.partition(":")
    if name != point:
        return
    _fault_hits[point] = _fault_hits.get(point, 0) + 1
    if _fault_hits[point] >= int(nth or 1):
        os.kill(os.getpid(), signal.SIGKILL)
