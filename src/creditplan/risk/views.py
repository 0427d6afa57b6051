"""Risk monitoring pages: the morning overview (red cells first), the indicators with their definition and trend,
the portfolio analytics (delinquency and roll rates, vintage curves, five-category migration, concentration), the
loans behind any cell, and the alerts routed to the user (acknowledge, comment, resolve).

Views only call services. Every code a person reads goes through risk.labels; every table a page shows can be
downloaded as Excel (`?export=<table>` on the page's own address: the same rows, numbers as numbers)."""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from django.views.decorators.http import require_POST
from openpyxl import Workbook
from openpyxl.styles import Font

from creditplan.core.access import Actor
from creditplan.core.errors import CreditplanError, FieldProblem, ValidationError
from creditplan.core.money import format_minor, to_major
from creditplan.org import services as org
from creditplan.org.domain import Perm
from creditplan.plans.excel import FORMULA_START
from creditplan.risk import labels
from creditplan.risk import services as risk
from creditplan.risk.domain.catalogue import DIMENSIONS, FACTS, dimensions_of
from creditplan.risk.domain.formula import FormulaError, compile_formula
from creditplan.risk.domain.portfolio import BUCKETS, CLASSES
from creditplan.risk.forms import CommentForm, IndicatorForm, ResolveForm
from creditplan.risk.labels import label
from creditplan.risk.services import analytics
from creditplan.risk.services.alerts import AlertView
from creditplan.risk.services.indicators import IndicatorView

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# --- tables: one shape for the page and the Excel download ------------------------------------------------

@dataclass
class Cell:
    text: str
    value: Any = None  # what Excel gets: a number (with `fmt`) or, when None, the text
    fmt: str = ""
    href: str = ""
    num: bool = False
    rag: str = ""  # shown as a badge of that colour
    mono: bool = False  # a code or formula (data), in the monospace font
    title: str = ""
    css: str = ""


@dataclass
class Table:
    key: str
    title: str
    headers: list[str]
    rows: list[list[Cell]] = field(default_factory=list)
    numeric: tuple[int, ...] = ()
    empty: str = ""
    export_url: str = ""


def _text(text: Any, href: str = "", *, mono: bool = False) -> Cell:
    return Cell(str(text), href=href, mono=mono)


def _int(n: int | None, href: str = "") -> Cell:
    return Cell("–" if n is None else f"{n:,}", n, "#,##0", href=href, num=True)


def _money(fen: int | None, href: str = "") -> Cell:
    if fen is None:
        return Cell("–", num=True)
    return Cell(format_minor(int(fen)), Decimal(str(to_major(int(fen)))), "#,##0.00", href=href, num=True)


def _share(v: float | None, href: str = "") -> Cell:
    return Cell("–" if v is None else f"{v * 100:,.2f} %", v, "0.00%", href=href, num=True)


def _measure(v: float | None, unit: str, href: str = "") -> Cell:
    return Cell(labels.format_value(v, unit), v, "0.00%" if unit == "ratio" else "#,##0.00", href=href, num=True)


def _rag(rag: str) -> Cell:
    return Cell(label("rag", rag), rag=rag)


def _xlsx(table: Table) -> bytes:
    """The table as a workbook: headers in bold, numbers as numbers with their format, text always as text (a cell
    that starts like a formula is written as text, never run: see plans.excel)."""
    wb = Workbook()
    ws = wb.active
    ws.title = re.sub(r"[\[\]:*?/\\]", " ", table.title)[:31] or "risk"
    ws.append(table.headers)
    for c in ws[1]:
        c.font = Font(bold=True)
    for r, row in enumerate(table.rows, start=2):
        for k, cell in enumerate(row, start=1):
            target = ws.cell(row=r, column=k)
            if cell.value is not None and not isinstance(cell.value, str):
                target.value = cell.value
                if cell.fmt:
                    target.number_format = cell.fmt
            else:
                text = cell.text if cell.value is None else str(cell.value)
                target.value = text
                target.data_type = "s"
                if text.startswith(FORMULA_START):
                    target.quotePrefix = True
    for k, head in enumerate(table.headers, start=1):
        ws.column_dimensions[ws.cell(row=1, column=k).column_letter].width = max(12, min(60, len(head) * 2 + 4))
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _page(request: HttpRequest, template: str, ctx: dict[str, Any], tables: list[Table], *,
          status: int = 200, stem: str = "risk") -> HttpResponse:
    """Render the page, or, with ?export=<table key>, download that table as Excel."""
    wanted = request.GET.get("export", "")
    if wanted:
        table = next((t for t in tables if t.key == wanted), None)
        if table is None:
            raise Http404("table")
        response = HttpResponse(_xlsx(table), content_type=XLSX)
        response["Content-Disposition"] = f'attachment; filename="{stem}-{table.key}.xlsx"'
        return response
    query = request.GET.copy()
    query.pop("export", None)
    for t in tables:
        query["export"] = t.key
        t.export_url = f"{request.path}?{query.urlencode()}"
    ctx = {**ctx, "tables": {t.key: t for t in tables}, "tabs": _tabs(request)}
    return render(request, template, ctx, status=status)


