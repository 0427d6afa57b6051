"""Early-warning pages (docs/early-warning.md), mounted at /risk/watch/ (src/creditplan/urls.py):

    /risk/watch/                  the watch list (open or closed entries, by level) and the latest run
    /risk/watch/<id>/             one entry: why it entered, the customer's signals now, their recent levels
    /risk/watch/weights/          the signals' weights (risk managers change them) and the warning-level table
    /risk/watch/external/         negative external records: import a CSV file, the latest records

The customer page shows the customer's level and signals too (web/views.py, risk/watch/_customer_warning.html).
Views call services only; every code is shown through its label (a Chinese page holds no English).
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.translation import get_language, gettext_lazy, pgettext_lazy
from django.utils.translation import gettext as _

from creditplan.common.text import problem_text
from creditplan.core.access import Perm, has_perm
from creditplan.core.errors import CreditplanError
from creditplan.decisions import services as decisions
from creditplan.risk.domain import signals as sig
from creditplan.risk.services import signals

STATUS_LABELS = {"open": gettext_lazy("On the watch list"), "closed": gettext_lazy("Left the watch list")}
# The refusals of the early-warning services as a page shows them (common.text translates the shared codes).
_PROBLEM_TEXT = {
    "invalid_customer": gettext_lazy("Not a customer number."),
    "unknown_customer": gettext_lazy("No customer with this number."),
    "unknown_kind": gettext_lazy("Not a kind of negative record (see the kinds listed on this page)."),
    "record_date_in_future": gettext_lazy("The record date is in the future."),
    "duplicate_reference": gettext_lazy("The same source and reference appear twice in the file."),
    "reference_conflict": gettext_lazy("This source and reference are stored already with other values."),
    "text_too_long": gettext_lazy("The text is too long."),
    "unknown_field": gettext_lazy("Not a column of the import."),
    "invalid_row": gettext_lazy("Not a record."),
    "missing_column": gettext_lazy("A required column is missing from the header line."),
    "file_required": gettext_lazy("Choose a CSV file of at most 5 MB."),
    "invalid_weight": gettext_lazy("A whole number from 0 to 1000."),
    "unknown_signal": gettext_lazy("Not an early-warning signal."),
    "too_many_rows": gettext_lazy("Too many rows at once."),
}


def _text(code: str, message: str) -> str:
    known = _PROBLEM_TEXT.get(code)
    if known is not None and _zh():
        return str(known)
    return problem_text(code, message)
MAX_UPLOAD_BYTES = 5_000_000


def _zh() -> bool:
    return not (get_language() or "zh-hans").startswith("en")


def _may(request: HttpRequest, perm: Perm) -> bool:
    return has_perm(getattr(request.user, "role", ""), perm)


def _tabs(request: HttpRequest) -> list[dict[str, Any]]:
    """The risk pages' tabs (risk.views lists the watch list among them)."""
    from creditplan.risk.views import _tabs as risk_tabs

    tabs: list[dict[str, Any]] = risk_tabs(request)
    return tabs


def _level(level: str) -> dict[str, str]:
    return {"code": level, "label": sig.level_label(level, _zh())}


def _signals(items: list[signals.SignalView]) -> list[dict[str, Any]]:
    zh = _zh()
    return [{"label": s.label(zh), "text": s.explain(zh), "weight": s.weight} for s in items]


def _entry(e: signals.WatchEntryView) -> dict[str, Any]:
    zh = _zh()
    return {"e": e, "level": _level(e.level), "peak": _level(e.peak_level), "entry_level": _level(e.entry_level),
            "status": STATUS_LABELS.get(e.status, ""), "message": e.message(zh), "signals": _signals(e.reason_signals)}


def _run(run: Any) -> dict[str, Any] | None:
    if run is None:
        return None
    zh = _zh()
    version = run.policy_version_id
    try:
        table_url = reverse("decisions:version", args=[version]) if version else ""
    except NoReverseMatch:
        table_url = ""
    return {"r": run, "levels": [(_level(lv), run.levels.get(lv, 0)) for lv in sig.LEVELS],
            "absent": [sig.signal_label(c, zh) for c in run.absent], "table_url": table_url,
            "fired": [(sig.signal_label(c, zh), run.signals.get(c, 0)) for c in sig.CODES]}


@login_required
def watch_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    status = request.GET.get("status", "open")
    status = status if status in ("open", "closed", "all") else "open"
    level = request.GET.get("level", "")
    level = level if level in sig.LEVELS else ""
    entries = signals.watch_list(user, status=status, level=level)
    counts = signals.watch_counts(user)
    base = reverse("risk_watch:list")
    filters = [(s, label, f"{base}?status={s}") for s, label in (
        ("open", _("On the list")), ("closed", _("Left the list")), ("all", _("All")))]
    return render(request, "risk/watch/list.html", {
        "tabs": _tabs(request), "entries": [_entry(e) for e in entries], "status": status, "level": level,
        "filters": filters, "counts": [(_level(lv), counts.get(lv, 0)) for lv in ("red", "orange")],
        "run": _run(signals.run_view(user)), "exit_days": signals.watch_exit_days(),
        "may_manage": _may(request, Perm.RISK_MANAGE)})


@login_required
def watch_detail(request: HttpRequest, entry_id: int) -> HttpResponse:
    entry, warning = signals.watch_entry(request.user, entry_id)
    return render(request, "risk/watch/detail.html", {
        "tabs": _tabs(request), **_entry(entry), "warning": customer_warning_context(warning)})


