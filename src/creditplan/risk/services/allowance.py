"""What the other risk services read of the latest ECL run, and who reads the whole book.

Kept apart from risk.services.ecl so that the indicators (risk.services.run) and the behaviour pages can read the
allowance without importing the ECL computation, which itself takes the indicators' snapshot.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from creditplan.core.access import Actor, sees_all_branches
from creditplan.risk import sql
from creditplan.risk.models import EclRun, LoanEcl


def lookup(keys: NDArray[Any], values: NDArray[Any], wanted: NDArray[Any], default: Any) -> NDArray[Any]:
    """values[keys == wanted] for each wanted key (`default` where absent); keys need not be sorted."""
    k = np.asarray(keys)
    v = np.asarray(values)
    w = np.asarray(wanted)
    out = np.full(w.size, default, dtype=v.dtype if v.size else np.asarray([default]).dtype)
    if k.size == 0 or w.size == 0:
        return out
    if k.dtype.kind in "iu" and bool((k[1:] >= k[:-1]).all()):  # ids read in order: no sort needed
        pos = np.clip(np.searchsorted(k, w), 0, k.size - 1)
        hit = k[pos] == w
        out[hit] = v[pos[hit]]
        return out
    order = np.argsort(k, kind="stable")
    pos = np.clip(np.searchsorted(k[order], w), 0, k.size - 1)
    hit = k[order][pos] == w
    out[hit] = v[order[pos[hit]]]
    return out


def allowance_on(as_of: dt.date) -> tuple[NDArray[np.int64], NDArray[np.int64]] | None:
    """Each loan's allowance on `as_of` (loan ids ascending, fen): the figures of the latest ECL run on or before it,
    what the provision-coverage indicator reads (None: no run yet)."""
    run = EclRun.objects.filter(as_of__lte=as_of).order_by("-as_of").first()
    if run is None:
        return None
    rows = sql.read_rows(LoanEcl, ["loan_id", "ecl_minor"], "as_of", run.as_of, order="loan_id")
    return rows["loan_id"].astype(np.int64), rows["ecl_minor"].astype(np.int64)


def with_allowance(loans_table: Mapping[str, NDArray[Any]], as_of: dt.date) -> dict[str, NDArray[Any]]:
    """A snapshot's loans with their `allowance` column (risk.domain.facts reads it) from `allowance_on`."""
    out = dict(loans_table)
    found = allowance_on(as_of)
    ids = np.asarray(out["loan"], dtype=np.int64)
    out["allowance"] = (np.zeros(ids.size, dtype=np.int64) if found is None
                        else lookup(found[0], found[1], ids, 0).astype(np.int64))
    return out


def reads_whole_book(actor: Actor) -> bool:
    """Whether the actor reads every branch: a head-office role, or a reader placed at the head office."""
    if sees_all_branches(getattr(actor, "role", "")):
        return True
    branch = getattr(actor, "branch", None)
    return branch is not None and branch.parent_id is None
