"""Reading training data and turning a raw table into model inputs without manual preparation.

Why here and not in each trainer: the scorecard, the tree and the LightGBM challenger must agree on which
columns are features, which are categorical and which derived features exist, and the compiled artifact
must record exactly that so scoring repeats it. Every refusal is a ``ValidationError`` with a stable code,
so the CLI, the API and the web page can each explain it in their own way.
"""

from __future__ import annotations

import hashlib
import importlib.util
import re
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from creditplan.core.errors import ValidationError
from creditplan.scoring.domain.features import canonical_category, canonical_category_array, compute_derived

#: Integer columns with at most this many distinct values are codes (status, education), binned as categories.
MAX_CODE_LEVELS = 12
#: A text column with more distinct values than this share of rows is free text or an identifier.
MAX_TEXT_UNIQUE_SHARE = 0.5
#: At least this many bads and goods are needed to fit anything meaningful.
MIN_CLASS_COUNT = 10

_ID_NAME = re.compile(r"(^|[_\s-])(id|identifier|编号|序号)$", re.IGNORECASE)
_SERIES_NAME = re.compile(r"^(.*\D)(\d+)$")


def load_table(path: str | Path) -> pd.DataFrame:
    """Read CSV (optionally gzipped), TSV, Parquet or Excel into a DataFrame.

    CSV is read as UTF-8 (with or without BOM) and falls back to GB18030, the encoding Excel on a Chinese
    Windows machine writes. Excel needs openpyxl; without it the error names the package to install.
    """
    p = Path(path)
    if not p.exists():
        raise ValidationError(f"data file {str(p)!r} does not exist", code="file_not_found", field="data")
    if p.is_dir():
        raise ValidationError(f"{str(p)!r} is a folder, not a data file", code="file_not_found", field="data")
    name = p.name.lower()
    try:
        if name.endswith((".csv", ".csv.gz", ".txt", ".txt.gz", ".tsv", ".tsv.gz", ".csv.bz2", ".csv.zip")):
            sep = "\t" if ".tsv" in name else None
            df = _read_csv(p, sep)
        elif name.endswith((".parquet", ".pq")):
            df = pd.read_parquet(p)
        elif name.endswith((".xlsx", ".xlsm")):
            if importlib.util.find_spec("openpyxl") is None:
                raise ValidationError(
                    "reading Excel files needs the 'openpyxl' package (pip install openpyxl); "
                    "or save the sheet as CSV",
                    code="missing_dependency",
                    field="data",
                )
            df = pd.read_excel(p, engine="openpyxl")
        elif name.endswith(".xls"):
            raise ValidationError(
                "old .xls workbooks are not supported; save the sheet as .xlsx or CSV",
                code="unsupported_format",
                field="data",
            )
        else:
            raise ValidationError(
                f"unsupported file type {p.suffix!r}: use CSV (.csv, .csv.gz), Parquet (.parquet) or Excel (.xlsx)",
                code="unsupported_format",
                field="data",
            )
    except ValidationError:
        raise
    except Exception as exc:  # a malformed file must become a clear message, never a traceback
        raise ValidationError(f"could not read {p.name}: {exc}", code="unreadable_file", field="data")
    if df.shape[0] == 0 or df.shape[1] == 0:
        raise ValidationError(f"{p.name} has no rows or no columns", code="empty_table", field="data")
    df.columns = [str(c).strip() for c in df.columns]
    if len(set(df.columns)) != len(df.columns):
        dupes = sorted({c for c in df.columns if list(df.columns).count(c) > 1})
        raise ValidationError(
            f"duplicate column names: {', '.join(dupes)}", code="duplicate_columns", field="data"
        )
    return df


def _read_csv(path: Path, sep: str | None) -> pd.DataFrame:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            delimiter = sep or _sniff_delimiter(path, encoding)
            return pd.read_csv(path, sep=delimiter, encoding=encoding)
        except UnicodeDecodeError:
            continue
    raise ValidationError(
        f"{path.name} is neither UTF-8 nor GB18030 text", code="unreadable_file", field="data"
    )


