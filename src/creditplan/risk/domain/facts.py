"""From kept snapshots to the fact tables indicators are computed over (risk.domain.catalogue.FACTS).

Pure: the snapshot tables come in as columns, the fact tables go out as columns; the dimension members are
turned into the codes the pages show (a province for a region, an industry section, a month for a vintage).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from creditplan.risk.domain.snapshot import with_previous

Columns = dict[str, NDArray[Any]]

APPROVED_STATUSES = frozenset({"approved", "contract_offered", "signed", "ready_to_disburse", "disbursed"})
DECLINED_STATUSES = frozenset({"declined"})
UNKNOWN = "-"  # a member with no value (an individual has no industry; a loan booked without an application)


def _per_value(values: NDArray[Any], fn: Callable[[Any], Any]) -> NDArray[Any]:
    """`fn` applied to every element, computed once per distinct value (a million loans have a few hundred regions:
    hashed by pandas.factorize, then a few hundred calls instead of a million)."""
    a = np.asarray(values, dtype=object).reshape(-1)
    if a.size == 0:
        return np.array([], dtype=object)
    codes, uniques = pd.factorize(a, use_na_sentinel=False)
    mapped = np.empty(len(uniques), dtype=object)
    mapped[:] = [fn(u) for u in np.asarray(uniques, dtype=object).tolist()]
    return np.asarray(mapped[codes], dtype=object)


def _province(r: Any) -> Any:
    return f"{r[:2]}0000" if isinstance(r, str) and len(r) >= 2 and r[:2].isdigit() else UNKNOWN


def _section(i: Any) -> Any:
    return i[0] if isinstance(i, str) and i[:1].isalpha() else UNKNOWN


def province(region: NDArray[Any]) -> NDArray[Any]:
    """GB/T 2260 region code (6 digits) → its province (the first two digits followed by 0000)."""
    return _per_value(region, _province)


def industry_section(industry: NDArray[Any]) -> NDArray[Any]:
    """GB/T 4754 industry code (C39…) → its section letter (C)."""
    return _per_value(industry, _section)


def month_of(days: NDArray[np.int64]) -> NDArray[Any]:
    """Day numbers → 'YYYY-MM' (formatted once per distinct month)."""
    months = (np.asarray(days, dtype=np.int64) - dt.date(1970, 1, 1).toordinal()).astype("datetime64[D]")
    distinct, index = np.unique(months.astype("datetime64[M]"), return_inverse=True)
    text = np.asarray(distinct.astype(str), dtype=object)
    return np.asarray(text[np.asarray(index).reshape(-1)], dtype=object)


def _or_unknown(values: NDArray[Any]) -> NDArray[Any]:
    return _per_value(values, lambda v: v if v else UNKNOWN)


def loan_facts(snapshot: Mapping[str, NDArray[Any]], earlier: Mapping[str, NDArray[Any]] | None) -> Columns:
    """The `loans` fact table: the snapshot's loans with the dimensions in their shown form, and the same loans at
    the earlier snapshot (`prev_*`, for roll rates and migration)."""
    s = {k: np.asarray(v) for k, v in snapshot.items()}
    out: Columns = {
        "loan": s["loan"].astype(np.int64),
        "customer": _per_value(s["customer"], str),
        "branch": s["branch"], "product": s["product"],
        "industry": industry_section(s["industry"]), "region": province(s["region"]),
        "channel": _per_value(s["channel"], lambda c: c if c else "booked"),
        "grade": _or_unknown(s["grade"]), "vintage": month_of(s["start"]),
        "score": s["score"].astype(np.float64),
        "principal": s["principal"].astype(np.int64), "outstanding": s["outstanding"].astype(np.int64),
        "overdue_principal": s["overdue_principal"].astype(np.int64), "dpd": s["dpd"].astype(np.int64),
        "bucket": s["bucket"].astype(np.int64), "risk_class": s["risk_class"].astype(np.int64),
        "months_on_book": s["months_on_book"].astype(np.int64), "worst_dpd": s["worst_dpd"].astype(np.int64),
        "fpd": s["fpd"].astype(bool), "fpd_known": s["fpd_known"].astype(bool),
        "default_3m": s["default_3m"].astype(bool), "default_3m_known": s["default_3m_known"].astype(bool),
        "restructured": s["restructured"].astype(np.int64) > 0, "written_off": s["written_off"].astype(bool),
        "allowance": s["allowance"].astype(np.int64) if "allowance" in s else np.zeros(s["loan"].size, np.int64),
    }
    joined = with_previous({"loan": out["loan"], "outstanding": out["outstanding"], "bucket": out["bucket"],
                            "risk_class": out["risk_class"]}, earlier)
    out["has_prev"] = joined["has_prev"].astype(bool)
    for f in ("outstanding", "bucket", "risk_class"):
        out[f"prev_{f}"] = joined[f"prev_{f}"]
    return out


def application_facts(applications: Mapping[str, NDArray[Any]]) -> Columns:
    """The `applications` fact table: each application of the window with what became of it."""
    a = {k: np.asarray(v) for k, v in applications.items()}
    status = a["status"]
    approved = np.isin(status, list(APPROVED_STATUSES))
    declined = np.isin(status, list(DECLINED_STATUSES))
    return {
        "branch": a["branch"], "product": a["product"], "industry": industry_section(a["industry"]),
        "region": province(a["region"]), "channel": a["channel"], "grade": _or_unknown(a["grade"]),
        "outcome": a["outcome"], "approved": approved, "decided": approved | declined,
        "straight_through": a["auto_approved"].astype(bool), "score": a["score"].astype(np.float64),
        "requested": a["requested"].astype(np.int64), "approved_amount": a["approved_amount"].astype(np.int64),
    }


def quota_facts(quotas: Mapping[str, NDArray[Any]], as_of: dt.date) -> Columns:
    """The `quotas` fact table: each leaf quota's limit, use, and the use the plan's pace expects by `as_of`
    (the limit times the share of the plan period elapsed, counting `as_of` itself)."""
    q = {k: np.asarray(v) for k, v in quotas.items()}
    start, end = q["start"].astype(np.int64), q["end"].astype(np.int64)
    length = np.maximum(end - start + 1, 1)
    elapsed = np.clip(as_of.toordinal() - start + 1, 0, length)
    limit = q["limit"].astype(np.int64)
    expected = (limit * elapsed) // length
    return {
        "branch": _or_unknown(q["branch"]), "product": _or_unknown(q["product"]),
        "industry": _or_unknown(q["industry"]), "region": _per_value(q["region"],
                                                                     lambda r: f"{r}0000" if r else UNKNOWN),
        "limit": limit, "used": q["used"].astype(np.int64), "expected": expected.astype(np.int64),
    }


def previous_period_end(as_of: dt.date, frequency: str) -> dt.date:
    """The date whose snapshot an indicator compares with: the day before (daily), a week before (weekly), the
    last day of the previous month (monthly)."""
    if frequency == "monthly":
        return as_of.replace(day=1) - dt.timedelta(days=1)
    if frequency == "weekly":
        return as_of - dt.timedelta(days=7)
    return as_of - dt.timedelta(days=1)