def _tabs(request: HttpRequest) -> list[dict[str, Any]]:
    items = [("risk:overview", _("Overview")), ("risk:indicators", _("Indicators")), ("risk:alerts", _("Alerts")),
             ("risk:delinquency", _("Delinquency and roll rates")), ("risk:vintage", _("Vintage curves")),
             ("risk:migration", _("Five-category migration")), ("risk:concentration", _("Concentration"))]
    # the risk app's other pages, each under its own URL namespace: models, ECL (stress, re-rating), watch list
    items += [("risk_monitoring:models", _("Model monitoring")), ("risk_ecl:overview", _("Expected credit loss")),
              ("risk_watch:list", _("Watch list"))]
    out = []
    for name, text in items:
        url = reverse(name)
        active = request.path == url or (url != reverse("risk:overview") and request.path.startswith(url))
        out.append({"url": url, "label": text, "active": active})
    return out


def _pct(v: float | None) -> float | None:
    """A share as a chart plots it: percent, 4 decimals."""
    return None if v is None else round(v * 100, 4)


def _url(route: str, /, *args: Any, **query: Any) -> str:
    base = reverse(route, args=args)
    q = {k: v for k, v in query.items() if v is not None and v != ""}
    return f"{base}?{urlencode(q)}" if q else base


def _date_param(request: HttpRequest, name: str) -> dt.date | None:
    text = (request.GET.get(name) or "").strip()
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ValidationError("the date is written YYYY-MM-DD", field=name, code="date_format") from None


def _int_param(request: HttpRequest, name: str, default: int | None = None) -> int:
    try:
        return int(request.GET.get(name, "" if default is None else default))
    except (TypeError, ValueError):
        raise Http404(name) from None


def _names(user: Actor) -> dict[str, str | dict[str, str]]:
    n = analytics.names(user)
    zh = labels.chinese()
    return {"branch": n["branch"] if zh else n["branch_en"], "product": n["product"] if zh else n["product_en"]}


def _member(dimension: str, member: str, names: dict[str, Any]) -> str:
    return labels.member_label(dimension, member, names.get(dimension))


def _name(obj: Any) -> str:
    return labels.indicator_name(obj.name_en, obj.name_zh)


# --- overview --------------------------------------------------------------------------------------------------

@login_required
def overview(request: HttpRequest) -> HttpResponse:
    user = request.user
    dates = analytics.run_dates(user)
    day = analytics.pick_date(user, request.GET.get("date"), dates)
    if day is None:
        return _page(request, "risk/overview.html", {"day": None, "dates": []}, [])
    ov = analytics.overview(user, day)
    names = _names(user)
    attention = Table("attention", _("Red and amber cells"), [
        _("Indicator"), _("Dimension"), _("Member"), _("Value"), _("Previous period"), _("Status"), _("Loans behind it")],
        numeric=(3, 4), empty=_("Nothing is red or amber on this date."))
    for c in ov.attention:
        trend = _url("risk:indicator", c.indicator, dimension=c.dimension, member=c.member)
        drill = (_url("risk:loans", source="indicator", indicator=c.indicator, dimension=c.dimension,
                      member=c.member, date=day.isoformat()) if c.fact == "loans" else "")
        attention.rows.append([_text(_name(c), trend), _text(label("dimension", c.dimension)),
                               _text(_member(c.dimension, c.member, names)), _measure(c.value, c.unit),
                               _measure(c.previous, c.unit), _rag(c.rag),
                               _text(_("Loans") if drill else "–", drill)])
    totals = Table("indicators", _("Every indicator") if analytics.scope_of(user).whole else _("Your branches"),
                   [_("Indicator"), _("Member"), _("Value"), _("Previous period"), _("Amber"), _("Red"), _("Status")],
                   numeric=(2, 3), empty=_("No values on this date."))
    for c in ov.totals:
        totals.rows.append([
            _text(_name(c), _url("risk:indicator", c.indicator, dimension=c.dimension, member=c.member)),
            _text(_member(c.dimension, c.member, names)), _measure(c.value, c.unit), _measure(c.previous, c.unit),
            _text(labels.format_threshold(c.amber, c.unit, c.mode)), _text(labels.format_threshold(c.red, c.unit,
                                                                                                   c.mode)),
            _rag(c.rag)])
    # the heat map: indicators × branches, coloured by their judgement
    branch_cells = [c for c in analytics.values(user, day, dimension="branch")]
    members = sorted({c.member for c in branch_cells})
    inds: list[tuple[str, str]] = []
    for c in branch_cells:
        if (c.indicator, _name(c)) not in inds:
            inds.append((c.indicator, _name(c)))
    level = {"green": 0, "amber": 1, "red": 2, "none": -1}
    heat = {
        "x": [_member("branch", m, names) for m in members], "y": [n for _c, n in inds],
        "cells": [[members.index(c.member), [k for k, _n in inds].index(c.indicator), level[c.rag],
                   labels.format_value(c.value, c.unit), label("rag", c.rag),
                   _url("risk:indicator", c.indicator, dimension="branch", member=c.member)] for c in branch_cells],
        "labels": {"green": label("rag", "green"), "amber": label("rag", "amber"), "red": label("rag", "red"),
                   "none": label("rag", "none")},
    }
    count, red = risk.open_alert_count(user)
    return _page(request, "risk/overview.html", {
        "day": day, "dates": dates, "ov": ov, "heat": heat if branch_cells else None,
        "alerts_open": count, "alerts_red": red,
        "run_engine": label("engine", ov.run.engine) if ov.run else "",
    }, [attention, totals], stem=f"risk-{day.isoformat()}")


