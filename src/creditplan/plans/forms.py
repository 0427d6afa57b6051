"""Plan forms. Like the customer form, they only carry text: every rule (amounts, dimension codes, a child
not above its parent) lives in plans.services, so the page, the API and the Excel import accept the same
things; the forms show the problems next to the fields and keep what the user typed."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from creditplan.core.errors import ValidationError
from creditplan.core.money import format_minor
from creditplan.plans.domain import MAX_PLAN_AMOUNT_MINOR, parse_plan_amount

MODE_CHOICES = [("hard", _("Hard (block)")), ("soft", _("Soft (escalate)")), ("monitor", _("Monitor only"))]
_AMOUNT = {"inputmode": "decimal", "placeholder": _("yuan, e.g. 100000000.00")}


def amount_problem(code: str, label: Any) -> str:
    """A typed amount the money parser refused, said with the field's name (and the bound) in the page's language."""
    words = {"field": label}
    if code == "amount_out_of_range":
        return gettext("%(field)s: at most %(max)s yuan either way.") % dict(words, max=format_minor(MAX_PLAN_AMOUNT_MINOR))
    if code == "too_many_decimals":
        return gettext("%(field)s: amounts have at most 2 decimals (fen).") % words
    if code == "negative_amount":
        return gettext("%(field)s cannot be negative.") % words
    if code == "not_positive":
        return gettext("%(field)s must be more than zero.") % words
    return gettext("%(field)s: not an amount, e.g. 12345.67.") % words


class AmountField(forms.CharField):
    """An amount in yuan, kept as the text typed (the services parse it again, so the API and Excel accept the same)
    but refused here when it is no amount or beyond the plan's bound (issue 20: 1e400, 27 digits), with the field
    named. Sign and zero are the services' to judge (their words say which rule)."""

    def __init__(self, *, label: Any, required: bool = False, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(label=label, max_length=40, required=required,
                         widget=forms.TextInput(attrs={"inputmode": "decimal", **(attrs or {})}))

    def clean(self, value: Any) -> Any:
        text = super().clean(value)
        if text:
            try:
                parse_plan_amount(text, "amount", allow_negative=True)
            except ValidationError as exc:
                raise forms.ValidationError(amount_problem(exc.code, self.label), code=exc.code) from None
        return text


def _choices(blank: Any, pairs: list[tuple[str, str]]) -> list[tuple[str, Any]]:
    return [("", blank), *pairs]


class PlanForm(forms.Form):
    code = forms.CharField(label=_("Plan code"), max_length=40, required=False,
                           widget=forms.TextInput(attrs={"placeholder": "y2026"}))
    name = forms.CharField(label=_("Plan name"), max_length=100, required=False)
    period_start = forms.CharField(label=_("Period start"), max_length=20, required=False,
                                   widget=forms.TextInput(attrs={"type": "date"}))
    period_end = forms.CharField(label=_("Period end"), max_length=20, required=False,
                                 widget=forms.TextInput(attrs={"type": "date"}))
    net_capital = AmountField(label=_("Net capital (yuan)"), attrs=_AMOUNT)
    new_lending_limit = AmountField(label=_("New-lending quota (yuan)"), attrs=_AMOUNT)
    balance_limit = AmountField(label=_("Balance quota (yuan)"), attrs=_AMOUNT)
    control_mode = forms.ChoiceField(label=_("Control mode"), choices=MODE_CHOICES, initial="hard")


class SplitParentForm(forms.Form):
    parent = forms.TypedChoiceField(label=_("Quota to split"), coerce=int, choices=[])

    def __init__(self, *args: Any, quotas: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["parent"].choices = quotas


class SplitChildForm(forms.Form):
    """One child quota. Blank rows are skipped (a formset row nobody touched)."""

    branch = forms.ChoiceField(label=_("Branch"), required=False, choices=[])
    product = forms.ChoiceField(label=_("Product"), required=False, choices=[])
    industry = forms.ChoiceField(label=_("Industry"), required=False, choices=[])
    region = forms.ChoiceField(label=_("Region"), required=False, choices=[])
    segment = forms.ChoiceField(label=_("Segment"), required=False, choices=[])
    new_lending_limit = AmountField(label=_("New-lending quota (yuan)"))
    balance_limit = AmountField(label=_("Balance quota (yuan)"))
    control_mode = forms.ChoiceField(label=_("Control mode"), required=False,
                                     choices=_choices(_("as parent"), MODE_CHOICES))

    def __init__(self, *args: Any, dimension_choices: dict[str, list[tuple[str, str]]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, pairs in dimension_choices.items():
            self.fields[name].choices = _choices(_("all"), pairs)


class AdjustmentForm(forms.Form):
    quota = forms.TypedChoiceField(label=_("Quota"), coerce=int, choices=[])
    delta = AmountField(label=_("Change of the new-lending quota (yuan)"), required=True,
                        attrs={"placeholder": _("+5000000 asks for more, -2000000 gives back")})
    reason = forms.CharField(label=_("Reason"), max_length=300, required=False,
                             widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args: Any, quotas: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["quota"].choices = quotas


class ImportForm(forms.Form):
    file = forms.FileField(label=_("Excel file (.xlsx)"))
    code = forms.CharField(label=_("Plan code (optional, overrides the sheet)"), max_length=40, required=False)
