"""The validation report: a JSON-ready dict of measures and a standalone HTML page drawing them.

Why standalone HTML with hand-drawn SVG: the report is evidence in a model approval file. It must open
offline, years later, in any browser, without JavaScript or a chart library, and embed unchanged in the
app's page. Everything is computed by scoring the compiled artifact, so it validates what will serve.

Contents: AUC, KS and Gini with bootstrap intervals per sample; ROC and KS curves; calibration by grade;
score distribution of goods and bads; per-feature bins (count, event rate, WoE, IV, points) with a
PSI per feature; score PSI between the reference (training) and the current (hold-out or validation)
sample; and, when dates are given, stability over time by month or quarter.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from creditplan.scoring.domain import metrics
from creditplan.scoring.domain.scorer import CompiledModel, ScoreResult

COLORS = ("#1f5fa8", "#d9822b", "#2e8b57", "#8e44ad", "#c0392b")


def _woe_iv(counts: np.ndarray, bads: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """WoE = ln(good share / bad share) per bin (0.5 added to empty cells) and each bin's IV part."""
    goods = counts - bads
    g = (goods + 0.5) / (goods.sum() + 0.5 * goods.size)
    b = (bads + 0.5) / (bads.sum() + 0.5 * bads.size)
    woe = np.log(g / b)
    return woe, (g - b) * woe


def _scorecard_features(
    model: CompiledModel, X_ref: Any, y_ref: np.ndarray, X_cur: Any | None, y_cur: np.ndarray | None
) -> list[dict[str, Any]]:
    ref_bins = model.bin_indices(X_ref)
    cur_bins = model.bin_indices(X_cur) if X_cur is not None else None
    specs = {f["name"]: f for f in model.artifact["scorecard"]["features"]}
    out = []
    for name, idx in ref_bins.items():
        spec = specs[name]
        n_regular = len(spec["points"])
        labels = list(spec.get("labels") or [str(i) for i in range(n_regular)]) + ["Special", "Missing"]
        points = list(spec["points"]) + [spec.get("special_points", 0.0), spec["missing_points"]]
        size = n_regular + 2
        counts = np.bincount(idx, minlength=size).astype(np.float64)
        bads = np.bincount(idx, weights=y_ref, minlength=size)
        woe, iv = _woe_iv(counts, bads)
        rows = []
        cur_counts = (
            np.bincount(cur_bins[name], minlength=size).astype(np.float64) if cur_bins is not None else None
        )
        cur_bads = (
            np.bincount(cur_bins[name], weights=y_cur, minlength=size)
            if cur_bins is not None and y_cur is not None
            else None
        )
        for i in range(size):
            if i >= n_regular and counts[i] == 0 and (cur_counts is None or cur_counts[i] == 0):
                continue  # an empty special or missing bin says nothing
            row = {
                "bin": labels[i],
                "points": float(points[i]),
                "count": int(counts[i]),
                "share": float(counts[i] / max(1.0, counts.sum())),
                "bads": int(bads[i]),
                "event_rate": float(bads[i] / counts[i]) if counts[i] else None,
                "woe": float(woe[i]),
                "iv": float(iv[i]),
            }
            if cur_counts is not None:
                row["cur_count"] = int(cur_counts[i])
                row["cur_share"] = float(cur_counts[i] / max(1.0, cur_counts.sum()))
                if cur_bads is not None:
                    row["cur_event_rate"] = float(cur_bads[i] / cur_counts[i]) if cur_counts[i] else None
            rows.append(row)
        entry: dict[str, Any] = {"name": name, "type": spec["type"], "iv": float(iv.sum()), "bins": rows}
        if cur_counts is not None and cur_counts.sum() > 0:
            value = metrics.psi_from_counts(counts, cur_counts)
            entry["psi"] = value
            entry["psi_status"] = metrics.psi_status(value, int(counts.sum()), int(cur_counts.sum()))
        out.append(entry)
    return out


