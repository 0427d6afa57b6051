"""Application forms. They carry text only: every rule (amount and term ranges, the customer, required inputs)
lives in origination.services, so the page, the API and the online form accept exactly the same things; the
form shows the problems next to the fields and keeps what the applicant typed."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from creditplan.common.text import problem_text
from creditplan.core.errors import ValidationError
from creditplan.core.money import format_minor, parse_minor
from creditplan.origination import labels
from creditplan.origination.domain import MAX_DEPENDANTS, MAX_MONTHS_EMPLOYED, MAX_STATED_MINOR, STATED_INPUTS

# The applicant's choices: their words are the label table's (origination/labels.py).
PURPOSES = [(code, labels.table("purpose")[code]) for code in labels.table("purpose")]
EMPLOYMENT = [(code, labels.table("employment")[code]) for code in labels.table("employment")]
HOUSING = [(code, labels.table("housing")[code]) for code in labels.table("housing")]
_AMOUNT = {"inputmode": "decimal", "placeholder": _("yuan, e.g. 50000.00")}
_INT = {"inputmode": "numeric"}

# Applicant data the forms collect, under the names the decision reads (decisions.domain.kernel.KNOWN_INPUTS and
# the scorecard's features): money in fen, counts as whole numbers. Exactly what an applicant may state
# (origination.domain.STATED_INPUTS, declared there once); each has its form field below.
INPUT_FIELDS = STATED_INPUTS
_FORM_TO_INPUT = {"loan_purpose": "loan_purpose", "monthly_income": "monthly_income_minor",
                  "monthly_debt_payments": "existing_debt_service_minor", "employment": "employment",
                  "months_employed": "months_employed", "housing": "housing", "dependants": "dependants"}


def _fen(text: str, what: str) -> int:
    """Yuan as typed → fen, through the money edge (core.money.parse_minor: exact, zero or more, at most
    MAX_STATED_MINOR — a monthly figure above it is a typo, as on the customer record); a refusal in the page's
    language (`what` names the field in the English page's sentence)."""
    try:
        return parse_minor(text, what, maximum=MAX_STATED_MINOR)
    except ValidationError as exc:
        if exc.code == "amount_out_of_range":
            raise forms.ValidationError(_("At most %(most)s yuan.") % {"most": format_minor(MAX_STATED_MINOR)}
                                        ) from None
        raise forms.ValidationError(problem_text(exc.code, exc.message)) from None


def _whole(text: str, most: int) -> int:
    if not text.strip().isdigit() or int(text) > most:
        raise forms.ValidationError(_("A whole number from 0 to %(most)s.") % {"most": most})
    return int(text)


class _ApplicationFields(forms.Form):
    product = forms.ChoiceField(label=_("Product"), choices=[])
    amount = forms.CharField(label=_("Amount (yuan)"), max_length=30, required=False,
                             widget=forms.TextInput(attrs=_AMOUNT))
    term = forms.CharField(label=_("Term (months)"), max_length=4, required=False, widget=forms.TextInput(attrs=_INT))
    loan_purpose = forms.ChoiceField(label=_("Purpose of the loan"), choices=[("", "—"), *PURPOSES], required=False)
    monthly_income = forms.CharField(label=_("Monthly income (yuan)"), max_length=40, required=False,
                                     widget=forms.TextInput(attrs=_AMOUNT))
    monthly_debt_payments = forms.CharField(label=_("Existing monthly debt payments (yuan)"), max_length=40,
                                            required=False, widget=forms.TextInput(attrs=_AMOUNT))
    employment = forms.ChoiceField(label=_("Employment"), choices=[("", "—"), *EMPLOYMENT], required=False)
    months_employed = forms.CharField(label=_("Months with current employer"), max_length=4, required=False,
                                      widget=forms.TextInput(attrs=_INT))
    housing = forms.ChoiceField(label=_("Housing"), choices=[("", "—"), *HOUSING], required=False)
    dependants = forms.CharField(label=_("Dependants"), max_length=2, required=False,
                                 widget=forms.TextInput(attrs=_INT))

    def __init__(self, *args: Any, products: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["product"].choices = products

    def clean_monthly_income(self) -> int | None:
        text = self.cleaned_data.get("monthly_income") or ""
        return _fen(text, "monthly income") if text.strip() else None

    def clean_monthly_debt_payments(self) -> int | None:
        text = self.cleaned_data.get("monthly_debt_payments") or ""
        return _fen(text, "existing monthly debt payments") if text.strip() else None

    def clean_months_employed(self) -> int | None:
        text = self.cleaned_data.get("months_employed") or ""
        return _whole(text, MAX_MONTHS_EMPLOYED) if text.strip() else None

    def clean_dependants(self) -> int | None:
        text = self.cleaned_data.get("dependants") or ""
        return _whole(text, MAX_DEPENDANTS) if text.strip() else None

    def inputs(self) -> dict[str, Any]:
        """The applicant data under the decision's names; blanks left out (the customer record fills income;
        a value the policy needs and nobody has refers the case with that reason)."""
        out: dict[str, Any] = {}
        for form_name, input_name in _FORM_TO_INPUT.items():
            value = self.cleaned_data.get(form_name)
            if value not in (None, ""):
                out[input_name] = value
        return out

    @staticmethod
    def field_for(input_name: str) -> str:
        """The form field an input's problem belongs to (services speak of inputs.monthly_income_minor)."""
        return {v: k for k, v in _FORM_TO_INPUT.items()}.get(input_name, input_name)


class OfficerApplicationForm(_ApplicationFields):
    """A loan officer enters an application at the branch for a customer of the branch."""

    customer_id = forms.CharField(label=_("Customer no."), max_length=12, required=False,
                                  widget=forms.TextInput(attrs=_INT))
    field_order = ["customer_id", "product", "amount", "term"]


class OnlineApplicationForm(_ApplicationFields):
    """A customer applies online, for themselves."""

    consent = forms.BooleanField(label=_("I agree that the bank checks my data and credit history for this "
                                         "application"), required=False)


class InfoForm(_ApplicationFields):
    """The customer (or their officer) answers a request for information: the fields the reviewer asked for
    (`requested`, input names) and a note — nothing else."""

    note = forms.CharField(label=_("Note"), max_length=500, required=False)

    def __init__(self, *args: Any, requested: tuple[str, ...] | list[str] = (), **kwargs: Any) -> None:
        super().__init__(*args, products=[], **kwargs)
        keep = {"note", *(self.field_for(n) for n in requested if n in INPUT_FIELDS)}
        for name in list(self.fields):
            if name not in keep:
                del self.fields[name]


class ReviewForm(forms.Form):
    """A decisive review action: its reason is chosen from a list whose first option is empty (nothing
    preselected; the browser asks for it, the form refuses it blank)."""

    reason_code = forms.ChoiceField(label=_("Reason"), choices=[])
    note = forms.CharField(label=_("Note"), max_length=500, required=False)

    def __init__(self, *args: Any, reasons: list[tuple[str, Any]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["reason_code"].choices = reasons


class InfoRequestForm(ReviewForm):
    """A reviewer asks the customer for more information: the reason, a note, and which of the applicant's
    fields the customer is to send (those the bank does not hold for the case)."""

    inputs = forms.MultipleChoiceField(label=_("Figures the customer is to send"), choices=[], required=False,
                                       widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args: Any, requestable: list[tuple[str, Any]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["inputs"].choices = requestable


class WithdrawForm(forms.Form):
    """Withdrawing an application: a chosen reason (nothing preselected) and a note."""

    reason = forms.ChoiceField(label=_("Reason"), choices=[])
    note = forms.CharField(label=_("Note"), max_length=250, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["reason"].choices = [("", _("— choose —")), *labels.choices("withdraw")]

    def reason_text(self) -> str:
        """What the history keeps: the reason's code, and the note after it ("other: …")."""
        note = (self.cleaned_data.get("note") or "").strip()
        return f"{self.cleaned_data['reason']}: {note}" if note else self.cleaned_data["reason"]
