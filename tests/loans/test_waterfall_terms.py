"""The repayment waterfall and the term sheet: pure rules, checked on hand-computed cases and properties."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from creditplan.core.errors import ValidationError
from creditplan.loans.domain.terms import make_sheet, sheet_from_json
from creditplan.loans.domain.waterfall import DEFAULT_ORDER, Due, allocate

DUES = [Due(1, interest=3_000, principal=10_000, fee=500), Due(2, interest=2_900, principal=10_100, fee=500)]


def test_default_order_pays_penalty_then_fees_then_interest_oldest_first_then_principal() -> None:
    a = allocate(9_000, penalty=1_200, fees=1_500, dues=DUES)
    assert (a.penalty, a.fee, a.interest, a.principal, a.left) == (1_200, 1_500, 5_900, 400, 0)
    assert a.interest_by_seq == {1: 3_000, 2: 2_900}
    assert a.principal_by_seq == {1: 400}
    # fees paid settle the installment fees oldest first; beyond them they are late fees
    assert a.fee_by_seq == {1: 500, 2: 500}


def test_a_payment_above_everything_due_leaves_the_rest_for_credit_or_prepayment() -> None:
    a = allocate(40_000, penalty=100, fees=0, dues=DUES)
    assert a.applied == 100 + 5_900 + 20_100 and a.left == 40_000 - a.applied


def test_principal_first_order_is_honoured() -> None:
    a = allocate(15_000, penalty=1_000, fees=0, dues=DUES, order=("principal", "interest", "fee", "penalty"))
    assert a.principal_by_seq == {1: 10_000, 2: 5_000} and a.interest == 0 and a.penalty == 0


def test_bad_orders_and_amounts_are_refused_by_name() -> None:
    with pytest.raises(ValidationError) as e:
        allocate(1, penalty=0, fees=0, dues=DUES, order=("interest", "principal"))
    assert e.value.field == "waterfall"
    with pytest.raises(ValidationError):
        allocate(-1, penalty=0, fees=0, dues=DUES)
    with pytest.raises(ValidationError):
        allocate(1, penalty=0, fees=0, dues=list(reversed(DUES)))


@settings(max_examples=300)
@given(amount=st.integers(0, 10**7), penalty=st.integers(0, 10**5), fees=st.integers(0, 10**4),
       dues=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 10**6), st.integers(0, 10**3)), max_size=6),
       order=st.permutations(DEFAULT_ORDER))
def test_nothing_is_lost_or_overpaid(amount: int, penalty: int, fees: int, dues: list, order: list) -> None:
    ds = [Due(i + 1, interest=i_, principal=p, fee=min(f, fees)) for i, (i_, p, f) in enumerate(dues)]
    a = allocate(amount, penalty=penalty, fees=fees, dues=ds, order=order)
    owed = penalty + fees + sum(d.interest + d.principal for d in ds)
    assert a.applied + a.left == amount
    assert a.applied == min(amount, owed)
    assert a.penalty <= penalty and a.fee <= fees
    for d in ds:
        assert a.interest_by_seq.get(d.seq, 0) <= d.interest and a.principal_by_seq.get(d.seq, 0) <= d.principal


def test_a_term_sheet_has_a_stable_identity_whatever_the_order_clauses_are_written_in() -> None:
    one = make_sheet("CNY", [{"kind": "late_fee", "amount_minor": 5000, "after_days": 3}, {"kind": "maturity"}])
    two = make_sheet("CNY", [{"kind": "maturity"}, {"after_days": 3, "amount_minor": 5000, "kind": "late_fee"}])
    assert one.digest == two.digest and len(one.digest) == 64
    assert sheet_from_json(one.as_json()) == one
    assert one.late_fee_minor == 5000 and one.freeze_dpd >= 10**6 and not one.auto_debit


@pytest.mark.parametrize("clauses, problem", [
    ([{"kind": "teleport"}], "unknown_clause"),
    ([{"kind": "maturity"}, {"kind": "maturity"}], "duplicate_clause"),
    ([{"kind": "late_fee", "amount_minor": 5000}], "clause_parameters"),
    ([{"kind": "late_fee", "amount_minor": "50", "after_days": 3}], "clause_parameters"),
])
def test_a_malformed_term_sheet_is_refused_with_the_reason(clauses: list, problem: str) -> None:
    with pytest.raises(ValidationError) as e:
        make_sheet("CNY", clauses)
    assert e.value.code == problem
