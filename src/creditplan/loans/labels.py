"""What the loan pages call things that are data rather than words of the product: product and branch names in
the page's language (issue 20 §2). The enums (statuses, classes, buckets, methods, channels, activities) are
translated by the tables of loans/views.py; names of records pick the name stored in the page's language."""

from __future__ import annotations

from typing import Any

from django.utils.translation import get_language


def english() -> bool:
    return (get_language() or "zh-hans").startswith("en")


def product_name(product: Any) -> str:
    """A product's name in the page's language (the Chinese name where no English one is stored), never its code."""
    if product is None:
        return ""
    name_en = getattr(product, "name_en", "") or ""
    return name_en if english() and name_en else str(getattr(product, "name", "") or "")


def branch_name(branch: Any) -> str:
    """A branch's name in the page's language (the Chinese name where no English one is stored)."""
    if branch is None:
        return ""
    name_en = getattr(branch, "name_en", "") or ""
    return name_en if english() and name_en else str(getattr(branch, "name", "") or "")


LPR_TENOR_WORDS = {"1y": ("1-year", "1年期"), "5y": ("5-year", "5年期以上")}


def lpr_tenor(code: str) -> str:
    """The LPR tenor a floating loan follows, in words: 1年期 / 5年期以上 (1-year / 5-year)."""
    en, zh = LPR_TENOR_WORDS.get(code, (code, code))
    return en if english() else zh
