"""Credit policies as GoRules JDM decision graphs: parse, validate, compile, and read an evaluation.

Why JDM and zen-engine: risk managers edit the rules as decision tables (in this app's grid, or in the GoRules
editor, then upload the JSON), and the same document runs in the request path inside a Rust engine — there is
no hand-written rule code to drift from what was approved.

The house convention a policy follows (validation enforces it):

* the graph is ``inputNode → decisionTableNode(s) / expressionNode(s) → outputNode``; other node kinds (JavaScript
  functions, sub-decisions, custom nodes) are refused, so a policy cannot run code or reach outside itself;
* every decision table outputs ``outcome`` (``"approve"``, ``"refer"`` or ``"decline"``) and should output
  ``reason`` (a stable code) and ``message_en`` / ``message_zh`` (what the applicant and the reviewer read);
* knock-out tables use hit policy ``collect`` (every rule that matches fires); cut-off tables ``first``;
* the decision is the most severe outcome among the rules that fired (decline > refer > approve); no rule
  firing at all means refer.

Input cells are ZEN unary tests (``< 18``, ``[560..620)``, ``"payroll", "salaried"``, ``true``, or a full
expression with ``$`` for the column's value); output cells are ZEN expressions (usually literals).

Missing data: a rule needs every field its non-empty cells test. When one of them is absent from the facts the
rule's answer cannot be trusted (a null compares false, or true under a negation), so the rule is set aside and
the decision is at least refer, with the field named — never an approval on data that was not there.

Rulesets: the same graphs also serve decision tables that are not a product's credit policy (risk's early-warning
level, for one: decisions.domain.rulesets). Such a table speaks its own outcome scale — a `Scale`, least to most
severe, with the outcome given when no rule fires or a rule rests on missing data — and everything here that reads
outcomes takes the scale (`CREDIT` when not given: approve / refer / decline, refer as the fallback).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import zen

from creditplan.core.errors import ValidationError

CONTENT_TYPE = "application/vnd.gorules.decision"
OUTCOMES = ("approve", "refer", "decline")
SEVERITY = {"approve": 0, "refer": 1, "decline": 2}
ALLOWED_NODES = ("inputNode", "outputNode", "decisionTableNode", "expressionNode")
HIT_POLICIES = ("first", "collect")
MAX_JDM_BYTES = 1_000_000
MAX_RULES = 2_000
_KEYWORDS = {"and", "or", "not", "in", "true", "false", "null", "$", "#"}
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
_IDENT = re.compile(r"(?<![\w.$#])([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)(?!\s*\(|\w)")


@dataclass(frozen=True)
class Scale:
    """The outcomes a decision table may give, least to most severe, and the one given when no rule fires or a rule
    rests on data that is not there (never the least severe of a credit policy: nothing is approved on no rule)."""

    outcomes: tuple[str, ...]
    fallback: str

    def __post_init__(self) -> None:
        if len(set(self.outcomes)) != len(self.outcomes) or self.fallback not in self.outcomes:
            raise ValueError("a scale lists distinct outcomes, its fallback among them")

    def rank(self, outcome: str) -> int:
        return self.outcomes.index(outcome)

    def worst(self, outcomes: list[str]) -> str:
        return max(outcomes, key=self.outcomes.index)

    def quoted(self) -> str:
        return ", ".join(f'"{o}"' for o in self.outcomes)


CREDIT = Scale(OUTCOMES, "refer")
"""A product's credit policy: approve < refer < decline; refer when nothing fired."""