def _sniff_delimiter(path: Path, encoding: str) -> str:
    """Comma, semicolon, tab or pipe, whichever the header line uses most (European exports use ';')."""
    import bz2
    import gzip

    opener: Any = open
    name = path.name.lower()
    if name.endswith(".gz"):
        opener = gzip.open
    elif name.endswith(".bz2"):
        opener = bz2.open
    elif name.endswith(".zip"):
        return ","
    with opener(path, "rt", encoding=encoding, newline="") as fh:
        header = fh.readline()
    counts = {d: header.count(d) for d in (",", ";", "\t", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] > 0 else ","


def prepare_target(
    df: pd.DataFrame, target: str, bad_value: Any, *, exclude: Sequence[str] = ()
) -> tuple[pd.DataFrame, np.ndarray]:
    """Split a table into features and a 0/1 bad flag (1 = bad).

    ``bad_value`` is compared canonically, so ``--bad 2`` on the command line matches the integer 2 in the
    file. Rows whose target is missing are dropped. Columns that cannot be features (all missing, constant,
    identifiers, free text, dates) are dropped and listed in ``X.attrs["dropped"]`` with the reason.
    """
    if target not in df.columns:
        cols = ", ".join(map(str, df.columns))
        raise ValidationError(
            f"target column {target!r} is not in the data; available columns: {cols}",
            code="unknown_target",
            field="target",
        )
    labels = canonical_category_array(df[target].to_numpy())
    keep = np.array([v is not None for v in labels], dtype=bool)
    labels = labels[keep]
    observed = sorted({str(v) for v in labels})
    if len(observed) < 2:
        raise ValidationError(
            f"target column {target!r} has a single class ({', '.join(observed) or 'all missing'}); "
            "a model needs both good and bad outcomes",
            code="single_class",
            field="target",
        )
    bad = canonical_category(bad_value)
    if bad not in observed:
        shown = ", ".join(observed[:20])
        raise ValidationError(
            f"bad value {bad_value!r} does not occur in {target!r}; values found: {shown}",
            code="bad_value_not_found",
            field="bad",
        )
    y = (labels == bad).astype(np.int8)
    n_bad = int(y.sum())
    if min(n_bad, y.size - n_bad) < MIN_CLASS_COUNT:
        raise ValidationError(
            f"too few outcomes to learn from: {n_bad} bad and {y.size - n_bad} good rows "
            f"(at least {MIN_CLASS_COUNT} of each are needed)",
            code="too_few_events",
            field="target",
        )
    # the original index is kept, so a date column or row ids can be aligned with X.index
    X = df.loc[keep, [c for c in df.columns if c != target and c not in set(exclude)]]
    usable, dropped = usable_columns(X)
    if not usable:
        detail = "; ".join(f"{c}: {why}" for c, why in dropped.items()) or "no columns besides the target"
        raise ValidationError(
            f"the file has no usable feature column ({detail})", code="no_usable_feature", field="data"
        )
    X = X[usable].copy()
    X.attrs["dropped"] = dropped
    X.attrs["rows_without_target"] = int((~keep).sum())
    return X, y


def usable_columns(X: pd.DataFrame) -> tuple[list[str], dict[str, str]]:
    """The columns that can be features, and why each other one is not."""
    usable: list[str] = []
    dropped: dict[str, str] = {}
    n = len(X)
    for col in X.columns:
        s = X[col]
        non_null = s.dropna()
        if non_null.empty:
            dropped[col] = "all values missing"
            continue
        if pd.api.types.is_datetime64_any_dtype(s):
            dropped[col] = "date column (use it as the report's date column)"
            continue
        nunique = non_null.nunique()
        if nunique < 2:
            dropped[col] = "a single value"
            continue
        numeric = pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)
        if nunique == n and _ID_NAME.search(str(col)):
            dropped[col] = "identifier (unique per row)"
            continue
        if numeric and nunique == n and _is_row_counter(non_null):
            dropped[col] = "identifier (row counter)"
            continue
        text = not numeric and not _mostly_numeric(non_null)
        if text and _mostly_dates(non_null):
            dropped[col] = "dates as text (use it as the report's date column)"
            continue
        if text and nunique > max(MAX_CODE_LEVELS, MAX_TEXT_UNIQUE_SHARE * n):
            dropped[col] = f"free text or identifier ({nunique} distinct values)"
            continue
        usable.append(col)
    return usable, dropped


def _is_row_counter(s: pd.Series) -> bool:
    v = np.sort(s.to_numpy(dtype=np.float64))
    return bool(v.size > 2 and np.all(np.diff(v) == 1))


def _mostly_dates(s: pd.Series) -> bool:
    """Text that reads as dates ("2024-03-31", "2024/3/31"): a feature made of dates would leak time."""
    sample = s.iloc[:500].astype(str).str.strip()
    if not sample.str.contains(r"\d{4}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}", regex=True).all():
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parsed = pd.to_datetime(sample, errors="coerce", format="mixed")
    return bool(parsed.notna().mean() >= 0.95)


