"""The monthly risk report (月度风险报告) as a PDF, in Chinese or English, with its charts.

    creditplan risk report --month 2026-11 --lang zh --out risk-2026-11.pdf
    GET /risk/report/?month=2026-11&lang=zh                      (route name risk_monitoring:report)

Contents, all as they stood at the month's end: the key indicators (the last indicator run of the month, the
whole institution), red first; the NPL and overdue trend over twelve month-ends; the delinquency transition
matrix with roll rates (principal at the previous month-end, from bucket to bucket); vintage curves (cumulative
30+ days past due by month on book, the cohorts of the last twelve months); concentration (the largest borrowers,
industries, regions and branches); the scoring models' stability (the last week monitored in the month:
risk.services.monitoring); the alerts open at the month's end.

Figures come from the kept snapshots of the book and the stored indicator values, through the same column kernels
the pages use (risk.domain.portfolio), so the report and the pages agree. Charts are drawn with fpdf2's own
lines and rectangles: vector graphics, small files, no plotting library.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from django.utils import timezone, translation
from django.utils.translation import pgettext

from creditplan.core.access import Actor, Perm, require, sees_all_branches
from creditplan.core.errors import Forbidden, ValidationError
from creditplan.core.money import format_minor
from creditplan.core.pdf import PdfDocument, cjk_font
from creditplan.customers.domain import INDUSTRY_SECTIONS, PROVINCES
from creditplan.loans.models import Product
from creditplan.org.models import Branch
from creditplan.risk import store
from creditplan.risk.domain.catalogue import DIMENSIONS
from creditplan.risk.domain.facts import industry_section, province
from creditplan.risk.domain.portfolio import (
    BUCKETS,
    pair_observations,
    top_shares,
    transition_matrix,
    vintage_curves,
)
from creditplan.risk.models import Alert, Indicator, IndicatorValue, Run, Snapshot
from creditplan.risk.monitoring_labels import role_label, verdict_label
from creditplan.risk.services import monitoring

TREND_MONTHS = 12
VINTAGE_MONTHS = 12
VINTAGE_BAD_DPD = 30
MAX_ALERTS = 40
TREND_CODES = ("npl_ratio", "overdue_1_30", "overdue_31_60", "overdue_61_90", "overdue_90_plus")
_EPOCH = dt.date(1970, 1, 1).toordinal()
_RAG_ORDER = {"red": 0, "amber": 1, "green": 2, "none": 3}
LANGS = {"zh": "zh-hans", "en": "en"}


# --- the month -------------------------------------------------------------------------------------------

def parse_month(value: Any) -> tuple[dt.date, dt.date]:
    """'YYYY-MM' → (first day, last day)."""
    text = str(value or "").strip()
    try:
        year, month = (int(p) for p in text.split("-"))
        first = dt.date(year, month, 1)
    except ValueError:
        raise ValidationError("the month is written YYYY-MM", field="month", code="month_format") from None
    return first, first.replace(day=calendar.monthrange(year, month)[1])


def last_complete_month(today: dt.date | None = None) -> str:
    first = (today or timezone.localdate()).replace(day=1)
    prev = first - dt.timedelta(days=1)
    return f"{prev.year:04d}-{prev.month:02d}"


def _month_key(day: dt.date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def _month_back(first: dt.date, k: int) -> dt.date:
    index = first.year * 12 + first.month - 1 - k
    return dt.date(index // 12, index % 12 + 1, 1)


def _month_end(first: dt.date) -> dt.date:
    return first.replace(day=calendar.monthrange(first.year, first.month)[1])


# --- what the report holds -------------------------------------------------------------------------------

@dataclass(frozen=True)
class IndicatorRow:
    code: str
    name_en: str
    name_zh: str
    unit: str
    value: float | None
    previous: float | None
    rag: str


@dataclass(frozen=True)
class AlertRow:
    name_en: str
    name_zh: str
    dimension: str
    member: str
    unit: str
    value: float | None
    rag: str
    raised_on: dt.date
    status: str


@dataclass
class MonthlyReport:
    month: str
    first: dt.date
    last: dt.date
    generated_on: dt.date
    indicators_as_of: dt.date | None = None
    indicators: list[IndicatorRow] = field(default_factory=list)
    trend_months: list[str] = field(default_factory=list)
    trend: dict[str, list[float | None]] = field(default_factory=dict)
    trend_names: dict[str, tuple[str, str]] = field(default_factory=dict)
    snapshot_as_of: dt.date | None = None
    previous_as_of: dt.date | None = None
    matrix: list[list[int]] | None = None  # principal (fen) from bucket i at the previous month-end to bucket j
    roll_rates: list[float | None] = field(default_factory=list)
    vintage_cohorts: list[str] = field(default_factory=list)
    vintage_rates: dict[str, list[float | None]] = field(default_factory=dict)
    vintage_sizes: dict[str, int] = field(default_factory=dict)
    outstanding_minor: int = 0
    loans_on_book: int = 0
    top_customers: list[tuple[str, int]] = field(default_factory=list)
    shares: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    models: list[dict[str, Any]] = field(default_factory=list)
    alerts: list[AlertRow] = field(default_factory=list)


def _snapshot_in(first: dt.date, last: dt.date) -> Snapshot | None:
    return Snapshot.objects.filter(as_of__gte=first, as_of__lte=last).order_by("-as_of").first()


def _indicators(report: MonthlyReport) -> None:
    run = Run.objects.filter(as_of__gte=report.first, as_of__lte=report.last).order_by("-as_of").first()
    if run is None:
        return
    report.indicators_as_of = run.as_of
    rows = [IndicatorRow(v.indicator.code, v.indicator.name_en, v.indicator.name_zh, v.indicator.unit, v.value,
                         v.previous, v.rag)
            for v in IndicatorValue.objects.filter(as_of=run.as_of, dimension="total", indicator__active=True)
            .select_related("indicator")]
    order = {i: k for k, i in enumerate(Indicator.objects.order_by("sort_order", "code").values_list("code", flat=True))}
    rows.sort(key=lambda r: (_RAG_ORDER.get(r.rag, 9), order.get(r.code, 999), r.code))
    report.indicators = rows


def _trend(report: MonthlyReport) -> None:
    months = [_month_back(report.first, k) for k in range(TREND_MONTHS - 1, -1, -1)]
    report.trend_months = [_month_key(m) for m in months]
    names = dict((c, (en, zh)) for c, en, zh in Indicator.objects.filter(code__in=TREND_CODES)
                 .values_list("code", "name_en", "name_zh"))
    rows = (IndicatorValue.objects.filter(indicator__code__in=TREND_CODES, dimension="total",
                                          as_of__gte=months[0], as_of__lte=report.last)
            .order_by("as_of").values_list("indicator__code", "as_of", "value"))
    last_of: dict[tuple[str, str], float | None] = {}
    for code, as_of, value in rows:
        last_of[(code, _month_key(as_of))] = value  # ordered by date: the month's last value wins
    overdue = [c for c in TREND_CODES if c.startswith("overdue_")]
    series: dict[str, list[float | None]] = {
        "npl_ratio": [last_of.get(("npl_ratio", m)) for m in report.trend_months],
        "overdue": [], "overdue_90_plus": [last_of.get(("overdue_90_plus", m)) for m in report.trend_months]}
    for m in report.trend_months:
        parts = [last_of.get((c, m)) for c in overdue]
        series["overdue"].append(None if any(p is None for p in parts) else float(sum(p for p in parts if p)))
    report.trend = series
    report.trend_names = {"npl_ratio": names.get("npl_ratio", ("NPL ratio", "不良贷款率")),
                          "overdue_90_plus": names.get("overdue_90_plus", ("Overdue ratio 90+", "逾期率（90天以上）"))}


def _loans(snap: Snapshot) -> dict[str, Any]:
    return store.read(snap.as_of, snap.sha256)["loans"]


def _on_book(cols: dict[str, Any]) -> np.ndarray:
    return np.asarray((np.asarray(cols["closed"]) == 0) & (np.asarray(cols["written_off"]) == 0)
                      & (np.asarray(cols["outstanding"]) > 0))


def _portfolio(report: MonthlyReport) -> None:
    snap = _snapshot_in(report.first, report.last)
    if snap is None:
        return
    report.snapshot_as_of = snap.as_of
    now = _loans(snap)
    book = _on_book(now)
    outstanding = np.asarray(now["outstanding"], dtype=np.int64)
    report.outstanding_minor = int(outstanding[book].sum())
    report.loans_on_book = int(book.sum())
    # the delinquency transition matrix from the previous month-end
    prev_first = _month_back(report.first, 1)
    before = _snapshot_in(prev_first, _month_end(prev_first))
    if before is not None:
        report.previous_as_of = before.as_of
        then = _loans(before)
        sa, sb, wa = pair_observations(then["loan"], then["bucket"], now["loan"], now["bucket"],
                                       np.asarray(then["outstanding"], dtype=np.int64))
        matrix = transition_matrix(sa, sb, len(BUCKETS), weights=wa, states=BUCKETS)
        report.matrix = [[int(x) for x in row] for row in matrix.counts.tolist()]
        report.roll_rates = matrix.roll_rates()
    # concentration on the month-end book
    amounts = outstanding[book]
    customers = np.asarray(now["customer"], dtype=object)[book].astype(str).astype(np.int64)
    top, _total = top_shares(customers, amounts, 10)
    report.top_customers = [(str(k), int(v)) for k, v in top]
    for dim, keys in (("industry", industry_section(np.asarray(now["industry"], dtype=object)[book])),
                      ("region", province(np.asarray(now["region"], dtype=object)[book])),
                      ("branch", np.asarray(now["branch"], dtype=object)[book])):
        sums: dict[str, int] = {}
        for k, a in zip(keys.tolist(), amounts.tolist(), strict=True):
            sums[str(k)] = sums.get(str(k), 0) + int(a)
        report.shares[dim] = sorted(sums.items(), key=lambda x: (-x[1], x[0]))[:5]
    _vintage(report)


def _months(days: np.ndarray) -> np.ndarray:
    """Day numbers → months since January 1970."""
    d64 = (np.asarray(days, dtype=np.int64) - _EPOCH).astype("datetime64[D]")
    return np.asarray(d64.astype("datetime64[M]").astype(np.int64), dtype=np.int64)


def _month_index(day: dt.date) -> int:
    return (day.year - 1970) * 12 + day.month - 1


def _vintage(report: MonthlyReport) -> None:
    months = [_month_back(report.first, k) for k in range(VINTAGE_MONTHS - 1, -1, -1)]
    snaps = [s for s in (_snapshot_in(m, _month_end(m)) for m in months) if s is not None]
    if not snaps:
        return
    base = _month_index(months[0])
    ids: list[np.ndarray] = []
    periods: list[np.ndarray] = []
    states: list[np.ndarray] = []
    starts: list[np.ndarray] = []
    for s in snaps:
        cols = _loans(s)
        start_month = _months(np.asarray(cols["start"], dtype=np.int64)) - base
        keep = start_month >= 0
        loan = np.asarray(cols["loan"], dtype=np.int64)[keep]
        ids.append(loan)
        starts.append(start_month[keep])
        periods.append(np.full(loan.size, _month_index(s.as_of) - base, dtype=np.int64))
        states.append((np.asarray(cols["worst_dpd"], dtype=np.int64)[keep] > VINTAGE_BAD_DPD).astype(np.int64))
    all_ids = np.concatenate(ids)
    if all_ids.size == 0:
        return
    _uid, first = np.unique(all_ids, return_index=True)
    curves = vintage_curves(all_ids, np.concatenate(periods), np.concatenate(states), bad_from=1,
                            origination=np.concatenate(starts)[first],
                            last_period=_month_index(snaps[-1].as_of) - base)
    for c in curves.cohorts:
        key = _month_key(_month_back(months[0], -c))
        report.vintage_cohorts.append(key)
        report.vintage_rates[key] = curves.rates[c]
        report.vintage_sizes[key] = curves.sizes[c]


def _alerts(report: MonthlyReport) -> None:
    end = dt.datetime.combine(report.last + dt.timedelta(days=1), dt.time(0), tzinfo=timezone.get_current_timezone())
    qs = (Alert.objects.filter(raised_on__lte=report.last).select_related("indicator")
          .exclude(status="resolved", resolved_at__lt=end).order_by("raised_on", "id"))
    rows = [AlertRow(a.indicator.name_en, a.indicator.name_zh, a.dimension, a.member, a.indicator.unit, a.value,
                     a.rag, a.raised_on, "open" if a.status == "resolved" else a.status) for a in qs]
    rows.sort(key=lambda r: (_RAG_ORDER.get(r.rag, 9), r.dimension != "total", r.raised_on, r.name_en, r.member))
    report.alerts = rows


def build_report(month: Any) -> MonthlyReport:
    """Gather the month's figures (no permission check: the callers check)."""
    first, last = parse_month(month)
    report = MonthlyReport(_month_key(first), first, last, timezone.localdate())
    _indicators(report)
    _trend(report)
    _portfolio(report)
    report.models = monitoring.latest_in(first - dt.timedelta(days=6), last)
    _alerts(report)
    return report


