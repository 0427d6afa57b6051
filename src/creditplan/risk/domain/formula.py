"""The language key risk indicators are written in: ratios of sums and counts over the columns of a fact table.

Why a language rather than Python functions: risk managers define and change indicators in the application (a
new overdue ratio for one product, a share of a region) and must get a clear refusal, naming the problem, when a
definition is wrong — before it runs on a million loans. Why this shape: every indicator a bank's risk report
carries (NPL ratio, overdue ratios, roll rates, migration, approval and straight-through rates, average score,
provision coverage) is arithmetic over sums and counts of filtered rows. Sums and counts add up across chunks,
so the same compiled formula runs over one array, over chunks of a book, or over Spark partitions (each computes
its partial sums; the driver adds them and does the arithmetic) with identical results.

    sum(outstanding, risk_class >= 3) / sum(outstanding)                  NPL ratio
    count(outcome == "approve") / count()                                 approval rate
    sum(prev_outstanding, prev_bucket == 1 and bucket == 2) / sum(prev_outstanding, prev_bucket == 1)
    mean(score, outcome == "approve")                                     average score of approvals
    top_share(customer, 10)                                               top 10 customers' share of the book

Syntax (a subset of Python expressions, parsed with `ast`, never evaluated by Python):
- numbers, + − × ÷, parentheses, unary minus;
- `sum(field[, condition])`, `count([condition])`, `mean(field[, condition])` (= sum ÷ count over the same rows),
  `top_share(field, n[, amount])` (the n largest values of `field` by total `amount`, default outstanding);
- conditions: comparisons of a field with constants (`==`, `!=`, `<`, `<=`, `>`, `>=`, `in (…)`, `not in (…)`),
  comparisons of two fields of the same kind, `and`, `or`, `not`, or a yes/no field on its own.

A division by zero (no rows) gives no value (None), never an error or a zero.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from enum import StrEnum
from typing import Any

import numpy as np
from numpy.typing import NDArray

MAX_FORMULA_CHARS = 2_000
MAX_NODES = 300
SCORE_SCALE = 1_000_000  # score sums are kept in millionths, as exact integers


class Kind(StrEnum):
    AMOUNT = "amount"  # integer minor units (fen); sums are exact int64
    NUMBER = "number"  # integers (days, counts, months on book)
    SCORE = "score"  # real numbers (a score, a PD)
    CATEGORY = "category"  # text codes (branch, product, outcome…)
    FLAG = "flag"  # yes / no


NUMERIC = frozenset({Kind.AMOUNT, Kind.NUMBER, Kind.SCORE})


@dataclass(frozen=True)
class Field:
    name: str
    kind: Kind
    label_en: str
    label_zh: str


class FormulaError(ValueError):
    """A definition that cannot be accepted: `code` says what is wrong, `subject` names the offending part."""

    def __init__(self, message: str, *, code: str, subject: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.subject = subject


# --- the compiled form -------------------------------------------------------------------------------------

Condition = Callable[[Mapping[str, NDArray[Any]]], NDArray[np.bool_]]


@dataclass(frozen=True)
class Term:
    """One additive quantity per group: the sum of a field (or the count of rows) over the rows a condition keeps,
    or, for `top`, the totals per (group, key) that a ranking is taken from."""

    op: str  # "sum", "count" or "top"
    field: str | None
    condition: Condition | None = dataclass_field(compare=False)
    text: str
    key: str | None = None
    n: int = 0
    present: str | None = None  # only rows where this (score) field has a value: the count behind a mean


@dataclass(frozen=True)
class Formula:
    """A checked formula: its additive terms and the arithmetic that combines their per-group totals."""

    text: str
    terms: tuple[Term, ...]
    combine: Callable[[Sequence[NDArray[np.float64]]], NDArray[np.float64]] = dataclass_field(compare=False)
    fields: frozenset[str]
    ratio: tuple[int, int] | None  # (numerator term, denominator term) when the formula is sum/sum or count/count
    scaled: frozenset[str] = frozenset()  # score fields, summed in millionths


# --- parsing and checking -------------------------------------------------------------------------------------

_COMPARE = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=",
            ast.In: "in", ast.NotIn: "not in"}


def compile_formula(text: str, fields: Mapping[str, Field]) -> Formula:
    """Parse and check `text` against the fact table's `fields`; raise FormulaError naming what is wrong."""
    source = (text or "").strip()
    if not source:
        raise FormulaError("the formula is empty", code="formula_required")
    if len(source) > MAX_FORMULA_CHARS:
        raise FormulaError(f"the formula is longer than {MAX_FORMULA_CHARS} characters", code="formula_too_long")
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as exc:
        raise FormulaError(f"the formula cannot be read near character {exc.offset or 0}: {exc.msg}",
                           code="formula_syntax", subject=str(exc.offset or 0)) from None
    if sum(1 for _ in ast.walk(tree)) > MAX_NODES:
        raise FormulaError("the formula is too complicated", code="formula_too_long")
    builder = _Builder(fields)
    value = builder.number(tree.body)
    ratio = None
    body = tree.body
    if (isinstance(body, ast.BinOp) and isinstance(body.op, ast.Div) and builder.term_of.get(id(body.left)) is not None
            and builder.term_of.get(id(body.right)) is not None):
        ratio = (builder.term_of[id(body.left)], builder.term_of[id(body.right)])
    if not builder.terms:
        raise FormulaError("the formula must aggregate the data: use sum(…), count(…), mean(…) or top_share(…)",
                           code="formula_no_aggregate")
    scaled = frozenset(f for f in builder.used if fields[f].kind is Kind.SCORE)
    return Formula(source, tuple(builder.terms), value, frozenset(builder.used), ratio, scaled)


