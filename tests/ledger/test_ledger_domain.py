"""Canonical event bytes: the fast path batch appends use gives exactly canonical_json's bytes."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from creditplan.ledger.domain import canonical_entry, canonical_json

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text() | st.decimals(allow_nan=False, allow_infinity=False)
    | st.dates(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4),
    max_leaves=12,
)


@given(data=st.dictionaries(st.text(max_size=8) | st.integers(), json_values, max_size=5),
       kind=st.text(min_size=1, max_size=12), sid=st.text(max_size=10), actor=st.text(max_size=10))
def test_canonical_entry_equals_canonical_json_of_the_event(data, kind, sid, actor) -> None:  # type: ignore[no-untyped-def]
    at = "2026-11-29T14:55:35.268698+00:00"
    body = {"kind": kind, "subject": {"type": "loan", "id": sid}, "actor": actor, "at": at, "data": data}
    assert canonical_entry(kind=kind, subject_type="loan", subject_id=sid, actor=actor, at=at, data=data) == \
        canonical_json(body)


def test_floats_are_refused_and_decimals_dates_are_strings() -> None:
    with pytest.raises(TypeError):
        canonical_entry(kind="k", subject_type="t", subject_id="1", actor="a", at="x", data={"r": 0.1})
    out = canonical_entry(kind="k", subject_type="t", subject_id="1", actor="张", at="x",
                          data={"r": Decimal("0.0395"), "d": dt.date(2026, 1, 2), "b": 2})
    assert out == '{"actor":"张","at":"x","data":{"b":2,"d":"2026-01-02","r":"0.0395"},"kind":"k","subject":{"id":"1","type":"t"}}'.encode()
