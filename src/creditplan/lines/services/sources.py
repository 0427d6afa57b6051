"""What the lines learn from the apps above them, through functions those apps register from their
AppConfig.ready() (lines sits below loans and origination and never imports them):

* the **exposures** of a customer — loans still owing principal and approvals not yet paid out — which a new
  line takes over when it is approved (so a line never grants again what the customer already holds);
* the **products** a sub-limit may name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Exposure:
    """One loan or approval of a customer: `reserved_minor` for an approval not yet paid out,
    `outstanding_minor` (principal) for a loan."""

    application_ref: str
    product: str
    currency: str = "CNY"
    reserved_minor: int = 0
    outstanding_minor: int = 0


ExposureSource = Callable[[int], list[Exposure]]
ProductSource = Callable[[], list[tuple[str, str]]]
_exposure_sources: list[ExposureSource] = []
_product_sources: list[ProductSource] = []


def register_exposure_source(source: ExposureSource) -> None:
    """Called from an app's AppConfig.ready(): `source(customer_id)` lists the customer's exposures."""
    if source not in _exposure_sources:
        _exposure_sources.append(source)


def register_product_source(source: ProductSource) -> None:
    """Called from an app's AppConfig.ready(): `source()` lists (code, name) of the products lent."""
    if source not in _product_sources:
        _product_sources.append(source)


def exposures(customer_id: int) -> list[Exposure]:
    return [e for source in _exposure_sources for e in source(customer_id)]


def products() -> list[tuple[str, str]]:
    """(code, name) of every product; empty when no app registered a source (then codes are not checked)."""
    return sorted({code: name for source in _product_sources for code, name in source()}.items())
