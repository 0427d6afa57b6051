"""The line's arithmetic (lines.domain), property-tested: whatever sequence of approvals, payouts, withdrawals and
repayments happens, the available amount is never negative, the line and each sub-limit are never exceeded,
the per-product counters add up to the line's, and a non-revolving line never gives room back."""

from __future__ import annotations

import datetime as dt
from types import MappingProxyType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from creditplan.core.errors import Conflict, LimitExceeded
from creditplan.lines import domain
from creditplan.lines.domain import Line, LineStatus

TODAY = dt.date(2026, 3, 1)
PRODUCTS = ("consumer", "car", "home")

op = st.one_of(
    st.tuples(st.just("reserve"), st.sampled_from(PRODUCTS), st.integers(1, 3_000_000)),
    st.tuples(st.just("convert"), st.integers(0, 20), st.integers(1, 100)),
    st.tuples(st.just("release"), st.integers(0, 20), st.just(0)),
    st.tuples(st.just("restore"), st.integers(0, 20), st.integers(1, 3_000_000)),
)


def _line(amount: int, revolving: bool, car_cap: int | None) -> Line:
    subs = MappingProxyType({"car": car_cap}) if car_cap is not None else MappingProxyType({})
    return Line(amount=amount, revolving=revolving, expires_on=TODAY + dt.timedelta(days=30), sub_limits=subs)


def _check(line: Line) -> None:
    assert 0 <= line.available <= line.amount
    assert line.reserved >= 0 and line.used >= 0
    assert line.reserved + line.used <= line.amount  # never exceeded
    assert sum(u.reserved for u in line.usage.values()) == line.reserved
    assert sum(u.used for u in line.usage.values()) == line.used
    for product, cap in line.sub_limits.items():
        assert line.of(product).total <= cap
        assert 0 <= (line.sub_available(product) or 0) <= cap


@settings(max_examples=300, deadline=None)
@given(amount=st.integers(1, 10_000_000), revolving=st.booleans(),
       car_cap=st.one_of(st.none(), st.integers(1, 10_000_000)), ops=st.lists(op, max_size=40))
