"""Loan page forms. Like the other forms of the product they carry text: every rule (amounts, dates, what a
payment may do) lives in the loan services and the schedule domain, so the page, the API and the CLI refuse
the same things; the forms only show the problems next to the fields and keep what the user typed."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from creditplan.core.daycount import DayCount

METHOD_CHOICES = [
    ("equal-installment", _("Equal installment")),
    ("equal-principal", _("Equal principal")),
    ("interest-only", _("Interest only, principal at maturity")),
    ("bullet", _("Bullet: principal and interest at maturity")),
]
DAY_COUNT_CHOICES = [(d.value, d.value) for d in DayCount]
INTEREST_RULE_CHOICES = [
    ("running-total", _("Exact schedule, fen carried (default)")),
    ("per-line", _("Each period on the balance outstanding")),
]
FREQUENCY_CHOICES = [("1", _("Monthly")), ("3", _("Quarterly")), ("6", _("Half-yearly")), ("12", _("Yearly"))]
STATUS_CHOICES = [("", _("All statuses")), ("active", pgettext_lazy("loan", "Active")),
                  ("closed", pgettext_lazy("loan", "Closed")),
                  ("written_off", _("Written off"))]
BUCKET_CHOICES = [("", _("All buckets")), ("0", _("Current")), ("1", "1–30"), ("2", "31–60"), ("3", "61–90"),
                  ("4", "91–180"), ("5", "181–270"), ("6", "271–360"), ("7", "360+")]
CLASS_CHOICES = [("", _("All classes")), ("1", _("Normal")), ("2", _("Special mention")),
                 ("3", _("Substandard")), ("4", _("Doubtful")), ("5", _("Loss"))]
# the listing's sort keys (reports.LOAN_SORTS; "-" sorts descending): the column headers sort too (issue 20)
SORT_CHOICES = [("-ref", _("Latest disbursed first")), ("-dpd", _("Most days past due first")),
                ("-outstanding", _("Largest outstanding first")), ("due", _("Next due date first"))]
PREPAY_CHOICES = [("full", _("Repay in full")), ("shorten_term", _("Partial: keep the payment, shorten the term")),
                  ("reduce_installment", _("Partial: keep the term, lower the payment"))]
RESTRUCTURE_CHOICES = [("extend_term", _("Extend the term")), ("change_method", _("Change the repayment method")),
                       ("capitalise", _("Capitalise arrears into principal")),
                       ("holiday", _("Repayment holiday (interest only)")),
                       ("extension", _("Extension: borrower not in difficulty"))]

_AMOUNT = {"inputmode": "decimal", "placeholder": _("yuan, e.g. 4745.37"), "autocomplete": "off"}
_DATE = {"type": "date"}


def _text(label: Any, *, required: bool = False, attrs: dict[str, Any] | None = None, max_length: int = 30,
          help_text: Any = "") -> forms.CharField:
    return forms.CharField(label=label, required=required, max_length=max_length, help_text=help_text,
                           widget=forms.TextInput(attrs=attrs or {}))


class LoanFilterForm(forms.Form):
    q = forms.CharField(label=_("Search"), required=False, max_length=60,
                        widget=forms.TextInput(attrs={"type": "search",
                                                      "placeholder": _("Loan no. or customer name")}))
    status = forms.ChoiceField(label=_("Status"), required=False, choices=STATUS_CHOICES)
    bucket = forms.ChoiceField(label=_("Days past due"), required=False, choices=BUCKET_CHOICES)
    risk_class = forms.ChoiceField(label=_("Classification"), required=False, choices=CLASS_CHOICES)
    branch = forms.ChoiceField(label=_("Branch"), required=False, choices=[])
    product = forms.ChoiceField(label=_("Product"), required=False, choices=[])
    dpd_min = forms.IntegerField(label=_("Days past due at least"), required=False, min_value=0, max_value=99_999,
                                 widget=forms.NumberInput(attrs={"placeholder": _("DPD ≥"), "min": 0, "max": 99999,
                                                                 "class": "narrow"}))
    sort = forms.ChoiceField(label=_("Order"), required=False, choices=SORT_CHOICES)

    def __init__(self, *args: Any, branches: list[tuple[str, str]], products: list[tuple[str, str]],
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["branch"].choices = [("", _("All branches")), *branches]
        self.fields["product"].choices = [("", _("All products")), *products]


class CalculatorForm(forms.Form):
    amount = _text(_("Amount (yuan)"), attrs=_AMOUNT)
    rate = _text(_("Annual rate (%)"), attrs={"inputmode": "decimal", "placeholder": "3.95"})
    term = _text(_("Term (periods)"), attrs={"inputmode": "numeric", "placeholder": "360"}, max_length=6)
    method = forms.ChoiceField(label=_("Repayment method"), choices=METHOD_CHOICES, initial="equal-installment")
    day_count = forms.ChoiceField(label=_("Day count"), choices=DAY_COUNT_CHOICES, initial="30/360")
    frequency = forms.ChoiceField(label=_("Frequency"), choices=FREQUENCY_CHOICES, initial="1")
    start = _text(_("Start (value) date"), attrs=_DATE, max_length=20)
    interest_rule = forms.ChoiceField(label=_("Interest rounding"), choices=INTEREST_RULE_CHOICES,
                                      initial="running-total", required=False)


class PaymentForm(forms.Form):
    amount = _text(_("Amount (yuan)"), attrs=_AMOUNT)
    value_date = _text(_("Value date"), attrs=_DATE, max_length=20)
    reference = _text(_("Reference"), max_length=64, help_text=_("The bank's transaction number, or the one "
                                                                 "proposed: the same reference twice is one payment."))


class ReverseForm(forms.Form):
    payment = forms.ChoiceField(label=_("Payment"), choices=[])
    reason = _text(_("Reason"), max_length=200, attrs={"placeholder": _("e.g. cheque returned unpaid")})

    def __init__(self, *args: Any, payments: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["payment"].choices = payments


class PrepayForm(forms.Form):
    """Field names are the service's (`payments.prepay`)."""

    mode = forms.ChoiceField(label=_("Prepayment"), choices=PREPAY_CHOICES, initial="full")
    amount = _text(_("Amount (yuan)"), attrs=_AMOUNT, help_text=_("Repaying in full takes at least the payoff "
                                                                   "amount; any surplus is refunded."))
    value_date = _text(_("Value date"), attrs=_DATE, max_length=20)
    reference = _text(_("Reference"), max_length=64)


