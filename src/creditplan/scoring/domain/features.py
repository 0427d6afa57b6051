"""Input handling shared by training and scoring: canonical categories, numeric coercion, derived features.

Why one module for both sides: a model is only as reproducible as its inputs. Training canonicalises every
categorical value (``1``, ``1.0`` and ``"1"`` are the same category ``"1"``; surrounding blanks are ignored;
an empty string is missing) and computes derived features with the functions below; the compiled scorer
calls the very same functions, so a row scores identically in the web process, the CLI and Spark.

Only numpy is required. pandas, when importable, is used for hashing string columns quickly.
"""

from __future__ import annotations

import contextlib
import ctypes
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

try:  # pandas is optional for scoring; it only makes string look-ups faster
    import pandas as _pd
except ImportError:  # pragma: no cover - exercised only where pandas is absent
    _pd = None

_PLAIN_NUMBER = re.compile(r"^-?(0|[1-9][0-9]*)(\.[0-9]+)?$")

DERIVED_OPS: frozenset[str] = frozenset(
    {"max", "min", "mean", "std", "count_positive", "delta", "ratio", "mean_ratio", "sum_ratio"}
)


def canonical_category(value: Any) -> str | None:
    """The one spelling of a categorical value; ``None`` means missing.

    Why: data arrive as CSV text, JSON numbers or pandas objects. ``2``, ``2.0`` and ``" 2 "`` must land in
    the same bin, otherwise an API call would score differently from the batch file it came from.
    """
    if value is None:
        return None
    if isinstance(value, bool | np.bool_):
        return "True" if bool(value) else "False"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        f = float(value)
        if math.isnan(f):
            return None
        if math.isinf(f):
            return "inf" if f > 0 else "-inf"
        if f.is_integer() and abs(f) < 2**63:
            return str(int(f))
        return repr(f)
    if isinstance(value, str):
        text = value.strip()
        if _PLAIN_NUMBER.match(text):  # "2.0" from a CSV is the code 2; "01" keeps its leading zero
            return canonical_category(float(text))
        return text or None
    if type(value).__name__ in {"NAType", "NaTType"}:
        return None
    try:  # Decimal and other number-like objects
        return canonical_category(float(value))
    except (TypeError, ValueError):
        text = str(value).strip()
        return text or None


def canonical_category_array(values: Iterable[Any]) -> np.ndarray:
    """Canonical categories of a column as an object array, ``None`` where missing (training side)."""
    arr = np.asarray(list(values) if not hasattr(values, "__array__") else values)
    if arr.dtype.kind in "iu":
        return np.array([str(int(v)) for v in arr], dtype=object)
    if arr.dtype.kind == "f":
        out = np.empty(arr.shape[0], dtype=object)
        for i, v in enumerate(arr):
            out[i] = canonical_category(v)
        return out
    flat = np.asarray(arr, dtype=object)
    if _pd is not None:  # canonicalise each distinct value once
        codes, uniques = _pd.factorize(_pd.Series(flat), use_na_sentinel=True)
        canon = np.array([canonical_category(u) for u in uniques] + [None], dtype=object)
        return np.asarray(canon[codes])
    return np.array([canonical_category(v) for v in flat], dtype=object)


def to_float_array(values: Any) -> tuple[np.ndarray, np.ndarray]:
    """A column as float64 plus a mask of entries that were present but not numbers.

    Why the mask: "abc" in a numeric field must not silently become a missing value; the scorer treats it
    as missing (so the row still scores) and reports it as a warning.
    """
    arr = np.asarray(values)
    if arr.dtype.kind in "fiub":
        return arr.astype(np.float64, copy=False), np.zeros(arr.shape[0], dtype=bool)
    obj = np.asarray(arr, dtype=object)
    if _pd is not None:
        series = _pd.Series(obj, dtype=object)
        out = _pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        present = ~series.isna().to_numpy()
        if present.any():
            stripped = series[present].astype(str).str.strip()
            present[present] = stripped.to_numpy() != ""
    else:  # pragma: no cover - pandas is a dependency of the project
        out = np.full(obj.shape[0], np.nan)
        present = np.zeros(obj.shape[0], dtype=bool)
        for i, v in enumerate(obj):
            if (
                v is None
                or (isinstance(v, float) and math.isnan(v))
                or (isinstance(v, str) and not v.strip())
            ):
                continue
            present[i] = True
            with contextlib.suppress(TypeError, ValueError):
                out[i] = float(v)
    invalid = present & np.isnan(out)
    return out, invalid


