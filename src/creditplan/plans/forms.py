"""Plan forms. Like the customer form, they only carry text: every rule (amounts, dimension codes, a child
not above its parent) lives in plans.services, so the page, the API and the Excel import accept the same
things; the forms show the problems next to the fields and keep what the user typed."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

MODE_CHOICES = [("hard", _("Hard (block)")), ("soft", _("Soft (escalate)")), ("monitor", _("Monitor only"))]
_AMOUNT = {"inputmode": "decimal", "placeholder": _("yuan, e.g. 100000000.00")}


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
    net_capital = forms.CharField(label=_("Net capital (yuan)"), max_length=30, required=False,
                                  widget=forms.TextInput(attrs=_AMOUNT))
    new_lending_limit = forms.CharField(label=_("New-lending quota (yuan)"), max_length=30, required=False,
                                        widget=forms.TextInput(attrs=_AMOUNT))
    balance_limit = forms.CharField(label=_("Balance quota (yuan)"), max_length=30, required=False,
                                    widget=forms.TextInput(attrs=_AMOUNT))
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
    new_lending_limit = forms.CharField(label=_("New-lending quota (yuan)"), max_length=30, required=False,
                                        widget=forms.TextInput(attrs={"inputmode": "decimal"}))
    balance_limit = forms.CharField(label=_("Balance quota (yuan)"), max_length=30, required=False,
                                    widget=forms.TextInput(attrs={"inputmode": "decimal"}))
    control_mode = forms.ChoiceField(label=_("Control mode"), required=False,
                                     choices=_choices(_("as parent"), MODE_CHOICES))

    def __init__(self, *args: Any, dimension_choices: dict[str, list[tuple[str, str]]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, pairs in dimension_choices.items():
            self.fields[name].choices = _choices(_("all"), pairs)


class AdjustmentForm(forms.Form):
    quota = forms.TypedChoiceField(label=_("Quota"), coerce=int, choices=[])
    delta = forms.CharField(label=_("Change of the new-lending quota (yuan)"), max_length=30,
                            widget=forms.TextInput(attrs={"placeholder": _("+5000000 asks for more, -2000000 gives back")}))
    reason = forms.CharField(label=_("Reason"), max_length=300, required=False,
                             widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args: Any, quotas: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["quota"].choices = quotas


class ImportForm(forms.Form):
    file = forms.FileField(label=_("Excel file (.xlsx)"))
    code = forms.CharField(label=_("Plan code (optional, overrides the sheet)"), max_length=40, required=False)