# --- indicators ------------------------------------------------------------------------------------------------

def _rules_text(i: IndicatorView) -> str:
    return "；".join(labels.rule_label(k, p) for k, p in i.rules) if labels.chinese() else \
        "; ".join(labels.rule_label(k, p) for k, p in i.rules)


def _dims_text(dims: list[str]) -> str:
    sep = "、" if labels.chinese() else ", "
    return sep.join(label("dimension", d) for d in dims)


@login_required
def indicator_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    table = Table("definitions", _("Indicators"), [
        _("Indicator"), _("Computed over"), _("Formula"), _("Broken down by"), _("Amber"), _("Red"), _("Direction"),
        _("Thresholds apply"), _("Alerts go to"), pgettext("risk", "Frequency"), _("Alert when"), _("Computed every run")])
    for i in risk.list_indicators(user):
        table.rows.append([
            _text(_name(i), _url("risk:indicator", i.code)), _text(label("fact", i.fact)), _text(i.formula, mono=True),
            _text(_dims_text(i.dimensions)), _text(labels.format_threshold(i.amber, i.unit, i.mode)),
            _text(labels.format_threshold(i.red, i.unit, i.mode)), _text(label("worse", i.worse)),
            _text(label("mode", i.mode)), _text(label("owner_role", i.owner_role)),
            _text(label("frequency", i.frequency)), _text(_rules_text(i)), _text(_("Yes") if i.active else _("No"))])
    return _page(request, "risk/indicators.html", {"may_manage": org.may(user, Perm.RISK_MANAGE)}, [table],
                 stem="risk-indicators")


def _series_chart(user: Actor, i: IndicatorView | AlertView, dimension: str, member: str, *, code: str,
                  unit: str, amber: Any, red: Any, mode: str) -> dict[str, Any]:
    points = analytics.series(user, code, dimension, member)
    scale = 100.0 if unit == "ratio" else 1.0
    return {
        "points": [[p.as_of.isoformat(), None if p.value is None else round(p.value * scale, 6)] for p in points],
        "rags": [p.rag for p in points],
        "amber": float(amber) * scale if mode == "level" else None,
        "red": float(red) * scale if mode == "level" else None,
        "unit": "%" if unit == "ratio" else "",
        "labels": {"value": _name(i), "amber": label("rag", "amber"), "red": label("rag", "red")},
    }


@login_required
def indicator_detail(request: HttpRequest, code: str) -> HttpResponse:
    user = request.user
    i = risk.get_indicator(user, code)
    names = _names(user)
    scope = analytics.scope_of(user)
    dims = [d for d in i.dimensions if scope.whole or d == "branch"]
    dimension = request.GET.get("dimension") or (dims[0] if dims else "")
    if dims and dimension not in dims:
        raise Http404("dimension")
    dates = analytics.run_dates(user)
    day = analytics.pick_date(user, request.GET.get("date"), dates)
    latest = analytics.values(user, day, indicator=i.code, dimension=dimension) if day and dims else []
    members = [v.member for v in latest]
    member = request.GET.get("member", members[0] if members else "")
    if dimension == "total":
        member = ""
    chart = _series_chart(user, i, dimension, member, code=i.code, unit=i.unit, amber=i.amber, red=i.red,
                          mode=i.mode) if dims and (member in members or dimension == "total") else None
    table = Table("values", _("Values by member"), [
        _("Member"), _("Value"), _("Previous period"), _("Numerator"), _("Denominator"), _("Status"), _("Loans behind it")],
        numeric=(1, 2, 3, 4), empty=_("No values on this date."))
    for v in latest:
        drill = (_url("risk:loans", source="indicator", indicator=i.code, dimension=dimension, member=v.member,
                      date=v.as_of.isoformat()) if i.fact == "loans" else "")
        table.rows.append([
            _text(_member(dimension, v.member, names), _url("risk:indicator", i.code, dimension=dimension,
                                                           member=v.member, date=day.isoformat() if day else "")),
            _measure(v.value, v.unit), _measure(v.previous, v.unit), _figure(v.numerator, i, numerator=True),
            _figure(v.denominator, i, numerator=False), _rag(v.rag), _text(_("Loans") if drill else "–", drill)])
    fields = [(name, labels.field_label(i.fact, name), label("kind", f.kind.value))
              for name, f in FACTS.get(i.fact, {}).items()]
    return _page(request, "risk/indicator.html", {
        "i": i, "name": _name(i), "explain": i.explain_zh if labels.chinese() else i.explain_en,
        "fact_label": label("fact", i.fact), "unit_label": label("unit", i.unit), "dims_text": _dims_text(i.dimensions),
        "amber": labels.format_threshold(i.amber, i.unit, i.mode), "red": labels.format_threshold(i.red, i.unit, i.mode),
        "worse_label": label("worse", i.worse), "mode_label": label("mode", i.mode),
        "owner_label": label("owner_role", i.owner_role), "frequency_label": label("frequency", i.frequency),
        "rules_text": _rules_text(i) or "–", "dimensions": [(d, label("dimension", d)) for d in dims],
        "dimension": dimension, "members": [(m, _member(dimension, m, names)) for m in members], "member": member,
        "member_label": _member(dimension, member, names), "chart": chart, "day": day, "dates": dates,
        "may_manage": org.may(user, Perm.RISK_MANAGE), "fields": fields,
    }, [table], stem=f"risk-{i.code}")