def _tree_features(
    model: CompiledModel, X_ref: Any, y_ref: np.ndarray, X_cur: Any | None, y_cur: np.ndarray | None
) -> list[dict[str, Any]]:
    """For tree models: deciles (numeric) or categories (by bad-rate rank) of each feature."""
    ref = model.model_matrix(X_ref)
    cur = model.model_matrix(X_cur) if X_cur is not None else None
    specs = model.artifact["model_features"]
    out = []
    for j, spec in enumerate(specs):
        x = ref[:, j]
        if spec["type"] == "categorical":
            edges = np.arange(len(spec["categories"]) - 1) + 0.5
            labels = list(spec["categories"])
        else:
            finite = x[~np.isnan(x)]
            edges = (
                np.unique(np.quantile(finite, np.linspace(0, 1, 11)[1:-1])) if finite.size else np.array([])
            )
            bounds = [-math.inf, *edges.tolist(), math.inf]
            labels = [f"({bounds[i]:.6g}, {bounds[i + 1]:.6g}]" for i in range(len(bounds) - 1)]
        labels = [*labels, "Missing"]

        def bins(v: np.ndarray, edges: np.ndarray = edges) -> np.ndarray:
            b = np.searchsorted(edges, v, side="left")
            b[np.isnan(v)] = edges.size + 1
            return b

        size = edges.size + 2
        idx = bins(x)
        counts = np.bincount(idx, minlength=size).astype(np.float64)
        bads = np.bincount(idx, weights=y_ref, minlength=size)
        woe, iv = _woe_iv(counts, bads)
        cur_counts = (
            np.bincount(bins(cur[:, j]), minlength=size).astype(np.float64) if cur is not None else None
        )
        rows = []
        for i in range(size):
            if counts[i] == 0 and (cur_counts is None or cur_counts[i] == 0):
                continue
            row = {
                "bin": labels[i],
                "count": int(counts[i]),
                "share": float(counts[i] / max(1.0, counts.sum())),
                "bads": int(bads[i]),
                "event_rate": float(bads[i] / counts[i]) if counts[i] else None,
                "woe": float(woe[i]),
                "iv": float(iv[i]),
            }
            if cur_counts is not None:
                row["cur_count"] = int(cur_counts[i])
                row["cur_share"] = float(cur_counts[i] / max(1.0, cur_counts.sum()))
            rows.append(row)
        entry: dict[str, Any] = {
            "name": spec["name"],
            "type": spec["type"],
            "iv": float(iv.sum()),
            "bins": rows,
        }
        if cur_counts is not None and cur_counts.sum() > 0:
            value = metrics.psi_from_counts(counts, cur_counts)
            entry["psi"] = value
            entry["psi_status"] = metrics.psi_status(value, int(counts.sum()), int(cur_counts.sum()))
        out.append(entry)
    return out


def _sample_block(
    label: str,
    result: ScoreResult,
    y: np.ndarray,
    grades: Sequence[str],
    edges: Sequence[float],
    *,
    n_boot: int,
    seed: int,
) -> dict[str, Any]:
    block = metrics.metric_summary(y, result.pd, n_boot=n_boot, seed=seed)
    block.update(
        {
            "label": label,
            "roc": metrics.roc_curve(y, result.pd),
            "ks_curve": metrics.ks_curve(y, result.score),
            "calibration": metrics.calibration_by_grade(y, result.pd, result.grade, grades),
            "histogram": metrics.score_histogram(result.score, y, edges=edges),
            "mean_score": float(result.score.mean()),
            "mean_pd": float(result.pd.mean()),
            "warnings": result.warning_counts(),
        }
    )
    return block


def _stability(
    model: CompiledModel,
    ref_scores: np.ndarray,
    frames: list[tuple[Any, np.ndarray | None, Any]],
    period: str,
) -> list[dict[str, Any]]:
    scores, ys, dates = [], [], []
    for X, y, d in frames:
        if d is None:
            continue
        res = model.score_frame(X, reasons=False)
        scores.append(res.score)
        ys.append(np.asarray(y))
        dates.append(pd.to_datetime(pd.Series(np.asarray(d)), errors="coerce", format="mixed"))
    if not dates:
        return []
    s = np.concatenate(scores)
    yy = np.concatenate(ys)
    dd = pd.concat(dates, ignore_index=True)
    keys = dd.dt.to_period(period).astype(str).where(dd.notna(), "unknown").to_numpy()
    out = []
    for key in sorted(set(keys)):
        m = keys == key
        ps = metrics.psi(ref_scores, s[m])
        row = {
            "period": key,
            "rows": int(m.sum()),
            "bads": int(yy[m].sum()),
            "bad_rate": float(yy[m].mean()),
            "mean_score": float(s[m].mean()),
            "auc": metrics.auc(yy[m], -s[m]) if 0 < yy[m].sum() < m.sum() else None,
            "psi": ps["psi"],
            "psi_status": ps["status"],
        }
        out.append(row)
    return out