Vector = Callable[[Sequence[NDArray[np.float64]]], NDArray[np.float64]]


class _Builder:
    def __init__(self, fields: Mapping[str, Field]) -> None:
        self.fields = fields
        self.terms: list[Term] = []
        self.used: set[str] = set()
        self.term_of: dict[int, int] = {}

    # numbers ------------------------------------------------------------------------------------------------
    def number(self, node: ast.expr) -> Vector:
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
            c = float(node.value)
            return lambda totals: np.asarray(c, dtype=np.float64)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            inner = self.number(node.operand)
            return lambda totals: -inner(totals)
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub, ast.Mult, ast.Div)):
            left, right = self.number(node.left), self.number(node.right)
            if isinstance(node.op, ast.Add):
                return lambda totals: left(totals) + right(totals)
            if isinstance(node.op, ast.Sub):
                return lambda totals: left(totals) - right(totals)
            if isinstance(node.op, ast.Mult):
                return lambda totals: left(totals) * right(totals)
            return lambda totals: _divide(left(totals), right(totals))
        if isinstance(node, ast.Call):
            return self.aggregate(node)
        if isinstance(node, ast.Name):
            self._field(node.id)
            raise FormulaError(f"field {node.id} must be inside sum(…), mean(…) or a condition", code="bare_field",
                               subject=node.id)
        raise FormulaError(f"'{ast.unparse(node)}' is not allowed here: use numbers, + - * /, and sum, count, mean "
                           "or top_share", code="formula_syntax", subject=ast.unparse(node))

    def aggregate(self, node: ast.Call) -> Vector:
        if not isinstance(node.func, ast.Name):
            raise FormulaError(f"'{ast.unparse(node.func)}' is not a function of the formula language",
                               code="unknown_function", subject=ast.unparse(node.func))
        name = node.func.id
        if node.keywords:
            raise FormulaError(f"{name}(…) takes its arguments in order, without names", code="formula_syntax",
                               subject=name)
        args = node.args
        if name == "count":
            if len(args) > 1:
                raise FormulaError("count takes at most one argument, a condition", code="wrong_arguments",
                                   subject=name)
            return self._term(node, Term("count", None, self.condition(args[0]) if args else None,
                                         ast.unparse(node)))
        if name in ("sum", "mean"):
            if not 1 <= len(args) <= 2:
                raise FormulaError(f"{name} takes a field and, optionally, a condition", code="wrong_arguments",
                                   subject=name)
            f = self._numeric_field(args[0], name)
            cond = self.condition(args[1]) if len(args) == 2 else None
            total = self._term(node, Term("sum", f, cond, ast.unparse(node)))
            if name == "sum":
                return total
            count_index = len(self.terms)
            present = f if self.fields[f].kind is Kind.SCORE else None
            self.terms.append(Term("count", None, cond, f"count({ast.unparse(args[1])})" if cond else "count()",
                                   present=present))
            return lambda totals: _divide(total(totals), totals[count_index])
        if name == "top_share":
            if not 2 <= len(args) <= 3:
                raise FormulaError("top_share takes a field, a number of top values and, optionally, an amount",
                                   code="wrong_arguments", subject=name)
            if not isinstance(args[0], ast.Name):
                raise FormulaError("top_share ranks the values of a field: name the field first", code="wrong_arguments",
                                   subject=name)
            key = self._field(args[0].id)
            if not (isinstance(args[1], ast.Constant) and isinstance(args[1].value, int)
                    and not isinstance(args[1].value, bool) and 1 <= args[1].value <= 1000):
                raise FormulaError("top_share needs a whole number of top values from 1 to 1000",
                                   code="wrong_arguments", subject=name)
            amount = self._numeric_field(args[2], name) if len(args) == 3 else self._default_amount(name)
            return self._term(node, Term("top", amount, None, ast.unparse(node), key=key.name, n=args[1].value))
        raise FormulaError(f"unknown function {name}: use sum, count, mean or top_share", code="unknown_function",
                           subject=name)

    def _default_amount(self, name: str) -> str:
        if "outstanding" not in self.fields:
            raise FormulaError(f"{name} needs the amount to rank by", code="wrong_arguments", subject=name)
        self.used.add("outstanding")
        return "outstanding"

    def _term(self, node: ast.Call, term: Term) -> Vector:
        index = len(self.terms)
        self.terms.append(term)
        self.term_of[id(node)] = index
        return lambda totals: totals[index]

    # fields and conditions ----------------------------------------------------------------------------------
    def _field(self, name: str) -> Field:
        f = self.fields.get(name)
        if f is None:
            known = ", ".join(sorted(self.fields))
            raise FormulaError(f"unknown field {name}; the fields are: {known}", code="unknown_field", subject=name)
        self.used.add(name)
        return f

    def _numeric_field(self, node: ast.expr, fn: str) -> str:
        if not isinstance(node, ast.Name):
            raise FormulaError(f"{fn} needs a field name first, e.g. {fn}(outstanding)", code="wrong_arguments",
                               subject=fn)
        f = self._field(node.id)
        if f.kind not in NUMERIC:
            raise FormulaError(f"{fn} adds numbers, and {f.name} is not a number", code="field_not_numeric",
                               subject=f.name)
        return f.name

    def condition(self, node: ast.expr) -> Condition:
        if isinstance(node, ast.BoolOp):
            parts = [self.condition(v) for v in node.values]
            if isinstance(node.op, ast.And):
                return lambda cols: np.logical_and.reduce([p(cols) for p in parts])
            return lambda cols: np.logical_or.reduce([p(cols) for p in parts])
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            inner = self.condition(node.operand)
            return lambda cols: ~inner(cols)
        if isinstance(node, ast.Name):
            f = self._field(node.id)
            if f.kind is not Kind.FLAG:
                raise FormulaError(f"{f.name} is not a yes/no field: compare it, e.g. {f.name} > 0",
                                   code="condition_not_flag", subject=f.name)
            name = f.name
            return lambda cols: np.asarray(cols[name], dtype=bool)
        if isinstance(node, ast.Compare):
            return self.compare(node)
        raise FormulaError(f"'{ast.unparse(node)}' is not a condition: compare a field with a value",
                           code="formula_syntax", subject=ast.unparse(node))

    def compare(self, node: ast.Compare) -> Condition:
        if len(node.ops) != 1:
            # a < b < c: split into (a < b) and (b < c)
            left = node.left
            parts: list[Condition] = []
            for each, right_side in zip(node.ops, node.comparators, strict=True):
                parts.append(self.compare(ast.Compare(left=left, ops=[each], comparators=[right_side])))
                left = right_side
            return lambda cols: np.logical_and.reduce([p(cols) for p in parts])
        op = _COMPARE.get(type(node.ops[0]))
        if op is None:  # pragma: no cover - every ast comparison operator is listed or refused below
            raise FormulaError("unknown comparison", code="formula_syntax")
        left, right = node.left, node.comparators[0]
        if not isinstance(left, ast.Name) and isinstance(right, ast.Name) and op not in ("in", "not in"):
            left, right, op = right, left, {"<": ">", "<=": ">=", ">": "<", ">=": "<="}.get(op, op)
        if not isinstance(left, ast.Name):
            raise FormulaError(f"'{ast.unparse(node)}' must compare a field with a value", code="formula_syntax",
                               subject=ast.unparse(node))
        f = self._field(left.id)
        name = f.name
        if isinstance(right, ast.Name):
            g = self._field(right.id)
            if (f.kind in NUMERIC) != (g.kind in NUMERIC) or op in ("in", "not in"):
                raise FormulaError(f"{f.name} and {g.name} cannot be compared", code="type_mismatch", subject=g.name)
            other = g.name
            return _compare_fields(name, op, other)
        if op in ("in", "not in"):
            if not isinstance(right, (ast.Tuple, ast.List, ast.Set)) or not right.elts:
                raise FormulaError(f"'{op}' needs a list of values, e.g. {f.name} in (1, 2)", code="formula_syntax",
                                   subject=f.name)
            values = [self._constant(v, f) for v in right.elts]
            members = np.asarray(values, dtype=object if f.kind in (Kind.CATEGORY,) else np.float64)
            negate = op == "not in"
            return lambda cols: np.isin(cols[name], members) != negate
        value = self._constant(right, f)
        if f.kind in (Kind.CATEGORY, Kind.FLAG) and op not in ("==", "!="):
            raise FormulaError(f"{f.name} is compared with == or != only", code="type_mismatch", subject=f.name)
        return _compare_value(name, op, value)

    def _constant(self, node: ast.expr, f: Field) -> Any:
        if (isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant)
                and isinstance(node.operand.value, (int, float)) and not isinstance(node.operand.value, bool)):
            node = ast.Constant(-node.operand.value)
        if not isinstance(node, ast.Constant):
            raise FormulaError(f"{f.name} is compared with a value (a number or text in quotes), not "
                               f"'{ast.unparse(node)}'", code="formula_syntax", subject=f.name)
        v = node.value
        if f.kind is Kind.FLAG:
            if isinstance(v, bool) or v in (0, 1):
                return bool(v)
        elif f.kind is Kind.CATEGORY:
            if isinstance(v, str):
                return v
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            return v
        raise FormulaError(f"{f.name} is {_KIND_WORDS[f.kind]}; {v!r} is not", code="type_mismatch", subject=f.name)