def test_no_sequence_of_occupations_exceeds_the_line_or_makes_available_negative(amount, revolving, car_cap, ops):
    line = _line(amount, revolving, min(car_cap, amount) if car_cap else None)
    reservations: list[tuple[str, int]] = []
    loans: list[list] = []  # [product, outstanding]
    for kind, a, b in ops:
        used_before = line.used
        if kind == "reserve":
            before = domain.availability(line, a, TODAY).amount_minor
            try:
                line = domain.reserve(line, a, b, TODAY)
                assert b <= before
                reservations.append((a, b))
            except LimitExceeded as exc:
                assert b > before and exc.field == "amount"
        elif kind == "convert" and reservations:
            product, held = reservations.pop(a % len(reservations))
            paid = max(1, held * b // 100)
            line = domain.convert(line, product, held, paid)
            loans.append([product, paid])
        elif kind == "release" and reservations:
            product, held = reservations.pop(a % len(reservations))
            line = domain.release(line, product, held)
        elif kind == "restore" and loans:
            loan = loans[a % len(loans)]
            principal = min(b, loan[1])
            if principal:
                available_before = line.available
                line, back = domain.restore(line, loan[0], principal)
                loan[1] -= principal
                if revolving:
                    assert back == principal and line.available == available_before + principal
                else:
                    assert back == 0 and line.used == used_before  # non-revolving: nothing comes back
        _check(line)
        if not revolving:
            assert line.used >= used_before  # what was paid out stays used


@given(amount=st.integers(1, 10_000_000), paid=st.integers(1, 10_000_000))
def test_a_non_revolving_line_never_restores(amount, paid):
    line = _line(amount, False, None)
    line = domain.draw(line, "consumer", paid)
    after, back = domain.restore(line, "consumer", paid)
    assert back == 0 and after == line and after.available == max(0, amount - paid)


@given(amount=st.integers(1_000, 10_000_000), share=st.integers(1, 100))
def test_a_reversed_repayment_takes_the_room_back_and_may_go_over(amount, share):
    line = domain.draw(_line(amount, True, None), "consumer", amount)  # fully used
    line, back = domain.restore(line, "consumer", amount * share // 100 or 1)
    assert line.available == back
    line = domain.reserve(line, "consumer", back, TODAY) if back else line  # the room is taken again
    line = domain.unrestore(line, "consumer", back)  # …then the repayment bounces
    assert line.available == 0 and line.over_by == back  # the money is owed: over the line, never negative


@pytest.mark.parametrize(("status", "expires", "binding"), [
    (LineStatus.FROZEN, 30, "frozen"), (LineStatus.CLOSED, 30, "closed"), (LineStatus.ACTIVE, -1, "expired"),
    (LineStatus.ACTIVE, 0, "line")])
def test_only_an_active_line_in_its_term_lends(status, expires, binding):
    line = Line(amount=100_000, status=status, expires_on=TODAY + dt.timedelta(days=expires))
    a = domain.availability(line, "consumer", TODAY)
    assert a.binding == binding and a.blocked == (binding != "line")
    assert a.amount_minor == (100_000 if binding == "line" else 0)
    if a.blocked:
        with pytest.raises(Conflict) as exc:
            domain.reserve(line, "consumer", 1, TODAY)
        assert exc.value.code == f"line_{binding}" and exc.value.field == "amount"


def test_a_sub_limit_caps_its_product_only():
    line = Line(amount=100_000, expires_on=TODAY, sub_limits=MappingProxyType({"car": 30_000}))
    assert domain.availability(line, "car", TODAY).amount_minor == 30_000
    assert domain.availability(line, "car", TODAY).binding == "sub_limit"
    assert domain.availability(line, "consumer", TODAY).amount_minor == 100_000
    line = domain.reserve(line, "consumer", 80_000, TODAY)
    assert domain.availability(line, "car", TODAY).amount_minor == 20_000  # the line binds before the sub-limit
    with pytest.raises(LimitExceeded) as exc:
        domain.reserve(line, "car", 20_001, TODAY)
    assert exc.value.code == "line_exceeded"


def test_terms_refused_each_naming_its_field():
    line = domain.draw(Line(amount=100_000), "consumer", 60_000)
    problems = domain.term_problems(line, amount=50_000, sub_limits={"car": 80_000, "consumer": 10_000},
                                    expires_on=TODAY, today=TODAY)
    by_field = {p.field: p.code for p in problems}
    assert by_field == {"amount": "below_used", "sub_limits.car": "sub_limit_above_line",
                        "sub_limits.consumer": "sub_limit_below_used", "expires_on": "expiry_in_past"}
    assert domain.term_problems(line, amount=60_000, sub_limits={"consumer": 60_000},
                                expires_on=TODAY + dt.timedelta(days=1), today=TODAY) == []


def test_who_may_approve_how_much():
    assert domain.authority_problem("risk_manager", 10**12, 100) == ""
    assert domain.authority_problem("approver", 100, 100) == ""
    assert "risk manager" in domain.authority_problem("approver", 101, 100)
    assert domain.authority_problem("admin", 1, 100) and domain.authority_problem("loan_officer", 1, 100)


def test_a_reason_reads_in_both_languages_whoever_wrote_it() -> None:
    from creditplan.lines.domain import reason_languages

    rules = '{"code": "limit_cut", "en": "the bank\'s rules: 33 days past due", "zh": "银行规则：逾期33天"}'
    assert reason_languages(rules) == ("the bank's rules: 33 days past due", "银行规则：逾期33天")
    assert reason_languages("fraud alert") == ("fraud alert", "fraud alert")  # a person's words, as written
    assert reason_languages('{"code": "x", "zh": "只有中文"}') == ("只有中文", "只有中文")
    assert reason_languages("{not json") == ("{not json", "{not json")
