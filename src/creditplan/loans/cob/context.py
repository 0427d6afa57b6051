"""What the close loads once per run: the contract parameters of every term sheet (and of each product, for
loans without a stored sheet), the products' waterfalls, the branches' codes, and who runs it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from creditplan.core.access import Actor
from creditplan.core.errors import Conflict
from creditplan.loans.domain import waterfall as wf
from creditplan.loans.domain.terms import TermSheet as Sheet
from creditplan.loans.domain.terms import sheet_for_product, sheet_from_json
from creditplan.loans.models import Product
from creditplan.loans.sql.close import Chunk

__all__ = ["SHEET_PARAMS", "Context"]

# The kernel's PARAM_COLUMNS (less basis, which is the loan's own), each read from a term sheet.
SHEET_PARAMS: tuple[tuple[str, Callable[[Sheet], int]], ...] = (
    ("grace_days", lambda s: s.penalty_after_days),
    ("late_fee_days", lambda s: s.late_fee_after_days),
    ("late_fee_minor", lambda s: s.late_fee_minor),
    ("penalty_markup_pct", lambda s: s.penalty_markup_pct),
    ("auto_debit", lambda s: int(s.auto_debit)),
    ("freeze_dpd", lambda s: s.freeze_dpd),
    # issue 18, one block per concern
    ("non_accrual_dpd", lambda s: s.non_accrual_dpd),  # non-accrual
    ("non_accrual_class", lambda s: s.non_accrual_class),
    ("penalty_principal_pct", lambda s: s.penalty_principal_pct),  # penalty conventions (罚息, 复利, grace)
    ("penalty_interest_pct", lambda s: s.penalty_interest_pct),
    ("grace_waiver", lambda s: int(s.grace_waiver)),
)


@dataclass
class Context:
    params: dict[int, tuple[int, ...]]  # terms key → PARAM_COLUMNS less basis
    sheets: dict[int, Sheet]
    waterfalls: dict[int, tuple[str, ...]]  # product id → order
    branches: dict[int, str]
    actor: Actor | None = None

    @classmethod
    def load(cls, actor: Actor | None = None) -> Context:
        from creditplan.loans.models import TermSheet
        from creditplan.org.models import Branch

        sheets: dict[int, Sheet] = {}
        for pk, body in TermSheet.objects.values_list("id", "body"):
            sheets[pk] = sheet_from_json(body)
        waterfalls: dict[int, tuple[str, ...]] = {}
        for p in Product.objects.all():
            sheets[-p.pk] = sheet_for_product(p)  # loans without a stored sheet run under their product's
            waterfalls[p.pk] = tuple(p.waterfall or wf.DEFAULT_ORDER)
        params: dict[int, tuple[int, ...]] = {k: tuple(int(read(s)) for _, read in SHEET_PARAMS)
                                              for k, s in sheets.items()}
        branches = dict(Branch.objects.values_list("id", "code"))
        return cls(params=params, sheets=sheets, waterfalls=waterfalls, branches=branches, actor=actor)

    def params_for(self, chunk: Chunk) -> dict[str, np.ndarray]:
        keys = chunk.keys["terms_key"]
        uniq, inv = np.unique(keys, return_inverse=True)
        try:
            table = np.array([self.params[int(k)] for k in uniq], dtype=np.int64).reshape(len(uniq),
                                                                                          len(SHEET_PARAMS))
        except KeyError as exc:
            raise Conflict(f"a loan names term sheet {exc} that does not exist", code="unknown_term_sheet")
        out = {n: table[inv, i] for i, (n, _) in enumerate(SHEET_PARAMS)}
        out["basis"] = chunk.keys["basis"]
        out["months_per_period"] = chunk.keys["months_per_period"]  # classification (issue 18): the cure length
        out["non_retail"] = chunk.keys["non_retail"]  # and the debtor rule, for company debtors only
        return out
