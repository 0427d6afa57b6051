"""The shared part of the hand-written INSERT and UPDATE statements of the submission path (decisions.sql and
origination.sql say why each statement is hand-written, and which benchmark justifies it).

What is shared is how a model's values become a statement's parameters — as the ORM would adapt them
(`Field.get_db_prep_save`, JSON through the field's own encoder), but without the ORM's per-call cost where
the adaptation gives the value back unchanged — and the placeholder of each column (on PostgreSQL a JSON
column is sent as text and cast to jsonb by the statement).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from django.db import connection

#: Field types whose adaptation gives back a value of this exact type unchanged (None too): skipped on the hot
#: path.
PLAIN_TYPES: dict[str, type] = {
    "CharField": str, "TextField": str, "BigIntegerField": int, "IntegerField": int,
    "PositiveIntegerField": int, "PositiveSmallIntegerField": int, "BooleanField": bool, "FloatField": float,
    "ForeignKey": int}


class Columns:
    """The columns of one table's hand-written statements: the model fields in statement order, which of them
    hold JSON, and the value type each passes through unadapted."""

    __slots__ = ("_json", "_pass", "fields")

    def __init__(self, fields: Iterable[Any]) -> None:
        self.fields: list[Any] = list(fields)
        self._json = frozenset(f.attname for f in self.fields if f.get_internal_type() == "JSONField")
        self._pass = {f.attname: PLAIN_TYPES.get(f.get_internal_type()) for f in self.fields}

    @property
    def names(self) -> str:
        """The column names, comma-separated, in statement order."""
        return ", ".join(f.column for f in self.fields)

    def value(self, field: Any, value: Any) -> Any:
        """A value as the statement sends it: JSON already serialised (as the field would: ``json.dumps`` with
        its encoder; the statement casts it), text, numbers and ids as they are, the rest through the field's
        own adaptation."""
        name = field.attname
        if value is None and name not in self._json or type(value) is self._pass.get(name):
            return value
        if name in self._json:
            return None if value is None else json.dumps(value, cls=field.encoder)
        return field.get_db_prep_save(value, connection)

    def values(self, obj: Any) -> list[Any]:
        """Every column's value of a model instance, adapted, in statement order."""
        return [self.value(f, getattr(obj, f.attname)) for f in self.fields]

    def slot(self, field: Any) -> str:
        """The placeholder of one column: JSON text is cast to jsonb on PostgreSQL."""
        return "%s::jsonb" if field.attname in self._json and connection.vendor == "postgresql" else "%s"