def _figure(x: float | None, i: IndicatorView, *, numerator: bool) -> Cell:
    """A numerator or denominator as it was summed: an amount in yuan, or a count of rows."""
    if x is None:
        return Cell("–", num=True)
    try:
        formula = compile_formula(i.formula, FACTS[i.fact])
    except (FormulaError, KeyError):
        return _int(int(round(x)))
    if formula.ratio is None:
        return _int(int(round(x)))
    term = formula.terms[formula.ratio[0 if numerator else 1]]
    if term.op == "sum" and term.field is not None and FACTS[i.fact][term.field].kind.value == "amount":
        return _money(int(round(x)))
    return _int(int(round(x)))


def _form_problems(form: IndicatorForm, exc: CreditplanError) -> None:
    """Each refusal next to its field, in the page's language, naming the part of the definition at fault."""
    data = form.cleaned_data
    for p in exc.problems or [FieldProblem("", exc.message, exc.code)]:
        target = p.field if p.field in form.fields else None
        form.add_error(target, _problem_text(p, data))


def _problem_text(p: FieldProblem, data: dict[str, Any]) -> str:
    if labels.chinese() is False:
        return p.message[:1].upper() + p.message[1:]
    fact = str(data.get("fact") or "")
    if p.field == "formula":
        subject = ""
        if fact in FACTS:
            try:
                compile_formula(str(data.get("formula") or ""), FACTS[fact])
            except FormulaError as e:
                subject = e.subject
        return labels.formula_problem(p.code, p.message, subject)
    dims = list(data.get("dimensions") or [])
    if p.code == "unknown_dimension":
        bad = next((d for d in dims if d not in DIMENSIONS), "")
        return _("There is no dimension “%(d)s”: choose among %(list)s.") % {
            "d": bad, "list": "、".join(label("dimension", d) for d in DIMENSIONS)}
    if p.code == "dimension_not_in_data" and fact in FACTS:
        bad = next((d for d in dims if d in DIMENSIONS and d not in dimensions_of(fact)), "")
        return _("%(fact)s cannot be broken down by %(dim)s.") % {"fact": label("fact", fact),
                                                                  "dim": label("dimension", bad)}
    if p.code == "amber_beyond_red":
        worse = str(data.get("worse") or "up")
        values = {"amber": data.get("amber"), "red": data.get("red")}
        if worse == "down":
            return _("Amber (%(amber)s) is beyond red (%(red)s): for an indicator that is worse when lower, amber "
                     "must not be below red.") % values
        return _("Amber (%(amber)s) is beyond red (%(red)s): for an indicator that is worse when higher, amber "
                 "must not be above red.") % values
    return labels.risk_problem(p.code, p.message)


def _form_page(request: HttpRequest, form: IndicatorForm, i: IndicatorView | None, *, status: int = 200
               ) -> HttpResponse:
    fields = {f: [(name, labels.field_label(f, name), label("kind", x.kind.value)) for name, x in FACTS[f].items()]
              for f in FACTS}
    return render(request, "risk/indicator_form.html", {
        "form": form, "i": i, "name": _name(i) if i else "", "fields": [(label("fact", f), rows)
                                                                        for f, rows in fields.items()],
        "tabs": _tabs(request)}, status=status)


@login_required
def indicator_create(request: HttpRequest) -> HttpResponse:
    user = request.user
    org.require(user, Perm.RISK_MANAGE)
    form = IndicatorForm(request.POST or None, creating=True, initial={
        "fact": "loans", "unit": "ratio", "worse": "up", "mode": "level", "owner_role": "risk_manager",
        "frequency": "daily", "rules": ["red"], "periods": 3, "dimensions": ["branch"]})
    if request.method == "POST" and form.is_valid():
        try:
            made = risk.define_indicator(user, form.service_data())
        except CreditplanError as exc:
            if exc.http_status in (401, 403, 404):
                raise
            _form_problems(form, exc)
        else:
            messages.success(request, _("Indicator %(name)s defined: the next run computes it.") % {"name": _name(made)})
            return redirect("risk:indicator", code=made.code)
    return _form_page(request, form, None, status=422 if form.errors else 200)


