"""Self-executing contract terms: the declarative term sheet a signed loan carries and the daily close runs.

A term sheet is data, not code: a list of clauses, each naming what it does and its parameters. It is stored
once per distinct content (its SHA-256 over canonical JSON is its identity), so a million loans of one product
share one sheet, the close turns the few sheets it meets into parameter columns, and anyone can prove which
terms a loan ran under by hashing the sheet the ledger event names. A change of terms (a product revision, a
restructuring) is a new sheet — the old one is never edited, so history stays true.

Clauses (`kind`) and when the close executes them:
- `rate_reset`: floating loans, every `every_months` from the start date (the anniversary) or, with
  `reprice_on` = "MM-DD", on that calendar date each year and every `every_months` (a divisor of 12) from it
  (每年1月1日重定价: "01-01"): rate = LPR(`tenor`) + `spread_ppm`, within `floor_ppm`–`cap_ppm`; the period that
  straddles the reset is split (分段计息) and the unpaid schedule is rebuilt. Absent `reprice_on`: anniversary.
- `prepayment` (issue 18): a fee of `fee_bp` basis points of the principal prepaid (提前还款违约金) within the
  first `fee_months` months (0: always), a minimum partial prepayment `min_minor`, at most `max_per_year`
  prepayments a contract year (0: no limit) and none in the first `lockin_months` months. Absent: prepayment is
  free, of any amount, at any time.
- `auto_debit`: on each due date, money the customer holds with the lender (credit balance) pays what fell due.
- `penalty_interest`: from `after_days` past due, penalty interest at the contract rate × (1 + `markup_pct` %)
  on overdue principal and interest, daily.
- `penalty_split`: 罚息 on overdue principal at the contract rate × `principal_pct` % and 复利 on overdue
  interest at the contract rate × `interest_pct` % (0: that part is off). Absent: both 100 + markup_pct, the
  one rate of `penalty_interest` (what every sheet signed before issue 18 means).
- `grace_waiver`: the grace days (`penalty_interest.after_days`) are a waiver, not free days: penalty runs from
  the due date and is charged in full when the arrears outlast the grace; paid within it, nothing is charged.
  Absent: the days inside the grace are never charged.
- `late_fee`: `amount_minor` once for each due date still in arrears `after_days` past due.
- `limit_freeze`: at `after_dpd` days past due the customer's credit limit is frozen (no new drawdowns).
- `non_accrual`: a loan more than `after_dpd` days past due (or of class `from_class` or worse; 0: no class
  trigger) stops recognising interest and penalty as income: what is owed moves off the balance sheet (GL 7001)
  and accrues there until the loan is current again. Absent the clause: more than 90 days past due.
- `allocation`: how a payment is allocated (issue 18): `by` "installment" (逐期: the oldest installment's
  components in full before the next one) in the component `order` (comma-separated, e.g.
  "penalty,fee,interest,principal"). Absent the clause: by component in the product's waterfall, as before.
- `maturity`: on the maturity date the last installment falls due; the loan closes when fully paid.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from creditplan.core.daycount import add_months
from creditplan.core.errors import ValidationError
from creditplan.loans.domain import waterfall as wf

SHEET_VERSION = 1
NON_ACCRUAL_DPD = 90
CLAUSE_KINDS = ("rate_reset", "auto_debit", "penalty_interest", "penalty_split", "grace_waiver", "late_fee", "limit_freeze", "non_accrual",
                "maturity", "allocation", "prepayment")
_PARAMS: dict[str, dict[str, type]] = {
    "rate_reset": {"every_months": int, "tenor": str, "spread_ppm": int, "floor_ppm": int, "cap_ppm": int},
    "auto_debit": {},
    "penalty_interest": {"markup_pct": int, "after_days": int},
    "penalty_split": {"principal_pct": int, "interest_pct": int},
    "grace_waiver": {},
    "late_fee": {"amount_minor": int, "after_days": int},
    "limit_freeze": {"after_dpd": int},
    "non_accrual": {"after_dpd": int, "from_class": int},
    "maturity": {},
    "allocation": {"by": str, "order": str},
    "prepayment": {"fee_bp": int, "fee_months": int, "min_minor": int, "max_per_year": int, "lockin_months": int},
}
# Parameters a clause may leave out (absent: the behaviour before they existed, so signed sheets keep their digest).
_OPTIONAL: dict[str, dict[str, type]] = {
    "rate_reset": {"reprice_on": str},  # "MM-DD": calendar repricing (issue 18); absent: the anniversary
}


@dataclass(frozen=True)
class TermSheet:
    currency: str
    clauses: tuple[tuple[str, tuple[tuple[str, Any], ...]], ...]  # (kind, sorted params)

    def clause(self, kind: str) -> dict[str, Any] | None:
        for k, params in self.clauses:
            if k == kind:
                return dict(params)
        return None

    def as_json(self) -> dict[str, Any]:
        return {"version": SHEET_VERSION, "currency": self.currency,
                "clauses": [{"kind": k, **dict(p)} for k, p in self.clauses]}

    def canonical(self) -> str:
        return json.dumps(self.as_json(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.canonical().encode()).hexdigest()

    # Parameters the close needs, with the neutral value when a clause is absent.
    @property
    def grace_days(self) -> int:
        c = self.clause("penalty_interest") or self.clause("late_fee")
        return int(c["after_days"]) if c else 10**6

    @property
    def penalty_markup_pct(self) -> int:
        c = self.clause("penalty_interest")
        return int(c["markup_pct"]) if c else 0

    @property
    def penalty_after_days(self) -> int:
        c = self.clause("penalty_interest")
        return int(c["after_days"]) if c else 10**6

    # Penalty conventions (issue 18): absent clauses mean what sheets signed before meant.
    @property
    def penalty_principal_pct(self) -> int:
        split = self.clause("penalty_split")
        return int(split["principal_pct"]) if split else 100 + self.penalty_markup_pct

    @property
    def penalty_interest_pct(self) -> int:
        split = self.clause("penalty_split")
        return int(split["interest_pct"]) if split else 100 + self.penalty_markup_pct

    @property
    def grace_waiver(self) -> bool:
        return self.clause("grace_waiver") is not None

    @property
    def late_fee_minor(self) -> int:
        c = self.clause("late_fee")
        return int(c["amount_minor"]) if c else 0

    @property
    def late_fee_after_days(self) -> int:
        c = self.clause("late_fee")
        return int(c["after_days"]) if c else 10**6

    @property
    def freeze_dpd(self) -> int:
        c = self.clause("limit_freeze")
        return int(c["after_dpd"]) if c else 10**6

    # Non-accrual is an accounting rule more than a term: absent the clause, the regulatory default holds
    # (more than 90 days past due; no class trigger).
    @property
    def non_accrual_dpd(self) -> int:
        c = self.clause("non_accrual")
        return int(c["after_dpd"]) if c else NON_ACCRUAL_DPD

    @property
    def non_accrual_class(self) -> int:
        c = self.clause("non_accrual")
        return int(c["from_class"]) if c else 0

    @property
    def auto_debit(self) -> bool:
        return self.clause("auto_debit") is not None

    # Repricing (issue 18): the anniversary unless the clause names a calendar month-day.
    @property
    def reprice_on(self) -> str:
        c = self.clause("rate_reset")
        return str(c.get("reprice_on", "")) if c else ""

    @property
    def prepayment(self) -> dict[str, int]:
        """The prepayment rules (clause `prepayment`); absent: free, any amount, any time."""
        c = self.clause("prepayment")
        return {k: int(c[k]) if c else 0 for k in _PARAMS["prepayment"]}

    # Allocation (issue 18): absent the clause, by component in the product's waterfall (`fallback`).
    def allocation_rule(self, fallback: Sequence[str] | None = None) -> wf.Rule:
        c = self.clause("allocation")
        if c is None:
            return wf.Rule(wf.BY_COMPONENT, tuple(fallback or wf.DEFAULT_ORDER))
        return wf.Rule(str(c["by"]), tuple(str(c["order"]).split(",")))


def make_sheet(currency: str, clauses: list[dict[str, Any]]) -> TermSheet:
    """Validate and normalise: known kinds, each at most once, exactly the parameters the kind takes."""
    seen: set[str] = set()
    out = []
    for raw in clauses:
        kind = raw.get("kind")
        if kind not in _PARAMS:
            raise ValidationError(f"unknown clause {kind!r}; expected one of {', '.join(CLAUSE_KINDS)}",
                                  field="clauses", code="unknown_clause")
        if kind in seen:
            raise ValidationError(f"clause {kind} appears twice", field="clauses", code="duplicate_clause")
        seen.add(kind)
        params = {k: v for k, v in raw.items() if k != "kind"}
        optional = _OPTIONAL.get(kind, {})
        spec = {**_PARAMS[kind], **{k: t for k, t in optional.items() if k in params}}
        if set(params) != set(spec):
            raise ValidationError(f"clause {kind} takes {sorted(spec) or 'no parameters'}, got {sorted(params)}",
                                  field="clauses", code="clause_parameters")
        if kind == "rate_reset" and "reprice_on" in params:
            check_reprice_on(params["reprice_on"], params["every_months"])
        for k, typ in spec.items():
            v = params[k]
            if typ is int and (isinstance(v, bool) or not isinstance(v, int) or v < 0 and k != "spread_ppm"):
                raise ValidationError(f"clause {kind}: {k} must be a whole number", field="clauses",
                                      code="clause_parameters")
            if typ is str and not isinstance(v, str):
                raise ValidationError(f"clause {kind}: {k} must be text", field="clauses", code="clause_parameters")
        if kind == "allocation":
            wf.check_method(params["by"])
            wf.check_order(params["order"].split(","))
        out.append((kind, tuple(sorted(params.items()))))
    out.sort(key=lambda c: CLAUSE_KINDS.index(c[0]))
    return TermSheet(currency, tuple(out))


def check_reprice_on(value: Any, every_months: Any = 12) -> tuple[int, int]:
    """A calendar repricing date "MM-DD" (a day the month has in a leap year; 02-29 falls on 28 Feb in other
    years) → (month, day); every_months must divide 12 so that the dates fall on the same days every year."""
    text = str(value or "")
    try:
        if len(text) != 5 or text[2] != "-":
            raise ValueError(text)
        month, day = int(text[:2]), int(text[3:])
        dt.date(2000, month, day)
    except ValueError:
        raise ValidationError(f"the repricing date must be a month-day such as 01-01, not {text!r}",
                              field="reset_month_day", code="invalid_reprice_date") from None
    if isinstance(every_months, bool) or not isinstance(every_months, int) or every_months < 1 or 12 % every_months:
        raise ValidationError(f"a calendar repricing every {every_months} months must be every 1, 2, 3, 4, 6 or 12 "
                              "months", field="reset_months", code="invalid_reprice_period")
    return month, day


def next_reset(start: dt.date, every_months: int, day: dt.date, reprice_on: str = "") -> dt.date:
    """The first reset date after `day`: every `every_months` from the start date (anniversary), or — with
    `reprice_on` "MM-DD" — that month-day and every `every_months` from it, each anchored (a 31st clamps to a
    short month's end and never drifts)."""
    if not reprice_on:
        k = max(1, ((day.year - start.year) * 12 + day.month - start.month) // every_months)
        while add_months(start, k * every_months) <= day:
            k += 1
        while k > 1 and add_months(start, (k - 1) * every_months) > day:
            k -= 1
        return add_months(start, k * every_months)
    month, dom = check_reprice_on(reprice_on, every_months)
    anchor = dt.date(2000, month, dom)  # a leap year: every month-day exists
    k = ((day.year - 2000) * 12 + day.month - month) // every_months - 1
    while add_months(anchor, k * every_months) <= day:
        k += 1
    return add_months(anchor, k * every_months)


def last_reset_on_or_before(start: dt.date, every_months: int, day: dt.date, reprice_on: str = "") -> dt.date:
    """The latest regular reset date on or before `day` (the start date when none has come yet)."""
    last, d = start, next_reset(start, every_months, start, reprice_on)
    while d <= day:
        last, d = d, next_reset(start, every_months, d, reprice_on)
    return last


def sheet_for_product(p: Any) -> TermSheet:
    """The term sheet a loan of product `p` signs (p: anything with the Product model's attributes)."""
    clauses: list[dict[str, Any]] = []
    if p.rate_type == "floating":
        reset: dict[str, Any] = {"kind": "rate_reset", "every_months": int(p.reset_months), "tenor": p.lpr_tenor,
                                 "spread_ppm": int(p.spread_ppm), "floor_ppm": int(p.rate_floor_ppm),
                                 "cap_ppm": int(p.rate_cap_ppm)}
        if getattr(p, "reset_basis", "anniversary") == "calendar":  # anniversary: no parameter (same digest)
            reset["reprice_on"] = str(p.reset_month_day)
        clauses.append(reset)
    if p.auto_debit:
        clauses.append({"kind": "auto_debit"})
    principal_pct, interest_pct = penalty_pcts(p)
    if principal_pct or interest_pct:
        clauses.append({"kind": "penalty_interest", "markup_pct": int(p.penalty_markup_pct),
                        "after_days": int(p.grace_days)})
        if (principal_pct, interest_pct) != (100 + int(p.penalty_markup_pct),) * 2:  # the default: no clause
            clauses.append({"kind": "penalty_split", "principal_pct": principal_pct, "interest_pct": interest_pct})
        if getattr(p, "grace_mode", "free") == "waiver":
            clauses.append({"kind": "grace_waiver"})
    if p.late_fee_minor:
        clauses.append({"kind": "late_fee", "amount_minor": int(p.late_fee_minor), "after_days": int(p.grace_days)})
    clauses.append({"kind": "limit_freeze", "after_dpd": int(p.freeze_dpd)})
    na_dpd, na_class = int(getattr(p, "non_accrual_dpd", NON_ACCRUAL_DPD)), int(getattr(p, "non_accrual_class", 0))
    if (na_dpd, na_class) != (NON_ACCRUAL_DPD, 0):  # the default is no clause: sheets signed before stay the same
        clauses.append({"kind": "non_accrual", "after_dpd": na_dpd, "from_class": na_class})
    clauses.append({"kind": "maturity"})
    if getattr(p, "allocation", wf.BY_COMPONENT) != wf.BY_COMPONENT:  # by component: no clause, sheets unchanged
        clauses.append({"kind": "allocation", "by": str(p.allocation),
                        "order": ",".join(p.waterfall or wf.DEFAULT_ORDER)})
    rules = {k: int(getattr(p, f"prepay_{k}", 0) or 0) for k in _PARAMS["prepayment"]}
    if any(rules.values()):  # prepayment rules (issue 18); none: no clause, so sheets signed before stay the same
        clauses.append({"kind": "prepayment", **rules})
    return make_sheet(p.currency, clauses)


def penalty_pcts(p: Any) -> tuple[int, int]:
    """(罚息, 复利) rates of product `p` in % of the contract rate, 0 for off. A penalty markup of 0 turns 罚息
    off (as before issue 18); 复利 runs at its own markup, or at the penalty's when it has none, and is off
    with the penalty when neither has a markup."""
    markup = int(p.penalty_markup_pct or 0)
    own = getattr(p, "compound_markup_pct", None)
    principal = 100 + markup if markup and getattr(p, "penalty_on_principal", True) else 0
    compound_on = getattr(p, "compound_on_interest", True) and (markup or own is not None)
    interest = 100 + (markup if own is None else int(own)) if compound_on else 0
    return principal, interest


def sheet_from_json(data: dict[str, Any]) -> TermSheet:
    if data.get("version") != SHEET_VERSION:
        raise ValidationError(f"term sheet version {data.get('version')!r} is not supported", code="sheet_version")
    return make_sheet(str(data.get("currency") or "CNY"), [dict(c) for c in data.get("clauses") or []])
