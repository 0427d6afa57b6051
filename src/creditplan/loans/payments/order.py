"""The allocation rule a loan's payments follow (issue 18): its term sheet's clause `allocation` (installment by
installment, 逐期, in the clause's order), or by component in the product's waterfall when the sheet has no such
clause — loans signed before the clause existed keep exactly the allocation they had.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from creditplan.loans.domain.terms import TermSheet as Sheet
from creditplan.loans.domain.terms import sheet_for_product, sheet_from_json
from creditplan.loans.domain.waterfall import Rule
from creditplan.loans.models import Loan, TermSheet
from creditplan.loans.products import term_sheet_of

__all__ = ["rule_of", "rules_of"]


def rule_of(loan: Loan) -> Rule:
    """The allocation rule of one loan (reads its term sheet)."""
    return term_sheet_of(loan).allocation_rule(loan.product.waterfall)


def rules_of(loans: Iterable[Any]) -> dict[int, Rule]:
    """The allocation rule of each loan (`pk`, `term_sheet_id`, `product`), reading their term sheets in one
    query (the bank file: a thousand loans a batch, a handful of sheets)."""
    loans = list(loans)
    ids = {x.term_sheet_id for x in loans if x.term_sheet_id}
    sheets: dict[int, Sheet] = {pk: sheet_from_json(body) for pk, body in
                                TermSheet.objects.filter(pk__in=ids).values_list("id", "body")} if ids else {}
    by_product: dict[int, Sheet] = {}
    out: dict[int, Rule] = {}
    for x in loans:
        if x.term_sheet_id:
            sheet = sheets[x.term_sheet_id]
        else:
            sheet = by_product.get(x.product.pk) or by_product.setdefault(x.product.pk, sheet_for_product(x.product))
        out[x.pk] = sheet.allocation_rule(x.product.waterfall)
    return out