@login_required
def indicator_edit(request: HttpRequest, code: str) -> HttpResponse:
    user = request.user
    org.require(user, Perm.RISK_MANAGE)
    i = risk.get_indicator(user, code)
    worsening = next((p for k, p in i.rules if k == "worsening"), 3)
    initial = {"name_zh": i.name_zh, "name_en": i.name_en, "explain_zh": i.explain_zh, "explain_en": i.explain_en,
               "fact": i.fact, "formula": i.formula, "unit": i.unit,
               "dimensions": [d for d in i.dimensions if d != "total"], "amber": format(i.amber, "f"),
               "red": format(i.red, "f"), "worse": i.worse, "mode": i.mode, "owner_role": i.owner_role,
               "frequency": i.frequency, "rules": [k for k, _p in i.rules], "periods": worsening, "active": i.active}
    form = IndicatorForm(request.POST or None, creating=False, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            changed = risk.update_indicator(user, i.code, form.service_data())
        except CreditplanError as exc:
            if exc.http_status in (401, 403, 404):
                raise
            _form_problems(form, exc)
        else:
            messages.success(request, _("Indicator %(name)s changed: the next run uses the new definition.")
                             % {"name": _name(changed)})
            return redirect("risk:indicator", code=changed.code)
    return _form_page(request, form, i, status=422 if form.errors else 200)


# --- the loans behind a cell -----------------------------------------------------------------------------------

def _drill_spec(request: HttpRequest, user: Actor) -> tuple[analytics.Drill, str, list[tuple[str, str]], str]:
    """(loans, heading, facts about the cell, the label of the counted column)."""
    g = request.GET
    source = g.get("source", "")
    names = _names(user)
    if source == "indicator":
        code = g.get("indicator", "")
        dimension, member = g.get("dimension", "total"), g.get("member", "")
        day = _date_param(request, "date") or analytics.pick_date(user, "")
        if day is None:
            raise Http404("date")
        i = risk.get_indicator(user, code)
        v = analytics.cell(user, i.code, day, dimension, member)
        drill = analytics.indicator_loans(user, i.code, day, dimension, member)
        facts = [(_("Indicator"), _name(i)), (_("Dimension"), label("dimension", dimension)),
                 (_("Member"), _member(dimension, member, names)), (_("Date"), day.isoformat()),
                 (_("Value"), labels.format_value(v.value, v.unit)), (_("Status"), label("rag", v.rag)),
                 (_("Formula"), i.formula)]
        if v.numerator is not None:
            facts.append((_("Numerator"), _figure(v.numerator, i, numerator=True).text))
            facts.append((_("Denominator"), _figure(v.denominator, i, numerator=False).text))
        counted = (_("%(field)s counted (yuan)") % {"field": labels.field_label("loans", drill.counted_field)}
                   if drill.counted_field else "")
        return drill, _("Loans behind %(name)s") % {"name": _name(i)}, facts, counted
    if source in ("roll", "migration"):
        start, end = _date_param(request, "start"), _date_param(request, "end")
        if start is None or end is None:
            raise Http404("dates")
        i_, j_ = _int_param(request, "i"), _int_param(request, "j")
        kind = "bucket" if source == "roll" else "risk_class"
        states = BUCKETS if kind == "bucket" else CLASSES
        if not (0 <= i_ < len(states) and 0 <= j_ < len(states)):
            raise Http404("cell")
        drill = analytics.transition_loans(user, kind, start, end, i_, j_)
        table = "bucket" if kind == "bucket" else "class"
        key = (lambda k: str(k)) if kind == "bucket" else (lambda k: str(k + 1))
        facts = [(_("From"), f"{start.isoformat()} · {label(table, key(i_))}"),
                 (_("To"), f"{end.isoformat()} · {label(table, key(j_))}")]
        return drill, _("Loans that moved"), facts, _("Principal at the start (yuan)")
    if source == "bucket":
        day = _date_param(request, "date")
        b = _int_param(request, "bucket")
        if day is None or not 0 <= b < len(BUCKETS):
            raise Http404("bucket")
        drill = analytics.bucket_loans(user, day, b)
        return drill, _("Loans in a delinquency bucket"), [(_("Date"), day.isoformat()),
                                                           (_("Delinquency bucket"), label("bucket", b))], ""
    if source == "share":
        day = _date_param(request, "date")
        dimension, member = g.get("dimension", ""), g.get("member", "")
        if day is None:
            raise Http404("date")
        drill = analytics.share_loans(user, day, dimension, member)
        who = (_("Customer") if dimension == "customer" else label("dimension", dimension))
        shown = (g.get("name") or member) if dimension == "customer" else _member(dimension, member, names)
        return drill, _("Loans of one concentration"), [(_("Date"), day.isoformat()), (who, shown)], ""
    if source == "vintage":
        day = _date_param(request, "date")
        bad = _int_param(request, "bad", 30)
        mob = _int_param(request, "mob")
        cohort = g.get("cohort", "")
        if day is None or not re.fullmatch(r"\d{4}-\d{2}", cohort):
            raise Http404("cohort")
        drill = analytics.vintage_loans(user, day, bad, cohort, mob)
        return drill, _("Loans of a vintage that went bad"), [
            (_("Origination month"), cohort), (_("Months on book"), str(mob)),
            (_("Bad"), label("bad", bad))], ""
    raise Http404("source")


@login_required
def drill(request: HttpRequest) -> HttpResponse:
    user = request.user
    rows, heading, facts, counted = _drill_spec(request, user)
    names = _names(user)
    headers = [_("Loan"), _("Customer"), _("Branch"), _("Product"), _("Principal outstanding (yuan)"),
               _("Days past due"), _("Delinquency bucket"), _("Five-category class")]
    if counted:
        headers.append(counted)
    table = Table("loans", _("Loans"), headers, numeric=(4, 5, 8) if counted else (4, 5),
                  empty=_("No loan is behind this cell."))
    for r in rows.rows:
        line = [_text(r.ref or "–", reverse("loans:loan", args=[r.ref]) if r.ref else "", mono=True),
                _text(r.customer or "–"), _text(_member("branch", r.branch, names)),
                _text(_member("product", r.product, names)), _money(r.outstanding), _int(r.dpd),
                _text(label("bucket", r.bucket)), _text(label("class", r.risk_class))]
        if counted:
            line.append(_money(r.counted))
        table.rows.append(line)
    total_text = (_("%(n)s loans; together %(amount)s yuan") % {"n": f"{len(rows.rows):,}",
                                                                 "amount": format_minor(rows.counted_total)}
                  if rows.counted_field else _("%(n)s loans") % {"n": f"{rows.counted_total:,}"})
    shown = [(k, v, k == _("Formula")) for k, v in facts]
    return _page(request, "risk/loans.html", {"heading": heading, "facts": shown, "total_text": total_text,
                                              "truncated": len(rows.rows) >= 2000}, [table], stem="risk-loans")


# --- portfolio analytics ---------------------------------------------------------------------------------------

def _snapshot_day(request: HttpRequest, user: Actor, dates: list[dt.date], name: str = "date") -> dt.date | None:
    day = _date_param(request, name)
    return day or (dates[0] if dates else None)


def _matrix_table(key: str, title: str, m: analytics.Matrix, source: str) -> Table:
    kind = "bucket" if source == "roll" else "class"
    key_of: Callable[[int], str] = (lambda k: str(k)) if kind == "bucket" else (lambda k: str(k + 1))
    heads = [label(kind, key_of(j)) for j in range(len(m.states))]
    t = Table(key, title, [_("From \\ to"), *heads, _("Loans"), _("Principal at the start (yuan)")],
              numeric=tuple(range(1, len(heads) + 3)))
    for i_ in range(len(m.states)):
        row = [_text(label(kind, key_of(i_)))]
        for j in range(len(m.states)):
            href = _url("risk:loans", source=source, start=m.start.isoformat(), end=m.end.isoformat(), i=i_, j=j) \
                if m.counts[i_][j] else ""
            c = _share(m.rates[i_][j], href)
            c.title = _("%(n)s loans") % {"n": m.counts[i_][j]}
            if j > i_ and m.rates[i_][j]:
                c.css = "worse"
            row.append(c)
        row += [_int(m.row_loans[i_]), _money(m.row_amounts[i_])]
        t.rows.append(row)
    return t


@login_required
def delinquency(request: HttpRequest) -> HttpResponse:
    user = request.user
    dates = analytics.snapshot_dates(user)
    day = _snapshot_day(request, user, dates)
    if day is None:
        return _page(request, "risk/delinquency.html", {"day": None}, [])
    d = analytics.delinquency(user, day, _date_param(request, "since"))
    whole = sum(b.outstanding for b in d.buckets)
    buckets = Table("buckets", _("The book by delinquency bucket"), [
        _("Delinquency bucket"), _("Loans"), _("Principal outstanding (yuan)"), _("Share of principal")],
        numeric=(1, 2, 3))
    for b in d.buckets:
        href = _url("risk:loans", source="bucket", date=day.isoformat(), bucket=b.bucket) if b.loans else ""
        buckets.rows.append([_text(label("bucket", b.bucket), href), _int(b.loans), _money(b.outstanding),
                             _share(b.outstanding / whole if whole else None)])
    tables = [buckets]
    if d.matrix is not None:
        tables.append(_matrix_table("roll", _("Roll-rate matrix (share of principal)"), d.matrix, "roll"))
    chart = {
        "buckets": [label("bucket", b.bucket) for b in d.buckets],
        "amounts": [float(to_major(b.outstanding)) for b in d.buckets],
        "trend": {"dates": [x.isoformat() for x, _r in d.trend],
                  "series": [{"name": f"{label('bucket', k)} → {label('bucket', k + 1)}",
                              "data": [_pct(r[k]) for _x, r in d.trend]}
                             for k in range(4)]},
        "labels": {"amount": _("Principal outstanding (yuan)")},
    }
    return _page(request, "risk/delinquency.html", {"day": day, "dates": dates, "d": d, "chart": chart},
                 tables, stem=f"risk-delinquency-{day.isoformat()}")


@login_required
def vintage(request: HttpRequest) -> HttpResponse:
    user = request.user
    dates = analytics.snapshot_dates(user)
    day = _snapshot_day(request, user, dates)
    bad = _int_param(request, "bad", 30)
    if bad not in (30, 90):
        raise Http404("bad")
    if day is None:
        return _page(request, "risk/vintage.html", {"day": None, "bad": bad}, [])
    v = analytics.vintage(user, day, bad)
    table = Table("vintage", _("Cumulative share gone bad by month on book"),
                  [_("Origination month"), _("Loans"), *[_("Month %(n)s") % {"n": k} for k in v.months_on_book]],
                  numeric=tuple(range(1, len(v.months_on_book) + 2)),
                  empty=_("No month-end book has been kept up to this date."))
    for c in v.cohorts:
        row = [_text(c, mono=True), _int(v.sizes[c])]
        for k, r in zip(v.months_on_book, v.rates[c], strict=True):
            href = _url("risk:loans", source="vintage", date=day.isoformat(), bad=bad, cohort=c, mob=k) \
                if r else ""
            row.append(_share(r, href) if r is not None else Cell("", num=True))
        table.rows.append(row)
    chart = {"mobs": v.months_on_book,
             "series": [{"name": c, "data": [None if r is None else round(r * 100, 4) for r in v.rates[c]]}
                        for c in v.cohorts],
             "labels": {"mob": _("Months on book"), "rate": label("bad", bad)}}
    return _page(request, "risk/vintage.html", {
        "day": day, "dates": dates, "bad": bad, "v": v, "chart": chart,
        "bad_choices": [(30, label("bad", 30)), (90, label("bad", 90))]}, [table],
        stem=f"risk-vintage-{bad}-{day.isoformat()}")


@login_required
def migration(request: HttpRequest) -> HttpResponse:
    user = request.user
    dates = analytics.snapshot_dates(user)
    end = _snapshot_day(request, user, dates, "end")
    if end is None or len(dates) < 2:
        return _page(request, "risk/migration.html", {"end": None}, [])
    start = _date_param(request, "start")
    if start is None:
        month_ago = end.replace(day=1) - dt.timedelta(days=1)
        start = next((x for x in dates if x <= month_ago), dates[-1])
    if start >= end:
        start = next((x for x in dates if x < end), None)
        if start is None:
            return _page(request, "risk/migration.html", {"end": None}, [])
    m = analytics.migration(user, start, end)
    table = _matrix_table("migration", _("Five-category migration (share of principal)"), m, "migration")
    counts = Table("migration_counts", _("Five-category migration (loans)"),
                   [_("From \\ to"), *[label("class", str(k + 1)) for k in range(len(CLASSES))]],
                   numeric=tuple(range(1, len(CLASSES) + 1)))
    for i_ in range(len(CLASSES)):
        counts.rows.append([_text(label("class", str(i_ + 1))), *[
            _int(m.counts[i_][j], _url("risk:loans", source="migration", start=start.isoformat(), end=end.isoformat(),
                                       i=i_, j=j) if m.counts[i_][j] else "") for j in range(len(CLASSES))]])
    return _page(request, "risk/migration.html", {
        "start": start, "end": end, "dates": dates, "m": m,
        "worse": labels.format_value(m.worse_share, "ratio"), "better": labels.format_value(m.better_share, "ratio"),
    }, [table, counts], stem=f"risk-migration-{start.isoformat()}-{end.isoformat()}")


@login_required
def concentration(request: HttpRequest) -> HttpResponse:
    user = request.user
    dates = analytics.snapshot_dates(user)
    day = _snapshot_day(request, user, dates)
    if day is None:
        return _page(request, "risk/concentration.html", {"day": None}, [])
    c = analytics.concentration(user, day)
    names = _names(user)
    top = Table("customers", _("Ten largest borrowers"), [
        _("Customer"), _("Loans"), _("Principal outstanding (yuan)"), _("Share of principal")], numeric=(1, 2, 3))
    for s in c.top_customers:
        top.rows.append([_text(s.label or "–", _url("risk:loans", source="share", date=day.isoformat(),
                                                     dimension="customer", member=s.key, name=s.label)),
                         _int(s.loans), _money(s.outstanding), _share(s.share)])
    tables = [top]
    titles = {"industry": _("By industry"), "region": _("By region"), "product": _("By product"),
              "branch": _("By branch")}
    for d, rows in c.by.items():
        t = Table(d, titles[d], [label("dimension", d), _("Loans"), _("Principal outstanding (yuan)"),
                                 _("Share of principal")], numeric=(1, 2, 3))
        for s in rows:
            t.rows.append([_text(_member(d, s.key, names), _url("risk:loans", source="share", date=day.isoformat(),
                                                              dimension=d, member=s.key)),
                           _int(s.loans), _money(s.outstanding), _share(s.share)])
        tables.append(t)
    top_share = sum(s.share or 0.0 for s in c.top_customers)
    chart = {"industry": [{"name": _member("industry", s.key, names), "value": round((s.share or 0) * 100, 2)}
                          for s in c.by["industry"][:12]],
             "region": [{"name": _member("region", s.key, names), "value": round((s.share or 0) * 100, 2)}
                        for s in c.by["region"][:12]]}
    return _page(request, "risk/concentration.html", {
        "day": day, "dates": dates, "c": c, "top_share": labels.format_value(top_share, "ratio"), "chart": chart,
    }, tables, stem=f"risk-concentration-{day.isoformat()}")


# --- alerts ----------------------------------------------------------------------------------------------------

def _alert_row(a: AlertView, names: dict[str, Any]) -> list[Cell]:
    return [_text(a.raised_on.isoformat()), _text(labels.indicator_name(a.name_en, a.name_zh),
                                                  reverse("risk:alert", args=[a.id])),
            _text(label("dimension", a.dimension)), _text(_member(a.dimension, a.member, names)),
            _text(label("rule", a.rule_kind)), _measure(a.value, a.unit), _rag(a.rag),
            _text(label("status", a.status)), _text(label("owner_role", a.owner_role))]


@login_required
def alert_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    status = request.GET.get("status", "open")
    if status not in ("open", "acknowledged", "resolved", "all"):
        raise Http404("status")
    names = _names(user)
    table = Table("alerts", _("Alerts"), [
        _("Raised on"), _("Indicator"), _("Dimension"), _("Member"), _("Rule"), _("Value"), _("Status"),
        _("Handling"), _("Routed to")], numeric=(5,), empty=_("No alert here."))
    for a in risk.list_alerts(user, status=status):
        table.rows.append(_alert_row(a, names))
    filters = [(s, label("status", s), _url("risk:alerts", status=s)) for s in ("open", "acknowledged", "resolved",
                                                                                 "all")]
    return _page(request, "risk/alerts.html", {"status": status, "filters": filters}, [table],
                 stem=f"risk-alerts-{status}")


def _alert_page(request: HttpRequest, alert_id: int, *, comment_form: CommentForm | None = None,
                resolve_form: ResolveForm | None = None, status: int = 200) -> HttpResponse:
    user = request.user
    a = risk.get_alert(user, alert_id)
    names = _names(user)
    i = risk.get_indicator(user, a.indicator)
    try:
        chart = _series_chart(user, a, a.dimension, a.member, code=a.indicator, unit=a.unit, amber=i.amber,
                              red=i.red, mode=i.mode)
    except CreditplanError:
        chart = None  # a branch alert outside the reader's branch figures: no trend to show
    drill = (_url("risk:loans", source="indicator", indicator=a.indicator, dimension=a.dimension, member=a.member,
                  date=a.raised_on.isoformat()) if i.fact == "loans" else "")
    may_handle = org.may(user, Perm.RISK_ALERT_HANDLE) and a.status != "resolved"
    return _page(request, "risk/alert.html", {
        "a": a, "name": labels.indicator_name(a.name_en, a.name_zh), "dimension_label": label("dimension", a.dimension),
        "member_label": _member(a.dimension, a.member, names),
        "rule_label": labels.rule_label(a.rule_kind, next((p for k, p in i.rules if k == a.rule_kind), 3)),
        "value": labels.format_value(a.value, a.unit), "rag_label": label("rag", a.rag),
        "status_label": label("status", a.status), "owner_label": label("owner_role", a.owner_role),
        "resolution_label": label("resolution", a.resolution) if a.resolution else "",
        "amber": labels.format_threshold(i.amber, i.unit, i.mode), "red": labels.format_threshold(i.red, i.unit, i.mode),
        "chart": chart, "drill": drill, "may_handle": may_handle,
        "comment_form": comment_form or CommentForm(), "resolve_form": resolve_form or ResolveForm(),
        "trend_url": _url("risk:indicator", a.indicator, dimension=a.dimension, member=a.member),
    }, [], status=status)


@login_required
def alert_detail(request: HttpRequest, alert_id: int) -> HttpResponse:
    return _alert_page(request, alert_id)


@login_required
@require_POST
def alert_action(request: HttpRequest, alert_id: int, action: str) -> HttpResponse:
    user = request.user
    if action not in ("acknowledge", "comment", "resolve"):
        raise Http404(action)
    comment_form = CommentForm(request.POST if action == "comment" else None)
    resolve_form = ResolveForm(request.POST if action == "resolve" else None)
    try:
        if action == "acknowledge":
            risk.acknowledge(user, alert_id)
            messages.success(request, _("Alert acknowledged: it stays open until it is resolved."))
        elif action == "comment":
            comment_form.is_valid()
            risk.comment(user, alert_id, comment_form.cleaned_data.get("text", ""))
            messages.success(request, _("Comment added."))
        else:
            resolve_form.is_valid()
            d = resolve_form.cleaned_data
            risk.resolve(user, alert_id, reason=d.get("reason", ""), note=d.get("note", ""))
            messages.success(request, _("Alert resolved. If the condition still holds at the next run, a new alert is "
                                        "raised."))
    except CreditplanError as exc:
        if exc.http_status in (401, 403, 404):
            raise
        form: CommentForm | ResolveForm | None = (comment_form if action == "comment" else
                                                  resolve_form if action == "resolve" else None)
        text = labels.risk_problem(exc.code, exc.message)
        if form is not None and exc.field in form.fields:
            form.add_error(exc.field, text)
        else:
            messages.error(request, text)
            return redirect("risk:alert", alert_id=alert_id)
        return _alert_page(request, alert_id, comment_form=comment_form, resolve_form=resolve_form, status=422)
    return redirect("risk:alert", alert_id=alert_id)