def zen_error(exc: BaseException) -> str:
    """The readable part of a zen error (its first line; the rest is a Rust backtrace)."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    try:
        data = json.loads(text)
    except ValueError:
        return text
    if isinstance(data, dict):
        source = data.get("source")
        kind = data.get("type", "error")
        return f"{kind}: {source if isinstance(source, str) else json.dumps(source)}"
    return text


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def canonical(document: Mapping[str, Any]) -> str:
    """The stored text of a JDM document (sorted keys, UTF-8): the text whose SHA-256 names the version."""
    return json.dumps(document, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def parse_jdm(source: str | bytes | Mapping[str, Any]) -> dict[str, Any]:
    """A JDM document from JSON text (an upload) or a dict; refuses text that is not JSON, with the place."""
    if isinstance(source, Mapping):
        return dict(source)
    if isinstance(source, bytes):
        try:
            source = source.decode("utf-8")
        except UnicodeDecodeError:
            raise ValidationError("the policy file is not UTF-8 text", field="jdm", code="jdm_not_json")
    if len(source) > MAX_JDM_BYTES:
        raise ValidationError(f"the policy file is larger than {MAX_JDM_BYTES // 1000} kB", field="jdm",
                              code="jdm_too_large")
    try:
        data = json.loads(source)
    except json.JSONDecodeError as exc:
        raise ValidationError(f"the policy file is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}",
                              field="jdm", code="jdm_not_json")
    if not isinstance(data, dict):
        raise ValidationError("the policy file must be a JSON object with nodes and edges", field="jdm",
                              code="jdm_schema")
    return data


# --- the structure of a compiled policy ------------------------------------------------------------------

@dataclass(frozen=True)
class Column:
    id: str
    field: str
    name: str


@dataclass(frozen=True)
class Rule:
    """One row of a decision table, with its literal outputs read once at compile time."""

    table_id: str
    table_name: str
    index: int
    rule_id: str
    description: str
    cells: dict[str, str]  # column id → unary test ("" = any)
    outputs: dict[str, str]  # output field → expression text
    literals: dict[str, Any]  # output field → value, for outputs that are constants
    needs: tuple[str, ...]  # fields the rule's non-empty cells test

    @cached_property
    def outcome(self) -> str | None:
        value = self.literals.get("outcome")
        return value if value in SEVERITY else None

    def outcome_on(self, scale: Scale) -> str | None:
        """The rule's constant outcome when it is one of the scale's (CREDIT: the same as `outcome`)."""
        value = self.literals.get("outcome")
        return value if isinstance(value, str) and value in scale.outcomes else None

    @cached_property
    def reason(self) -> str:
        return str(self.literals.get("reason") or self.rule_id)

    def label(self) -> str:
        return f"{self.table_name} #{self.index + 1} ({self.reason})"

    def as_json(self) -> dict[str, Any]:
        return dict(self._json)

    @cached_property
    def _json(self) -> dict[str, Any]:
        return {"table": self.table_name, "table_id": self.table_id, "rule": self.rule_id, "row": self.index + 1,
                "reason": self.reason, "outcome": self.outcome, "description": self.description,
                "message_en": str(self.literals.get("message_en") or self.description or self.reason),
                "message_zh": str(self.literals.get("message_zh") or self.literals.get("message_en")
                                  or self.description or self.reason)}


@dataclass(frozen=True)
class Table:
    id: str
    name: str
    hit_policy: str
    inputs: tuple[Column, ...]
    outputs: tuple[Column, ...]
    rules: tuple[Rule, ...]
    output_path: str = ""


@dataclass(frozen=True)
class Problem:
    """One finding of validation: where, what, and how bad (``error`` blocks publishing)."""

    level: str  # error | warning
    where: str
    message: str
    code: str

    def as_json(self) -> dict[str, str]:
        return {"level": self.level, "where": self.where, "message": self.message, "code": self.code}


@dataclass
class CompiledPolicy:
    """A parsed policy ready for the engine: its zen content (parsed once) and what the tables say."""

    key: str
    sha256: str
    document: dict[str, Any]
    tables: tuple[Table, ...]
    computed: frozenset[str]  # fields produced by expression nodes (never required from the applicant)
    content: Any = None  # zen.ZenDecisionContent
    rule_index: dict[tuple[str, int], Rule] = field(default_factory=dict)
    needed: tuple[str, ...] = ()  # every field some rule needs
    labels: dict[str, list[str]] = field(default_factory=dict)  # field → labels of the rules needing it
    reads: frozenset[str] | None = None  # top-level facts the graph can read (None: cannot tell, send all)
    tagged: bool = False  # every table outputs a hidden ``__rule`` tag: no trace needed to know what fired

    def context(self, facts: Mapping[str, Any]) -> dict[str, Any]:
        """Only the facts the graph reads: zen copies its input into the trace of every node."""
        if self.reads is None:
            return dict(facts)
        return {k: facts[k] for k in self.reads if k in facts}

    @property
    def rules(self) -> list[Rule]:
        return [r for t in self.tables for r in t.rules]

    def required_fields(self) -> dict[str, list[str]]:
        """Field → the rules that need it."""
        out: dict[str, list[str]] = {}
        for r in self.rules:
            for f in r.needs:
                out.setdefault(f, []).append(r.label())
        return out


# --- parsing the graph -----------------------------------------------------------------------------------

def identifiers(expression: str) -> set[str]:
    """Variable paths an expression reads (``applicant.age``, ``income``), string literals and keywords left out."""
    text = _STRING.sub(" ", expression or "")
    found = set()
    for m in _IDENT.finditer(text):
        name = m.group(1)
        if name.split(".")[0] in _KEYWORDS:
            continue
        found.add(name)
    return found


def _literal(expression: str) -> tuple[bool, Any]:
    """(True, value) when an output expression is a constant (a quoted string, number, true/false/null)."""
    text = (expression or "").strip()
    if not text:
        return True, None
    if identifiers(text) or "$" in text:
        return False, None
    try:
        return True, zen.evaluate_expression(text, {})
    except Exception:  # noqa: BLE001 - an invalid expression is reported by validation, not here
        return False, None


def _str(value: Any, default: str = "") -> str:
    return value if isinstance(value, str) else default


def _schema_problems(doc: Mapping[str, Any]) -> list[Problem]:
    """The JSON shape of a JDM graph: nodes, edges, tables with columns and rules."""
    out: list[Problem] = []

    def err(where: str, message: str, code: str = "jdm_schema") -> None:
        out.append(Problem("error", where, message, code))

    nodes, edges = doc.get("nodes"), doc.get("edges")
    if not isinstance(nodes, list) or not nodes:
        err("nodes", "a policy needs a non-empty list of nodes")
        return out
    if not isinstance(edges, list):
        err("edges", "a policy needs a list of edges")
        return out
    ids: set[str] = set()
    kinds: dict[str, int] = {}
    for i, node in enumerate(nodes):
        where = f"nodes[{i}]"
        if not isinstance(node, Mapping):
            err(where, "a node is a JSON object")
            continue
        nid, kind = node.get("id"), node.get("type")
        if not isinstance(nid, str) or not nid:
            err(where, "a node needs an id")
            continue
        if nid in ids:
            err(where, f"node id {nid!r} is used twice")
        ids.add(nid)
        if kind not in ALLOWED_NODES:
            err(where, f"node type {kind!r} is not allowed in a credit policy (use {', '.join(ALLOWED_NODES)})",
                "jdm_node_type")
            continue
        kinds[kind] = kinds.get(kind, 0) + 1
        content = node.get("content")
        if kind == "decisionTableNode":
            out += _table_schema(node, where)
        elif kind == "expressionNode":
            exprs = content.get("expressions") if isinstance(content, Mapping) else None
            if not isinstance(exprs, list):
                err(where, "an expression node needs content.expressions (a list of {key, value})")
            else:
                for j, e in enumerate(exprs):
                    if not isinstance(e, Mapping) or not _str(e.get("key")) or not isinstance(e.get("value"), str):
                        err(f"{where}.expressions[{j}]", "each expression needs a key and a value (text)")
    if kinds.get("inputNode", 0) != 1:
        err("nodes", "a policy needs exactly one input node")
    if kinds.get("outputNode", 0) < 1:
        err("nodes", "a policy needs an output node")
    if kinds.get("decisionTableNode", 0) < 1:
        err("nodes", "a policy needs at least one decision table")
    for i, edge in enumerate(edges):
        where = f"edges[{i}]"
        if not isinstance(edge, Mapping):
            err(where, "an edge is a JSON object")
            continue
        for end in ("sourceId", "targetId"):
            if edge.get(end) not in ids:
                err(where, f"{end} {edge.get(end)!r} names no node")
    return out


def _table_schema(node: Mapping[str, Any], where: str) -> list[Problem]:
    out: list[Problem] = []
    name = _str(node.get("name"), node.get("id", "?"))
    content = node.get("content")
    if not isinstance(content, Mapping):
        return [Problem("error", where, f"table {name!r} has no content", "jdm_schema")]
    if content.get("hitPolicy") not in HIT_POLICIES:
        out.append(Problem("error", where, f"table {name!r}: hit policy must be 'first' or 'collect'", "jdm_schema"))
    cols: set[str] = set()
    for part in ("inputs", "outputs"):
        items = content.get(part)
        if not isinstance(items, list) or (part == "outputs" and not items):
            out.append(Problem("error", where, f"table {name!r} needs a list of {part}", "jdm_schema"))
            continue
        for j, col in enumerate(items):
            if not isinstance(col, Mapping) or not _str(col.get("id")):
                out.append(Problem("error", f"{where}.{part}[{j}]", "a column needs an id", "jdm_schema"))
                continue
            if col["id"] in cols:
                out.append(Problem("error", f"{where}.{part}[{j}]", f"column id {col['id']!r} is used twice",
                                   "jdm_schema"))
            cols.add(col["id"])
            if part == "outputs" and not _str(col.get("field")):
                out.append(Problem("error", f"{where}.{part}[{j}]", f"table {name!r}: an output column needs a field",
                                   "jdm_schema"))
    declared = content.get("outputs")
    outputs: list[Any] = declared if isinstance(declared, list) else []
    if not any(isinstance(c, Mapping) and c.get("field") == "outcome" for c in outputs):
        out.append(Problem("error", where, f"table {name!r} must have an output column with field 'outcome'",
                           "jdm_no_outcome"))
    rules = content.get("rules")
    if not isinstance(rules, list):
        out.append(Problem("error", where, f"table {name!r} needs a list of rules", "jdm_schema"))
        return out
    if len(rules) > MAX_RULES:
        out.append(Problem("error", where, f"table {name!r} has more than {MAX_RULES} rules", "jdm_schema"))
    seen: set[str] = set()
    for j, rule in enumerate(rules):
        if not isinstance(rule, Mapping) or not _str(rule.get("_id")):
            out.append(Problem("error", f"{where}.rules[{j}]", f"table {name!r} row {j + 1}: a rule needs an _id",
                               "jdm_schema"))
            continue
        if rule["_id"] in seen:
            out.append(Problem("error", f"{where}.rules[{j}]", f"table {name!r}: rule id {rule['_id']!r} is used twice",
                               "jdm_schema"))
        seen.add(rule["_id"])
        for key, value in rule.items():
            if key in cols and value is not None and not isinstance(value, str):
                out.append(Problem("error", f"{where}.rules[{j}]", f"table {name!r} row {j + 1}: cell {key!r} must be "
                                   "text", "jdm_schema"))
    return out


def compile_policy(source: str | bytes | Mapping[str, Any]) -> CompiledPolicy:
    """Parse and structurally check a policy; raises ValidationError naming the first structural problem.

    Expressions are not checked here (see :func:`validate`); the kernel only ever runs published versions,
    which passed validation."""
    doc = parse_jdm(source)
    problems = [p for p in _schema_problems(doc) if p.level == "error"]
    if problems:
        p = problems[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise ValidationError(f"{p.where}: {p.message}{more}", field="jdm", code=p.code,
                              extra={"problems": [x.as_json() for x in problems]})
    text = canonical(doc)
    sha = sha256_text(text)
    computed: set[str] = set()
    for node in doc["nodes"]:
        if node.get("type") == "expressionNode":
            computed |= {e["key"] for e in node["content"]["expressions"]}
    tables = []
    for node in doc["nodes"]:
        if node.get("type") != "decisionTableNode":
            continue
        c = node["content"]
        name = _str(node.get("name"), node["id"])
        inputs = tuple(Column(col["id"], _str(col.get("field")), _str(col.get("name"), col["id"])) for col in c["inputs"])
        outputs = tuple(Column(col["id"], col["field"], _str(col.get("name"), col["id"])) for col in c["outputs"])
        rules = []
        for j, r in enumerate(c["rules"]):
            cells = {col.id: str(r.get(col.id) or "").strip() for col in inputs}
            outs = {col.field: str(r.get(col.id) or "").strip() for col in outputs}
            literals = {}
            for f, expr in outs.items():
                ok, value = _literal(expr)
                if ok:
                    literals[f] = value
            needs: set[str] = set()
            for col in inputs:
                cell = cells[col.id]
                if not cell:
                    continue
                needs |= identifiers(col.field) if col.field else set()
                needs |= identifiers(cell)
            needs -= computed
            rules.append(Rule(node["id"], name, j, r["_id"], _str(r.get("_description")), cells, outs, literals,
                              tuple(sorted(needs))))
        tables.append(Table(node["id"], name, c["hitPolicy"], inputs, outputs, tuple(rules),
                            _str(c.get("outputPath"))))
    policy = CompiledPolicy(key=f"jdm-{sha}", sha256=sha, document=doc, tables=tuple(tables),
                            computed=frozenset(computed))
    paths = [t.output_path for t in tables]
    policy.tagged = all(paths) and len(set(paths)) == len(paths)
    policy.content = zen.ZenDecisionContent(canonical(_tag_rules(doc)) if policy.tagged else text)
    policy.rule_index = {(r.table_id, r.index): r for r in policy.rules}
    policy.labels = policy.required_fields()
    policy.needed = tuple(sorted(policy.labels))
    policy.reads = _reads(doc, tables)
    return policy


RULE_TAG = "__rule"


def _tag_rules(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The document zen runs: each table gets a hidden output naming the rule ("table#row"), so the rules that
    fired are read from the result instead of a trace (a trace copies the input into every node: twice the
    cost). Only used when every table writes under its own ``outputPath``, so the tags cannot collide."""
    out: dict[str, Any] = json.loads(json.dumps(doc))
    for node in out["nodes"]:
        if node.get("type") != "decisionTableNode":
            continue
        c = node["content"]
        c["outputs"] = [*c["outputs"], {"id": "__rule_tag", "type": "expression", "field": RULE_TAG,
                                        "name": RULE_TAG}]
        for j, rule in enumerate(c["rules"]):
            rule["__rule_tag"] = json.dumps(f"{node['id']}#{j}")
    return out


