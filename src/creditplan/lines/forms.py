"""Credit-line forms. Like the other apps' forms they carry text only: every rule (amounts, a sub-limit within its
line, the expiry) is lines.services', so the page and the API accept the same things; the forms show the
problems next to the fields and keep what the user typed."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from creditplan.core.errors import ValidationError
from creditplan.core.money import format_minor, parse_minor
from creditplan.lines.domain import MAX_LINE_AMOUNT_MINOR

_AMOUNT = {"inputmode": "decimal", "placeholder": _("yuan, e.g. 500000.00")}
SUB_LIMIT_ROWS = 3


def amount_problem(code: str, label: Any) -> str:
    """A typed amount the money parser refused, said with the field's name (and the bound) in the page's language."""
    words = {"field": label}
    if code == "amount_out_of_range":
        return gettext("%(field)s: at most %(max)s yuan either way.") % dict(words, max=format_minor(MAX_LINE_AMOUNT_MINOR))
    if code == "too_many_decimals":
        return gettext("%(field)s: amounts have at most 2 decimals (fen).") % words
    if code == "negative_amount":
        return gettext("%(field)s cannot be negative.") % words
    return gettext("%(field)s: not an amount, e.g. 12345.67.") % words


class AmountField(forms.CharField):
    """An amount in yuan, kept as the text typed (lines.services parses it again, so the API accepts the same) but
    refused here when it is no amount, negative or beyond the bound (issue 20), with the field named."""

    def __init__(self, *, label: Any) -> None:
        super().__init__(label=label, max_length=40, required=False, widget=forms.TextInput(attrs=_AMOUNT))

    def clean(self, value: Any) -> Any:
        text = super().clean(value)
        if text:
            try:
                parse_minor(text, "amount", maximum=MAX_LINE_AMOUNT_MINOR)
            except ValidationError as exc:
                raise forms.ValidationError(amount_problem(exc.code, self.label), code=exc.code) from None
        return text


def _sub_limit_fields(form: forms.Form, products: list[tuple[str, str]]) -> None:
    choices = [("", _("(no product)")), *products]
    for i in range(SUB_LIMIT_ROWS):
        form.fields[f"sub_product_{i}"] = forms.ChoiceField(label=_("Sub-limit: product"), choices=choices,
                                                            required=False)
        form.fields[f"sub_amount_{i}"] = AmountField(label=_("Sub-limit: amount (yuan)"))


def sub_limits_of(data: dict[str, Any]) -> dict[str, str]:
    """{product: amount text} from the form's sub-limit rows (rows without a product are left out)."""
    out: dict[str, str] = {}
    for i in range(SUB_LIMIT_ROWS):
        product = (data.get(f"sub_product_{i}") or "").strip()
        if product:
            out[product] = (data.get(f"sub_amount_{i}") or "").strip()
    return out


def sub_limit_field(problem_field: str, form: forms.Form) -> str | None:
    """The form field that shows a service problem named `sub_limits.<product>`."""
    product = problem_field.split(".", 1)[1] if "." in problem_field else ""
    for i in range(SUB_LIMIT_ROWS):
        if (form.data.get(f"sub_product_{i}") or "") == product:
            return f"sub_amount_{i}"
    return None


class ProposalForm(forms.Form):
    customer_id = forms.CharField(label=_("Customer no."), max_length=20, required=False)
    amount = AmountField(label=_("Line amount (yuan)"))
    expires_on = forms.CharField(label=_("Expires on"), max_length=20, required=False,
                                 widget=forms.TextInput(attrs={"type": "date"}))
    revolving = forms.ChoiceField(label=_("Kind of line"), choices=[
        ("yes", _("Revolving: repaid principal can be borrowed again")),
        ("no", _("Non-revolving: each amount can be borrowed once"))], initial="yes")
    reason = forms.CharField(label=_("Reason"), max_length=300, required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args: Any, products: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _sub_limit_fields(self, products)


KIND_CHOICES = [("increase", _("Increase the amount")), ("reduce", _("Reduce the amount")),
                ("extend", _("Change the expiry date")), ("sub_limits", _("Set the sub-limits")),
                ("freeze", _("Freeze")), ("unfreeze", _("Lift the freeze")), ("close", _("Close the line"))]


class ChangeForm(forms.Form):
    kind = forms.ChoiceField(label=pgettext_lazy("credit line", "Change"), choices=KIND_CHOICES)
    amount = AmountField(label=_("New amount (yuan)"))
    expires_on = forms.CharField(label=_("New expiry date"), max_length=20, required=False,
                                 widget=forms.TextInput(attrs={"type": "date"}))
    reason = forms.CharField(label=_("Reason"), max_length=300, required=False, widget=forms.Textarea(attrs={"rows": 2}))

    #: the fields each kind of change shows (besides the kind and the reason)
    FIELDS = {"increase": ("amount",), "reduce": ("amount",), "extend": ("expires_on",),
              "sub_limits": ("sub_limits",), "freeze": (), "unfreeze": (), "close": ()}

    def __init__(self, *args: Any, products: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _sub_limit_fields(self, products)

    def shown(self, kind: str) -> list[Any]:
        """The bound fields the chosen kind of change needs, in order."""
        wanted = self.FIELDS.get(kind, ())
        names = ["kind"] + [n for n in ("amount", "expires_on") if n in wanted]
        if "sub_limits" in wanted:
            names += [f"sub_{w}_{i}" for i in range(SUB_LIMIT_ROWS) for w in ("product", "amount")]
        return [self[n] for n in [*names, "reason"]]


class RiskForm(forms.Form):
    action = forms.ChoiceField(label=_("At once"), choices=[("freeze", _("Freeze now")), ("reduce", _("Reduce now"))])
    amount = AmountField(label=_("New amount (yuan, to reduce)"))
    reason = forms.CharField(label=_("Risk reason"), max_length=300, required=False)
