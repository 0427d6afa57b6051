"""The grid editor: a version's decision tables as rows of cells, and saving one table's rows back into the
draft."""

from __future__ import annotations

import json
from typing import Any

from django.db import transaction

from creditplan.core.access import Actor
from creditplan.core.errors import NotFound, ValidationError
from creditplan.decisions.services.policies import (
    PolicyVersionView,
    update_draft,
    version_document,
    version_row,
)
from creditplan.org import services as org
from creditplan.org.domain import Perm


def grid_of(actor: Actor, version_id: int) -> list[dict[str, Any]]:
    """The version's decision tables as rows for the grid editor."""
    doc = version_document(actor, version_id)
    tables = []
    for node in doc.get("nodes", []):
        if node.get("type") != "decisionTableNode":
            continue
        c = node["content"]
        rows = [{"id": r.get("_id", ""), "description": r.get("_description", ""),
                 "inputs": [str(r.get(col["id"]) or "") for col in c["inputs"]],
                 "outputs": [str(r.get(col["id"]) or "") for col in c["outputs"]]} for r in c["rules"]]
        tables.append({"id": node["id"], "name": node.get("name", node["id"]), **_names(node),
                       "hit_policy": c.get("hitPolicy"),
                       "inputs": [{"id": col["id"], "field": col.get("field", ""), "name": col.get("name", ""),
                                   **_names(col)} for col in c["inputs"]],
                       "outputs": [{"id": col["id"], "field": col.get("field", ""), "name": col.get("name", ""),
                                    **_names(col)} for col in c["outputs"]], "rows": rows})
    return tables


def _names(item: dict[str, Any]) -> dict[str, str]:
    """A table's or column's names in each language, where the document stores them (name_en, name_zh)."""
    return {k: str(item[k]) for k in ("name_en", "name_zh") if isinstance(item.get(k), str) and item[k]}


@transaction.atomic
def save_grid(actor: Actor, version_id: int, *, table_id: str, rows: list[dict[str, Any]],
              hit_policy: str | None = None) -> PolicyVersionView:
    """Replace one table's rules from the grid (each row: id, description, inputs[], outputs[] in column order).
    Empty rows are dropped; an invalid cell refuses the whole save with the reason."""
    org.require(actor, Perm.POLICY_EDIT)
    v = version_row(version_id)
    doc = json.loads(v.jdm)
    node = next((n for n in doc.get("nodes", []) if n.get("id") == table_id and n.get("type") == "decisionTableNode"),
                None)
    if node is None:
        raise NotFound(f"no decision table {table_id!r} in this version", code="table_not_found")
    c = node["content"]
    ins, outs = c["inputs"], c["outputs"]
    rules = []
    used: set[str] = set()
    for i, row in enumerate(rows):
        cells_in = [str(x or "").strip() for x in (row.get("inputs") or [])]
        cells_out = [str(x or "").strip() for x in (row.get("outputs") or [])]
        if not any(cells_in) and not any(cells_out):
            continue
        if len(cells_in) != len(ins) or len(cells_out) != len(outs):
            raise ValidationError(f"row {i + 1} does not have one cell per column", field="rows")
        rid = str(row.get("id") or "").strip() or f"r{i + 1}"
        while rid in used:
            rid += "_"
        used.add(rid)
        rule: dict[str, Any] = {"_id": rid, "_description": str(row.get("description") or "")[:300]}
        rule.update({col["id"]: cell for col, cell in zip(ins, cells_in, strict=True)})
        rule.update({col["id"]: cell for col, cell in zip(outs, cells_out, strict=True)})
        rules.append(rule)
    c["rules"] = rules
    if hit_policy is not None:
        c["hitPolicy"] = hit_policy
    return update_draft(actor, version_id, jdm=doc)