def _reads(doc: Mapping[str, Any], tables: list[Table]) -> frozenset[str] | None:
    names: set[str] = set()
    for t in tables:
        for col in t.inputs:
            if not col.field:
                return None  # a column without a field tests the whole input
            names |= identifiers(col.field)
        for r in t.rules:
            for cell in r.cells.values():
                names |= identifiers(cell)
            for expr in r.outputs.values():
                names |= identifiers(expr)
    for node in doc["nodes"]:
        if node.get("type") == "expressionNode":
            for e in node["content"]["expressions"]:
                names |= identifiers(e["value"])
    return frozenset(n.split(".")[0] for n in names)


# --- validation: expressions, dry run, overlaps ----------------------------------------------------------

@dataclass(frozen=True)
class Report:
    ok: bool
    problems: tuple[Problem, ...]
    overlaps: tuple[dict[str, Any], ...]
    fields: dict[str, list[str]]
    rules: int
    sha256: str = ""

    def as_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "problems": [p.as_json() for p in self.problems], "overlaps": list(self.overlaps),
                "fields": self.fields, "rules": self.rules, "sha256": self.sha256,
                "errors": sum(1 for p in self.problems if p.level == "error"),
                "warnings": sum(1 for p in self.problems if p.level == "warning")}


def _compile_problem(kind: str, text: str, where: str, what: str) -> Problem | None:
    try:
        if kind == "unary":
            zen.compile_unary_expression(text)
        else:
            zen.compile_expression(text)
    except Exception as exc:  # noqa: BLE001 - zen raises RuntimeError with a JSON payload
        return Problem("error", where, f"{what}: {text!r} is not a valid expression ({zen_error(exc)})",
                       "jdm_invalid_expression")
    return None