def _mostly_numeric(s: pd.Series) -> bool:
    sample = s.iloc[:2000]
    if pd.api.types.is_numeric_dtype(sample):
        return True
    parsed = pd.to_numeric(sample.astype(str).str.strip(), errors="coerce")
    return bool(parsed.notna().mean() >= 0.95)


# --- feature plan -----------------------------------------------------------------------------------------


@dataclass
class FeaturePlan:
    """Which raw columns feed the model, their kind, and the derived features computed from them.

    Why a plan object: it is decided once on the training data and written into the artifact; the scorer
    replays it on every batch.
    """

    types: dict[str, str]  # raw input column -> "numeric" | "categorical"
    derived: list[dict[str, Any]] = field(default_factory=list)

    @property
    def inputs(self) -> list[str]:
        return list(self.types)

    @property
    def feature_names(self) -> list[str]:
        return list(self.types) + [d["name"] for d in self.derived]

    def feature_type(self, name: str) -> str:
        return self.types.get(name, "numeric")

    def as_json(self) -> dict[str, Any]:
        return {
            "inputs": [{"name": n, "type": t} for n, t in self.types.items()],
            "derived": [dict(d) for d in self.derived],
        }


def infer_feature_types(
    X: pd.DataFrame,
    *,
    categorical: Iterable[str] = (),
    numeric: Iterable[str] = (),
    max_code_levels: int = MAX_CODE_LEVELS,
) -> dict[str, str]:
    """Numeric or categorical per column; explicit lists win over the rules.

    Rules: text, boolean and pandas category columns are categorical unless 95 % of their values parse
    as numbers; integer columns with at most ``max_code_levels`` distinct values are codes and binned as
    categories (repayment status −2…8, education 1…6), which lets the binning separate non-monotonic codes.
    """
    cat_set, num_set = set(categorical), set(numeric)
    unknown = (cat_set | num_set) - set(X.columns)
    if unknown:
        raise ValidationError(
            f"columns not in the data: {', '.join(sorted(unknown))}", code="unknown_column", field="features"
        )
    types: dict[str, str] = {}
    for col in X.columns:
        s = X[col]
        if col in cat_set:
            types[col] = "categorical"
        elif col in num_set:
            types[col] = "numeric"
        elif pd.api.types.is_bool_dtype(s):
            types[col] = "categorical"
        elif pd.api.types.is_numeric_dtype(s):
            values = s.dropna().to_numpy(dtype=np.float64)
            integral = bool(np.all(np.mod(values, 1) == 0)) if values.size else False
            types[col] = (
                "categorical" if integral and np.unique(values).size <= max_code_levels else "numeric"
            )
        elif _mostly_numeric(s.dropna()):
            types[col] = "numeric"
        else:
            types[col] = "categorical"
    return types


def detect_series_features(
    X: pd.DataFrame, types: dict[str, str], *, limit: int = 80
) -> list[dict[str, Any]]:
    """Aggregates over repeated monthly columns and their ratios to single amounts, found by name.

    Why: a WoE scorecard is additive, so it cannot see "worst delinquency of the last six months" or
    "balance relative to the credit limit" unless they exist as columns. Columns named ``<stem><n>``
    (PAY_0…PAY_6, BILL_AMT1…BILL_AMT6), at least three numeric ones per stem, form a series; each series
    gets max, min, mean, standard deviation, number of positive months and first-minus-last. Amount series
    (not codes) also get first-month and mean ratios to every other wide-range numeric column. The binning
    and the IV/correlation selection keep only the useful ones. Disable with ``auto_features=False``.
    """
    numeric_cols = [
        c for c in X.columns if pd.api.types.is_numeric_dtype(X[c]) and not pd.api.types.is_bool_dtype(X[c])
    ]
    groups: dict[str, list[tuple[int, str]]] = {}
    for col in numeric_cols:
        m = _SERIES_NAME.match(str(col))
        if m:
            groups.setdefault(m.group(1), []).append((int(m.group(2)), col))
    series = {stem: [c for _, c in sorted(members)] for stem, members in groups.items() if len(members) >= 3}
    in_series = {c for cols in series.values() for c in cols}
    scalars = [c for c in numeric_cols if c not in in_series and types.get(c) == "numeric"]
    taken = set(X.columns)
    specs: list[dict[str, Any]] = []

    def add(name: str, op: str, inputs: list[str]) -> None:
        if name not in taken and len(specs) < limit:
            taken.add(name)
            specs.append({"name": name, "op": op, "inputs": inputs})

    for stem, cols in sorted(series.items()):
        label = stem.rstrip("_ ") or stem
        for op in ("max", "min", "mean", "std", "count_positive"):
            add(f"{label}_{op}", op, cols)
        add(f"{label}_delta", "delta", [cols[0], cols[-1]])
        if _is_amount(X, cols):
            for scalar in scalars:
                add(f"{cols[0]}_per_{scalar}", "ratio", [cols[0], scalar])
                add(f"{label}_mean_per_{scalar}", "mean_ratio", [*cols, scalar])
    # two amount series over the same months (payments and bills): the smaller one as a share of the larger
    stems = sorted(s for s, cols in series.items() if _is_amount(X, cols))
    for i, a in enumerate(stems):
        for b in stems[i + 1 :]:
            sa = [int(_SERIES_NAME.match(c).group(2)) for c in series[a]]  # type: ignore[union-attr]
            sb = [int(_SERIES_NAME.match(c).group(2)) for c in series[b]]  # type: ignore[union-attr]
            if sa != sb:
                continue
            med_a = float(np.nanmedian(np.abs(X[series[a]].to_numpy(dtype=np.float64))))
            med_b = float(np.nanmedian(np.abs(X[series[b]].to_numpy(dtype=np.float64))))
            num, den = (a, b) if med_a <= med_b else (b, a)
            nl, dl = num.rstrip("_ ") or num, den.rstrip("_ ") or den
            add(f"{series[num][0]}_per_{series[den][0]}", "ratio", [series[num][0], series[den][0]])
            add(f"{nl}_sum_per_{dl}_sum", "sum_ratio", [*series[num], *series[den]])
    return specs