def customer_warning_context(warning: signals.CustomerWarning | None) -> dict[str, Any] | None:
    """What the customer page and the entry page show of a customer's warning level (None before any run)."""
    if warning is None:
        return None
    return {"w": warning, "level": _level(warning.level), "signals": _signals(warning.signals),
            "history": [{"as_of": d, "level": _level(lv), "score": s} for d, lv, s in warning.history],
            "watch": _entry(warning.watch) if warning.watch else None}


@login_required
def weights(request: HttpRequest) -> HttpResponse:
    """The signals and their weights; risk managers change the weights here (the next run uses them)."""
    user = request.user
    may_edit = _may(request, Perm.RISK_MANAGE)
    signals.run_view(user)  # risk.view, as the other risk pages
    errors: dict[str, str] = {}
    current = signals.weights()
    typed = {code: str(w) for code, w in current.items()}
    if request.method == "POST":
        if not may_edit:
            from creditplan.core.errors import Forbidden

            raise Forbidden("changing the weights needs risk.manage", code="forbidden")
        typed = {code: request.POST.get(f"weight_{code}", "").strip() for code in sig.CODES}
        try:
            signals.set_weights(user, {c: v for c, v in typed.items() if v != str(current[c])})
        except CreditplanError as exc:
            if exc.http_status in (401, 403, 404):
                raise
            errors = {p.field: _text(p.code, p.message) for p in exc.problems}
            messages.error(request, _("Nothing was saved: correct the weights marked below."))
        else:
            messages.success(request, _("Weights saved: the next run uses them."))
            return redirect("risk_watch:weights")
    zh = _zh()
    rows = [{"code": s.code, "label": s.zh if zh else s.en, "about": s.about_zh if zh else s.about_en,
             "value": typed.get(s.code, ""), "default": s.weight, "error": errors.get(f"weight_{s.code}", "")}
            for s in sig.SIGNALS]
    table = next((p for p in decisions.list_policies(user) if p.product == signals.WARNING_RULESET), None) \
        if has_perm(user.role, Perm.POLICY_VIEW) else None
    return render(request, "risk/watch/weights.html", {
        "tabs": _tabs(request), "rows": rows, "may_edit": may_edit, "table": table,
        "table_versions": table.versions[:5] if table else []}, status=422 if errors else 200)


@login_required
def external_records(request: HttpRequest) -> HttpResponse:
    """Import negative external records from a CSV file (risk managers); the file is refused whole when a row is
    wrong, each problem shown with its line and field."""
    user = request.user
    signals.run_view(user)
    may_import = _may(request, Perm.RISK_MANAGE)
    problems: list[str] = []
    if request.method == "POST":
        if not may_import:
            from creditplan.core.errors import Forbidden

            raise Forbidden("importing external records needs risk.manage", code="forbidden")
        upload = request.FILES.get("file")
        try:
            if upload is None or upload.size is None or upload.size > MAX_UPLOAD_BYTES:
                from creditplan.core.errors import ValidationError

                raise ValidationError("choose a CSV file of at most 5 MB", field="file", code="file_required")
            text = upload.read(MAX_UPLOAD_BYTES).decode("utf-8")
            rows = signals.read_csv(text, signals.EXTERNAL_FIELDS, signals.EXTERNAL_REQUIRED)
            result = signals.import_external_records(user, rows)
        except UnicodeDecodeError:
            problems = [_("The file is not UTF-8 text.")]
        except CreditplanError as exc:
            if exc.http_status in (401, 403):
                raise
            problems = [_problem_line(p.field, _text(p.code, p.message)) for p in exc.problems[:50]] or [
                _text(exc.code, exc.message)]
        else:
            messages.success(request, _("%(n)d records read: %(new)d new, %(same)d already stored.")
                             % {"n": result.received, "new": result.created, "same": result.unchanged})
            return redirect("risk_watch:external")
    zh = _zh()
    kinds = [(code, cn if zh else en) for code, en, cn in sig.EXTERNAL_KINDS]
    recent = [{"r": r, "kind": sig.external_kind_name(r.kind, zh),
               "source": r.source if zh else sig.SOURCE_NAMES_EN.get(r.source, r.source)}
              for r in signals.recent_external_records(user)]
    return render(request, "risk/watch/external.html", {
        "tabs": _tabs(request), "may_import": may_import, "problems": problems, "kinds": kinds, "recent": recent,
        "fields": ", ".join(signals.EXTERNAL_FIELDS)}, status=422 if problems else 200)


_FIELD_NAMES = {
    "customer_id": gettext_lazy("customer number"), "kind": pgettext_lazy("external record", "kind"), "source": gettext_lazy("source"),
    "reference": gettext_lazy("reference"), "record_date": gettext_lazy("record date"),
    "amount": gettext_lazy("amount"), "note": gettext_lazy("note"), "file": gettext_lazy("file"),
    "rows": gettext_lazy("file"), "row": gettext_lazy("row")}


def _problem_line(field: str, text: str) -> str:
    """"rows[3].kind" → "Line 5, kind: …" (the header is line 1; a file of one row names no row: line 2)."""
    index, name = "0", field
    if field.startswith("rows[") and "]." in field:
        index, _sep, name = field[5:].partition("].")
    label = _FIELD_NAMES.get(name, name)
    if name in signals.EXTERNAL_FIELDS and index.isdigit():
        return _("Line %(line)d, %(field)s: %(text)s") % {"line": int(index) + 2, "field": label, "text": text}
    return f"{label}: {text}"
