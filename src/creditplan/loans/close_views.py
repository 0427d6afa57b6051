"""The loans app's back-office pages: the trial balance of the general ledger and the daily close (its runs, its
report, and running it from the page with its progress). Split from loans/views.py, which keeps the loan pages."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from creditplan.common.listing import (
    export_format,
    export_response,
    list_context,
    listing_from,
)
from creditplan.core.errors import CreditplanError
from creditplan.core.money import format_minor
from creditplan.loans import accounting, cob, reports, services
from creditplan.loans.views import (
    ACCOUNT_KIND_LABELS,
    BUCKET_LABELS,
    CLASS_LABELS,
    STATUS_LABELS,
    _reraise_access,
    _sort_headers,
    loan_problem,
)
from creditplan.org import services as org
from creditplan.org.domain import Perm, sees_all_branches

# --- the general ledger ------------------------------------------------------------------------------------

@login_required
def trial_balance(request: HttpRequest) -> HttpResponse:
    user = request.user
    org.require(user, Perm.GL_VIEW)
    as_of_text = (request.GET.get("as_of") or "").strip()
    error = ""
    as_of: dt.date | None = None
    if as_of_text:
        try:
            as_of = dt.date.fromisoformat(as_of_text)
        except ValueError:
            error = loan_problem("invalid_date", "not a date (YYYY-MM-DD)")
    branch_codes = None if sees_all_branches(user.role) else [b.code for b in org.list_branches(user)]
    rows = accounting.trial_balance(as_of=as_of, branch_codes=branch_codes)
    zh = not (get_language() or "zh").startswith("en")
    lines = [{"code": r.code, "name": (r.name_zh or r.name) if zh else r.name,
              "kind": ACCOUNT_KIND_LABELS.get(r.kind, r.kind), "debit": r.debit_minor,
              "credit": r.credit_minor,
              "balance_dr": r.balance_minor if r.balance_minor > 0 else None,
              "balance_cr": -r.balance_minor if r.balance_minor < 0 else None,
              "empty": not (r.debit_minor or r.credit_minor)} for r in rows]
    debit = sum(r.debit_minor for r in rows)
    credit = sum(r.credit_minor for r in rows)
    bal_dr = sum(r.balance_minor for r in rows if r.balance_minor > 0)
    bal_cr = -sum(r.balance_minor for r in rows if r.balance_minor < 0)
    names = {r.code: ((r.name_zh or r.name) if zh else r.name) for r in rows}
    recon = [{"account": r.account, "name": names.get(r.account, ""), "gl": r.gl_minor,
              "loans": r.loans_minor, "difference": r.difference_minor, "ok": r.difference_minor == 0}
             for r in accounting.reconcile()]
    return render(request, "loans/trial_balance.html", {
        "lines": lines, "debit": debit, "credit": credit, "balanced": debit == credit and bal_dr == bal_cr,
        "bal_dr": bal_dr, "bal_cr": bal_cr, "as_of": as_of, "as_of_text": as_of_text, "error": error,
        "recon": recon, "recon_ok": all(r["ok"] for r in recon), "last_close": services.last_closed_date(),
    }, status=422 if error else 200)


# --- the daily close ---------------------------------------------------------------------------------------

def _report_figures(report: dict[str, Any]) -> dict[str, Any]:
    """The figures of a close run's report (`cob.CloseReport.as_dict`: the run's counts, and `totals` summed
    over its chunks, with `buckets` [8 counts] and `classes` [5 counts] as lists)."""
    t = report.get("totals") or {}

    def money(*names: str) -> int | None:
        """Fen summed over the totals named, None when the report has none of them."""
        vals = [t[n] for n in names if isinstance(t.get(n), int)]
        return sum(vals) if vals else None

    def counts(name: str, labels: dict[int, Any], first: int) -> list[tuple[Any, int]]:
        v = t.get(name)
        return [(labels.get(i + first, i + first), int(n)) for i, n in enumerate(v)] if isinstance(v, list) else []

    npl = report.get("npl_ratio")
    try:
        npl_pct = float(Decimal(str(npl)) * 100) if npl not in (None, "") else None
    except InvalidOperation:
        npl_pct = None
    loans = report.get("loans", t.get("loans"))
    return {
        "loans": loans, "accrual": money("accrual_minor"), "penalty": money("penalty_minor"),
        "fees": money("due_fee_minor", "late_fee_minor"), "late_fees": t.get("late_fees"),
        "installments_due": t.get("installments_due"), "class_changes": t.get("class_changes"),
        "auto_debit": money("auto_debit_minor"), "rate_resets": t.get("rate_resets"), "closed": t.get("closed"),
        "buckets": counts("buckets", BUCKET_LABELS, 0), "classes": counts("classes", CLASS_LABELS, 1),
        "npl_ratio": npl_pct, "seconds": report.get("seconds"), "chunks": report.get("chunks"),
    }


CLOSE_COUNTS = (("installments_due", gettext_lazy("Installments fallen due")),
                ("matured", gettext_lazy("Loans matured")), ("penalty_started", gettext_lazy("Penalty interest started")),
                ("late_fees", gettext_lazy("Late fees charged")), ("class_changes", gettext_lazy("Class changes")),
                ("frozen", gettext_lazy("Credit limits frozen")), ("auto_debits", gettext_lazy("Auto-debits")),
                ("rate_resets", gettext_lazy("Rate resets")), ("closed", gettext_lazy("Loans closed")),
                ("debits", gettext_lazy("Settlement account debits")))
CLOSE_AMOUNTS = (("reclass_minor", gettext_lazy("Interest fallen due (yuan)")),
                 ("due_principal_minor", gettext_lazy("Principal fallen due (yuan)")),
                 ("auto_debit_minor", gettext_lazy("Auto-debited (yuan)")),
                 ("refund_minor", gettext_lazy("Refunded (yuan)")),
                 ("debit_minor", gettext_lazy("Debited from settlement accounts (yuan)")),
                 ("debit_short_minor", gettext_lazy("Settlement debits short (yuan)")))


CLOSE_COLUMNS = (("date", gettext_lazy("Business date")), ("", gettext_lazy("Status")),
                 ("", gettext_lazy("Loans processed")), ("", gettext_lazy("Interest accrued")),
                 ("", gettext_lazy("Penalty interest")), ("", gettext_lazy("Fees")), ("", gettext_lazy("NPL ratio")),
                 ("attempts", gettext_lazy("Attempts")), ("finished", gettext_lazy("Finished")))
CLOSE_STATUS_CHOICES = (("", gettext_lazy("All statuses")), ("done", gettext_lazy("Done")),
                        ("running", gettext_lazy("Running")))


def _day_or_none(text: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat((text or "").strip()) if text else None
    except ValueError:
        return None


def _close_control(user: Any) -> dict[str, Any]:
    """What the close page's control shows (issue 20 §3): the next date to close, whether it may run now, and how
    far its close (or the one running) has got."""
    today = services.business_date()
    nxt = cob.next_close_date()
    progress = cob.close_progress(user, nxt)
    return {"next": nxt, "today": today, "progress": progress, "may_run": org.may(user, Perm.CLOSE_RUN),
            "can_start": nxt <= today and progress.status != "done" and not progress.active,
            "running": progress.active or (progress.status == "running" and progress.loans_done > 0
                                           and not progress.failed),
            "failed_text": loan_problem(progress.failed, progress.failed) if progress.failed else ""}


def _close_export_row(r: dict[str, Any]) -> list[Any]:
    f = r["f"]

    def money(v: int | None) -> str:
        return format_minor(v) if v is not None else ""

    return [r["date"].isoformat(), str(r["status_label"]), f["loans"], money(f["accrual"]), money(f["penalty"]),
            money(f["fees"]), f"{f['npl_ratio']:.2f} %" if f["npl_ratio"] is not None else "", r["run"].attempts,
            r["run"].finished_at.isoformat(timespec="seconds") if r["run"].finished_at else ""]


@login_required
def close_runs(request: HttpRequest) -> HttpResponse:
    """The close runs (paged, filtered by status and dates, sorted, exported), the chart of the latest runs, the
    book by bucket and class, and — for operations — the button that runs the next close, with its progress."""
    user = request.user
    status = (request.GET.get("status") or "").strip()
    date_from, date_to = _day_or_none(request.GET.get("from")), _day_or_none(request.GET.get("to"))
    listing = listing_from(request, sorts=reports.CLOSE_SORTS, default_sort="date", default_descending=True)
    page = reports.close_run_page(user, listing, status=status, date_from=date_from, date_to=date_to)
    rows = [{"run": r, "date": r.business_date, "status_label": STATUS_LABELS.get(r.status, r.status),
             "f": _report_figures(r.report or {})} for r in page.items]
    fmt = export_format(request)
    if fmt is not None:
        return export_response((_close_export_row(r) for r in rows), [str(t) for _k, t in CLOSE_COLUMNS], fmt,
                               "close-runs")
    latest = reports.close_runs(user, limit=120)  # the chart: the latest runs, oldest first
    chrono = [{"date": r.business_date, "f": _report_figures(r.report or {})} for r in reversed(latest)]
    chart = {"labels": {"accrual": _("Interest accrued"), "penalty": _("Penalty interest"), "fees": _("Fees"),
                        "npl": _("NPL ratio %")},
             "dates": [r["date"].isoformat() for r in chrono],
             "accrual": [format_minor(r["f"]["accrual"] or 0, grouping=False) for r in chrono],
             "penalty": [format_minor(r["f"]["penalty"] or 0, grouping=False) for r in chrono],
             "fees": [format_minor(r["f"]["fees"] or 0, grouping=False) for r in chrono],
             "npl": [round(r["f"]["npl_ratio"], 3) if r["f"]["npl_ratio"] is not None else None for r in chrono]}
    dist = reports.portfolio_distribution(user) if org.may(user, Perm.LOAN_VIEW) else {"bucket": {}, "risk_class": {}}
    portfolio = {
        "buckets": [(BUCKET_LABELS.get(k, k), v["count"], v["principal"])
                    for k, v in sorted(dist["bucket"].items())],
        "classes": [(CLASS_LABELS.get(k, k), v["count"], v["principal"]) for k, v in
                    sorted(dist["risk_class"].items())],
    }
    return render(request, "loans/close_runs.html", {
        "rows": rows, "chart": chart, "has_chart": bool(chrono), "portfolio": portfolio,
        "may_run": org.may(user, Perm.CLOSE_RUN), "control": _close_control(user),
        "headers": _sort_headers(request, page.listing, CLOSE_COLUMNS), **list_context(request, page),
        "filter": {"status": status, "from": date_from, "to": date_to}, "status_choices": CLOSE_STATUS_CHOICES})


@login_required
@require_POST
def close_start(request: HttpRequest) -> HttpResponse:
    """Operations run (or resume) the next close from its page: started in the background, the page polls its
    progress; refused with a sentence in the page's language (a date not begun, an earlier date open, running)."""
    user = request.user
    org.require(user, Perm.CLOSE_RUN)
    try:
        progress = cob.start_close(user, request.POST.get("date") or None)
    except CreditplanError as exc:
        _reraise_access(exc)
        messages.error(request, loan_problem(exc.code, exc.message))
    else:
        if progress.status == "done":
            messages.success(request, _("The close of %(day)s is done.") % {
                "day": date_format(progress.day, "SHORT_DATE_FORMAT")})
        else:
            messages.info(request, _("The close of %(day)s is running: its progress is shown below.") % {
                "day": date_format(progress.day, "SHORT_DATE_FORMAT")})
    return redirect(reverse("loans:close_runs") + "#close-control")


@login_required
def close_progress(request: HttpRequest) -> HttpResponse:
    """The progress partial the close page polls (HTMX) while a close runs."""
    return render(request, "loans/_close_control.html", {"control": _close_control(request.user),
                                                         "may_run": org.may(request.user, Perm.CLOSE_RUN)})


@login_required
def close_run(request: HttpRequest, date: str) -> HttpResponse:
    try:
        day = dt.date.fromisoformat(date)
    except ValueError:
        raise Http404(date) from None
    run, chunks = reports.close_report(request.user, day)
    t = (run.report or {}).get("totals") or {}
    counts = [(label, f"{t[key]:,}") for key, label in CLOSE_COUNTS if isinstance(t.get(key), int)]
    counts += [(label, format_minor(t[key])) for key, label in CLOSE_AMOUNTS if isinstance(t.get(key), int)]
    chunks = [dict(c, accrual=int(c["totals"].get("accrual_minor", 0))) for c in chunks]
    return render(request, "loans/close_run.html", {
        "run": run, "f": _report_figures(run.report or {}), "status_label": STATUS_LABELS.get(run.status, run.status),
        "chunks": chunks, "counts": counts})
