"""The steps of one close day that need more than the kernel's vector arithmetic (`domain/kernel.py`): the
installments falling due and the next one of each rolling loan, the auto-debit of a credit balance, floating
rate resets (and the schedule rebuilt at the new rate), loans repaid, and what a chunk produces besides its
loan columns — activities, and GL amounts per loan summed into entries per branch.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np

from creditplan.core.daycount import DayCount, year_fraction
from creditplan.core.errors import Conflict
from creditplan.core.money import round_fraction
from creditplan.loans import disbursement, products
from creditplan.loans.cob.context import Context
from creditplan.loans.domain import accounts, terms
from creditplan.loans.domain import kernel as K
from creditplan.loans.domain import waterfall as wf
from creditplan.loans.domain.accounts import Line
from creditplan.loans.domain.schedule import build_schedule
from creditplan.loans.models import Installment, Loan
from creditplan.loans.sql import close as close_sql
from creditplan.loans.sql.close import Chunk

__all__ = ["Effects", "auto_debit", "closures", "entries_by_branch", "event_activities", "fall_due_installments",
           "gl_amounts", "next_reset_after", "rate_resets"]


@dataclass
class Effects:
    """What a chunk produces besides its loan columns: GL amounts per loan, activities, extra totals."""

    n: int
    gl: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)  # kind → account → per-loan amounts
    activities: list[tuple[int, str, str, int, dict[str, Any]]] = field(default_factory=list)
    totals: dict[str, int] = field(default_factory=dict)
    closed: list[int] = field(default_factory=list)  # loan ids
    principal: dict[int, int] = field(default_factory=dict)  # loan id → principal repaid tonight (the plan's book)

    def add(self, kind: str, account: str, row: int, amount: int) -> None:
        col = self.gl.setdefault(kind, {}).setdefault(account, np.zeros(self.n, dtype=np.int64))
        col[row] += amount

    def count(self, key: str, amount: int = 1) -> None:
        self.totals[key] = self.totals.get(key, 0) + amount


def fall_due_installments(res: K.DayResult, chunk: Chunk, day: dt.date, fx: Effects
                           ) -> tuple[np.ndarray, K.NextInstallments]:
    """Mark the installments falling due today `due` (or `paid` when already covered) and return the next
    installment of each rolling loan (aligned with the returned row indices)."""
    rows = np.flatnonzero(res.rolled)
    nxt = K.NextInstallments.none(len(rows))
    if not len(rows):
        return rows, nxt
    ids = chunk.ids[rows].tolist()
    found = close_sql.load_rolling_installments(ids)
    updates: list[tuple[int, str]] = []
    seqs = res.due_seq[rows].tolist()
    for j, (loan_id, seq) in enumerate(zip(ids, seqs, strict=True)):
        mine = found.get(loan_id, {})
        cur = mine.get(seq)
        if cur is None:
            raise Conflict(f"loan {loan_id} points at installment {seq}, which does not exist (or is superseded)",
                           code="installment_missing")
        if cur[9] == "scheduled":
            _pk, _s, _d, p, i, f, pp, pi, pf, _st = cur
            updates.append((cur[0], "paid" if pp >= p and pi >= i and pf >= f else "due"))
        following = mine.get(seq + 1)
        if following is not None:
            nxt.seq[j], nxt.start_date[j], nxt.due_date[j] = seq + 1, following[1], following[2]
            nxt.principal_minor[j], nxt.interest_minor[j], nxt.fee_minor[j] = following[3], following[4], following[5]
    close_sql.set_installment_status(updates, day)
    for j, row in enumerate(rows.tolist()):
        fx.activities.append((int(chunk.ids[row]), "installment_due", "", int(
            res.due_principal[row] + res.due_interest[row] + res.due_fee[row]), {
            "seq": int(res.due_seq[row]), "principal_minor": int(res.due_principal[row]),
            "interest_minor": int(res.due_interest[row]), "fee_minor": int(res.due_fee[row])}))
        if nxt.seq[j] == 0:
            fx.activities.append((int(chunk.ids[row]), "matured", "maturity", 0, {"seq": int(res.due_seq[row])}))
    return rows, nxt


def auto_debit(res: K.DayResult, chunk: Chunk, ctx: Context, day: dt.date, fx: Effects) -> None:
    """Clause auto_debit: on a due date, the credit a customer holds pays what is due, by the product's
    waterfall (domain/waterfall.allocate), installment by installment, oldest first. Few loans a day: Python."""
    rows = np.flatnonzero(res.auto_debit)
    if not len(rows):
        return
    s = res.state
    ids = chunk.ids[rows].tolist()
    dues = close_sql.due_installments(ids)
    paid_rows: list[tuple[int, int, int, int, str]] = []  # (installment id, +p, +i, +f, status)
    for row, loan_id in zip(rows.tolist(), ids, strict=True):
        insts = dues.get(loan_id, [])
        credit = int(s["credit_minor"][row])
        rule = ctx.sheets[int(chunk.keys["terms_key"][row])].allocation_rule(  # the term sheet's (issue 18)
            ctx.waterfalls.get(int(chunk.keys["product_id"][row]), wf.DEFAULT_ORDER))
        a = wf.allocate(credit, penalty=int(s["penalty_minor"][row]), fees=int(s["fees_minor"][row]),
                        dues=[wf.Due(seq=q[1], interest=q[4] - q[7], principal=q[3] - q[6], fee=q[5] - q[8])
                              for q in insts], order=rule.order, by=rule.by)
        if not a.applied:
            continue
        s["credit_minor"][row] -= a.applied
        s["penalty_minor"][row] -= a.penalty
        s["fees_minor"][row] -= a.fee
        s["overdue_interest_minor"][row] -= a.interest
        s["overdue_principal_minor"][row] -= a.principal
        s["principal_outstanding_minor"][row] -= a.principal
        if a.principal:
            fx.principal[loan_id] = fx.principal.get(loan_id, 0) - int(a.principal)
        oldest = 0
        for pk, seq, due, p, i, f, pp, pi, pf in insts:
            dp, di, df = a.principal_by_seq.get(seq, 0), a.interest_by_seq.get(seq, 0), a.fee_by_seq.get(seq, 0)
            full = pp + dp >= p and pi + di >= i and pf + df >= f
            if dp or di or df:
                paid_rows.append((pk, dp, di, df, "paid" if full else "due"))
            if not full and not oldest:
                oldest = due
        s["oldest_due_date"][row] = oldest
        amounts = {accounts.CUSTOMER_CREDIT: a.applied, accounts.PENALTY_RECEIVABLE: -a.penalty,
                   accounts.FEES_RECEIVABLE: -a.fee, accounts.INTEREST_DUE: -a.interest,
                   accounts.LOAN_PRINCIPAL: -a.principal}
        if res.off_balance[row]:  # non-accrual: interest and penalty received are income now
            amounts, interest, penalty = accounts.off_balance(amounts)
            s["interest_income_minor"][row] += interest
            s["penalty_income_minor"][row] += penalty
        for account, amount in amounts.items():
            fx.add("auto_debit", account, row, amount)
        fx.count("auto_debits")
        fx.count("auto_debit_minor", a.applied)
        fx.activities.append((loan_id, "auto_debit", "auto_debit", a.applied, {**a.as_dict(), "credit_left": credit
                                                                               - a.applied}))
    close_sql.add_installment_payments(paid_rows, day)


def next_reset_after(start: dt.date, every: int, day: dt.date, reprice_on: str = "") -> dt.date:
    """The first reset date after `day`: every `every` months from the start date (the anniversary), or on the
    calendar month-day `reprice_on` ("01-01") and every `every` months from it — domain/terms.next_reset."""
    return terms.next_reset(start, every, day, reprice_on)


def period_year_fraction(day_count: str, months: int, start: dt.date, due: dt.date) -> Fraction:
    """The year fraction of one schedule period as the schedule counts it: 30/360 whole periods are months/12
    (a broken one counts its 30/360 days), the ACT conventions count actual days (core.daycount)."""
    if DayCount.coerce(day_count) is DayCount.THIRTY_360:
        whole = (due.year * 12 + due.month) - (start.year * 12 + start.month) == months and (
            start.day == due.day or start.day > 28 or due.day > 28)
        if whole:
            return Fraction(months, 12)
    return year_fraction(start, due, day_count)


def split_period_interest(*, period_interest: int, balance: int, new_rate_ppm: int, start: dt.date,
                          reset: dt.date, due: dt.date, year_fraction_of_period: Fraction,
                          rounding: str) -> tuple[int, int]:
    """分段计息 of the period (start, due] that a reset on `reset` splits: (old part, new part).

    Old part: the period's scheduled interest for the days (start, reset] — period_interest × days // N, exactly
    what the close's accrual rule has booked by the reset, so nothing booked changes. New part: the balance at
    the new rate for the days (reset, due], the period's year fraction shared out by calendar days (ACT/360:
    balance × rate × days / 360; 30/360: a month is 1/12 whatever its length, so the new rate has days/N of a
    month's interest), rounded once by the product's rule."""
    n = (due - start).days
    before, after = (reset - start).days, (due - reset).days
    old = period_interest * before // n
    new = round_fraction(Fraction(balance * new_rate_ppm, 1_000_000) * year_fraction_of_period * Fraction(after, n),
                         rounding)
    return old, new


def rate_resets(res: K.DayResult, chunk: Chunk, ctx: Context, day: dt.date, fx: Effects) -> None:
    """Clause rate_reset: a floating loan whose reset date has come takes LPR(tenor, day) + spread within floor
    and cap. A reset off the contract's calendar (a spread amendment effective on a date, loans/amendments.py)
    keeps the LPR of the last regular reset: only the spread changes. The current period is split at the reset
    (分段计息: old rate to the reset, new rate after it); the installments not yet accruing (after the current
    period; the current one too when it starts today) are rebuilt at the new rate under schedule_version + 1,
    the old rows superseded."""
    s = res.state
    nrd = chunk.extra["next_reset_date"]
    rows = np.flatnonzero((nrd > 0) & (nrd <= day.toordinal()))
    for row in rows.tolist():
        loan_id = int(chunk.ids[row])
        sheet = ctx.sheets[int(chunk.keys["terms_key"][row])]
        clause = sheet.clause("rate_reset")
        if clause is None:
            continue
        start = close_sql.date_of(int(chunk.extra["start_date"][row]))
        assert start is not None
        every, reprice_on = int(clause["every_months"]), sheet.reprice_on
        planned = dt.date.fromordinal(int(nrd[row]))
        regular = terms.next_reset(start, every, planned - dt.timedelta(days=1), reprice_on) == planned
        lpr_day = day if regular else terms.last_reset_on_or_before(start, every, planned, reprice_on)
        try:
            lpr = products.lpr_on(clause["tenor"], lpr_day)
        except Conflict:
            # No LPR published yet: keep the rate and try again at tomorrow's close (the reset date stays).
            fx.count("rate_resets_skipped")
            fx.activities.append((loan_id, "rate_reset_skipped", "rate_reset", 0,
                                  {"reason": f"no {clause['tenor']} LPR on or before {lpr_day}"}))
            continue
        old = int(s["rate_ppm"][row])
        new = min(max(lpr + int(clause["spread_ppm"]), int(clause["floor_ppm"])), int(clause["cap_ppm"]))
        following = next_reset_after(start, every, day, reprice_on)
        chunk.extra["next_reset_date"][row] = following.toordinal()
        s["rate_ppm"][row] = new
        detail: dict[str, Any] = {"from_ppm": old, "to_ppm": new, "lpr_ppm": lpr, "tenor": clause["tenor"],
                                  "spread_ppm": int(clause["spread_ppm"]), "next_reset": following.isoformat(),
                                  "basis": f"calendar {reprice_on}" if reprice_on else "anniversary"}
        if not regular:
            detail["lpr_of"] = lpr_day.isoformat()  # off-cycle (spread amendment): the LPR base is kept
        if new != old and s["current_seq"][row] > 0:
            detail["rebuilt"] = _rebuild_schedule(loan_id, row, s, chunk, new, day, detail)
        fx.count("rate_resets")
        fx.activities.append((loan_id, "rate_reset", "rate_reset", 0, detail))


def _rebuild_schedule(loan_id: int, row: int, s: dict[str, np.ndarray], chunk: Chunk, rate: int,
                      day: dt.date, detail: dict[str, Any]) -> int:
    loan = Loan.objects.select_related("product").get(pk=loan_id)
    current = int(s["current_seq"][row])
    open_rows = list(Installment.objects.filter(loan_id=loan_id, status="scheduled", seq__gte=current)
                     .exclude(status="superseded").order_by("seq"))
    # the period accruing across the reset is split (分段计息); the later ones are rebuilt at the new rate
    split = next((r for r in open_rows if r.seq == current and r.start_date < day < r.due_date), None)
    rebuild = [r for r in open_rows if r.seq > current or r.start_date >= day]
    if split is None and not rebuild:
        return 0
    version = int(chunk.extra["schedule_version"][row]) + 1
    made: list[Installment] = []
    if split is not None:
        balance = sum(r.principal_minor for r in open_rows)
        old_part, new_part = split_period_interest(
            period_interest=int(s["period_interest_minor"][row]), balance=balance, new_rate_ppm=rate,
            start=split.start_date, reset=day, due=split.due_date, rounding=loan.rounding,
            year_fraction_of_period=period_year_fraction(loan.day_count, loan.months_per_period, split.start_date,
                                                         split.due_date))
        interest = old_part + new_part
        detail["split"] = {"seq": split.seq, "balance_minor": balance, "from_interest_minor": split.interest_minor,
                           "old_part_minor": old_part, "old_days": (day - split.start_date).days,
                           "new_part_minor": new_part, "new_days": (split.due_date - day).days,
                           "interest_minor": interest}
        made.append(Installment(
            loan_id=loan_id, version=version, seq=split.seq, start_date=split.start_date, due_date=split.due_date,
            principal_minor=split.principal_minor, interest_minor=interest, fee_minor=split.fee_minor,
            paid_principal_minor=split.paid_principal_minor, paid_interest_minor=split.paid_interest_minor,
            paid_fee_minor=split.paid_fee_minor))
        s["period_interest_minor"][row] = interest
    lines: tuple[Any, ...] = ()
    balance = sum(r.principal_minor for r in rebuild)
    if rebuild and balance > 0:
        first = rebuild[0]
        grace = max(0, loan.product.grace_periods - (first.seq - 1))
        lines = build_schedule(disbursement.terms_for(
            loan, principal_minor=balance, periods=len(rebuild), start=first.start_date, first_due=first.due_date,
            rate_ppm=rate, grace_periods=grace if grace < len(rebuild) else 0))
        offset = first.seq - 1
        made += [Installment(
            loan_id=loan_id, version=version, seq=ln.seq + offset, start_date=ln.start_date, due_date=ln.due_date,
            principal_minor=ln.principal, interest_minor=ln.interest, fee_minor=ln.fee) for ln in lines]
        if first.seq == current:
            head = lines[0]
            s["period_start_date"][row] = head.start_date.toordinal()
            s["next_due_date"][row] = head.due_date.toordinal()
            s["period_interest_minor"][row] = head.interest
            s["period_principal_minor"][row] = head.principal
            s["period_fee_minor"][row] = head.fee
    if not made:
        return 0
    replaced = ([split.pk] if split is not None else []) + ([r.pk for r in rebuild] if lines else [])
    Installment.objects.filter(pk__in=replaced).update(status="superseded")
    Installment.objects.bulk_create(made)
    chunk.extra["schedule_version"][row] = version
    if lines and lines[-1].due_date != loan.maturity_date:
        Loan.objects.filter(pk=loan_id).update(maturity_date=lines[-1].due_date)
    return len(made)


def closures(res: K.DayResult, chunk: Chunk, day: dt.date, fx: Effects) -> None:
    """A loan with no installment left and nothing owed is repaid: it closes, any credit left is refunded."""
    s = res.state
    done = ((s["current_seq"] == 0) & (s["principal_outstanding_minor"] == 0) & (s["overdue_principal_minor"] == 0)
            & (s["overdue_interest_minor"] == 0) & (s["accrued_interest_minor"] == 0) & (s["penalty_minor"] == 0)
            & (s["fees_minor"] == 0))
    for row in np.flatnonzero(done).tolist():
        refund = int(s["credit_minor"][row])
        s["credit_minor"][row] = 0
        if refund:
            fx.add("refund", accounts.CUSTOMER_CREDIT, row, refund)
            fx.add("refund", accounts.CASH, row, -refund)
            fx.count("refund_minor", refund)
        fx.count("closed")
        fx.closed.append(int(chunk.ids[row]))
        fx.activities.append((int(chunk.ids[row]), "closed", "maturity", refund, {"refund_minor": refund}))
    close_sql.mark_closed(fx.closed, day)


def event_activities(res: K.DayResult, chunk: Chunk, fx: Effects) -> None:
    s, ids = res.state, chunk.ids
    for row in np.flatnonzero(res.penalty_started).tolist():
        fx.activities.append((int(ids[row]), "penalty_started", "penalty_interest", int(res.penalty[row]), {
            "dpd": int(s["dpd"][row]), "base_minor": int(s["overdue_principal_minor"][row]
                                                         + s["overdue_interest_minor"][row]),
            "rate_ppm": int(s["rate_ppm"][row]),
            "compound_minor": int(s["compound_minor"][row])}))  # of the penalty so far, 复利 (the rest 罚息)
    for row in np.flatnonzero(res.late_fee).tolist():
        fx.activities.append((int(ids[row]), "late_fee", "late_fee", int(res.late_fee[row]),
                              {"dpd": int(s["dpd"][row])}))
    for row in np.flatnonzero(res.class_changed).tolist():
        fx.activities.append((int(ids[row]), "class_changed", "", 0, {
            "from": int(res.prev["risk_class"][row]), "to": int(s["risk_class"][row]), "dpd": int(s["dpd"][row])}))
    for row in np.flatnonzero(res.frozen_now).tolist():
        fx.activities.append((int(ids[row]), "frozen", "limit_freeze", 0, {"dpd": int(s["dpd"][row])}))
    for kind, mask in (("non_accrual", res.na_entered), ("accrual_resumed", res.na_left)):
        for row in np.flatnonzero(mask).tolist():
            moved = abs(int(res.moved_accrued[row] + res.moved_due[row] + res.moved_penalty[row]))
            fx.activities.append((int(ids[row]), kind, "non_accrual", moved, {
                "dpd": int(s["dpd"][row]), "class": int(s["risk_class"][row]),
                "accrued_interest_minor": abs(int(res.moved_accrued[row])),
                "overdue_interest_minor": abs(int(res.moved_due[row])),
                "penalty_minor": abs(int(res.moved_penalty[row]))}))


def gl_amounts(res: K.DayResult, fx: Effects) -> dict[str, dict[str, np.ndarray]]:
    """Per-loan amounts per entry kind and account (> 0 debit); each kind balances loan by loan. A non-accrual
    loan's accrual and penalty go to the memo account (7001/7002) instead of the receivables and income; what
    moves on or off the balance sheet tonight is its own entry ("non_accrual" / "accrual_resumed")."""
    off = res.off_balance
    accrual, due, penalty = (np.where(off, 0, a) for a in (res.accrual, res.due_interest, res.penalty))
    memo = np.where(off, res.accrual + res.penalty, 0)
    out = {
        "accrual": {accounts.ACCRUED_INTEREST: accrual, accounts.INTEREST_INCOME: -accrual},
        "due": {accounts.INTEREST_DUE: due, accounts.ACCRUED_INTEREST: -due},
        "fee": {accounts.FEES_RECEIVABLE: res.due_fee + res.late_fee, accounts.FEE_INCOME: -(res.due_fee + res.late_fee)},
        "penalty": {accounts.PENALTY_RECEIVABLE: penalty, accounts.PENALTY_INCOME: -penalty},
        "off_balance": {accounts.OFF_BALANCE_INTEREST: memo, accounts.OFF_BALANCE_INTEREST_CONTRA: -memo},
    }
    for kind, mask in (("non_accrual", res.na_entered), ("accrual_resumed", res.na_left)):
        if not mask.any():
            continue
        ma, md, mp = (np.where(mask, a, 0) for a in (res.moved_accrued, res.moved_due, res.moved_penalty))
        out[kind] = {accounts.INTEREST_INCOME: ma + md, accounts.ACCRUED_INTEREST: -ma, accounts.INTEREST_DUE: -md,
                     accounts.PENALTY_INCOME: mp, accounts.PENALTY_RECEIVABLE: -mp,
                     accounts.OFF_BALANCE_INTEREST: ma + md + mp, accounts.OFF_BALANCE_INTEREST_CONTRA: -(ma + md + mp)}
    out.update(fx.gl)
    return out


def entries_by_branch(gl: dict[str, dict[str, np.ndarray]], branch_ids: np.ndarray, ctx: Context,
                       currency: str = "CNY") -> list[tuple[str, list[Line]]]:
    uniq, inv = np.unique(branch_ids, return_inverse=True)
    codes = [ctx.branches[int(b)] for b in uniq]
    entries = []
    for kind, by_account in gl.items():
        lines = []
        for account, amounts in by_account.items():
            sums = K.group_sum(amounts, inv, len(uniq))
            lines += [Line(account, codes[g], int(v), currency) for g, v in enumerate(sums.tolist()) if v]
        if lines:
            entries.append((kind, lines))
    return entries
