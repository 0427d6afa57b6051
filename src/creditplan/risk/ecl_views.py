"""Expected credit loss, stress test and behaviour re-rating pages, mounted at /risk/ecl/ (risk/ecl_urls.py):

    /risk/ecl/?date=D              the allowance of a run: stages, branches, products, the GL reconciliation, the
                                   scenarios, LGD/CCF, the observed transition matrix, where PDs came from
    /risk/ecl/stress/?date=D       stress scenarios side by side with the base
    /risk/ecl/behaviour/?month=M   the month's re-rating: grade migration, the largest downgrades

Views only call services; every code a person reads is named here in both languages (gettext)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy

from creditplan.core.errors import NotFound
from creditplan.core.money import format_minor
from creditplan.risk import labels
from creditplan.risk.services import analytics, behaviour, ecl, stress

STAGES = {1: gettext_lazy("Stage 1 · performing"), 2: gettext_lazy("Stage 2 · significant increase in credit risk"),
          3: gettext_lazy("Stage 3 · credit-impaired")}
SCENARIOS = {"base": pgettext_lazy("ecl scenario", "Base"), "upside": pgettext_lazy("ecl scenario", "Upside"),
             "downside": pgettext_lazy("ecl scenario", "Downside")}
PD_SOURCES = {"behaviour": gettext_lazy("Behaviour score"), "origination": gettext_lazy("Approval decision"),
              "matrix": gettext_lazy("Observed transition matrix"), "fallback": gettext_lazy("Fallback table")}
COLLATERAL = {"none": gettext_lazy("Unsecured"), "property": gettext_lazy("Property"),
              "vehicle": gettext_lazy("Vehicle"), "deposit": gettext_lazy("Deposit"),
              "guarantee": gettext_lazy("Guarantee")}
ENTRY_KINDS = {"provision": gettext_lazy("Charge"), "write_back": gettext_lazy("Write-back")}
STATES = [pgettext_lazy("risk bucket", "Current"), pgettext_lazy("risk bucket", "1–30 days"),
          pgettext_lazy("risk bucket", "31–60 days"), pgettext_lazy("risk bucket", "61–90 days"),
          gettext_lazy("Default (over 90 days or written off)")]


def _tabs(request: HttpRequest) -> list[dict[str, Any]]:
    items = [("risk:overview", _("Risk monitoring")), ("risk_ecl:overview", _("Expected credit loss")),
             ("risk_ecl:stress", _("Stress tests")), ("risk_ecl:behaviour", _("Behaviour re-rating"))]
    out = []
    for name, text in items:
        url = reverse(name)
        out.append({"url": url, "label": text, "active": request.path == url})
    return out


def _pct(value: float | None, places: int = 2) -> str:
    return "–" if value is None else f"{value * 100:.{places}f} %"


def _money(fen: int | None) -> str:
    return "–" if fen is None else format_minor(int(fen), "CNY")


def _name(kind: str, code: str, names: dict[str, Any]) -> str:
    return labels.member_label(kind, code, names.get(kind))


def _names(request: HttpRequest) -> dict[str, Any]:
    n = analytics.names(request.user)
    zh = labels.chinese()
    return {"branch": n["branch"] if zh else n["branch_en"], "product": n["product"] if zh else n["product_en"]}


def _product(code: str, names: dict[str, Any]) -> str:
    if code == ecl.LINE_PRODUCT:
        return _("Undrawn credit lines")
    if code == "*":
        return _("Every other product")
    return _name("product", code, names)


def _scenario_name(name: str) -> str:
    text = SCENARIOS.get(name)
    return str(text) if text is not None else name


@login_required
def overview(request: HttpRequest) -> HttpResponse:
    try:
        view = ecl.ecl_overview(request.user, request.GET.get("date"))
    except NotFound:
        raise Http404("no such run") from None
    ctx: dict[str, Any] = {"tabs": _tabs(request), "view": view}
    if view is not None:
        names = _names(request)
        ctx["stages"] = [{"label": STAGES[s["stage"]], "loans": s["loans"], "ead": _money(s["ead"]),
                          "ecl_12m": _money(s["ecl_12m"]), "lifetime": _money(s["lifetime"]),
                          "ecl": _money(s["ecl"]), "coverage": _pct(s["coverage"])} for s in view.stages]
        ctx["total"] = {"ead": _money(view.ead_minor), "ecl": _money(view.total_minor),
                        "coverage": _pct(ecl._coverage(view.total_minor, view.ead_minor))}
        ctx["branches"] = [{"label": _name("branch", r["key"], names), "loans": r["loans"], "ead": _money(r["ead"]),
                            "ecl": _money(r["ecl"]), "coverage": _pct(r["coverage"])} for r in view.by_branch]
        ctx["products"] = [{"label": _product(r["key"], names), "loans": r["loans"],
                            "ead": _money(r["ead"]), "ecl": _money(r["ecl"]), "coverage": _pct(r["coverage"])}
                           for r in view.by_product]
        ctx["checks"] = [{"branch": _name("branch", c.branch, names), "gl": _money(c.gl_minor),
                          "loans": _money(c.loans_minor), "difference": _money(c.difference_minor),
                          "ok": c.difference_minor == 0} for c in view.reconciliation]
        ctx["entries"] = [{"kind": ENTRY_KINDS.get(e["kind"], e["kind"]), "branch": _name("branch", e["branch"], names),
                           "amount": _money(e["amount_minor"])} for e in view.entries]
        ctx["scenarios"] = [{"name": _scenario_name(s["name"]), "weight": _pct(s["weight"], 0),
                             "pd": f"{s['pd_multiplier']:g}", "lgd": f"{s['lgd_multiplier']:g}"}
                            for s in view.scenarios]
        ctx["loss"] = [{"product": _product(p.product, names),
                        "collateral": COLLATERAL.get(p.collateral, p.collateral), "lgd": _pct(float(p.lgd), 0),
                        "ccf": _pct(float(p.ccf), 0)} for p in view.loss_parameters]
        ctx["sources"] = [{"label": PD_SOURCES[k], "loans": view.pd_sources.get(k, 0)} for k in PD_SOURCES]
        if view.matrix:
            ctx["matrix"] = {"months": view.matrix["months"], "states": STATES, "rows": [
                {"state": STATES[i], "observed": view.matrix["totals"][i],
                 "usable": bool(view.matrix["usable"][i]) if i < len(view.matrix["usable"]) else False,
                 "rates": [_pct(r, 1) if r is not None else "–" for r in row]}
                for i, row in enumerate(view.matrix["rates"])]}
    return render(request, "risk/ecl/overview.html", ctx)


@login_required
def stress_page(request: HttpRequest) -> HttpResponse:
    try:
        view = stress.stress_overview(request.user, request.GET.get("date"))
    except NotFound:
        raise Http404("no such run") from None
    ctx: dict[str, Any] = {"tabs": _tabs(request), "view": view}
    if view is not None:
        columns = [{"name": _("Base"), "f": view.base, "capital": None}]
        for item in view.scenarios:
            sc = item["scenario"]
            columns.append({"name": sc.name_zh if labels.chinese() else sc.name_en, "f": item["figures"],
                            "capital": item["figures"].get("capital")})
        measures = [
            (_("Provision (loss allowance)"), lambda c: _money(c["f"]["provision"])),
            (_("Expected loss over one year"), lambda c: _money(c["f"]["expected_loss"])),
            (_("NPL ratio today"), lambda c: _pct(c["f"]["npl_now"])),
            (_("NPL ratio in a year (loans migrating at their PD)"), lambda c: _pct(c["f"]["npl_ratio"])),
            (_("Loans in stage 2"), lambda c: str(c["f"]["stage_loans"][1])),
            (_("Loans in stage 3"), lambda c: str(c["f"]["stage_loans"][2])),
            (_("Extra provision over the base"),
             lambda c: _money(c["capital"]["extra_provision"]) if c["capital"] else "–"),
            (_("Share of net capital"),
             lambda c: _pct(c["capital"]["share_of_capital"]) if c["capital"] else "–"),
            (_("Net capital after the extra provision"),
             lambda c: _money((c["capital"] or {}).get("capital_after")) if c["capital"] else
             _money((c["f"].get("headroom") or {}).get("net_capital"))),
            (_("Balance quota headroom"),
             lambda c: _money((c["f"].get("headroom") or {}).get("balance_headroom_after"))),
            (_("New-lending quota headroom"),
             lambda c: _money((c["f"].get("headroom") or {}).get("new_lending_headroom_after"))),
            (_("Single-customer limit"),
             lambda c: _money((c["f"].get("headroom") or {}).get("single_customer_limit_after"))),
            (_("Customers above the single-customer limit"),
             lambda c: str((c["f"].get("headroom") or {}).get("customers_over_limit_after", "–"))),
        ]
        ctx["columns"] = [c["name"] for c in columns]
        ctx["rows"] = [{"label": label, "values": [fn(c) for c in columns]} for label, fn in measures]
        ctx["definitions"] = [{
            "name": item["scenario"].name_zh if labels.chinese() else item["scenario"].name_en,
            "unemployment": item["scenario"].unemployment_pp, "gdp": item["scenario"].gdp_pp,
            "property": _pct(float(item["scenario"].property_fall), 0),
            "lgd": item["scenario"].lgd_multiplier} for item in view.scenarios]
        ctx["has_plan"] = bool(view.base.get("headroom"))
    return render(request, "risk/ecl/stress.html", ctx)


@login_required
def behaviour_page(request: HttpRequest) -> HttpResponse:
    month = request.GET.get("month")
    try:
        view = behaviour.grade_migration(request.user, month)
    except NotFound:
        raise Http404("no such month") from None
    ctx: dict[str, Any] = {"tabs": _tabs(request), "view": view}
    if view is not None:
        grades = view.grades
        rows = []
        for i, counts in enumerate(view.moves):
            label = grades[i] if i < len(grades) else _("Not rated last month")
            rows.append({"label": label, "cells": [{"n": n, "css": "down" if i < len(grades) and j > i else
                                                     "up" if i < len(grades) and j < i else ""}
                                                    for j, n in enumerate(counts)], "total": sum(counts)})
        ctx["grades"] = grades
        ctx["rows"] = rows
        ctx["downgrades"] = [{"customer": d["customer_id"], "name": d.get("customer_name", ""), "before": d["previous_grade"], "now": d["grade"],
                              "pd": _pct(d["pd"]), "score": f"{d['score']:.1f}", "steps": d["fall"]}
                             for d in view.biggest_downgrades]
    return render(request, "risk/ecl/behaviour.html", ctx)
