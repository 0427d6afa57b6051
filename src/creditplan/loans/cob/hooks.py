"""What runs around the close for the apps above loans. Loans imports none of them: they register here from their
AppConfig.ready() (risk monitoring keeps the book's snapshot and computes its indicators: risk/apps.py).

- `register_before_close(fn)`: `fn(day)` is called before the close of `day` begins — not for a date already
  closed — outside any transaction. A `CreditplanError` it raises refuses the close with that error (nothing has
  been written): what must be kept of the previous date is kept before the book moves on.
- `register_after_close(fn)`: `fn(day)` is called once the close of `day` has finished (every chunk committed, the
  run marked done), outside its transactions. It cannot fail or undo the close: an exception is logged and
  swallowed; a function that must be redone records its own failure (risk appends `risk.run_failed`).

A function is registered once however often `ready()` runs (tests set up Django more than once).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

__all__ = ["after_close", "before_close", "register_after_close", "register_before_close"]

log = logging.getLogger("creditplan.loans.cob")

Hook = Callable[[dt.date], None]
_before: list[Hook] = []
_after: list[Hook] = []


def _key(fn: Hook) -> str:
    return f"{getattr(fn, '__module__', '')}.{getattr(fn, '__qualname__', repr(fn))}"


def _add(hooks: list[Hook], fn: Hook) -> None:
    hooks[:] = [h for h in hooks if _key(h) != _key(fn)] + [fn]


def register_before_close(fn: Hook) -> None:
    """`fn(day)` before the close of `day` starts; raising refuses the close."""
    _add(_before, fn)


def register_after_close(fn: Hook) -> None:
    """`fn(day)` once the close of `day` has finished; whatever it raises is logged, never passed on."""
    _add(_after, fn)


def before_close(day: dt.date) -> None:
    for fn in list(_before):
        fn(day)


def after_close(day: dt.date) -> None:
    for fn in list(_after):
        try:
            fn(day)
        except Exception:  # the close is done and committed: a follower's failure is its own to report
            log.exception("the close of %s is done, but %s failed after it", day, _key(fn))