def _is_amount(X: pd.DataFrame, cols: list[str]) -> bool:
    """A series of amounts rather than of status codes: some month has more distinct values than a code."""
    return any(X[c].nunique() > MAX_CODE_LEVELS for c in cols)


def build_feature_plan(
    X: pd.DataFrame,
    *,
    categorical: Iterable[str] = (),
    numeric: Iterable[str] = (),
    auto_features: bool = True,
) -> FeaturePlan:
    """Decide feature kinds and derived features on the training table."""
    types = infer_feature_types(X, categorical=categorical, numeric=numeric)
    derived = detect_series_features(X, types) if auto_features else []
    return FeaturePlan(types=types, derived=derived)


def apply_feature_plan(X: pd.DataFrame, plan: FeaturePlan) -> pd.DataFrame:
    """The model-ready frame: numeric columns as float64, categories canonical, derived columns appended.

    The same transformation is replayed by the compiled scorer, so optbinning (at training) and the
    scorer (in production) see identical values.
    """
    missing = [c for c in plan.inputs if c not in X.columns]
    if missing:
        raise ValidationError(
            f"input columns missing from the data: {', '.join(missing)}", code="missing_columns", field="data"
        )
    out: dict[str, Any] = {}
    floats: dict[str, np.ndarray] = {}
    for col, kind in plan.types.items():
        raw = X[col].to_numpy()
        if kind == "categorical":  # object dtype keeps one shared Python object per distinct category
            out[col] = pd.Series(canonical_category_array(raw), index=X.index, dtype=object)
        else:
            out[col] = pd.to_numeric(X[col], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    for spec in plan.derived:
        for name in spec["inputs"]:
            if name not in floats:
                floats[name] = pd.to_numeric(X[name], errors="coerce").to_numpy(
                    dtype=np.float64, na_value=np.nan
                )
        out[spec["name"]] = compute_derived(spec, floats)
    return pd.DataFrame(out, index=X.index)


# --- fingerprint ------------------------------------------------------------------------------------------


def data_fingerprint(df: pd.DataFrame) -> str:
    """SHA-256 over a canonical serialisation of the table: column names, then each column's values.

    Why canonical: the same data read from CSV or Parquet (int vs float, str vs object dtypes) must give
    the same fingerprint, so a model's training data can be recognised later. Numbers are serialised as
    float64 (NaN as one fixed pattern), everything else as canonical text with a missing marker.
    """
    h = hashlib.sha256()
    h.update(f"creditplan.data/1 rows={len(df)} cols={df.shape[1]}\n".encode())
    for col in df.columns:
        h.update(b"\x1ecol\x1f" + str(col).encode("utf-8"))
        s = df[col]
        if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
            v = s.to_numpy(dtype=np.float64, na_value=np.nan).copy()
            v[np.isnan(v)] = np.nan  # one NaN bit pattern
            v[v == 0] = 0.0  # -0.0 and 0.0 alike
            h.update(b"f" + v.astype("<f8").tobytes())
        else:
            texts = canonical_category_array(s.to_numpy())
            h.update(b"s" + "\x1f".join("\x00" if t is None else t for t in texts).encode("utf-8"))
    return "sha256:" + h.hexdigest()