def build_report(
    model: CompiledModel,
    X_ref: Any,
    y_ref: Any,
    X_cur: Any | None = None,
    y_cur: Any | None = None,
    *,
    labels: tuple[str, str] = ("train", "holdout"),
    dates_ref: Any | None = None,
    dates_cur: Any | None = None,
    period: str = "M",
    n_boot: int = 200,
    seed: int = 0,
    title: str | None = None,
) -> dict[str, Any]:
    """All the measures of the report as plain JSON-ready data.

    ``X_ref``/``y_ref`` is the reference sample (training), ``X_cur``/``y_cur`` the one validated against it
    (hold-out, or a later population). Dates, when given, add stability by ``period`` ("M" or "Q").
    """
    if period not in ("M", "Q", "Y"):
        raise ValueError("period must be M, Q or Y")
    yr = np.asarray(y_ref).astype(np.int8)
    yc = None if y_cur is None else np.asarray(y_cur).astype(np.int8)
    grades = [str(g) for g in model.grades]
    ref_res = model.score_frame(X_ref)
    cur_res = model.score_frame(X_cur) if X_cur is not None else None
    all_scores = ref_res.score if cur_res is None else np.concatenate([ref_res.score, cur_res.score])
    lo, hi = float(np.floor(all_scores.min() / 10) * 10), float(np.ceil(all_scores.max() / 10) * 10)
    edges = np.linspace(lo, hi if hi > lo else lo + 10, 21).tolist()
    samples = [_sample_block(labels[0], ref_res, yr, grades, edges, n_boot=n_boot, seed=seed)]
    if cur_res is not None and yc is not None:
        samples.append(_sample_block(labels[1], cur_res, yc, grades, edges, n_boot=n_boot, seed=seed))
    features = (
        _scorecard_features(model, X_ref, yr, X_cur, yc)
        if model.kind == "scorecard"
        else _tree_features(model, X_ref, yr, X_cur, yc)
    )
    art = model.artifact
    training = art.get("training", {})
    report: dict[str, Any] = {
        "title": title or f"Validation report: {art.get('name', model.kind)}",
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "model": {
            "name": art.get("name"),
            "kind": model.kind,
            "created_at": art.get("created_at"),
            "data_fingerprint": training.get("data_fingerprint"),
            "features": list(model.features),
            "scaling": dict(art["scaling"]),
            "master_scale": list(art["master_scale"]),
            "training_metrics": training.get("metrics"),
        },
        "labels": list(labels),
        "samples": samples,
        "features": features,
        "score_psi": metrics.psi(ref_res.score, cur_res.score) if cur_res is not None else None,
        "stability": _stability(
            model,
            ref_res.score,
            [(X_ref, yr, dates_ref), *([(X_cur, yc, dates_cur)] if X_cur is not None else [])],
            period,
        ),
        "headline": {
            s["label"]: {"auc": s["auc"], "ks": s["ks"], "gini": s["gini"], "rows": s["rows"]}
            for s in samples
        },
    }
    cleaned: dict[str, Any] = _clean(report)
    return cleaned


def _clean(obj: Any) -> Any:
    """NaN → None and numpy scalars → Python, so the report is strict JSON."""
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


# --- HTML ------------------------------------------------------------------------------------------------------

_CSS = """
body{font-family:"Noto Sans CJK SC","PingFang SC","Microsoft YaHei",system-ui,sans-serif;margin:24px;color:#222;max-width:1180px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
h3{font-size:14px;margin:16px 0 6px}.muted{color:#666;font-size:12px}
table{border-collapse:collapse;font-size:12px;margin:6px 0 12px}th,td{border:1px solid #ddd;padding:3px 7px;text-align:right}
th{background:#f4f6f8}td.l,th.l{text-align:left}.grid{display:flex;flex-wrap:wrap;gap:18px}
.card{border:1px solid #e3e3e3;border-radius:6px;padding:10px}.ok{color:#2e7d32}.watch{color:#b26a00}.act{color:#c62828}
svg text{font-size:11px;fill:#333}
"""


def _e(x: Any) -> str:
    return html.escape(str(x), quote=True)


def _fmt(x: Any, digits: int = 3) -> str:
    if x is None:
        return "–"
    if isinstance(x, float):
        return f"{x:.{digits}f}"
    return _e(x)


