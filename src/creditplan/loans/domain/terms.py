"""Self-executing contract terms: the declarative term sheet a signed loan carries and the daily close runs.

A term sheet is data, not code: a list of clauses, each naming what it does and its parameters. It is stored
once per distinct content (its SHA-256 over canonical JSON is its identity), so a million loans of one product
share one sheet, the close turns the few sheets it meets into parameter columns, and anyone can prove which
terms a loan ran under by hashing the sheet the ledger event names. A change of terms (a product revision, a
restructuring) is a new sheet — the old one is never edited, so history stays true.

Clauses (`kind`) and when the close executes them:
- `rate_reset`: floating loans, every `every_months` from the start date: rate = LPR(`tenor`) + `spread_ppm`,
  within `floor_ppm`–`cap_ppm`; the unpaid schedule is rebuilt.
- `auto_debit`: on each due date, money the customer holds with the lender (credit balance) pays what fell due.
- `penalty_interest`: from `after_days` past due, penalty interest at the contract rate × (1 + `markup_pct` %)
  on overdue principal and interest, daily.
- `late_fee`: `amount_minor` once for each due date still in arrears `after_days` past due.
- `limit_freeze`: at `after_dpd` days past due the customer's credit limit is frozen (no new drawdowns).
- `non_accrual`: a loan more than `after_dpd` days past due (or of class `from_class` or worse; 0: no class
  trigger) stops recognising interest and penalty as income: what is owed moves off the balance sheet (GL 7001)
  and accrues there until the loan is current again. Absent the clause: more than 90 days past due.
- `maturity`: on the maturity date the last installment falls due; the loan closes when fully paid.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from creditplan.core.errors import ValidationError

SHEET_VERSION = 1
NON_ACCRUAL_DPD = 90
CLAUSE_KINDS = ("rate_reset", "auto_debit", "penalty_interest", "late_fee", "limit_freeze", "non_accrual",
                "maturity")
_PARAMS: dict[str, dict[str, type]] = {
    "rate_reset": {"every_months": int, "tenor": str, "spread_ppm": int, "floor_ppm": int, "cap_ppm": int},
    "auto_debit": {},
    "penalty_interest": {"markup_pct": int, "after_days": int},
    "late_fee": {"amount_minor": int, "after_days": int},
    "limit_freeze": {"after_dpd": int},
    "non_accrual": {"after_dpd": int, "from_class": int},
    "maturity": {},
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
        spec = _PARAMS[kind]
        if set(params) != set(spec):
            raise ValidationError(f"clause {kind} takes {sorted(spec) or 'no parameters'}, got {sorted(params)}",
                                  field="clauses", code="clause_parameters")
        for k, typ in spec.items():
            v = params[k]
            if typ is int and (isinstance(v, bool) or not isinstance(v, int) or v < 0 and k != "spread_ppm"):
                raise ValidationError(f"clause {kind}: {k} must be a whole number", field="clauses",
                                      code="clause_parameters")
            if typ is str and not isinstance(v, str):
                raise ValidationError(f"clause {kind}: {k} must be text", field="clauses", code="clause_parameters")
        out.append((kind, tuple(sorted(params.items()))))
    out.sort(key=lambda c: CLAUSE_KINDS.index(c[0]))
    return TermSheet(currency, tuple(out))


def sheet_for_product(p: Any) -> TermSheet:
    """The term sheet a loan of product `p` signs (p: anything with the Product model's attributes)."""
    clauses: list[dict[str, Any]] = []
    if p.rate_type == "floating":
        clauses.append({"kind": "rate_reset", "every_months": int(p.reset_months), "tenor": p.lpr_tenor,
                        "spread_ppm": int(p.spread_ppm), "floor_ppm": int(p.rate_floor_ppm),
                        "cap_ppm": int(p.rate_cap_ppm)})
    if p.auto_debit:
        clauses.append({"kind": "auto_debit"})
    if p.penalty_markup_pct:
        clauses.append({"kind": "penalty_interest", "markup_pct": int(p.penalty_markup_pct),
                        "after_days": int(p.grace_days)})
    if p.late_fee_minor:
        clauses.append({"kind": "late_fee", "amount_minor": int(p.late_fee_minor), "after_days": int(p.grace_days)})
    clauses.append({"kind": "limit_freeze", "after_dpd": int(p.freeze_dpd)})
    na_dpd, na_class = int(getattr(p, "non_accrual_dpd", NON_ACCRUAL_DPD)), int(getattr(p, "non_accrual_class", 0))
    if (na_dpd, na_class) != (NON_ACCRUAL_DPD, 0):  # the default is no clause: sheets signed before stay the same
        clauses.append({"kind": "non_accrual", "after_dpd": na_dpd, "from_class": na_class})
    clauses.append({"kind": "maturity"})
    return make_sheet(p.currency, clauses)


def sheet_from_json(data: dict[str, Any]) -> TermSheet:
    if data.get("version") != SHEET_VERSION:
        raise ValidationError(f"term sheet version {data.get('version')!r} is not supported", code="sheet_version")
    return make_sheet(str(data.get("currency") or "CNY"), [dict(c) for c in data.get("clauses") or []])
