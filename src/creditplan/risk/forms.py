"""The indicator definition form. Like the other forms of the product it only carries what was typed: every rule
(a formula's fields, amber before red, the dimensions the data has) lives in risk.services.indicators, so the page
and the API refuse the same things, naming the problem; the page shows each problem next to its field."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from creditplan.risk import labels
from creditplan.risk.domain.catalogue import DIMENSIONS, dimensions_of


class _AnyChoice(forms.ChoiceField):
    """A select whose value the service checks (an unknown value is refused there, named)."""

    def valid_value(self, value: Any) -> bool:
        return True


class _AnyChoices(forms.MultipleChoiceField):
    def valid_value(self, value: Any) -> bool:
        return True


_AREA = {"rows": 3, "cols": 60}


class IndicatorForm(forms.Form):
    code = forms.CharField(label=_("Indicator code"), required=False,
                           help_text=_("Letters, digits, - and _; it cannot be changed later."),
                           widget=forms.TextInput(attrs={"placeholder": "npl_ratio_consumer", "class": "mono"}))
    name_zh = forms.CharField(label=_("Name in Chinese"), required=False)
    name_en = forms.CharField(label=_("Name in English"), required=False)
    explain_zh = forms.CharField(label=_("What it measures, in Chinese"), required=False,
                                 widget=forms.Textarea(attrs=_AREA))
    explain_en = forms.CharField(label=_("What it measures, in English"), required=False,
                                 widget=forms.Textarea(attrs=_AREA))
    fact = _AnyChoice(label=_("Computed over"), choices=[])
    formula = forms.CharField(label=_("Formula"), required=False,
                              widget=forms.Textarea(attrs={"rows": 3, "cols": 60, "class": "mono", "spellcheck": "false",
                                                           "placeholder": "sum(outstanding, risk_class >= 3) / "
                                                                          "sum(outstanding)"}),
                              help_text=_("sum(field, condition), count(condition), mean(field, condition) or "
                                          "top_share(field, n), combined with + - * / ; the fields are listed "
                                          "below."))
    unit = _AnyChoice(label=_("Shown as"), choices=[])
    dimensions = _AnyChoices(label=_("Broken down by"), required=False, choices=[],
                             widget=forms.CheckboxSelectMultiple,
                             help_text=_("Always computed for the whole institution too."))
    amber = forms.CharField(label=_("Amber threshold"), required=False,
                            help_text=_("A ratio is written as a share: 0.02 is 2 %."))
    red = forms.CharField(label=_("Red threshold"), required=False)
    worse = _AnyChoice(label=_("Direction"), choices=[])
    mode = _AnyChoice(label=_("Thresholds apply"), choices=[])
    owner_role = _AnyChoice(label=_("Alerts go to"), choices=[])
    frequency = _AnyChoice(label=pgettext_lazy("risk", "Frequency"), choices=[])
    rules = _AnyChoices(label=_("Alert when"), required=False, choices=[], widget=forms.CheckboxSelectMultiple)
    periods = forms.IntegerField(label=_("Periods in a row (worsening rule)"), required=False, min_value=2,
                                 max_value=24, initial=3)
    active = forms.BooleanField(label=_("Computed every run"), required=False, initial=True)

    def __init__(self, *args: Any, creating: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.creating = creating
        if creating:
            del self.fields["active"]  # a new indicator is computed from the next run
        else:
            del self.fields["code"]
        self.fields["fact"].choices = labels.choices("fact")
        self.fields["unit"].choices = labels.choices("unit")
        self.fields["dimensions"].choices = [(d, labels.label("dimension", d)) for d in DIMENSIONS if d != "total"]
        self.fields["worse"].choices = labels.choices("worse")
        self.fields["mode"].choices = labels.choices("mode")
        self.fields["owner_role"].choices = labels.choices("owner_role")
        self.fields["frequency"].choices = labels.choices("frequency")
        self.fields["rules"].choices = [(k, labels.label("rule", k)) for k in ("red", "amber", "worsening")]
        zh = labels.chinese()
        colon, semicolon, comma = ("：", "；", "、") if zh else (": ", "; ", ", ")
        offered = semicolon.join(f"{labels.label('fact', f)}{colon}"
                                 f"{comma.join(labels.label('dimension', d) for d in dimensions_of(f) if d != 'total')}"
                                 for f in ("loans", "applications", "quotas"))
        self.fields["dimensions"].help_text = f"{self.fields['dimensions'].help_text} {offered}"
        # the formula's functions are code, shown as code (issue 20: no English words on a Chinese page)
        self.fields["formula"].help_text = format_html(
            "{} <code>sum(field, condition)</code> <code>count(condition)</code> <code>mean(field, condition)</code> "
            "<code>top_share(field, n)</code> <code>+ - * /</code> {}", _("Functions:"),
            _("The fields a formula can use are listed below."))

    def service_data(self) -> dict[str, Any]:
        """What the indicator service takes (it checks every field)."""
        d = self.cleaned_data
        periods = d.get("periods") or 3
        data: dict[str, Any] = {k: d.get(k, "") for k in ("name_zh", "name_en", "explain_zh", "explain_en", "fact",
                                                          "formula", "unit", "amber", "red", "worse", "mode",
                                                          "owner_role", "frequency")}
        data["dimensions"] = list(d.get("dimensions") or [])
        data["rules"] = [{"kind": k, "periods": periods} for k in d.get("rules") or []]
        if self.creating:
            data["code"] = d.get("code", "")
        else:
            data["active"] = bool(d.get("active"))
        return data


class CommentForm(forms.Form):
    text = forms.CharField(label=_("Comment"), required=False, widget=forms.Textarea(attrs={"rows": 3, "cols": 60}))


class ResolveForm(forms.Form):
    reason = _AnyChoice(label=_("Why it is resolved"), required=False, choices=[])
    note = forms.CharField(label=_("Note"), required=False, widget=forms.Textarea(attrs={"rows": 2, "cols": 60}))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["reason"].choices = [("", "—"), *labels.choices("resolution")]