def _pct(x: Any) -> str:
    return "–" if x is None else f"{100 * float(x):.1f}%"


def _ci(pair: Any) -> str:
    return "–" if not pair or pair[0] is None else f"[{pair[0]:.3f}, {pair[1]:.3f}]"


def _axis_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """Round tick values (steps of 1, 2, 2.5 or 5 × 10^k) inside [lo, hi]."""
    span = hi - lo
    if span <= 0:
        return [lo]
    raw = span / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step - 1e-9) * step
    ticks = []
    v = first
    while v <= hi + 1e-9 * span:
        ticks.append(round(v, 10))
        v += step
    return ticks


def _line_chart(
    series: list[tuple[str, Sequence[float], Sequence[float]]],
    *,
    x_range: tuple[float, float],
    y_range: tuple[float, float],
    x_label: str,
    y_label: str,
    width: int = 360,
    height: int = 260,
    diagonal: bool = False,
    marker_x: float | None = None,
    h_lines: Sequence[tuple[float, str]] = (),
    x_labels: Sequence[str] | None = None,
) -> str:
    """A small SVG line chart: axes, ticks, one polyline per series and a legend.

    ``x_labels`` names integer x positions (periods) instead of numeric ticks.
    """
    ml, mr, mt, mb = 48, 12, 12, 40
    pw, ph = width - ml - mr, height - mt - mb
    (x0, x1), (y0, y1) = x_range, y_range
    x1 = x1 if x1 > x0 else x0 + 1
    y1 = y1 if y1 > y0 else y0 + 1

    def sx(v: float) -> float:
        return ml + (v - x0) / (x1 - x0) * pw

    def sy(v: float) -> float:
        return mt + ph - (v - y0) / (y1 - y0) * ph

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img">',
        f'<rect x="{ml}" y="{mt}" width="{pw}" height="{ph}" fill="#fff" stroke="#bbb"/>',
    ]
    if x_labels is not None:
        every = max(1, math.ceil(len(x_labels) / 6))
        x_ticks = [(float(i), str(x_labels[i])) for i in range(0, len(x_labels), every)]
    else:
        x_ticks = [(t, f"{t:.4g}") for t in _axis_ticks(x0, x1)]
    for t, text in x_ticks:
        parts.append(
            f'<line x1="{sx(t):.1f}" y1="{mt + ph}" x2="{sx(t):.1f}" y2="{mt + ph + 4}" stroke="#999"/>'
        )
        parts.append(f'<text x="{sx(t):.1f}" y="{mt + ph + 16}" text-anchor="middle">{_e(text)}</text>')
    for t in _axis_ticks(y0, y1):
        parts.append(f'<line x1="{ml - 4}" y1="{sy(t):.1f}" x2="{ml}" y2="{sy(t):.1f}" stroke="#999"/>')
        parts.append(f'<text x="{ml - 6}" y="{sy(t) + 4:.1f}" text-anchor="end">{t:.3g}</text>')
    parts.append(f'<text x="{ml + pw / 2}" y="{height - 6}" text-anchor="middle">{_e(x_label)}</text>')
    parts.append(
        f'<text x="12" y="{mt + ph / 2}" transform="rotate(-90 12 {mt + ph / 2})" text-anchor="middle">{_e(y_label)}</text>'
    )
    if diagonal:
        parts.append(
            f'<line x1="{sx(x0)}" y1="{sy(y0)}" x2="{sx(x1)}" y2="{sy(y1)}" stroke="#bbb" stroke-dasharray="4 3"/>'
        )
    for value, color in h_lines:
        if y0 <= value <= y1:
            parts.append(
                f'<line x1="{ml}" y1="{sy(value):.1f}" x2="{ml + pw}" y2="{sy(value):.1f}" stroke="{color}" stroke-dasharray="5 3"/>'
            )
    if marker_x is not None:
        parts.append(
            f'<line x1="{sx(marker_x):.1f}" y1="{mt}" x2="{sx(marker_x):.1f}" y2="{mt + ph}" stroke="#888" stroke-dasharray="2 2"/>'
        )
    for k, (name, xs, ys) in enumerate(series):
        color = COLORS[k % len(COLORS)]
        pts = " ".join(
            f"{sx(float(x)):.1f},{sy(float(y)):.1f}" for x, y in zip(xs, ys, strict=False) if y is not None
        )
        parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="1.8" points="{pts}"/>')
        parts.append(f'<rect x="{ml + 8}" y="{mt + 8 + 14 * k}" width="10" height="3" fill="{color}"/>')
        parts.append(f'<text x="{ml + 22}" y="{mt + 12 + 14 * k}">{_e(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _bar_chart(
    categories: Sequence[str],
    series: list[tuple[str, Sequence[float | None]]],
    *,
    y_label: str,
    width: int = 520,
    height: int = 260,
    percent: bool = True,
    rotate: bool = False,
) -> str:
    """Grouped bars, one group per category, one bar per series."""
    ml, mr, mt, mb = 52, 12, 12, 56 if rotate else 40
    pw, ph = width - ml - mr, height - mt - mb
    vals = [v for _, s in series for v in s if v is not None]
    top = max(vals) * 1.1 if vals and max(vals) > 0 else 1.0
    n = max(1, len(categories))
    group = pw / n
    bar = group * 0.8 / max(1, len(series))

    def sy(v: float) -> float:
        return mt + ph - v / top * ph

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img">',
        f'<rect x="{ml}" y="{mt}" width="{pw}" height="{ph}" fill="#fff" stroke="#bbb"/>',
    ]
    for t in _axis_ticks(0, top, 4):
        label = f"{100 * t:.4g}%" if percent else f"{t:.4g}"
        parts.append(f'<text x="{ml - 6}" y="{sy(t) + 4:.1f}" text-anchor="end">{label}</text>')
        parts.append(f'<line x1="{ml}" y1="{sy(t):.1f}" x2="{ml + pw}" y2="{sy(t):.1f}" stroke="#eee"/>')
    for i, cat in enumerate(categories):
        cx = ml + group * (i + 0.5)
        if rotate:
            parts.append(
                f'<text x="{cx:.1f}" y="{mt + ph + 12}" transform="rotate(45 {cx:.1f} {mt + ph + 12})">{_e(cat)}</text>'
            )
        else:
            parts.append(f'<text x="{cx:.1f}" y="{mt + ph + 16}" text-anchor="middle">{_e(cat)}</text>')
        for k, (_, values) in enumerate(series):
            v = values[i]
            if v is None:
                continue
            x = ml + group * i + group * 0.1 + bar * k
            parts.append(
                f'<rect x="{x:.1f}" y="{sy(v):.1f}" width="{bar:.1f}" height="{mt + ph - sy(v):.1f}" fill="{COLORS[k % len(COLORS)]}"/>'
            )
    for k, (name, _) in enumerate(series):
        parts.append(
            f'<rect x="{ml + 8}" y="{mt + 6 + 14 * k}" width="10" height="8" fill="{COLORS[k % len(COLORS)]}"/>'
        )
        parts.append(f'<text x="{ml + 22}" y="{mt + 14 + 14 * k}">{_e(name)}</text>')
    parts.append(
        f'<text x="12" y="{mt + ph / 2}" transform="rotate(-90 12 {mt + ph / 2})" text-anchor="middle">{_e(y_label)}</text>'
    )
    parts.append("</svg>")
    return "".join(parts)


