"""Reading files, choosing the target and refusing bad training input with stable error codes."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from creditplan.core.errors import ValidationError
from creditplan.scoring.domain import data, datasets, train
from creditplan.scoring.domain.features import CategoryLookup, canonical_category, compute_derived


def test_reads_csv_gzip_and_parquet_alike(tmp_path: Path, german_raw: pd.DataFrame) -> None:
    csv = tmp_path / "g.csv"
    german_raw.to_csv(csv, index=False)
    gz = tmp_path / "g.csv.gz"
    german_raw.to_csv(gz, index=False, compression="gzip")
    pq = tmp_path / "g.parquet"
    german_raw.to_parquet(pq, index=False)
    frames = [data.load_table(p) for p in (csv, gz, pq)]
    for f in frames:
        assert f.shape == german_raw.shape
    # the same data gives the same fingerprint whatever the file format
    assert len({data.data_fingerprint(f) for f in frames}) == 1


def test_semicolon_and_gb18030_csv(tmp_path: Path) -> None:
    p = tmp_path / "cn.csv"
    p.write_bytes("收入;职业;违约\n1000;工人;0\n2000;教师;1\n".encode("gb18030"))
    df = data.load_table(p)
    assert list(df.columns) == ["收入", "职业", "违约"]
    assert df["职业"].tolist() == ["工人", "教师"]


def test_excel_needs_openpyxl_or_reads(tmp_path: Path, german_raw: pd.DataFrame) -> None:
    p = tmp_path / "g.xlsx"
    if importlib.util.find_spec("openpyxl") is None:
        p.write_bytes(b"not really excel")
        with pytest.raises(ValidationError) as err:
            data.load_table(p)
        assert err.value.code == "missing_dependency"
        assert "openpyxl" in err.value.message
    else:  # pragma: no cover - depends on the environment
        german_raw.head(20).to_excel(p, index=False)
        assert data.load_table(p).shape == (20, german_raw.shape[1])


@pytest.mark.parametrize(
    ("name", "content", "code"),
    [
        ("missing.csv", None, "file_not_found"),
        ("x.json", b"{}", "unsupported_format"),
        ("empty.csv", b"", "unreadable_file"),
    ],
)
def test_unreadable_files(tmp_path: Path, name: str, content: bytes | None, code: str) -> None:
    p = tmp_path / name
    if content is not None:
        p.write_bytes(content)
    with pytest.raises(ValidationError) as err:
        data.load_table(p)
    assert err.value.code == code


def test_unknown_target_lists_columns(german_raw: pd.DataFrame) -> None:
    with pytest.raises(ValidationError) as err:
        data.prepare_target(german_raw, "default", 2)
    assert err.value.code == "unknown_target"
    assert "checking_status" in err.value.message and "class" in err.value.message


def test_single_class_target(german_raw: pd.DataFrame) -> None:
    df = german_raw.assign(**{"class": 1})
    with pytest.raises(ValidationError) as err:
        data.prepare_target(df, "class", 1)
    assert err.value.code == "single_class"


def test_bad_value_not_present(german_raw: pd.DataFrame) -> None:
    with pytest.raises(ValidationError) as err:
        data.prepare_target(german_raw, "class", "bad")
    assert err.value.code == "bad_value_not_found"
    assert "1, 2" in err.value.message


def test_bad_value_matches_canonically(german_raw: pd.DataFrame) -> None:
    X1, y1 = data.prepare_target(german_raw, "class", 2)
    X2, y2 = data.prepare_target(german_raw, "class", "2")
    X3, y3 = data.prepare_target(german_raw, "class", 2.0)
    assert y1.sum() == 300 and np.array_equal(y1, y2) and np.array_equal(y1, y3)


def test_no_usable_feature() -> None:
    n = 100
    df = pd.DataFrame(
        {
            "id": np.arange(n),  # identifier
            "const": 7,  # a single value
            "empty": np.nan,  # all missing
            "note": [f"free text {i}" for i in range(n)],  # free text
            "bad": np.r_[np.zeros(50), np.ones(50)],
        }
    )
    with pytest.raises(ValidationError) as err:
        data.prepare_target(df, "bad", 1)
    assert err.value.code == "no_usable_feature"
    for col in ("id", "const", "empty", "note"):
        assert col in err.value.message


def test_no_feature_with_information_refused_at_training() -> None:
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"noise": rng.normal(size=400)})
    y = np.r_[np.zeros(200), np.ones(200)].astype(int)
    with pytest.raises(ValidationError) as err:
        train.train_scorecard(X, y, min_iv=0.5)
    assert err.value.code == "no_usable_feature"


def test_rows_without_target_are_dropped(german_raw: pd.DataFrame) -> None:
    df = german_raw.copy()
    df["class"] = df["class"].astype(float)
    df.loc[:9, "class"] = np.nan
    X, y = data.prepare_target(df, "class", 2)
    assert len(X) == len(y) == 990
    assert X.attrs["rows_without_target"] == 10


def test_feature_types_and_series_detection(taiwan_sample: tuple[pd.DataFrame, np.ndarray]) -> None:
    X, _ = taiwan_sample
    types = data.infer_feature_types(X)
    assert types["PAY_0"] == "categorical"  # status codes −2…8
    assert types["LIMIT_BAL"] == "numeric"
    specs = {d["name"]: d for d in data.detect_series_features(X, types)}
    assert specs["PAY_max"]["inputs"] == ["PAY_0", "PAY_2", "PAY_3", "PAY_4", "PAY_5", "PAY_6"]
    assert specs["BILL_AMT1_per_LIMIT_BAL"] == {
        "name": "BILL_AMT1_per_LIMIT_BAL",
        "op": "ratio",
        "inputs": ["BILL_AMT1", "LIMIT_BAL"],
    }
    assert "PAY_AMT1_per_BILL_AMT1" in specs  # the smaller amount series as a share of the larger
    german, _ = datasets.german_credit()[0], None
    assert data.detect_series_features(german, data.infer_feature_types(german)) == []


def test_derived_feature_arithmetic() -> None:
    cols = {
        "a": np.array([1.0, np.nan, np.nan]),
        "b": np.array([3.0, 2.0, np.nan]),
        "c": np.array([0.0, 4.0, 1.0]),
    }
    mx = compute_derived({"op": "max", "inputs": ["a", "b"]}, cols)
    assert mx[0] == 3.0 and mx[1] == 2.0 and np.isnan(mx[2])
    mean = compute_derived({"op": "mean", "inputs": ["a", "b"]}, cols)
    assert mean[0] == 2.0 and mean[1] == 2.0
    ratio = compute_derived({"op": "ratio", "inputs": ["b", "c"]}, cols)
    assert np.isnan(ratio[0]) and ratio[1] == 0.5  # division by zero is missing, not infinity
    cnt = compute_derived({"op": "count_positive", "inputs": ["a", "b", "c"]}, cols)
    assert cnt.tolist() == [2.0, 2.0, 1.0]


def test_canonical_categories() -> None:
    assert canonical_category(2) == canonical_category(2.0) == canonical_category(" 2 ") == "2"
    assert canonical_category("") is None and canonical_category(float("nan")) is None
    assert canonical_category(1.5) == "1.5" and canonical_category(True) == "True"
    lookup = CategoryLookup(["A11", "2", "x"])
    codes = lookup.codes(np.array(["A11", " x", None, "zzz", 2, "2.0"], dtype=object))
    assert codes.tolist() == [0, 2, -2, -1, 1, 1]
    assert lookup.codes(np.array([2.0, np.nan, 5.0])).tolist() == [1, -2, -1]


def test_dataset_location_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CREDITPLAN_DATA_DIR", str(tmp_path))
    assert datasets.data_dir() == tmp_path
    with pytest.raises(ValidationError) as err:
        datasets.german_credit()
    assert err.value.code == "dataset_not_found"


def test_category_lookup_on_every_column_type() -> None:
    import pyarrow as pa

    lookup = CategoryLookup(["A11", "A12", "2"])
    values = ["A12", None, "A99", "A11", "2"]
    expected = [1, -2, -1, 0, 2]
    assert lookup.codes(pd.Series(values, dtype=object)).tolist() == expected
    assert lookup.codes(pd.Series(values, dtype="str")).tolist() == expected
    assert lookup.codes(pd.Series(values, dtype="category")).tolist() == expected
    assert lookup.codes(pa.array(values, type=pa.large_string())).tolist() == expected
    assert lookup.codes(pa.chunked_array([values[:2], values[2:]])).tolist() == expected
    big = np.array(values * 4000, dtype=object)  # large enough for the pointer-hash path
    assert lookup.codes(big).tolist() == expected * 4000
