"""Targets and ratio limits pages (issue 19 §6; docs/plan-targets.md): a plan's targets with their status and
pace, adding one, applying a shipped template, removing one; and the rows of the dashboard's panel
(templates/plans/_targets.html, through the `plan_targets` tag). Views only call services; every figure is said in
the page's language (the services speak English and carry stable codes)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.functional import lazy
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from creditplan.common.text import problem_text
from creditplan.core.errors import CreditplanError, FieldProblem
from creditplan.core.money import format_minor
from creditplan.customers.domain import INDUSTRY_SECTIONS, PROVINCES
from creditplan.org import services as org
from creditplan.org.domain import Perm
from creditplan.plans import services
from creditplan.plans.domain import targets as t

KIND_LABELS = {
    "min_amount": gettext_lazy("At least an amount"), "min_growth": gettext_lazy("At least a growth rate"),
    "min_borrowers": gettext_lazy("At least a number of borrowers"),
    "max_share": gettext_lazy("Ratio cap: at most a share"), "min_share": gettext_lazy("At least a share"),
    "min_growth_vs": gettext_lazy("Growth not below another's growth"),
}
MEASURE_LABELS = {"balance": gettext_lazy("balance"), "new_lending": gettext_lazy("new lending"),
                  "borrowers": gettext_lazy("borrowers")}
STATUS_LABELS = {
    "met": gettext_lazy("Met"), "on_pace": gettext_lazy("On pace"), "behind": gettext_lazy("Behind"),
    "missed": gettext_lazy("Missed"), "within": gettext_lazy("Within the cap"), "breached": gettext_lazy("Breached"),
    "not_measured": gettext_lazy("Not measured"),
}
# the badge colours the stylesheet has: green, amber, red (grey for not measured)
STATUS_LEVELS = {"met": "approved", "on_pace": "approved", "within": "approved", "behind": "warn",
                 "not_measured": "closed", "missed": "act", "breached": "act"}
CONTROL_LABELS = {"refuse": gettext_lazy("Refuse the reservation"), "escalate": gettext_lazy("Escalate the reservation"),
                  "monitor": gettext_lazy("Monitor only")}
KEY_LABELS = {"branch": gettext_lazy("branch"), "product": gettext_lazy("product"),
              "industry": gettext_lazy("industry"), "region": gettext_lazy("province"),
              "segment": gettext_lazy("segment")}
TEMPLATE_LABELS = {
    "inclusive_sme": gettext_lazy("Inclusive small-business lending: two increases, two controls"),
    "real_estate": gettext_lazy("Real-estate loan concentration caps by bank tier"),
    "green": gettext_lazy("Green lending growth"),
    "manufacturing_mlt": gettext_lazy("Manufacturing medium/long-term lending growth"),
}
# the targets a template makes, by their code (the stored name is English; the page says it in its language)
TARGET_LABELS = {
    "sme_growth": gettext_lazy("Inclusive small-business loans grow at least as fast as all loans"),
    "sme_borrowers": gettext_lazy("Inclusive small-business borrowers not below the start of the year"),
    "re_property": gettext_lazy("Property loans, share of all loans"),
    "re_mortgage": gettext_lazy("Personal mortgages, share of all loans"),
    "green_growth": gettext_lazy("Green loans, balance growth"),
    "mfg_mlt_growth": gettext_lazy("Manufacturing medium/long-term loans, balance growth"),
}
TIER_LABELS = {
    1: gettext_lazy("Tier 1: large Chinese-funded banks (40 % / 32.5 %)"),
    2: gettext_lazy("Tier 2: medium-sized Chinese-funded banks (27.5 % / 20 %)"),
    3: gettext_lazy("Tier 3: small Chinese-funded banks and rural cooperatives outside counties (22.5 % / 17.5 %)"),
    4: gettext_lazy("Tier 4: county rural cooperatives (17.5 % / 12.5 %)"),
    5: gettext_lazy("Tier 5: village and township banks (12.5 % / 7.5 %)"),
}
# Target problems in the page's language (the services speak English and carry a stable code).
_TARGET_TEXT = {
    "unknown_target_kind": gettext_lazy("Choose the kind of target."),
    "unknown_measure": gettext_lazy("Choose what the target measures."),
    "measure_not_for_kind": gettext_lazy("This kind of target does not measure that."),
    "filter_format": gettext_lazy("Write one filter per line as dimension=code, e.g. product=mortgage or industry=K, "
                                  "segment=green."),
    "unknown_filter_key": gettext_lazy("A filter names branch, product, industry, region or segment."),
    "unknown_branch": gettext_lazy("A filter names a branch that does not exist."),
    "unknown_product": gettext_lazy("A filter names a product that is not configured."),
    "unknown_segment": gettext_lazy("A filter names a customer segment that is not configured."),
    "unknown_industry": gettext_lazy("An industry filter is a GB/T 4754 section: one letter, A-T."),
    "unknown_region": gettext_lazy("A province filter is a GB/T 2260 province code: two digits."),
    "percent_format": gettext_lazy("Not a percentage, e.g. 22.5."),
    "percent_decimals": gettext_lazy("A percentage has at most 2 decimals."),
    "count_format": gettext_lazy("A whole number of borrowers."),
    "threshold_out_of_range": gettext_lazy("Out of range: a share is between 0 and 100 %, a growth rate between "
                                           "-100 % and 10000 %."),
    "base_required": gettext_lazy("Give the base: the growth of new lending or of borrowers is measured over a "
                                  "figure the planner gives."),
    "base_format": gettext_lazy("A growth rate needs a base above zero."),
    "base_not_for_kind": gettext_lazy("This kind of target takes no base."),
    "denominator_not_for_kind": gettext_lazy("Only shares and growth comparisons have a denominator."),
    "unknown_control": gettext_lazy("Choose refuse, escalate or monitor."),
    "control_not_for_kind": gettext_lazy("Only a ratio cap refuses or escalates reservations."),
    "code_format": gettext_lazy("1-40 lower-case letters, digits, dashes or underscores."),
    "duplicate_target": gettext_lazy("The plan already has a target with this code."),
    "template_applied": gettext_lazy("This template is already applied to the plan: remove its targets first."),
    "unknown_template": gettext_lazy("Choose a template."),
    "unknown_tier": gettext_lazy("Choose the bank's tier (1 to 5)."),
    "unknown_param": gettext_lazy("This template has no such setting."),
    "plan_closed": gettext_lazy("The plan is closed."),
    "target_not_found": gettext_lazy("No such target."),
}


def target_problem(code: str, message: str) -> str:
    text = _TARGET_TEXT.get(code)
    if text is None or (get_language() or "en").startswith("en"):
        return problem_text(code, message)
    return str(text)


def _zh() -> bool:
    return not (get_language() or "zh").startswith("en")


# --- words -----------------------------------------------------------------------------------------------------

def _names() -> dict[str, dict[str, str]]:
    return {"product": dict(services.dimension_codes("product")), "segment": dict(services.dimension_codes("segment"))}


def _value_words(key: str, value: str, names: dict[str, dict[str, str]]) -> str:
    if key == "industry" and value in INDUSTRY_SECTIONS:
        return f"{value} {INDUSTRY_SECTIONS[value][0 if _zh() else 1]}"
    if key == "region" and value in PROVINCES:
        return f"{value} {PROVINCES[value][0 if _zh() else 1]}"
    return names.get(key, {}).get(value) or value  # the name in the page's language; the code when unregistered


def selection_words(filters: list[dict[str, str]], names: dict[str, dict[str, str]]) -> str:
    """[{"industry": "K"}, {"product": "mortgage"}] → "industry K Real estate or product mortgage 个人住房贷款"."""
    if not filters:
        return _("all loans")
    parts = [f" {_('and')} ".join(f"{KEY_LABELS.get(k, k)} {_value_words(k, v, names)}" for k, v in f.items())
             for f in filters]
    return f" {_('or')} ".join(parts)


def target_name(v: services.TargetView) -> str:
    if v.template and v.code in TARGET_LABELS:
        return str(TARGET_LABELS[v.code])
    return v.name


def what_words(v: services.TargetView, names: dict[str, dict[str, str]]) -> str:
    """What a target measures, in a sentence."""
    d = {"measure": MEASURE_LABELS.get(v.measure, v.measure), "num": selection_words(v.numerator, names),
         "den": selection_words(v.denominator, names)}
    texts = {
        "min_amount": _("%(measure)s of %(num)s"),
        "min_growth": _("growth of the %(measure)s of %(num)s"),
        "min_borrowers": _("borrowers with a balance in %(num)s"),
        "max_share": _("%(measure)s of %(num)s as a share of that of %(den)s"),
        "min_share": _("%(measure)s of %(num)s as a share of that of %(den)s"),
        "min_growth_vs": _("growth of the %(measure)s of %(num)s against that of %(den)s"),
    }
    text = texts.get(v.kind, "%(num)s") % d
    return text[:1].upper() + text[1:]


def _in_unit(unit: str, value: Any) -> str:
    if value is None:
        return "–"
    if unit == "fen":
        return _("%(amount)s yuan") % {"amount": format_minor(int(value))}
    if unit == "bp":
        return f"{t.percent(value)} %"
    return str(int(value))


def _goal_words(s: services.TargetStatus) -> str:
    e, v = s.evaluation, s.target
    if v.kind == "max_share":
        return _("at most %(cap)s") % {"cap": _in_unit("bp", v.threshold)}
    if v.kind == "min_growth_vs":
        if e.reference is None:
            return "–"
        if v.threshold:
            return _("at least %(goal)s (the other growth %(ref)s, plus %(margin)s points)") % {
                "goal": _in_unit("bp", e.goal), "ref": _in_unit("bp", e.reference), "margin": t.percent(v.threshold)}
        return _("at least %(goal)s (the other growth)") % {"goal": _in_unit("bp", e.goal)}
    return _("at least %(goal)s") % {"goal": _in_unit(e.unit, e.goal)}


def _pace_words(s: services.TargetStatus) -> str:
    e, v = s.evaluation, s.target
    if e.status == "not_measured":
        if v.kind in ("min_growth", "min_growth_vs"):
            return _("No base to grow from: the selection had no balance at the start (or no base was given).")
        if v.kind == "min_borrowers":
            return _("The borrower count is not available.")
        return _("No loans in the denominator yet.")
    if v.kind == "max_share":
        if s.headroom is None:
            return _("A cap of 100 % cannot be broken.")
        return _("Room for %(room)s yuan more before the cap (approvals not yet paid out count: %(share)s).") % {
            "room": format_minor(s.headroom), "share": _in_unit("bp", s.share_with_reserved)}
    if e.progress is not None and e.pace is not None:
        return _("%(done)s of the target achieved in %(elapsed)s of the period: pace %(pace)s.") % {
            "done": f"{t.percent(e.progress * t.BP, 1)} %", "elapsed": f"{t.percent(e.elapsed * t.BP, 1)} %",
            "pace": t.percent(e.pace * 100)}
    if v.kind == "min_growth_vs":
        return _("Grew %(value)s against %(ref)s for %(den)s.") % {
            "value": _in_unit("bp", e.value), "ref": _in_unit("bp", e.reference),
            "den": selection_words(v.denominator, _names())}
    return _("%(elapsed)s of the period elapsed.") % {"elapsed": f"{t.percent(e.elapsed * t.BP, 1)} %"}


def target_rows(user: Any, plan_id: int, today: dt.date | None = None) -> list[dict[str, Any]]:
    """The targets of a plan as the pages show them: name, what it measures, value, goal, status, pace — words."""
    names = _names()
    rows = []
    for s in services.evaluate_targets(user, plan_id, today):
        v, e = s.target, s.evaluation
        rows.append({
            "id": v.id, "code": v.code, "name": target_name(v), "what": what_words(v, names),
            "kind_label": KIND_LABELS.get(v.kind, v.kind), "value": _in_unit(e.unit, e.value),
            "goal": _goal_words(s), "status": e.status, "status_label": STATUS_LABELS.get(e.status, e.status),
            "level": STATUS_LEVELS.get(e.status, ""), "pace": _pace_words(s),
            "control_label": CONTROL_LABELS.get(v.control, v.control) if v.kind == "max_share" else "",
        })
    return rows


# --- forms -----------------------------------------------------------------------------------------------------

# the dimensions in Chinese, as a Chinese page asks for them (产品=mortgage)
_KEY_ALIASES = {"机构": "branch", "产品": "product", "行业": "industry", "省份": "region", "地区": "region",
                "客群": "segment"}


def parse_filters(text: str) -> list[dict[str, str]]:
    """The page's way of writing filters: one per line (or separated by ";"), each "key=value, key=value"; the
    keys in English or Chinese (产品, 行业, 机构, 省份, 客群)."""
    out = []
    for line in text.replace(";", "\n").splitlines():
        if not line.strip():
            continue
        f: dict[str, str] = {}
        for part in line.replace("，", ",").split(","):
            if not part.strip():
                continue
            key, sep, value = part.replace("：", "=").replace(":", "=").partition("=")
            if not sep:
                raise forms.ValidationError(str(_TARGET_TEXT["filter_format"]))
            f[_KEY_ALIASES.get(key.strip(), key.strip().lower())] = value.strip()
        out.append(f)
    return out


class FilterField(forms.CharField):
    widget = forms.Textarea(attrs={"rows": 2})

    def clean(self, value: Any) -> list[dict[str, str]]:
        return parse_filters(super().clean(value) or "")


def _help(words: Any, *codes: str) -> SafeString:
    return format_html("{} {}", words, format_html_join(" ", "<code>{}</code>", ((c,) for c in codes)))


# help texts naming codes a planner types: the words translated, the codes shown as code (issue 20)
_code_help = lazy(_help, SafeString)


class TargetForm(forms.Form):
    code = forms.CharField(label=gettext_lazy("Target code"), max_length=40)
    name = forms.CharField(label=gettext_lazy("Target name"), max_length=100)
    kind = forms.ChoiceField(label=gettext_lazy("Target kind"), choices=list(KIND_LABELS.items()))
    measure = forms.ChoiceField(label=gettext_lazy("Measure"), required=False, choices=[
        ("", gettext_lazy("The kind's usual measure")), *MEASURE_LABELS.items()])
    numerator = FilterField(label=gettext_lazy("Loans measured"), required=False, help_text=_code_help(gettext_lazy(
        "One filter per line as dimension=code (dimensions: branch, product, industry, region, segment); a loan "
        "counts when it matches any line; empty: all loans. For example:"), "product=consumer", "region=11"))
    denominator = FilterField(label=gettext_lazy("Compared with (shares and growth comparisons)"), required=False,
                              help_text=gettext_lazy("Empty: all loans."))
    threshold = forms.CharField(label=gettext_lazy("Threshold"), help_text=gettext_lazy(
        "Yuan for an amount, a percentage for a rate or a share (22.5 = 22.5 %), a count for borrowers."))
    base_value = forms.CharField(label=gettext_lazy("Base"), required=False, help_text=gettext_lazy(
        "The base period's figure (yuan, or borrowers), when not the plan's opening book."))
    control = forms.ChoiceField(label=gettext_lazy("When a reservation would break a ratio cap"),
                                choices=list(CONTROL_LABELS.items()), initial="monitor")


class TemplateForm(forms.Form):
    template = forms.ChoiceField(label=gettext_lazy("Template"), choices=list(TEMPLATE_LABELS.items()))
    tier = forms.ChoiceField(label=gettext_lazy("Bank tier (real-estate caps)"), required=False,
                             choices=[("", "–"), *TIER_LABELS.items()])
    property_cap = forms.CharField(label=gettext_lazy("Property loans cap (%), if not the tier's"), required=False)
    mortgage_cap = forms.CharField(label=gettext_lazy("Mortgages cap (%), if not the tier's"), required=False)
    property_industries = forms.CharField(label=gettext_lazy("Industries counted as property loans"), required=False,
                                          help_text=_code_help(gettext_lazy("Default:"), "K"))
    property_products = forms.CharField(label=gettext_lazy("Products counted as property loans"), required=False,
                                        help_text=_code_help(gettext_lazy("Default:"), "mortgage"))
    mortgage_products = forms.CharField(label=gettext_lazy("Products counted as personal mortgages"),
                                        required=False, help_text=_code_help(gettext_lazy("Default:"), "mortgage"))
    control = forms.ChoiceField(label=gettext_lazy("When a reservation would break a cap"), required=False,
                                choices=[("", gettext_lazy("Refuse (default)")), *CONTROL_LABELS.items()])
    segment = forms.CharField(label=gettext_lazy("Segment"), required=False, help_text=_code_help(
        gettext_lazy("Default (inclusive small business, or green lending):"), "inclusive_sme", "green"))
    base_borrowers = forms.CharField(label=gettext_lazy("Borrowers at the start of the year"), required=False,
                                     help_text=gettext_lazy("Default: the count now."))
    growth = forms.CharField(label=gettext_lazy("Growth at least (%)"), required=False, help_text=gettext_lazy(
        "Default: 20 (green), 10 (manufacturing)."))
    products = forms.CharField(label=gettext_lazy("Medium/long-term products (manufacturing)"), required=False,
                               help_text=gettext_lazy("Default: every industry C loan."))


def _form_errors(form: forms.Form, exc: CreditplanError) -> None:
    for p in exc.problems or [FieldProblem("", exc.message, exc.code)]:
        form.add_error(p.field if p.field in form.fields else None, target_problem(p.code, p.message))


def _page(request: HttpRequest, plan_id: int, *, form: TargetForm | None = None,
          template_form: TemplateForm | None = None, status: int = 200) -> HttpResponse:
    user = request.user
    plan = services.get_plan(user, plan_id)
    may_manage = org.may(user, Perm.PLAN_MANAGE) and plan.status != "closed"
    return render(request, "plans/targets.html", {
        "plan": plan, "rows": target_rows(user, plan_id), "may_manage": may_manage,
        "form": (form or TargetForm()) if may_manage else None,
        "template_form": (template_form or TemplateForm()) if may_manage else None,
    }, status=status)


# --- pages -----------------------------------------------------------------------------------------------------

@login_required
def targets(request: HttpRequest, plan_id: int) -> HttpResponse:
    """The plan's targets with their status and pace; a planner adds one here (POST)."""
    if request.method != "POST":
        return _page(request, plan_id)
    org.require(request.user, Perm.PLAN_MANAGE)
    form = TargetForm(request.POST)
    if form.is_valid():
        try:
            services.add_target(request.user, plan_id, **form.cleaned_data)
        except CreditplanError as exc:
            if exc.http_status in (401, 403, 404):
                raise
            _form_errors(form, exc)
        else:
            messages.success(request, _("Target %(code)s added.") % {"code": form.cleaned_data["code"]})
            return redirect("plans:targets", plan_id=plan_id)
    return _page(request, plan_id, form=form, status=422)


@login_required
@require_POST
def target_template(request: HttpRequest, plan_id: int) -> HttpResponse:
    org.require(request.user, Perm.PLAN_MANAGE)
    form = TemplateForm(request.POST)
    if form.is_valid():
        template = form.cleaned_data["template"]
        params = {k: v for k, v in form.cleaned_data.items()
                  if k in t.TEMPLATES[template].params and v not in ("", None)}
        try:
            made = services.apply_template(request.user, plan_id, template, params)
        except CreditplanError as exc:
            if exc.http_status in (401, 403, 404):
                raise
            _form_errors(form, exc)
        else:
            messages.success(request, _("Template applied: %(n)s target(s) added.") % {"n": len(made)})
            return redirect("plans:targets", plan_id=plan_id)
    return _page(request, plan_id, template_form=form, status=422)


@login_required
@require_POST
def target_remove(request: HttpRequest, plan_id: int, target_id: int) -> HttpResponse:
    try:
        services.remove_target(request.user, target_id, plan_id=plan_id)
    except CreditplanError as exc:
        if exc.http_status in (401, 403, 404):
            raise
        messages.error(request, target_problem(exc.code, exc.message))
    else:
        messages.success(request, _("Target removed."))
    return redirect("plans:targets", plan_id=plan_id)