_STATUS_WORDS = {"stable": ("stable", "稳定"), "watch": ("watch", "关注"), "act": ("act", "处置"),
                 "insufficient_data": ("insufficient data", "数据不足")}
_SAMPLE_WORDS = {"train": ("training", "训练集"), "holdout": ("hold-out", "验证集"), "reference": ("reference", "基准"),
                 "current": ("current", "当前")}
_KIND_WORDS = {"scorecard": ("scorecard", "评分卡"), "tree": ("decision tree", "决策树"),
               "gbm": ("gradient boosting", "梯度提升树"), "categorical": ("categories", "类别型"),
               "numeric": ("numeric", "数值型")}
_BIN_WORDS = {"Special": ("special values", "特殊值"), "Missing": ("missing", "缺失")}
_WARNING_WORDS = {"unseen_category": ("a category not seen in training", "训练中未出现的类别"),
                  "invalid_number": ("not a number", "非数字"), "out_of_range": ("out of the trained range", "超出训练范围")}
LANGUAGES = ("zh", "en")
"""The report is written in both languages, one after the other (`<section lang=…>`); a page that shows it picks
one with `report_language_style`."""


def report_language_style(language: str) -> str:
    """A style that shows only the `language` ("zh" or "en") part of a report (the other is hidden)."""
    other = "en" if language == "zh" else "zh-Hans"
    return f"<style>section[lang=\"{other}\"]{{display:none}}</style>"


