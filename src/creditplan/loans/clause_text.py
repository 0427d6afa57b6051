"""A loan's term sheet in plain words, clause by clause, for its page (the customer's too) and its contract."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from creditplan.core.money import format_minor, from_ppm

__all__ = ["ALLOCATION_ITEM_LABELS", "CLAUSE_LABELS", "clause_text", "rate_text"]


CLAUSE_LABELS = {"rate_reset": gettext_lazy("Rate reset"), "auto_debit": gettext_lazy("Automatic debit"),
                 "penalty_interest": gettext_lazy("Penalty interest"), "late_fee": gettext_lazy("Late fee"),
                 "limit_freeze": gettext_lazy("Limit freeze"), "maturity": gettext_lazy("Maturity and closure")}
CLAUSE_LABELS["prepayment"] = gettext_lazy("Prepayment rules")  # issue 18
CLAUSE_LABELS["allocation"] = gettext_lazy("Repayment order")  # issue 18
CLAUSE_LABELS["non_accrual"] = gettext_lazy("Non-accrual")  # issue 18
CLAUSE_LABELS["penalty_split"] = gettext_lazy("Penalty and compound interest")  # issue 18
CLAUSE_LABELS["grace_waiver"] = gettext_lazy("Grace period")  # issue 18
ALLOCATION_ITEM_LABELS = {"penalty": gettext_lazy("Penalty"), "fee": gettext_lazy("Fees"),
                          "interest": gettext_lazy("Interest"), "principal": gettext_lazy("Principal")}


def clause_text(kind: str, p: dict[str, Any], class_labels: Mapping[int, Any]) -> str:
    """A clause of the term sheet in plain words."""
    if kind == "rate_reset" and p.get("reprice_on"):  # calendar repricing (issue 18)
        return _("on %(md)s and every %(n)s months from it the rate becomes the %(tenor)s LPR %(sign)s %(bp)s bp, "
                 "between %(lo)s %% and %(hi)s %%") % {
            "md": p["reprice_on"], "n": p["every_months"], "tenor": p["tenor"],
            "sign": "−" if p["spread_ppm"] < 0 else "+", "bp": abs(p["spread_ppm"]) // 100,
            "lo": rate_text(p["floor_ppm"]), "hi": rate_text(p["cap_ppm"])}
    if kind == "prepayment":
        return _("prepayment fee %(fee)s %% of the principal prepaid%(within)s; at least %(min)s a partial "
                 "prepayment; at most %(max)s a year; none in the first %(lock)s months") % {
            "fee": rate_text(int(p["fee_bp"]) * 100),
            "within": (_(" within the first %(n)s months") % {"n": p["fee_months"]}) if p["fee_months"] else "",
            "min": format_minor(int(p["min_minor"])), "max": p["max_per_year"] or "–", "lock": p["lockin_months"]}
    if kind == "rate_reset":
        return _("every %(n)s months the rate becomes the %(tenor)s LPR %(sign)s %(bp)s bp, between %(lo)s %% and "
                 "%(hi)s %%") % {"n": p["every_months"], "tenor": p["tenor"],
                                 "sign": "−" if p["spread_ppm"] < 0 else "+", "bp": abs(p["spread_ppm"]) // 100,
                                 "lo": rate_text(p["floor_ppm"]), "hi": rate_text(p["cap_ppm"])}
    if kind == "allocation":  # issue 18: 逐期
        order = " → ".join(str(ALLOCATION_ITEM_LABELS.get(x, x)) for x in str(p.get("order", "")).split(","))
        return _("installment by installment, oldest first: each installment's %(order)s in full before the "
                 "next") % {"order": order}
    if kind == "non_accrual":
        if int(p.get("from_class") or 0):
            return _("from %(d)s days past due, or once classified %(cls)s or worse, interest and penalty are "
                     "kept off the balance sheet until the arrears are cleared") % {
                "d": int(p["after_dpd"]) + 1, "cls": class_labels.get(int(p["from_class"]), p["from_class"])}
        return _("from %(d)s days past due, interest and penalty are kept off the balance sheet until the arrears "
                 "are cleared") % {"d": int(p["after_dpd"]) + 1}
    if kind == "penalty_split":
        def part(pct: int) -> str:
            return _("%(pct)s %% of the loan rate") % {"pct": pct} if pct else _("none")
        return _("penalty interest on overdue principal: %(p)s; compound interest on unpaid interest: %(c)s") % {
            "p": part(int(p["principal_pct"])), "c": part(int(p["interest_pct"]))}
    if kind == "grace_waiver":
        return _("paid within the grace days, no penalty; paid after them, penalty runs from the due date")
    if kind == "auto_debit":
        return _("on each due date, money held for the customer pays what falls due")
    if kind == "penalty_interest":
        return _("from %(d)s days past due, penalty interest at the loan rate plus %(m)s %% on overdue principal "
                 "and interest, daily") % {"d": p["after_days"] + 1, "m": p["markup_pct"]}
    if kind == "late_fee":
        return _("%(fee)s for each due date still unpaid %(d)s days after it") % {
            "fee": format_minor(int(p["amount_minor"])), "d": p["after_days"] + 1}
    if kind == "limit_freeze":
        return _("the credit limit is frozen at %(d)s days past due") % {"d": p["after_dpd"]}
    return _("the last installment falls due on the maturity date; the loan closes once everything is paid")


def rate_text(rate_ppm: int) -> str:
    """ppm → percent with two decimals, more only when the rate has them (39500 → "3.95", 32050 → "3.205")."""
    pct = from_ppm(rate_ppm) * 100
    two = pct.quantize(Decimal("0.01"))
    return format(two if two == pct else pct.normalize(), "f")