def monthly_report_pdf(actor: Actor | None, month: Any, lang: str) -> bytes:
    """The month's report as a PDF in `lang` (zh | en). A person needs risk.view and sight of the whole
    institution (the report is the institution's)."""
    if actor is not None:
        require(actor, Perm.RISK_VIEW)
        branch = getattr(actor, "branch", None)
        if not sees_all_branches(actor.role) and not (branch is not None and branch.parent_id is None):
            raise Forbidden("the monthly risk report covers the whole institution; it is for head-office roles",
                            code="report_scope")
    if lang not in LANGS:
        raise ValidationError("the language is zh or en", field="lang", code="unknown_language")
    report = build_report(month)
    with translation.override(LANGS[lang]):
        return render_pdf(report, lang)


# --- the PDF ---------------------------------------------------------------------------------------------------

_COLORS = [(11, 92, 173), (180, 35, 24), (31, 122, 77), (183, 121, 31), (106, 27, 154), (0, 131, 143),
           (121, 85, 72), (96, 125, 139), (233, 30, 99), (63, 81, 181), (139, 195, 74), (255, 152, 0)]
_RAG_COLORS = {"red": (180, 35, 24), "amber": (183, 121, 31), "green": (31, 122, 77), "none": (120, 120, 120)}
_VERDICT_COLORS = {"act": (180, 35, 24), "watch": (183, 121, 31), "stable": (31, 122, 77),
                   "insufficient_data": (120, 120, 120)}


