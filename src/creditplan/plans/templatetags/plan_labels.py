"""`{{ code|plan_label:"status" }}` — a plans code in the page's language through the one label table
(plans/labels.py)."""

from __future__ import annotations

from typing import Any

from django import template

from creditplan.plans.labels import label

register = template.Library()


@register.filter
def plan_label(code: Any, kind: str) -> str:
    return label(kind, code)