def _status(value: str | None, lang: str = "en") -> str:
    cls = {"stable": "ok", "watch": "watch", "act": "act"}.get(value or "", "muted")
    pair = _STATUS_WORDS.get(value or "")
    return f'<span class="{cls}">{_e(_word(pair, lang) if pair else value or "–")}</span>'


def _word(pair: tuple[str, str], lang: str) -> str:
    return pair[1] if lang == "zh" else pair[0]


def _sample(label: str, lang: str) -> str:
    pair = _SAMPLE_WORDS.get(label)
    return _word(pair, lang) if pair else label


def _feature_name(name: str, lang: str) -> str:
    """A feature in the product's words where the vocabulary knows it (the demo's inputs), else its name."""
    from creditplan.scoring.domain.vocabulary import FEATURES

    pair = FEATURES.get(name)
    return _word(pair, lang) if pair else name


def _bin_label(feature: str, label: str, lang: str) -> str:
    """A bin's categories in words (the vocabulary's), "Special" / "Missing" translated, intervals as they are."""
    from creditplan.scoring.domain.vocabulary import VALUES

    if label in _BIN_WORDS:
        return _word(_BIN_WORDS[label], lang)
    categories = VALUES.get(feature)
    if not categories:
        return label
    parts = [c.strip() for c in label.split(",")]
    if not all(p in categories for p in parts):
        return label
    return ("、" if lang == "zh" else ", ").join(_word(categories[p], lang) for p in parts)


def render_report_html(report: dict[str, Any]) -> str:
    """The report as one self-contained HTML page (inline CSS, inline SVG, no script), in Chinese and in English:
    two sections, each wholly in its language (a page showing it hides one: `report_language_style`)."""
    sections = "".join(
        f'<section lang="{"zh-Hans" if lang == "zh" else "en"}">{_render_body(report, lang)}</section>'
        for lang in LANGUAGES)
    return ('<!DOCTYPE html><html lang="zh-Hans"><head><meta charset="utf-8">'
            f"<title>{_e(report['title'])}</title><style>{_CSS}</style></head><body>{sections}</body></html>")