class _Pdf(PdfDocument):
    def __init__(self, title: str, lang: str) -> None:
        super().__init__(title, orientation="P", margin=14, font=cjk_font())
        self.lang = lang

    def text(self, w: float, s: str, *, size: float = 9, bold: bool = False, align: str = "L", h: float = 5,
             ln: bool = False, color: tuple[int, int, int] | None = None, border: Literal[0, 1] | str = 0) -> None:
        s = self.font(s, size, bold)
        while w and len(s) > 1 and self.pdf.get_string_width(s) > w - 1:
            s = self.font(s[:-2] + "…", size, bold)
        if color:
            self.pdf.set_text_color(*color)
        self.pdf.cell(w, h, s, border=border, align=align)
        if color:
            self.pdf.set_text_color(0, 0, 0)
        if ln:
            self.pdf.ln(h)

    def heading(self, s: str) -> None:
        if self.pdf.will_page_break(40):
            self.pdf.add_page()
        self.pdf.ln(3)
        self.text(0, s, size=12, bold=True, h=7, ln=True)

    def note(self, s: str) -> None:
        self.text(0, s, size=8, h=5, ln=True, color=(90, 90, 90))

    def name(self, en: str, zh: str) -> str:
        return (zh or en) if self.lang == "zh" else (en or zh)