class CategoryLookup:
    """Maps raw column values to the index of a known category, fast, in the scorer's hot path.

    ``codes(values)`` returns ``-1`` for an unseen category and ``-2`` for a missing value. Numbers are
    matched numerically (``2`` finds category ``"2"``), strings through a hash index; only the values the
    fast path misses are canonicalised one distinct value at a time.
    """

    def __init__(self, categories: Sequence[str]) -> None:
        self.categories = [str(c) for c in categories]
        self._index = {c: i for i, c in enumerate(self.categories)}
        numeric: dict[float, int] = {}
        for c, i in self._index.items():
            try:
                f = float(c)
            except ValueError:
                continue
            if not math.isnan(f):
                numeric[f] = i
        self._num_keys = np.array(sorted(numeric), dtype=np.float64)
        self._num_codes = np.array([numeric[k] for k in sorted(numeric)], dtype=np.int64)
        self._pa_keys: dict[str, Any] = {}

    def _numeric_codes(self, x: np.ndarray) -> np.ndarray:
        codes = np.full(x.shape[0], -1, dtype=np.int64)
        missing = np.isnan(x)
        codes[missing] = -2
        if self._num_keys.size:
            pos = np.searchsorted(self._num_keys, x)
            pos_c = np.minimum(pos, self._num_keys.size - 1)
            hit = (~missing) & (self._num_keys[pos_c] == x)
            codes[hit] = self._num_codes[pos_c[hit]]
        return codes

    def codes(self, values: Any) -> np.ndarray:
        """Category index per value: ≥ 0 known, −1 unseen, −2 missing."""
        if (
            _pd is not None
            and isinstance(values, _pd.Series)
            and isinstance(values.dtype, _pd.CategoricalDtype)
        ):
            # pandas categoricals already carry codes: map each category once (code −1 = missing → −2)
            table = np.array([self._code_of(c) for c in values.cat.categories] + [-2], dtype=np.int64)
            return np.asarray(table[values.cat.codes.to_numpy()])
        arrow = _as_arrow_strings(values)
        if arrow is not None:
            return self._arrow_codes(arrow)
        raw = (
            values.to_numpy()
            if hasattr(values, "to_numpy") and not hasattr(values, "column_names")
            else values
        )
        arr = np.asarray(raw)
        if arr.dtype.kind in "fiu":
            return self._numeric_codes(arr.astype(np.float64, copy=False))
        arr = np.ascontiguousarray(arr.astype(object, copy=False))
        fast = _codes_by_identity(arr, self._code_of)
        if fast is not None:
            return fast
        if _pd is not None:  # hash once, then look up each distinct value
            inv, uniques = _pd.factorize(arr, use_na_sentinel=True)
            table = np.array([self._code_of(u) for u in uniques] + [-2], dtype=np.int64)
            return np.asarray(table[inv])
        return np.array([self._code_of(v) for v in arr], dtype=np.int64)  # pragma: no cover

    def _arrow_codes(self, arr: Any) -> np.ndarray:
        import pyarrow as pa
        import pyarrow.compute as pc

        keys = self._pa_keys.get(str(arr.type))
        if keys is None:  # one key array per Arrow string type (string / large_string)
            keys = self._pa_keys[str(arr.type)] = pa.array(self.categories, type=arr.type)
        found = pc.index_in(arr, value_set=keys)
        codes = np.array(found.fill_null(-1).to_numpy(zero_copy_only=False), dtype=np.int32)
        if arr.null_count:
            codes[np.asarray(arr.is_null().to_numpy(zero_copy_only=False), dtype=bool)] = -2
        miss = np.flatnonzero(codes == -1)
        if miss.size:  # " A11", "2.0", "": canonicalise each distinct unmatched value once
            sub = arr.take(pa.array(miss))
            if isinstance(sub, pa.ChunkedArray):
                sub = sub.combine_chunks()
            dict_sub = sub.dictionary_encode()
            fixed = np.array([self._code_of(v) for v in dict_sub.dictionary.to_pylist()], dtype=np.int32)
            codes[miss] = fixed[np.asarray(dict_sub.indices.to_numpy(zero_copy_only=False), dtype=np.int64)]
        return codes

    def _code_of(self, value: Any) -> int:
        key = canonical_category(value)
        if key is None:
            return -2
        return self._index.get(key, -1)


_IDENTITY_MAX_DISTINCT = 4096


def _codes_by_identity(arr: np.ndarray, code_of: Any) -> np.ndarray | None:
    """Category codes of an object array by hashing the object pointers rather than the strings.

    Why: a text column read by pandas holds one Python object per distinct value (the CSV parser reuses
    them), so hashing 8-byte pointers finds the few distinct objects several times faster than hashing
    the strings. Each distinct object is then canonicalised once; equal strings held by different
    objects simply map to the same code. Falls back (returns None) when there are many distinct objects.
    The pointer view is read only while ``arr`` — which owns the references — is alive in this call.
    """
    if _pd is None or arr.size < 10_000 or arr.dtype != object or not arr.flags.c_contiguous:
        return None
    buffer = (ctypes.c_uint64 * arr.size).from_address(arr.ctypes.data)
    pointers = np.frombuffer(memoryview(buffer), dtype=np.uint64)
    inv, uniques = _pd.factorize(pointers)
    if uniques.size > _IDENTITY_MAX_DISTINCT:
        return None
    # each distinct pointer names an object that ``arr`` keeps alive; read it back without a scan
    table = np.array([code_of(ctypes.cast(int(p), ctypes.py_object).value) for p in uniques], dtype=np.int64)
    return np.asarray(table[inv])


