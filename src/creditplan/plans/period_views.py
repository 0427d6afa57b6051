"""The plan periods page (issue 19 §7): a plan's months and quarters with their shares, and — for a planner — the
form that splits the plan by shares typed in per cent, or by the previous year's curve, and sets what happens to a
month's unused quota (rolls over, lapses, or the months only draw the pace line). Views only call services."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from creditplan.core.errors import CreditplanError, ValidationError
from creditplan.org import services as org
from creditplan.org.domain import Perm
from creditplan.plans import labels
from creditplan.plans.domain import periods as rules
from creditplan.plans.services import periods as period_services
from creditplan.plans.services.plans import get_plan
from creditplan.plans.views import plan_problem

CONTROL_LABELS = labels.table("period_control")  # the one label table (plans/labels.py)
SOURCE_MESSAGES = {
    "shares": gettext_lazy("The plan is split into months by the shares given."),
    "previous_plan": gettext_lazy("The plan is split by the previous plan's new lending month by month."),
    "book": gettext_lazy("The plan is split by the loans paid out month by month in the previous year."),
    "equal": gettext_lazy("The previous year has no new lending to follow: every month has an equal share."),
}
PERIOD_TEXT = {
    "period_share_count": gettext_lazy("Give one share for each month of the plan."),
    "period_share_format": gettext_lazy("A share is a percentage with at most two decimals, e.g. 8.33."),
    "period_share_negative": gettext_lazy("A share cannot be negative."),
    "period_shares_sum": gettext_lazy("The monthly shares must add up to exactly 100 %."),
    "period_quarter_mismatch": gettext_lazy("The months of a quarter must add up to the quarter's share."),
    "unknown_period_control": gettext_lazy("Choose what happens to a month's unused quota."),
    "periods_required": gettext_lazy("Split the plan into months before a month's unused quota can roll over "
                                     "or lapse."),
    "plan_closed": gettext_lazy("The plan is closed."),
}


def _problem(request: HttpRequest, exc: CreditplanError) -> str:
    """The service's precise sentence on an English page; the translation of its code on any other."""
    text = PERIOD_TEXT.get(exc.code)
    if text is None or (getattr(request, "LANGUAGE_CODE", "") or "").startswith("en"):
        return plan_problem(exc.code, exc.message)
    return str(text)


def _percent_to_bp(value: str, n: int) -> int:
    """"8.33" (per cent) → 833 basis points; a blank is 0."""
    raw = (value or "").strip().replace("%", "").replace(",", ".") or "0"
    try:
        d = Decimal(raw)
    except InvalidOperation:
        raise ValidationError(f"month {n}: {value!r} is not a percentage", field=f"months.{n}",
                              code="period_share_format") from None
    bp = d * 100
    if not d.is_finite() or bp != bp.to_integral_value():
        raise ValidationError(f"month {n}: at most two decimals", field=f"months.{n}", code="period_share_format")
    return int(bp)


def _rows(view: period_services.PeriodsView) -> list[dict[str, Any]]:
    return [{"seq": p.seq, "start": p.start, "end": p.end, "bp": p.share_bp, "pct": Decimal(p.share_bp) / 100}
            for p in view.months]


@login_required
def plan_periods(request: HttpRequest, plan_id: int) -> HttpResponse:
    user = request.user
    plan = get_plan(user, plan_id)
    view = period_services.plan_periods(user, plan_id)
    may_manage = org.may(user, Perm.PLAN_MANAGE)
    months = rules.months_of(plan.period_start, plan.period_end)
    current = {p.seq: str(Decimal(p.share_bp) / 100) for p in view.months}
    typed = {i: current.get(i, "") for i in range(1, len(months) + 1)}
    errors: dict[str, str] = {}
    control = view.control
    status = 200
    if request.method == "POST":
        org.require(user, Perm.PLAN_MANAGE)
        action = request.POST.get("action", "shares")
        control = request.POST.get("period_control", control)
        try:
            if action == "curve":
                done = period_services.periods_from_previous_year(user, plan_id, period_control=control)
                messages.success(request, str(SOURCE_MESSAGES[done.source]))
            elif action == "clear":
                period_services.clear_periods(user, plan_id)
                messages.success(request, _("The plan's months were removed: the pace follows the calendar."))
            elif action == "control":
                period_services.set_period_control(user, plan_id, control)
                messages.success(request, _("The period setting was saved."))
            else:
                typed = {i: request.POST.get(f"month_{i}", "") for i in range(1, len(months) + 1)}
                shares = [_percent_to_bp(typed[i], i) for i in range(1, len(months) + 1)]
                period_services.set_periods(user, plan_id, months=shares, period_control=control)
                messages.success(request, str(SOURCE_MESSAGES["shares"]))
        except CreditplanError as exc:
            if exc.http_status in (401, 403, 404):
                raise
            errors[exc.field or "form"] = _problem(request, exc)
            status = 422
        else:
            return redirect("plans:periods", plan_id=plan_id)
    form_rows = [{"seq": i, "start": s, "end": e, "value": typed.get(i, ""), "error": errors.get(f"months.{i}", "")}
                 for i, (s, e) in enumerate(months, start=1)]
    return render(request, "plans/periods.html", {
        "plan": plan, "view": view, "rows": _rows(view), "quarters": [
            {"seq": q.seq, "start": q.start, "end": q.end, "pct": Decimal(q.share_bp) / 100} for q in view.quarters],
        "control": control, "control_label": CONTROL_LABELS.get(view.control, ""),
        "controls": list(CONTROL_LABELS.items()), "may_manage": may_manage, "form_rows": form_rows,
        "errors": errors, "form_error": errors.get("months") or errors.get("form") or errors.get("quarters", ""),
        "control_error": errors.get("period_control", ""),
    }, status=status)