def _pct(v: float | None, digits: int = 2) -> str:
    return "–" if v is None else f"{v * 100:.{digits}f}%"


def _num(v: float | None, digits: int = 3) -> str:
    return "–" if v is None else f"{v:.{digits}f}"


def _value(v: float | None, unit: str) -> str:
    return _pct(v) if unit == "ratio" else _num(v, 2)


def _rag_label(rag: str) -> str:
    return {"red": pgettext("risk report", "Red"), "amber": pgettext("risk report", "Amber"), "green": pgettext("risk report", "Green"),
            "none": pgettext("risk report", "No value")}.get(rag, rag)


def _bucket_label(i: int) -> str:
    return [pgettext("risk report", "Current"), pgettext("risk report", "1–30 days"),
            pgettext("risk report", "31–60 days"), pgettext("risk report", "61–90 days"),
            pgettext("risk report", "91–180 days"), pgettext("risk report", "181–270 days"),
            pgettext("risk report", "271–360 days"), pgettext("risk report", "Over 360 days")][i]


def _channel_label(code: str) -> str:
    return {"web": pgettext("risk report", "Online"), "app": pgettext("risk report", "Mobile app"),
            "api": pgettext("risk report", "Partner API"), "branch": pgettext("risk report", "At a branch"),
            "batch": pgettext("risk report", "Batch"),
            "booked": pgettext("risk report", "Booked without an application")}.get(code, code)