_KIND_WORDS = {Kind.AMOUNT: "an amount in fen", Kind.NUMBER: "a number", Kind.SCORE: "a number",
               Kind.CATEGORY: "a code in quotes", Kind.FLAG: "yes or no (True / False)"}

_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "==": np.equal, "!=": np.not_equal, "<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal}


def _compare_value(name: str, op: str, value: Any) -> Condition:
    fn = _OPS[op]
    return lambda cols: np.asarray(fn(cols[name], value), dtype=bool)


def _compare_fields(name: str, op: str, other: str) -> Condition:
    fn = _OPS[op]
    return lambda cols: np.asarray(fn(cols[name], cols[other]), dtype=bool)


def _divide(a: NDArray[np.float64], b: NDArray[np.float64]) -> NDArray[np.float64]:
    num = np.asarray(a, dtype=np.float64)
    den = np.asarray(b, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(den != 0, num / np.where(den != 0, den, 1.0), np.nan)
    return np.asarray(out, dtype=np.float64)


# --- evaluation --------------------------------------------------------------------------------------------

@dataclass
class Partial:
    """The additive state of a formula over the rows seen so far, per group: exact int64 sums for amounts,
    float sums for scores, counts; for `top` terms the totals per (group, key). Partials of disjoint row sets
    add up (`merge`), which is how chunks and Spark partitions are combined."""

    n_groups: int
    sums: list[NDArray[Any]]
    tops: list[dict[tuple[int, Any], int]]

    def merge(self, other: Partial) -> Partial:
        if other.n_groups != self.n_groups:
            raise ValueError("partials of different groupings")
        sums = [a + b for a, b in zip(self.sums, other.sums, strict=True)]
        tops = []
        for a, b in zip(self.tops, other.tops, strict=True):
            merged = dict(a)
            for k, v in b.items():
                merged[k] = merged.get(k, 0) + v
            tops.append(merged)
        return Partial(self.n_groups, sums, tops)


def partial(formula: Formula, columns: Mapping[str, NDArray[Any]], groups: NDArray[np.int64], n_groups: int,
            kinds: Mapping[str, Field]) -> Partial:
    """The formula's additive terms over one chunk of rows; `groups[k]` is row k's group (0 … n_groups − 1)."""
    g = np.asarray(groups, dtype=np.int64)
    sums: list[NDArray[Any]] = []
    tops: list[dict[tuple[int, Any], int]] = []
    for t in formula.terms:
        keep = np.ones(g.size, dtype=bool) if t.condition is None else t.condition(columns)
        if t.present is not None:
            keep = keep & ~np.isnan(np.asarray(columns[t.present], dtype=np.float64))
        if t.op == "count":
            sums.append(np.bincount(g[keep], minlength=n_groups).astype(np.int64))
            tops.append({})
        elif t.op == "sum":
            assert t.field is not None
            values = columns[t.field]
            if kinds[t.field].kind is Kind.SCORE:
                # in millionths, as integers: exact sums, so any split into chunks or partitions gives the very same
                # total (float sums would depend on the order of addition); rows without a value add nothing
                real = np.asarray(values, dtype=np.float64)[keep]
                micro = np.rint(np.nan_to_num(real, nan=0.0) * SCORE_SCALE).astype(np.int64)
                exact = np.zeros(n_groups, dtype=np.int64)
                np.add.at(exact, g[keep], micro)
                sums.append(exact)
            else:
                exact = np.zeros(n_groups, dtype=np.int64)
                np.add.at(exact, g[keep], np.asarray(values, dtype=np.int64)[keep])
                sums.append(exact)
            tops.append({})
        else:  # top: totals per (group, key)
            assert t.field is not None and t.key is not None
            amounts = np.asarray(columns[t.field], dtype=np.int64)
            keys = np.asarray(columns[t.key])
            uniq, inv = _group_keys(g, keys)
            totals = np.zeros(len(uniq), dtype=np.int64)
            np.add.at(totals, inv, amounts)
            tops.append({(int(uniq[i][0]), uniq[i][1]): int(totals[i]) for i in range(len(uniq))})
            sums.append(np.zeros(n_groups, dtype=np.int64))
    return Partial(n_groups, sums, tops)


def _group_keys(g: NDArray[np.int64], keys: NDArray[Any]) -> tuple[list[tuple[int, Any]], NDArray[np.int64]]:
    """Distinct (group, key) pairs and each row's index into them (vectorised: a million rows in milliseconds)."""
    key_values, key_index = np.unique(keys, return_inverse=True)
    combined = g * np.int64(max(1, key_values.size)) + key_index.astype(np.int64)
    pair_codes, inv = np.unique(combined, return_inverse=True)
    n = np.int64(max(1, key_values.size))
    pairs = [(int(code // n), key_values[int(code % n)].item() if hasattr(key_values[int(code % n)], "item")
              else key_values[int(code % n)]) for code in pair_codes.tolist()]
    return pairs, inv.astype(np.int64)


def finish(formula: Formula, state: Partial) -> tuple[NDArray[np.float64], list[tuple[float, float] | None]]:
    """Each group's value (NaN where undefined) and, for a ratio formula, its (numerator, denominator)."""
    totals: list[NDArray[np.float64]] = []
    for t, s, top in zip(formula.terms, state.sums, state.tops, strict=True):
        if t.op != "top":
            scale = SCORE_SCALE if t.op == "sum" and t.field in formula.scaled else 1
            totals.append(np.asarray(s, dtype=np.float64) / scale)
            continue
        share = np.full(state.n_groups, np.nan)
        per_group: dict[int, list[tuple[int, Any]]] = {}
        for (gi, key), amount in top.items():
            per_group.setdefault(gi, []).append((amount, key))
        for gi, rows in per_group.items():
            whole = sum(a for a, _ in rows)
            rows.sort(key=lambda r: (-r[0], str(r[1])))
            if whole:
                share[gi] = sum(a for a, _ in rows[: t.n]) / whole
        totals.append(share)
    values = np.broadcast_to(np.asarray(formula.combine(totals), dtype=np.float64), (state.n_groups,)).copy()
    parts: list[tuple[float, float] | None] = [None] * state.n_groups
    if formula.ratio is not None:
        num, den = totals[formula.ratio[0]], totals[formula.ratio[1]]
        parts = [(float(num[i]), float(den[i])) for i in range(state.n_groups)]
    return values, parts


def evaluate(formula: Formula, columns: Mapping[str, NDArray[Any]], groups: NDArray[np.int64], n_groups: int,
             kinds: Mapping[str, Field]) -> tuple[NDArray[np.float64], list[tuple[float, float] | None]]:
    """Evaluate over one set of rows (the local engine's whole book, or one chunk)."""
    return finish(formula, partial(formula, columns, groups, n_groups, kinds))