class RestructureForm(forms.Form):
    """Field names are the service's (`restructure.restructure`), so its errors land on the right field."""

    kind = forms.ChoiceField(label=_("Restructuring"), choices=RESTRUCTURE_CHOICES, initial="extend_term")
    extend_periods = _text(_("Extra periods"), attrs={"inputmode": "numeric"}, max_length=4,
                           help_text=_("Extend the term; optional when capitalising."))
    holiday_periods = _text(_("Holiday periods"), attrs={"inputmode": "numeric"}, max_length=4,
                            help_text=_("Interest-only periods (repayment holiday)."))
    new_method = forms.ChoiceField(label=_("New repayment method"), required=False,
                                   choices=[("", "—"), *METHOD_CHOICES])
    capitalise = forms.BooleanField(label=_("Also capitalise arrears"), required=False)
    effective_date = _text(_("Effective date"), attrs=_DATE, max_length=20,
                           help_text=_("Blank: the day after the last close applied to the loan."))
    reason = _text(_("Reason"), max_length=300, attrs={"placeholder": _("the borrower's difficulty")})


WRITE_OFF_CONDITIONS = [
    ("bankruptcy", _("Borrower bankrupt, closed, dissolved or deregistered")),
    ("death", _("Borrower deceased or declared missing")),
    ("disaster", _("Major disaster or accident, uninsured")),
    ("criminal", _("Borrower convicted; the estate does not cover the debt")),
    ("court", _("Court enforcement terminated")),
    ("small_claim", _("Small balance, unpaid after the collection period")),
]


class WriteOffForm(forms.Form):
    """A write-off proposed for four-eyes approval, on one of the write-off conditions (loans/writeoff.py)."""

    condition = forms.ChoiceField(label=_("Write-off condition"), choices=WRITE_OFF_CONDITIONS)
    evidence = _text(_("Evidence reference"), max_length=200,
                     attrs={"placeholder": _("e.g. ruling or certificate number")})
    on = _text(_("Write-off date"), attrs=_DATE, max_length=20)
    reason = _text(_("Reason"), max_length=300, attrs={"placeholder": _("e.g. court ruling, collection exhausted")})


class RecoveryForm(forms.Form):
    amount = _text(_("Amount (yuan)"), attrs=_AMOUNT)
    reference = _text(_("Reference"), max_length=64)
    value_date = _text(_("Value date"), attrs=_DATE, max_length=20)


class ClassifyForm(forms.Form):
    """A manual risk class proposed for four-eyes approval (loans/classification.py)."""

    risk_class = forms.ChoiceField(label=_("Class"), choices=[
        ("2", _("Special mention")), ("3", _("Substandard")), ("4", _("Doubtful")), ("5", _("Loss")),
        ("lift", _("Lift the manual class"))])
    until = _text(_("Holds until"), attrs=_DATE, max_length=20, help_text=_("Blank: until lifted."))
    reason = _text(_("Reason"), max_length=300, attrs={"placeholder": _("why the days past due do not tell it all")})