def _member(dimension: str, member: str, lang: str, names: dict[str, dict[str, tuple[str, str]]], *,
            prefix: bool = True) -> str:
    """Where a figure is: the dimension in words and the member as a person reads it."""
    if dimension == "total":
        return pgettext("risk report", "Whole institution")
    if member in ("", "-"):
        text = pgettext("risk report", "Not recorded")
    elif dimension == "industry" and member in INDUSTRY_SECTIONS:
        zh, en, _lo, _hi = INDUSTRY_SECTIONS[member]
        text = f"{member} {zh if lang == 'zh' else en}"
    elif dimension == "region" and member[:2] in PROVINCES:
        zh, en = PROVINCES[member[:2]]
        text = zh if lang == "zh" else en
    elif dimension == "channel":
        text = _channel_label(member)
    elif dimension in names and member in names[dimension]:
        zh, en = names[dimension][member]
        text = f"{member} {zh if lang == 'zh' else en}"
    else:
        text = member
    if dimension in ("branch", "region") or not prefix:
        return text
    label = DIMENSIONS.get(dimension)
    name = (label[1] if lang == "zh" else label[0]) if label else dimension
    return f"{name}：{text}" if lang == "zh" else f"{name}: {text}"


def _line_chart(doc: _Pdf, x: float, y: float, w: float, h: float, labels: Sequence[str],
                series: Sequence[tuple[str, Sequence[float | None]]], *, percent: bool = True) -> float:
    """Lines over categorical x labels, with a y axis from 0 and a legend below; returns the height used."""
    pdf = doc.pdf
    values = [v for _n, vals in series for v in vals if v is not None]
    top = max(values) if values else 1.0
    top = top * 1.15 if top > 0 else 1.0
    left, bottom = x + 14, y + h - 8
    plot_w, plot_h = w - 16, h - 12
    pdf.set_draw_color(180, 180, 180)
    pdf.set_line_width(0.2)
    for k in range(5):
        yy = bottom - plot_h * k / 4
        pdf.line(left, yy, left + plot_w, yy)
        doc.pdf.set_xy(x, yy - 2)
        doc.text(13, _pct(top * k / 4, 1) if percent else _num(top * k / 4, 2), size=6, align="R", h=4)
    n = max(1, len(labels))
    step = plot_w / max(1, n - 1) if n > 1 else plot_w
    every = max(1, n // 12)
    for k, lab in enumerate(labels):
        if k % every == 0:
            doc.pdf.set_xy(left + k * step - 7, bottom + 1)
            doc.text(14, lab, size=6, align="C", h=4)
    for s, (_name, vals) in enumerate(series):
        color = _COLORS[s % len(_COLORS)]
        pdf.set_draw_color(*color)
        pdf.set_line_width(0.5)
        points: list[tuple[float, float]] = []
        for k, v in enumerate(vals):
            if v is None:
                if len(points) > 1:
                    pdf.polyline(points)
                points = []
                continue
            points.append((left + k * step, bottom - plot_h * (v / top)))
        if len(points) > 1:
            pdf.polyline(points)
        elif len(points) == 1:
            pdf.circle(points[0][0], points[0][1], 0.8)
    pdf.set_line_width(0.2)
    # the legend
    pdf.set_xy(x, y + h)
    used = 0.0
    for s, (name, _vals) in enumerate(series):
        color = _COLORS[s % len(_COLORS)]
        if used + 40 > w:
            pdf.ln(4)
            pdf.set_x(x)
            used = 0.0
        pdf.set_fill_color(*color)
        pdf.rect(pdf.get_x(), pdf.get_y() + 1.2, 3, 1.6, style="F")
        pdf.set_x(pdf.get_x() + 4)
        doc.text(36, name, size=7, h=4)
        used += 40
    pdf.ln(5)
    pdf.set_draw_color(0, 0, 0)
    return h + 5


def _bars(doc: _Pdf, rows: Sequence[tuple[str, float]], *, label_w: float = 60, bar_w: float = 90,
          color: tuple[int, int, int] = (11, 92, 173)) -> None:
    """Horizontal bars of shares (0–1) with their labels and percentages."""
    pdf = doc.pdf
    top = max([v for _l, v in rows] + [1e-9])
    for label, v in rows:
        doc.text(label_w, label, size=8)
        x, y = pdf.get_x(), pdf.get_y()
        pdf.set_fill_color(*color)
        pdf.rect(x, y + 1, max(0.3, bar_w * v / top), 3, style="F")
        pdf.set_x(x + bar_w + 2)
        doc.text(20, _pct(v, 1), size=8, align="R", ln=True)


def render_pdf(report: MonthlyReport, lang: str) -> bytes:
    """The report as a PDF, in the active language (`lang` picks the names stored in both languages)."""
    title = pgettext("risk report", "Monthly risk report")
    doc = _Pdf(f"{title} {report.month}", lang)
    pdf = doc.pdf
    month_text = (f"{report.first.year}年{report.first.month}月" if lang == "zh" else
                  report.first.strftime("%B %Y"))
    doc.text(0, f"{title} · {month_text}", size=16, bold=True, h=9, ln=True)
    doc.note(pgettext("risk report", "Figures as they stood at the end of %(month)s; generated on %(day)s.")
             % {"month": month_text, "day": report.generated_on.isoformat()})
    names = {"branch": {b.code: (b.name, b.name_en or b.name) for b in Branch.objects.all()},
             "product": {p.code: (p.name, p.name) for p in Product.objects.all()}}

    # 1. key indicators, red first
    doc.heading("1. " + pgettext("risk report", "Key risk indicators"))
    if not report.indicators:
        doc.note(pgettext("risk report", "No indicator run in this month."))
    else:
        doc.note(pgettext("risk report", "The last run of the month, %(day)s, for the whole institution; red first.")
                 % {"day": report.indicators_as_of.isoformat() if report.indicators_as_of else ""})
        cols: tuple[tuple[str, int], ...] = ((pgettext("risk report", "Indicator"), 86), (pgettext("risk report", "Value"), 30), (pgettext("risk report", "Previous"), 30), (pgettext("risk report", "Signal"), 30))
        for name, w in cols:
            doc.text(w, name, bold=True, border="B", size=8, align="L" if w == 86 else "R")
        pdf.ln(5)
        for r in report.indicators:
            if pdf.will_page_break(5):
                pdf.add_page()
            doc.text(86, doc.name(r.name_en, r.name_zh), size=8)
            doc.text(30, _value(r.value, r.unit), size=8, align="R")
            doc.text(30, _value(r.previous, r.unit), size=8, align="R")
            doc.text(30, _rag_label(r.rag), size=8, align="R", ln=True, color=_RAG_COLORS.get(r.rag))

    # 2. NPL and overdue trend
    doc.heading("2. " + pgettext("risk report", "NPL and overdue trend"))
    if not any(v is not None for vals in report.trend.values() for v in vals):
        doc.note(pgettext("risk report", "No indicator values in the last twelve months."))
    else:
        npl = report.trend_names["npl_ratio"]
        o90 = report.trend_names["overdue_90_plus"]
        series = [(doc.name(*npl), report.trend["npl_ratio"]),
                  (pgettext("risk report", "Overdue ratio (1 day or more)"), report.trend["overdue"]),
                  (doc.name(*o90), report.trend["overdue_90_plus"])]
        y = pdf.get_y()
        used = _line_chart(doc, pdf.l_margin, y, 180, 60, report.trend_months, series)
        pdf.set_y(y + used + 2)
        latest = [(name, next((v for v in reversed(vals) if v is not None), None)) for name, vals in series]
        doc.note("; ".join(f"{name} {_pct(v)}" for name, v in latest))

    # 3. the transition matrix
    doc.heading("3. " + pgettext("risk report", "Delinquency transitions and roll rates"))
    if report.matrix is None:
        doc.note(pgettext("risk report", "No snapshot of the book at both month-ends: the transitions cannot be computed."))
    else:
        doc.note(pgettext("risk report", "Principal outstanding at %(a)s by delinquency bucket, and where it stood at %(b)s (share of the "
                   "row).") % {"a": report.previous_as_of.isoformat() if report.previous_as_of else "",
                               "b": report.snapshot_as_of.isoformat() if report.snapshot_as_of else ""})
        states = [i for i in range(len(BUCKETS)) if sum(report.matrix[i]) > 0 or
                  sum(row[i] for row in report.matrix) > 0] or [0]
        width = min(18.0, 150 / len(states))
        doc.text(30, "", size=7, border="B")
        for j in states:
            doc.text(width, _bucket_label(j), size=6, bold=True, align="R", border="B")
        pdf.ln(5)
        for i in states:
            total = sum(report.matrix[i])
            doc.text(30, _bucket_label(i), size=7, bold=True)
            for j in states:
                doc.text(width, _pct(report.matrix[i][j] / total, 1) if total else "–", size=7, align="R")
            pdf.ln(5)
        rolls = [f"{_bucket_label(i)} → {_bucket_label(i + 1)} {_pct(r, 1)}"
                 for i, r in enumerate(report.roll_rates) if r is not None]
        if rolls:
            doc.note(pgettext("risk report", "Roll rates: %(rates)s") % {"rates": "; ".join(rolls)})

    # 4. vintage curves
    doc.heading("4. " + pgettext("risk report", "Vintage curves"))
    if not report.vintage_cohorts:
        doc.note(pgettext("risk report", "No loan originated in the last twelve months has been kept in a month-end snapshot."))
    else:
        doc.note(pgettext("risk report", "Share of each origination month's loans that have been more than %(d)s days past due, by "
                   "month on book.") % {"d": VINTAGE_BAD_DPD})
        longest = max(len(v) for v in report.vintage_rates.values())
        labels = [str(k) for k in range(longest)]
        series = [(f"{c} (n={report.vintage_sizes[c]})", report.vintage_rates[c]) for c in report.vintage_cohorts]
        y = pdf.get_y()
        used = _line_chart(doc, pdf.l_margin, y, 180, 60, labels, series)
        pdf.set_y(y + used + 2)
        doc.note(pgettext("risk report", "Horizontal axis: months on book."))

    # 5. concentration
    doc.heading("5. " + pgettext("risk report", "Concentration"))
    if report.snapshot_as_of is None:
        doc.note(pgettext("risk report", "No snapshot of the book in this month."))
    else:
        doc.note(pgettext("risk report", "%(n)s loans on the book at %(day)s, principal outstanding %(amount)s yuan.") % {
            "n": report.loans_on_book, "day": report.snapshot_as_of.isoformat(),
            "amount": format_minor(report.outstanding_minor)})
        total = report.outstanding_minor or 1
        top10 = sum(v for _k, v in report.top_customers)
        doc.text(0, pgettext("risk report", "The ten largest borrowers: %(share)s of principal outstanding.") % {
            "share": _pct(top10 / total, 1)}, size=9, ln=True)
        titles = {"industry": pgettext("risk report", "Largest industries"), "region": pgettext("risk report", "Largest regions"),
                  "branch": pgettext("risk report", "Largest branches")}
        for dim in ("industry", "region", "branch"):
            rows = report.shares.get(dim) or []
            if not rows:
                continue
            if pdf.will_page_break(35):
                pdf.add_page()
            doc.text(0, titles[dim], size=9, bold=True, ln=True)
            _bars(doc, [(_member(dim, k, lang, names, prefix=False), v / total) for k, v in rows])

    # 6. the models' stability
    doc.heading("6. " + pgettext("risk report", "Scoring models' stability"))
    if not report.models:
        doc.note(pgettext("risk report", "No model was monitored in this month (creditplan risk monitor-models runs weekly)."))
    else:
        cols = ((pgettext("risk report", "Model"), 44), (pgettext("risk report", "Role"), 24), (pgettext("risk report", "Week"), 22), (pgettext("risk report", "Applications"), 22), ("PSI", 16),
                (pgettext("risk report", "Score stability"), 26), (pgettext("risk report", "Overall"), 26))
        for name, w in cols:
            doc.text(w, name, bold=True, border="B", size=8)
        pdf.ln(5)
        for m in report.models:
            score = m.get("score") or {}
            doc.text(44, f"{m.get('model', '')} v{m.get('number', '')}", size=8)
            doc.text(24, role_label(str(m.get("role", "other"))), size=8)
            doc.text(22, str(m.get("week", "")), size=8)
            doc.text(22, str(m.get("decisions", 0)), size=8)
            doc.text(16, _num(score.get("psi")), size=8)
            v = str(score.get("verdict", "insufficient_data"))
            doc.text(26, verdict_label(v), size=8, color=_VERDICT_COLORS.get(v))
            overall = str(m.get("verdict", "insufficient_data"))
            doc.text(26, verdict_label(overall), size=8, ln=True, color=_VERDICT_COLORS.get(overall))
            notes = []
            if not m.get("has_reference"):
                notes.append(pgettext("risk report", "No development profile: retrain or re-register to monitor stability."))
            moved = [f for f in m.get("features") or [] if f.get("verdict") in ("watch", "act")][:3]
            texts = m.get("feature_texts") or {}
            if moved:
                items = [(_feature_words(f["name"], texts, lang), _num(f.get("psi")),
                          verdict_label(f.get("verdict"))) for f in moved]
                listed = ("；".join(f"{n}（CSI {v}，{w}）" for n, v, w in items) if lang == "zh" else
                          "; ".join(f"{n} (CSI {v}, {w})" for n, v, w in items))
                notes.append(pgettext("risk report", "Features that moved: %(list)s") % {"list": listed})
            matured = [c for c in m.get("cohorts") or [] if c.get("gini") is not None]
            if matured:
                c = matured[-1]
                notes.append(pgettext("risk report", "Latest matured cohort %(c)s: Gini %(g)s (development %(d)s), %(v)s") % {
                    "c": c["cohort"], "g": _num(c["gini"]), "d": _num(c.get("development_gini")),
                    "v": verdict_label(c.get("verdict"))})
            for n in notes:
                doc.text(6, "", size=7)
                doc.text(0, n, size=7, ln=True, color=(90, 90, 90))

    # 7. open alerts
    doc.heading("7. " + pgettext("risk report", "Alerts open at the month's end"))
    if not report.alerts:
        doc.note(pgettext("risk report", "No alert was open at the end of the month."))
    else:
        shown = report.alerts[:MAX_ALERTS]
        cols = ((pgettext("risk report", "Indicator"), 58), (pgettext("risk report", "Where"), 62),
                (pgettext("risk report", "Value"), 22), (pgettext("risk report", "Signal"), 16),
                (pgettext("risk report", "Raised on"), 24))
        for name, w in cols:
            doc.text(w, name, bold=True, border="B", size=8)
        pdf.ln(5)
        for a in shown:
            if pdf.will_page_break(5):
                pdf.add_page()
            doc.text(58, doc.name(a.name_en, a.name_zh), size=8)
            doc.text(62, _member(a.dimension, a.member, lang, names), size=8)
            doc.text(22, _value(a.value, a.unit), size=8, align="R")
            doc.text(16, _rag_label(a.rag), size=8, align="C", color=_RAG_COLORS.get(a.rag))
            doc.text(24, a.raised_on.isoformat(), size=8, ln=True)
        if len(report.alerts) > len(shown):
            doc.note(pgettext("risk report", "And %(n)s more open alerts: the complete list is on the alerts page.")
                     % {"n": len(report.alerts) - len(shown)})
    return bytes(pdf.output())


def _feature_words(name: str, texts: Mapping[str, Any], lang: str) -> str:
    """A feature in words: the model's own text, unless it is only the feature's code (the behaviour model's are)."""
    from creditplan.risk.monitoring_labels import feature_label

    text = (texts.get(name) or {}).get(lang)
    return text if text and text != name else feature_label(name)