def _expression_problems(doc: Mapping[str, Any], scale: Scale = CREDIT) -> list[Problem]:
    out: list[Problem] = []
    for i, node in enumerate(doc["nodes"]):
        name = _str(node.get("name"), node["id"])
        if node["type"] == "expressionNode":
            for j, e in enumerate(node["content"]["expressions"]):
                p = _compile_problem("standard", e["value"], f"nodes[{i}].expressions[{j}]",
                                     f"expression {name!r} → {e['key']}")
                if p:
                    out.append(p)
            continue
        if node["type"] != "decisionTableNode":
            continue
        c = node["content"]
        for col in c["inputs"]:
            f = _str(col.get("field"))
            if f:
                p = _compile_problem("standard", f, f"nodes[{i}].inputs", f"table {name!r}, column {col.get('name')}")
                if p:
                    out.append(p)
        for j, rule in enumerate(c["rules"]):
            label = f"table {name!r} row {j + 1} ({rule.get('_id')})"
            for col in c["inputs"]:
                cell = str(rule.get(col["id"]) or "").strip()
                if cell:
                    p = _compile_problem("unary", cell, f"nodes[{i}].rules[{j}]", f"{label}, {col.get('name')}")
                    if p:
                        out.append(p)
            for col in c["outputs"]:
                cell = str(rule.get(col["id"]) or "").strip()
                if not cell:
                    continue
                p = _compile_problem("standard", cell, f"nodes[{i}].rules[{j}]", f"{label}, output {col['field']}")
                if p:
                    out.append(p)
                    continue
                if col["field"] == "outcome":
                    ok, value = _literal(cell)
                    if ok and value not in scale.outcomes:
                        out.append(Problem("error", f"nodes[{i}].rules[{j}]",
                                           f"{label}: outcome {cell} must be one of {scale.quoted()}"
                                           if scale != CREDIT else
                                           f"{label}: outcome {cell} must be \"approve\", \"refer\" or \"decline\"",
                                           "jdm_bad_outcome"))
    return out


