"""Plan periods: an annual plan split into months and quarters by shares (basis points of the year's limits), the
pace line they draw, and what a month may still use when its unused quota rolls over or lapses. Pure.

* Months are the calendar months the plan's period covers (the first and last may be partial); quarters are the
  months taken three by three from the plan's first month (a plan from April: Q1 = April–June).
* Shares are basis points: 10000 = the whole year. Given by month (each ≥ 0, adding up to 10000), by quarter (each
  quarter's share split evenly over its months, the odd basis points to its first months), or from the previous
  year's curve: each month's share of the previous year's new lending (largest remainders, so the shares add up to
  exactly 10000); a previous year with nothing lent gives equal shares.
* The pace line: the share expected by the end of `today` = the shares of the months already over + the current
  month's share pro rata to the days of it elapsed (today included).
* Period control: "roll" — a month's unused quota rolls into the next: usable to date = the cumulative share up to
  the end of the current month × the limit − everything used so far; "lapse" — it lapses: usable this month = the
  month's own share × the limit − the month's own use; "none" — the periods only draw the pace line.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from creditplan.core.errors import ValidationError

WHOLE = 10_000  # basis points
CONTROLS = ("none", "roll", "lapse")


@dataclass(frozen=True, slots=True)
class Period:
    kind: str  # month | quarter
    seq: int  # 1-based
    start: dt.date
    end: dt.date
    share_bp: int


def months_of(start: dt.date, end: dt.date) -> list[tuple[dt.date, dt.date]]:
    """The calendar months from `start` to `end`, clipped to them."""
    out = []
    first = start
    while first <= end:
        nxt = dt.date(first.year + first.month // 12, first.month % 12 + 1, 1)
        out.append((first, min(end, nxt - dt.timedelta(days=1))))
        first = nxt
    return out


def _split_even(total: int, n: int) -> list[int]:
    base, rest = divmod(total, n)
    return [base + (1 if i < rest else 0) for i in range(n)]


def _clean_shares(values: Sequence[object], field: str, n: int) -> list[int]:
    if len(values) != n:
        raise ValidationError(f"{field}: give {n} shares, one per {field[:-1]} of the plan (got {len(values)})",
                              field=field, code="period_share_count")
    out = []
    for i, v in enumerate(values):
        try:
            bp = int(str(v).strip())
        except ValueError:
            raise ValidationError(f"{field} {i + 1}: {v!r} is not a whole number of basis points",
                                  field=f"{field}.{i + 1}", code="period_share_format") from None
        if bp < 0:
            raise ValidationError(f"{field} {i + 1}: a share cannot be negative", field=f"{field}.{i + 1}",
                                  code="period_share_negative")
        out.append(bp)
    if sum(out) != WHOLE:
        raise ValidationError(f"{field}: the shares add up to {sum(out)} basis points, not 10000 (100 %)",
                              field=field, code="period_shares_sum")
    return out


def split(start: dt.date, end: dt.date, *, months: Sequence[object] | None = None,
          quarters: Sequence[object] | None = None) -> list[Period]:
    """The plan's months and quarters from shares by month or by quarter (both: the months must add up to each
    quarter's share). Errors name the field: "months", "months.3", "quarters"…"""
    spans = months_of(start, end)
    groups = [spans[i:i + 3] for i in range(0, len(spans), 3)]
    if months is None and quarters is None:
        raise ValidationError("give the shares by month or by quarter", field="months", code="required")
    q_shares = _clean_shares(quarters, "quarters", len(groups)) if quarters is not None else None
    if months is not None:
        m_shares = _clean_shares(months, "months", len(spans))
        if q_shares is not None:
            for i, q in enumerate(q_shares):
                got = sum(m_shares[3 * i:3 * i + 3])
                if got != q:
                    raise ValidationError(f"quarters {i + 1}: its months add up to {got} basis points, not {q}",
                                          field=f"quarters.{i + 1}", code="period_quarter_mismatch")
    else:
        assert q_shares is not None
        m_shares = [bp for q, g in zip(q_shares, groups, strict=True) for bp in _split_even(q, len(g))]
    return periods_from_months(spans, m_shares)


def periods_from_months(spans: list[tuple[dt.date, dt.date]], m_shares: list[int]) -> list[Period]:
    out = [Period("month", i + 1, s, e, bp) for i, ((s, e), bp) in enumerate(zip(spans, m_shares, strict=True))]
    for i in range(0, len(out), 3):
        group = out[i:i + 3]
        out.append(Period("quarter", i // 3 + 1, group[0].start, group[-1].end, sum(p.share_bp for p in group)))
    return out


@dataclass(frozen=True, slots=True)
class Curve:
    periods: list[Period]
    equal: bool  # the previous year had no new lending: equal shares


def curve_shares(amounts: Sequence[int]) -> list[int] | None:
    """Each amount's share of the total in basis points, adding up to exactly 10000 (largest remainders; ties to
    the earlier month). None when the total is 0."""
    total = sum(max(0, a) for a in amounts)
    if total == 0:
        return None
    exact = [Fraction(max(0, a) * WHOLE, total) for a in amounts]
    shares = [int(x) for x in exact]
    short = WHOLE - sum(shares)
    by_remainder = sorted(range(len(amounts)), key=lambda i: (-(exact[i] - shares[i]), i))
    for i in by_remainder[:short]:
        shares[i] += 1
    return shares


def from_curve(start: dt.date, end: dt.date, previous: Sequence[int]) -> Curve:
    """Shares from the previous year's new lending by month (`previous[i]`: the month a year before month i)."""
    spans = months_of(start, end)
    shares = curve_shares(list(previous)[:len(spans)] + [0] * max(0, len(spans) - len(previous)))
    if shares is None:
        return Curve(periods_from_months(spans, _split_even(WHOLE, len(spans))), True)
    return Curve(periods_from_months(spans, shares), False)


def month_of(periods: Sequence[Period], day: dt.date) -> Period | None:
    for p in periods:
        if p.kind == "month" and p.start <= day <= p.end:
            return p
    return None


def expected_share(periods: Sequence[Period], today: dt.date) -> Fraction:
    """The share of the year the plan expects used by the end of `today` (months over + the current month pro
    rata to its days elapsed)."""
    total = Fraction(0)
    for p in periods:
        if p.kind != "month" or today < p.start:
            continue
        if today >= p.end:
            total += p.share_bp
        else:
            days = (p.end - p.start).days + 1
            total += Fraction(p.share_bp * ((today - p.start).days + 1), days)
    return total / WHOLE


def cumulative_bp(periods: Sequence[Period], day: dt.date) -> int:
    """The shares of the months up to the end of the month of `day`."""
    return sum(p.share_bp for p in periods if p.kind == "month" and p.start <= day)


def usable(control: str, limit: int, *, month_bp: int, cumulative_bp: int, used_to_date: int, month_use: int) -> int:
    """What the quota may still reserve this month (fen; may be negative when a month over-used), rounded down."""
    if control == "roll":
        return limit * cumulative_bp // WHOLE - used_to_date
    if control == "lapse":
        return limit * month_bp // WHOLE - month_use
    raise ValueError(f"no monthly limit under period control {control!r}")