def _as_arrow_strings(values: Any) -> Any:
    """The column as an Arrow string array when it already is one (Arrow input, pandas "str" dtype), else None.

    Why: Arrow batches (Spark ``mapInArrow``) and pandas 3 text columns hold UTF-8 buffers; looking them up
    with ``pyarrow.compute.index_in`` avoids creating a Python object per value.
    """
    try:
        import pyarrow as pa
    except ImportError:  # pragma: no cover
        return None
    arr = values
    if _pd is not None and isinstance(values, _pd.Series):
        arr = values.array
        if not hasattr(arr, "__arrow_array__"):
            return None
        try:
            arr = pa.array(arr)
        except (TypeError, ValueError, pa.ArrowException):
            return None
    if isinstance(arr, pa.ChunkedArray | pa.Array) and (
        pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)
    ):
        return arr
    return None


# --- derived features ---------------------------------------------------------------------------------


def compute_derived(spec: Mapping[str, Any], columns: Mapping[str, np.ndarray]) -> np.ndarray:
    """One derived feature from float input columns; NaN where it cannot be computed.

    Why NaN rather than an error: a missing month in a repayment history is ordinary; the derived
    feature then falls in its missing bin like any other missing value.
    """
    op = spec["op"]
    inputs = [columns[name] for name in spec["inputs"]]
    with np.errstate(all="ignore"):
        if op in {"max", "min", "mean", "std", "count_positive"}:
            m = np.column_stack(inputs)
            present = ~np.isnan(m)
            n = present.sum(axis=1)
            if op == "max":
                out = np.where(present, m, -np.inf).max(axis=1)
            elif op == "min":
                out = np.where(present, m, np.inf).min(axis=1)
            elif op == "mean":
                out = np.where(present, m, 0.0).sum(axis=1) / n
            elif op == "std":
                mean = np.where(present, m, 0.0).sum(axis=1) / n
                out = np.sqrt(np.where(present, (m - mean[:, None]) ** 2, 0.0).sum(axis=1) / n)
            else:
                out = (np.where(present, m, 0.0) > 0).sum(axis=1).astype(np.float64)
            return np.where(n > 0, out, np.nan).astype(np.float64)
        if op == "delta":
            return np.asarray(inputs[0] - inputs[1], dtype=np.float64)
        if op == "ratio":
            den = inputs[1]
            return np.where((den != 0) & ~np.isnan(den), inputs[0] / den, np.nan).astype(np.float64)
        if op == "mean_ratio":
            m = np.column_stack(inputs[:-1])
            present = ~np.isnan(m)
            n = present.sum(axis=1)
            mean = np.where(n > 0, np.where(present, m, 0.0).sum(axis=1) / n, np.nan)
            den = inputs[-1]
            return np.where((den != 0) & ~np.isnan(den), mean / den, np.nan).astype(np.float64)
        if op == "sum_ratio":
            half = len(inputs) // 2
            num = np.column_stack(inputs[:half])
            den = np.column_stack(inputs[half:])
            ok = ~np.isnan(num).any(axis=1) & ~np.isnan(den).any(axis=1)
            s_num, s_den = num.sum(axis=1), den.sum(axis=1)
            return np.where(ok & (s_den > 0), s_num / s_den, np.nan).astype(np.float64)
    raise ValueError(f"unknown derived-feature operation {op!r}")


def describe_derived(spec: Mapping[str, Any]) -> dict[str, str]:
    """Readable English and Chinese text for a derived feature, used as its reason text."""
    ins = list(spec["inputs"])
    span = f"{ins[0]}…{ins[-1]}" if len(ins) > 2 else " / ".join(ins)
    op = spec["op"]
    if op == "sum_ratio":
        half = len(ins) // 2
        a = f"{ins[0]}…{ins[half - 1]}"
        b = f"{ins[half]}…{ins[-1]}"
        return {"en": f"Total of {a} relative to the total of {b}", "zh": f"{a} 合计与 {b} 合计之比"}
    if op == "ratio":
        return {"en": f"{ins[0]} relative to {ins[1]}", "zh": f"{ins[0]} 与 {ins[1]} 之比"}
    if op == "mean_ratio":
        avg = f"{ins[0]}…{ins[-2]}"
        return {"en": f"Average of {avg} relative to {ins[-1]}", "zh": f"{avg} 的平均值与 {ins[-1]} 之比"}
    if op == "delta":
        return {"en": f"Change from {ins[1]} to {ins[0]}", "zh": f"{ins[0]} 相对 {ins[1]} 的变化"}
    words = {
        "max": ("Highest value of", "最高值"),
        "min": ("Lowest value of", "最低值"),
        "mean": ("Average of", "平均值"),
        "std": ("Variability of", "波动程度"),
        "count_positive": ("Number of positive values among", "为正的期数"),
    }[op]
    return {"en": f"{words[0]} {span}", "zh": f"{span} 的{words[1]}"}