def _sample_value(cells: list[str]) -> Any:
    """A value of the type a column's cells compare against, for the dry run."""
    joined = " ".join(cells)
    if '"' in joined:
        return "x"
    if re.search(r"\b(true|false)\b", joined):
        return False
    return 0


def _dry_run(policy: CompiledPolicy, samples: list[dict[str, Any]]) -> list[Problem]:
    """Build the decision in zen and evaluate it on sample facts: catches graph errors (cycles, dangling nodes)
    and expressions that fail on ordinary values."""
    out: list[Problem] = []
    try:
        decision = zen.ZenEngine().create_decision(policy.content)
    except Exception as exc:  # noqa: BLE001
        return [Problem("error", "graph", f"zen refused the graph: {zen_error(exc)}", "jdm_graph")]
    synthetic: dict[str, Any] = {}
    for t in policy.tables:
        for col in t.inputs:
            if col.field and re.fullmatch(r"[A-Za-z_][\w.]*", col.field):
                value = _sample_value([r.cells[col.id] for r in t.rules if r.cells[col.id]])
                _set_path(synthetic, col.field, value)
    for k, ctx in enumerate([synthetic, *samples]):
        try:
            decision.evaluate(ctx)
        except Exception as exc:  # noqa: BLE001
            where = "dry run (synthetic facts)" if k == 0 else f"dry run (example {k})"
            out.append(Problem("error", where, f"evaluation failed: {zen_error(exc)}", "jdm_dry_run"))
    return out


