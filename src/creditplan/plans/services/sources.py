"""What the credit plan learns from the apps above it (loans, origination), through what those apps register from
their AppConfig.ready() — plans sits below them and never imports them (docs/architecture.md, "Layers"):

* **the book** (loans): the SQL of a customer's outstanding principal, read inside the reservation's one statement
  (the whole-book exposure of the concentration limits); the book by cell for a plan's opening balance and the
  reconciliation; borrower counts; scheduled principal repayments for the forecast;
* **the pipeline** (origination): applications in progress by stage, and each stage's historical conversion.

Each registry holds one provider; a second registration replaces the first (tests may register their own).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class Cell:
    """A combination of the plan's dimensions and an amount (fen) or a count."""

    branch_id: int
    product: str = ""
    industry: str = ""
    region: str = ""
    segment: str = ""
    amount: int = 0


class BookSource(Protocol):
    def customer_outstanding_sql(self) -> str:
        """A scalar subquery (parenthesised SQL) giving the outstanding principal (fen) of every live loan of the
        customer whose id is its one `%s` parameter."""

    def application_outstanding_sql(self) -> str:
        """A scalar subquery (parenthesised SQL): the outstanding principal (fen) of the live loans booked under
        the application reference that is its one `%s` parameter (the reservation's exposure check subtracts it:
        a loan booked by trusted code is written before its reservation)."""

    def cells(self) -> list[Cell]:
        """Outstanding principal of the whole book now, by cell."""

    def borrowers(self, filters: list[dict[str, str]]) -> int:
        """Customers with principal outstanding on a loan matching any of the filters (all loans when empty)."""

    def scheduled_principal(self, start: dt.date, end: dt.date) -> list[Cell]:
        """Principal falling due between the two dates (inclusive), by cell."""


class PipelineSource(Protocol):
    def in_progress(self) -> list[tuple[str, Cell]]:
        """(stage, cell with the requested amount) of every application in progress."""

    def conversion(self) -> dict[str, Any]:
        """Each stage's historical share of applications that went on to be paid out (a Fraction or float)."""


_book: list[BookSource] = []
_pipeline: list[PipelineSource] = []


def register_book_source(source: BookSource) -> None:
    _book[:] = [source]


def register_pipeline_source(source: PipelineSource) -> None:
    _pipeline[:] = [source]


def book() -> BookSource | None:
    return _book[0] if _book else None


def pipeline() -> PipelineSource | None:
    return _pipeline[0] if _pipeline else None
