from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _


class CustomerForm(forms.Form):
    """Plain text fields: all validation lives in the customers domain, so the page, the API and imports
    accept exactly the same things; the form only carries values and shows the problems next to fields."""

    kind = forms.ChoiceField(label=_("Kind"), choices=[("individual", _("Individual")), ("company", _("Company"))])
    name = forms.CharField(label=_("Name"), max_length=100, required=False)
    branch = forms.CharField(label=_("Branch code"), max_length=20, required=False)
    id_number = forms.CharField(label=_("Resident ID number"), max_length=30, required=False)
    birth_date = forms.CharField(label=_("Birth date"), max_length=20, required=False,
                                 widget=forms.TextInput(attrs={"placeholder": "YYYY-MM-DD"}))
    phone = forms.CharField(label=_("Mobile phone"), max_length=20, required=False)
    monthly_income = forms.CharField(label=_("Monthly income (CNY)"), max_length=30, required=False)
    employer = forms.CharField(label=_("Employer"), max_length=100, required=False)
    uscc = forms.CharField(label=_("Unified social credit code"), max_length=30, required=False)
    industry_code = forms.CharField(label=_("Industry (GB/T 4754)"), max_length=10, required=False)
    region_code = forms.CharField(label=_("Region (GB/T 2260)"), max_length=10, required=False)


class IdentityCorrectionForm(forms.Form):
    """The corrected identity of a customer and why; the domain validates it (check digits, duplicates)."""

    id_number = forms.CharField(label=_("Corrected resident ID number"), max_length=30, required=False)
    uscc = forms.CharField(label=_("Corrected unified social credit code"), max_length=30, required=False)
    reason = forms.CharField(label=_("Reason (the document it is corrected from)"), max_length=500,
                             widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args: object, kind: str = "individual", **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        del self.fields["uscc" if kind == "individual" else "id_number"]