def _render_body(report: dict[str, Any], lang: str) -> str:  # noqa: C901 - one page, top to bottom
    def t(en: str, zh: str) -> str:
        return zh if lang == "zh" else en

    model = report["model"]
    samples = report["samples"]
    kind = _KIND_WORDS.get(model["kind"])
    out: list[str] = [
        f"<h1>{t('Validation report', '模型验证报告')}: {_e(report['title'].split(': ', 1)[-1])}</h1>",
        f'<p class="muted">{t("Model", "模型")}: {_e(model["name"])} ({_e(_word(kind, lang) if kind else model["kind"])})'
        f' · {t("created", "创建")} {_e(model["created_at"])} · '
        f"{t('report', '报告')} {_e(report['generated_at'])}<br>{t('Training data fingerprint', '训练数据指纹')}: "
        f"{_e(model['data_fingerprint'])}</p>",
        f"<h2>{t('Discrimination', '区分能力')}</h2>",
        f"<table><tr><th class=l>{t('Sample', '样本')}</th><th>{t('Rows', '行数')}</th><th>{t('Bad rate', '坏账率')}"
        f"</th><th>AUC</th><th>{t('95% CI', '95% 置信区间')}</th>"
        f"<th>Gini</th><th>{t('95% CI', '95% 置信区间')}</th><th>KS</th><th>{t('95% CI', '95% 置信区间')}</th></tr>",
    ]
    for s in samples:
        out.append(
            f"<tr><td class=l>{_e(_sample(s['label'], lang))}</td><td>{s['rows']}</td><td>{_pct(s['bad_rate'])}</td><td>{_fmt(s['auc'])}</td>"
            f"<td>{_ci(s['auc_ci'])}</td><td>{_fmt(s['gini'])}</td><td>{_ci(s['gini_ci'])}</td><td>{_fmt(s['ks'])}</td>"
            f"<td>{_ci(s['ks_ci'])}</td></tr>"
        )
    out.append(
        f"</table><p class=muted>{t('Intervals: stratified bootstrap, percentile method.', '置信区间：分层自助法（百分位法）。')}</p>"
    )
    out.append('<div class="grid">')
    out.append(f'<div class="card"><h3>{t("ROC curve", "ROC 曲线")}</h3>')
    out.append(
        _line_chart(
            [(_sample(s["label"], lang), s["roc"]["fpr"], s["roc"]["tpr"]) for s in samples],
            x_range=(0, 1),
            y_range=(0, 1),
            x_label=t("goods declined", "误拒好客户比例"),
            y_label=t("bads declined", "拒绝坏客户比例"),
            diagonal=True,
        )
    )
    out.append("</div>")
    main = samples[-1]
    kc = main["ks_curve"]
    xs = kc["score"]
    out.append(
        f'<div class="card"><h3>{t("KS curve", "KS 曲线")} ({_e(_sample(main["label"], lang))}) · KS = {_fmt(kc["ks"])} '
        f'{t("at", "分数")} {kc["ks_score"]:.1f}</h3>'
    )
    out.append(
        _line_chart(
            [(t("bads", "坏客户"), xs, kc["cum_bad"]), (t("goods", "好客户"), xs, kc["cum_good"])],
            x_range=(min(xs), max(xs)),
            y_range=(0, 1),
            x_label=t("score", "分数"),
            y_label=t("cumulative share", "累计占比"),
            marker_x=kc["ks_score"],
        )
    )
    out.append("</div></div>")
    out.append(f"<h2>{t('Calibration by grade', '分级校准')}</h2>")
    grades = [g["grade"] for g in model["master_scale"]]
    cal = main["calibration"]
    out.append(
        _bar_chart(
            grades,
            [
                (t("predicted PD", "预测违约率"), [c["mean_pd"] for c in cal]),
                (t("observed bad rate", "实际坏账率"), [c["observed"] for c in cal]),
            ],
            y_label=t("rate", "比率"),
        )
    )
    out.append(f"<table><tr><th class=l>{t('Grade', '等级')}</th><th>{t('PD max', '违约率上限')}</th>"
               f"<th>{t('Score from', '分数下限')}</th>")
    for s in samples:
        out.append(f"<th>{_e(_sample(s['label'], lang))} {t('rows', '行数')}</th><th>{t('mean PD', '平均违约率')}</th>"
                   f"<th>{t('observed', '实际')}</th><th>{t('95% CI', '95% 置信区间')}</th>")
    out.append("</tr>")
    for i, g in enumerate(model["master_scale"]):
        smin = "–" if g.get("score_min") is None else f"{g['score_min']:.1f}"
        out.append(f"<tr><td class=l>{_e(g['grade'])}</td><td>{_pct(g['pd_max'])}</td><td>{smin}</td>")
        for s in samples:
            c = s["calibration"][i]
            ci = (
                "–" if not c["observed_ci"] else f"[{_pct(c['observed_ci'][0])}, {_pct(c['observed_ci'][1])}]"
            )
            out.append(
                f"<td>{c['rows']}</td><td>{_pct(c['mean_pd'])}</td><td>{_pct(c['observed'])}</td><td>{ci}</td>"
            )
        out.append("</tr>")
    out.append("</table>")
    out.append(f"<h2>{t('Score distribution', '分数分布')}</h2>")
    hist = main["histogram"]
    bands = [f"{hist['edges'][i]:.0f}" for i in range(len(hist["edges"]) - 1)]
    n_good, n_bad = max(1, sum(hist["good"])), max(1, sum(hist["bad"]))
    out.append(
        _bar_chart(
            bands,
            [(t("goods", "好客户"), [v / n_good for v in hist["good"]]),
             (t("bads", "坏客户"), [v / n_bad for v in hist["bad"]])],
            y_label=t("share", "占比"),
            width=760,
            rotate=True,
        )
    )
    if report.get("score_psi"):
        ps = report["score_psi"]
        out.append(
            f"<p>{t('Score PSI', '分数稳定性（PSI）')} ({_e(_sample(report['labels'][0], lang))} → "
            f"{_e(_sample(report['labels'][1], lang))}): <b>{_fmt(ps['psi'], 4)}</b> "
            f"{_status(ps['status'], lang)} <span class=muted>"
            + t("(&lt;0.10 stable, 0.10–0.25 watch, &gt;0.25 act; fewer than 500 rows: insufficient data)",
                "（&lt;0.10 稳定，0.10–0.25 关注，&gt;0.25 处置；少于 500 行：数据不足）") + "</span></p>"
        )
    if report.get("stability"):
        st = report["stability"]
        out.append(f"<h2>{t('Stability over time', '跨期稳定性')}</h2><div class=grid><div class=card>")
        periods = [r["period"] for r in st]
        xs_idx = list(range(len(periods)))
        out.append(
            _line_chart(
                [(t("bad rate", "坏账率"), xs_idx, [r["bad_rate"] for r in st])],
                x_range=(0, max(1, len(st) - 1)),
                y_range=(0, max(r["bad_rate"] for r in st) * 1.2 or 1),
                x_label=t("period", "期间"),
                y_label=t("bad rate", "坏账率"),
                x_labels=periods,
            )
        )
        out.append("</div><div class=card>")
        psis = [r["psi"] if r["psi"] is not None else 0.0 for r in st]
        out.append(
            _line_chart(
                [(t("score PSI", "分数 PSI"), xs_idx, psis)],
                x_range=(0, max(1, len(st) - 1)),
                y_range=(0, max(0.3, max(psis) * 1.2)),
                x_label=t("period", "期间"),
                y_label="PSI",
                h_lines=[(0.10, "#b26a00"), (0.25, "#c62828")],
                x_labels=periods,
            )
        )
        out.append(
            f"</div></div><table><tr><th class=l>{t('Period', '期间')}</th><th>{t('Rows', '行数')}</th>"
            f"<th>{t('Bad rate', '坏账率')}</th><th>{t('Mean score', '平均分')}</th><th>AUC</th><th>PSI</th>"
            f"<th class=l>{t('Status', '状态')}</th></tr>"
        )
        for r in st:
            out.append(
                f"<tr><td class=l>{_e(r['period'])}</td><td>{r['rows']}</td><td>{_pct(r['bad_rate'])}</td><td>{r['mean_score']:.1f}</td>"
                f"<td>{_fmt(r['auc'])}</td><td>{_fmt(r['psi'], 4)}</td><td class=l>{_status(r['psi_status'], lang)}</td></tr>"
            )
        out.append("</table>")
    out.append(f"<h2>{t('Features', '特征分箱')}</h2>")
    has_cur = len(samples) > 1
    for f in report["features"]:
        psi_txt = f" · PSI {_fmt(f['psi'], 4)} {_status(f.get('psi_status'), lang)}" if "psi" in f else ""
        ftype = _KIND_WORDS.get(f["type"])
        out.append(
            f"<h3>{_e(_feature_name(f['name'], lang))} <span class=muted>({_e(_word(ftype, lang) if ftype else f['type'])})"
            f" · IV {_fmt(f['iv'], 4)}{psi_txt}</span></h3>"
        )
        out.append(
            f"<table><tr><th class=l>{t('Bin', '分箱')}</th>"
            + (f"<th>{t('Points', '分值')}</th>" if "points" in (f["bins"][0] if f["bins"] else {}) else "")
            + f"<th>{t('Count', '数量')}</th><th>{t('Share', '占比')}</th><th>{t('Bads', '坏客户')}</th>"
            + f"<th>{t('Event rate', '坏账率')}</th><th>WoE</th><th>IV</th>"
            + (f"<th>{_e(_sample(report['labels'][1], lang))} {t('share', '占比')}</th>" if has_cur else "")
            + "</tr>"
        )
        for b in f["bins"]:
            pts = f"<td>{b['points']:.2f}</td>" if "points" in b else ""
            cur = f"<td>{_pct(b.get('cur_share'))}</td>" if has_cur else ""
            out.append(
                f"<tr><td class=l>{_e(_bin_label(f['name'], str(b['bin']), lang))}</td>{pts}<td>{b['count']}</td><td>{_pct(b['share'])}</td><td>{b['bads']}</td>"
                f"<td>{_pct(b['event_rate'])}</td><td>{_fmt(b['woe'])}</td><td>{_fmt(b['iv'], 4)}</td>{cur}</tr>"
            )
        out.append("</table>")
    warn = {k: v for s in samples for k, v in s["warnings"].items() if v}
    if warn:
        out.append(f"<h2>{t('Input warnings', '输入提示')}</h2><ul>")
        for s in samples:
            for k, v in s["warnings"].items():
                if v:
                    out.append(f"<li>{_e(_sample(s['label'], lang))}: "
                               f"{_e(_word(_WARNING_WORDS[k], lang) if k in _WARNING_WORDS else k)} × {v}</li>")
        out.append("</ul>")
    out.append(f"<p class=muted>{t('Generated by creditplan.', '由 creditplan 生成。')}</p>")
    return "".join(out)