def _set_path(target: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    for p in parts[:-1]:
        nxt = target.get(p)
        if not isinstance(nxt, dict):
            nxt = target[p] = {}
        target = nxt
    target.setdefault(parts[-1], value)


def validate(source: str | bytes | Mapping[str, Any], *, samples: list[dict[str, Any]] | None = None,
             scale: Scale = CREDIT) -> Report:
    """Everything a risk manager needs to know before asking for approval: schema, every expression compiled by
    zen, a dry run, rules that can never fire (errors) and overlapping rules in first-hit tables (warnings).
    `scale`: the outcomes the tables may give (a credit policy's unless said). Raises ValidationError only for text
    that is not JSON at all."""
    doc = parse_jdm(source)
    problems = _schema_problems(doc)
    if any(p.level == "error" for p in problems):
        return Report(False, tuple(problems), (), {}, 0)
    problems += _expression_problems(doc, scale)
    policy = compile_policy(doc)
    if not any(p.level == "error" for p in problems):
        problems += _dry_run(policy, samples or [])
    overlaps: list[dict[str, Any]] = []
    for t in policy.tables:
        if t.hit_policy == "first":
            found, shadow = table_overlaps(t)
            overlaps += found
            problems += shadow
        if t.hit_policy == "first" and t.rules and not any(r.outcome_on(scale) for r in t.rules):
            problems.append(Problem("warning", t.name, "no rule of this table gives a constant outcome", "jdm_outcome"))
    ok = not any(p.level == "error" for p in problems)
    return Report(ok, tuple(problems), tuple(overlaps), policy.required_fields(), len(policy.rules), policy.sha256)


# --- overlap analysis of first-hit tables ------------------------------------------------------------------

_NUM = r"-?\d+(?:\.\d+)?"
_CMP = re.compile(rf"^(<=|>=|<|>|==|=)\s*({_NUM})$")
_RANGE = re.compile(rf"^([\[(\]])\s*({_NUM})\s*\.\.\s*({_NUM})\s*([\])\[])$")
_STRINGS = re.compile(r'^"[^"\\]*"(\s*,\s*"[^"\\]*")*$')
ANY = ("any",)
UNKNOWN = ("unknown",)


def cell_set(cell: str) -> tuple[Any, ...]:
    """A unary test as a set: ("any",), ("num", lo, lo_closed, hi, hi_closed), ("str", frozenset), ("bool", v),
    or ("unknown",) when the test is beyond this simple analysis."""
    text = cell.strip()
    if not text:
        return ANY
    inf = float("inf")
    if m := _CMP.match(text):
        op, v = m[1], float(m[2])
        return {"<": ("num", -inf, False, v, False), "<=": ("num", -inf, False, v, True),
                ">": ("num", v, False, inf, False), ">=": ("num", v, True, inf, False)}.get(
            op, ("num", v, True, v, True))
    if re.fullmatch(_NUM, text):
        v = float(text)
        return ("num", v, True, v, True)
    if m := _RANGE.match(text):
        return ("num", float(m[2]), m[1] == "[", float(m[3]), m[4] == "]")
    if _STRINGS.match(text):
        return ("str", frozenset(re.findall(r'"([^"\\]*)"', text)))
    if text in ("true", "false"):
        return ("bool", text == "true")
    return UNKNOWN


def _intersects(a: tuple[Any, ...], b: tuple[Any, ...]) -> bool | None:
    if a == ANY or b == ANY:
        return True
    if a == UNKNOWN or b == UNKNOWN or a[0] != b[0]:
        return None if (a == UNKNOWN or b == UNKNOWN) else False
    if a[0] == "num":
        lo, lo_c = (a[1], a[2]) if (a[1], not a[2]) > (b[1], not b[2]) else (b[1], b[2])
        hi, hi_c = (a[3], a[4]) if (a[3], a[4]) < (b[3], b[4]) else (b[3], b[4])
        return bool(lo < hi or (lo == hi and lo_c and hi_c))  # the bounds and flags are floats and bools
    if a[0] == "str":
        return bool(a[1] & b[1])
    return bool(a[1] == b[1])


def _contains(outer: tuple[Any, ...], inner: tuple[Any, ...]) -> bool:
    """Whether every value `inner` accepts, `outer` accepts too (False when unsure)."""
    if outer == ANY:
        return True
    if inner == ANY or UNKNOWN in (outer, inner) or outer[0] != inner[0]:
        return False
    if outer[0] == "num":
        lo_ok = outer[1] < inner[1] or (outer[1] == inner[1] and (outer[2] or not inner[2]))
        hi_ok = outer[3] > inner[3] or (outer[3] == inner[3] and (outer[4] or not inner[4]))
        return lo_ok and hi_ok
    if outer[0] == "str":
        return bool(inner[1] <= outer[1])
    return bool(outer[1] == inner[1])


def table_overlaps(table: Table) -> tuple[list[dict[str, Any]], list[Problem]]:
    """Pairs of rules of a first-hit table that can match the same application (the earlier one wins), and rules
    that can never fire because an earlier rule covers every case they cover. A final catch-all rule (all cells
    empty) is the table's default and is not reported."""
    sets = [[cell_set(r.cells[c.id]) for c in table.inputs] for r in table.rules]
    overlaps: list[dict[str, Any]] = []
    problems: list[Problem] = []
    for j, later in enumerate(table.rules):
        if all(s == ANY for s in sets[j]):
            continue
        for i in range(j):
            earlier = table.rules[i]
            verdicts = [_intersects(a, b) for a, b in zip(sets[i], sets[j], strict=True)]
            if any(v is False for v in verdicts):
                continue
            if all(_contains(a, b) for a, b in zip(sets[i], sets[j], strict=True)):
                problems.append(Problem("error", f"{table.name} #{j + 1}",
                                        f"table {table.name!r}: rule {j + 1} ({later.rule_id}) can never fire: rule "
                                        f"{i + 1} ({earlier.rule_id}) above it takes every case it covers",
                                        "jdm_unreachable_rule"))
                break
            overlaps.append({"table": table.name, "first": i + 1, "second": j + 1, "first_reason": earlier.reason,
                             "second_reason": later.reason, "certain": all(v is True for v in verdicts)})
    return overlaps, problems


# --- reading an evaluation ----------------------------------------------------------------------------------

def present(facts: Mapping[str, Any], path: str) -> bool:
    if "." not in path:
        return facts.get(path) is not None
    value: Any = facts
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return False
        value = value[part]
    return value is not None


@dataclass(frozen=True)
class Evaluation:
    """What a policy said about one application."""

    outcome: str
    fired: tuple[Rule, ...]
    set_aside: tuple[Rule, ...]  # fired (or not) on data that was missing: not trusted
    missing: dict[str, list[str]]  # field → rules that needed it
    result: Any
    error: str = ""

    def rules_fired(self) -> list[dict[str, Any]]:
        return [r.as_json() for r in self.fired]


def fired_rules(policy: CompiledPolicy, trace: Mapping[str, Any]) -> list[Rule]:
    """The rules that matched, table by table, from zen's trace (``traceData`` holds each matched rule's index)."""
    out = []
    for t in policy.tables:
        node = trace.get(t.id)
        if not isinstance(node, Mapping):
            continue
        data = node.get("traceData")
        items = data if isinstance(data, list) else [data] if isinstance(data, Mapping) else []
        for item in items:
            idx = item.get("index") if isinstance(item, Mapping) else None
            rule = policy.rule_index.get((t.id, idx)) if isinstance(idx, int) else None
            if rule is not None:
                out.append(rule)
    return out


def tagged_rules(policy: CompiledPolicy, result: Any) -> list[Rule]:
    """The rules that matched, from the hidden tags of a tagged policy's result, table by table."""
    out: list[Rule] = []
    if not isinstance(result, Mapping):
        return out
    for t in policy.tables:
        value = result.get(t.output_path)
        items = value if isinstance(value, list) else [value]
        for item in items:
            tag = item.get(RULE_TAG) if isinstance(item, Mapping) else None
            if isinstance(tag, str):
                table_id, _, idx = tag.rpartition("#")
                rule = policy.rule_index.get((table_id, int(idx))) if idx.isdigit() else None
                if rule is not None:
                    out.append(rule)
    return out


def _outcomes_in(value: Any, found: list[str], scale: Scale = CREDIT) -> None:
    if isinstance(value, Mapping):
        o = value.get("outcome")
        if isinstance(o, str) and o in scale.outcomes:
            found.append(o)
        for v in value.values():
            if isinstance(v, Mapping | list):
                _outcomes_in(v, found, scale)
    elif isinstance(value, list):
        for v in value:
            _outcomes_in(v, found, scale)


def interpret(policy: CompiledPolicy, facts: Mapping[str, Any], result: Any, trace: Mapping[str, Any],
              scale: Scale = CREDIT) -> Evaluation:
    """Combine the fired rules into the outcome: most severe wins; rules resting on missing fields are set aside
    and make the outcome at least the scale's fallback (refer); nothing fired → the fallback."""
    absent = {f for f in policy.needed if not present(facts, f)}
    missing = {f: policy.labels[f] for f in sorted(absent)}
    fired = tagged_rules(policy, result) if policy.tagged else fired_rules(policy, trace)
    trusted = tuple(r for r in fired if not absent.intersection(r.needs))
    set_aside = tuple(r for r in fired if r not in trusted)
    outcomes = [o for o in (r.outcome_on(scale) for r in trusted) if o]
    if not outcomes and not missing:  # rules whose outcome is computed: read the result itself
        _outcomes_in(result, outcomes, scale)
    outcome = scale.worst(outcomes) if outcomes else scale.fallback
    if missing and scale.rank(outcome) < scale.rank(scale.fallback):
        outcome = scale.fallback
    return Evaluation(outcome, trusted, set_aside, missing, result)
