"""Model monitoring pages (per champion and challenger: PSI by week, CSI per feature, approval by grade,
discrimination by origination cohort, calibration by grade) and the monthly risk report's download."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import get_language, pgettext

from creditplan.core.access import Perm, may, require
from creditplan.core.errors import ValidationError
from creditplan.risk import report as monthly
from creditplan.risk.domain.monitoring import PSI_ACT, PSI_WATCH
from creditplan.risk.monitoring_labels import (
    VERDICT_CLASSES,
    bin_label,
    feature_label,
    kind_label,
    role_label,
    verdict_label,
)
from creditplan.risk.services import monitoring


def _verdict(code: str | None) -> dict[str, str]:
    key = code or "insufficient_data"
    return {"code": key, "label": verdict_label(key), "css": VERDICT_CLASSES.get(key, "muted")}


def _chinese() -> bool:
    return not (get_language() or "zh-hans").startswith("en")


@login_required
def model_list(request: HttpRequest) -> HttpResponse:
    require(request.user, Perm.RISK_VIEW)
    rows = []
    for v in monitoring.monitored_versions(request.user):
        rows.append({"v": v, "role": role_label(v.role), "kind": kind_label(v.kind),
                     "psi_verdict": _verdict(v.psi_verdict), "verdict": _verdict(v.verdict)})
    return render(request, "risk/models/list.html", {
        "rows": rows, "thresholds": {"watch": PSI_WATCH, "act": PSI_ACT},
        "settings": monitoring.monitor_settings(), "may_report": may(request.user, Perm.RISK_VIEW),
        "last_month": monthly.last_complete_month()})


def _bins(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**b, "label": bin_label(str(b.get("label", ""))), "ref_pct": 100 * float(b.get("ref_share") or 0),
             "cur_pct": 100 * float(b.get("cur_share") or 0)} for b in rows]


def _feature_text(name: str, texts: dict[str, Any], lang: str) -> str:
    """A feature in words: the model's own text, unless it is only the feature's code (the behaviour model's are)."""
    text = (texts.get(name) or {}).get(lang)
    return text if text and text != name else feature_label(name)


@login_required
def model_detail(request: HttpRequest, version_id: int) -> HttpResponse:
    data = monitoring.version_monitoring(request.user, version_id)
    latest = data.latest or {}
    score = latest.get("score") or None
    texts = latest.get("feature_texts") or {}
    lang = "zh" if _chinese() else "en"
    features = [{**f, "v": _verdict(f.get("verdict")), "bins": _bins(f.get("bins") or []),
                 "label": _feature_text(f["name"], texts, lang)}
                for f in latest.get("features") or []]
    grades = latest.get("grades") or None
    if grades:
        grades = {**grades, "rows": [{**g, "approval_pct": None if g.get("approval_rate") is None else
                                      100 * g["approval_rate"]} for g in grades["rows"]]}
    cohorts = [{**c, "v": _verdict(c.get("verdict"))} for c in latest.get("cohorts") or []]
    calibration = latest.get("calibration") or {}
    calibration_rows = [{**r, "v": _verdict(r.get("verdict"))} for r in calibration.get("rows") or []]
    pooled = calibration.get("pooled")
    pooled = {**pooled, "v": _verdict(pooled.get("verdict"))} if pooled else None
    week_label = pgettext("model monitoring", "Week of %(day)s")
    chart = {
        "labels": {
            "psi": "PSI", "watch": pgettext("model monitoring", "Watch from"), "act": pgettext("model monitoring",
                                                                                                 "Act from"),
            "development": pgettext("model monitoring", "Development sample"),
            "week": pgettext("model monitoring", "This week"),
            "gini": "Gini", "auc": "AUC", "ks": "KS", "ci": pgettext("model monitoring", "95 % interval"),
            "dev_gini": pgettext("model monitoring", "Development Gini"),
            "predicted": pgettext("model monitoring", "Predicted PD"),
            "observed": pgettext("model monitoring", "Observed bad rate"),
            "approval": pgettext("model monitoring", "Approval rate"),
        },
        "thresholds": {"watch": PSI_WATCH, "act": PSI_ACT},
        "weeks": [week_label % {"day": w["week"].isoformat()} for w in data.weeks],
        "psi": [w["psi"] for w in data.weeks],
        "score_bins": _bins(score["bins"]) if score else [],
        "grades": grades["rows"] if grades else [],
        "cohorts": [{"cohort": c["cohort"], "gini": c.get("gini"), "gini_ci": c.get("gini_ci"), "auc": c.get("auc"),
                     "auc_ci": c.get("auc_ci"), "ks": c.get("ks"), "ks_ci": c.get("ks_ci")}
                    for c in cohorts if c.get("gini") is not None],
        "development_gini": data.development_gini,
        "calibration": [{"grade": r["grade"], "mean_pd": r.get("mean_pd"), "observed": r.get("observed"),
                         "ci95": r.get("ci95")} for r in calibration_rows if r.get("rows")],
    }
    weeks = [{**w, "v": _verdict(w["psi_verdict"]), "overall": _verdict(w["verdict"])} for w in reversed(data.weeks)]
    return render(request, "risk/models/detail.html", {
        "m": data, "role": role_label(data.role), "kind": kind_label(data.kind), "latest": latest, "score": score,
        "score_verdict": _verdict(score["verdict"]) if score else None, "features": features, "grades": grades,
        "grades_verdict": _verdict(grades["verdict"]) if grades else None, "cohorts": cohorts,
        "calibration": calibration, "calibration_rows": calibration_rows, "pooled": pooled,
        "calibration_verdict": _verdict(calibration.get("verdict")), "weeks": weeks,
        "overall": _verdict(latest.get("verdict")), "chart": chart, "settings": monitoring.monitor_settings(),
        "immature": [c for c in cohorts if not c.get("matured")],
    })


@login_required
def report_pdf(request: HttpRequest) -> HttpResponse:
    """The monthly risk report: ?month=YYYY-MM (default the last whole month), ?lang=zh|en (default the page's)."""
    require(request.user, Perm.RISK_VIEW)
    month = (request.GET.get("month") or "").strip() or monthly.last_complete_month()
    lang = (request.GET.get("lang") or ("zh" if _chinese() else "en")).strip()
    try:
        data = monthly.monthly_report_pdf(request.user, month, lang)
    except ValidationError as exc:
        text = {"month_format": pgettext("model monitoring", "The month is written YYYY-MM, for example 2026-11."),
                "unknown_language": pgettext("model monitoring", "The report is in Chinese (zh) or English (en).")}.get(exc.code, exc.message)
        return render(request, "risk/models/report_error.html", {"message": text}, status=422)
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="risk-report-{month}-{lang}.pdf"'
    return response

