"""The error hierarchy every layer raises and exactly one place turns into HTTP.

Why a hierarchy of our own: services must be callable from pages, the JSON API, the CLI and batch
jobs; each edge renders the same error its own way (problem+json with a stable ``code``, a message
on a page, an exit status). Nothing below the edge knows about HTTP, so ``http_status`` is only a
hint the edge reads.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class FieldProblem:
    """One thing wrong with one input field, named so a form or a client can point at it."""

    field: str
    message: str
    code: str = "invalid"
    # the numbers and names a page's sentence for `code` needs (creditplan.common.text): the error's `extra`
    extra: dict[str, Any] | None = dataclasses.field(default=None, compare=False)


class CreditplanError(Exception):
    """Base of every error the product raises on purpose."""

    http_status: int = 400
    default_code: str = "error"
    title: str = "Request failed"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        field: str | None = None,
        problems: list[FieldProblem] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.field = field
        self.problems: list[FieldProblem] = list(problems or [])
        self.extra: dict[str, Any] = dict(extra or {})
        if field and not self.problems:
            self.problems.append(FieldProblem(field=field, message=message, code=self.code, extra=self.extra or None))

    def for_field(self, name: str) -> CreditplanError:
        """The same error, attached to the input field the caller fed the value from."""
        problems = [FieldProblem(field=name, message=p.message, code=p.code, extra=p.extra) for p in self.problems] or None
        return type(self)(self.message, code=self.code, field=name, problems=problems, extra=self.extra)

    def __str__(self) -> str:  # pragma: no cover - trivial
        return f"{self.field}: {self.message}" if self.field else self.message


class ValidationError(CreditplanError):
    """Input that can never be accepted as it is (wrong check digit, negative amount, bad date)."""

    http_status = 422
    default_code = "validation_error"
    title = "Invalid input"

    @classmethod
    def collect(cls, problems: list[FieldProblem]) -> ValidationError:
        """One error for a whole form, so the user sees every problem at once."""
        summary = "; ".join(f"{p.field}: {p.message}" for p in problems)
        first = problems[0]
        return cls(summary, code=first.code if len(problems) == 1 else "validation_error", problems=problems)


class NotAuthenticated(CreditplanError):
    http_status = 401
    default_code = "not_authenticated"
    title = "Authentication required"


class Forbidden(CreditplanError):
    http_status = 403
    default_code = "forbidden"
    title = "Not allowed"


class NotFound(CreditplanError):
    http_status = 404
    default_code = "not_found"
    title = "Not found"


class Conflict(CreditplanError):
    """The request is well formed but clashes with the current state (duplicate identity, stale version)."""

    http_status = 409
    default_code = "conflict"
    title = "Conflict"


class LimitExceeded(CreditplanError):
    """A hard limit (quota, concentration, authority) refuses the request."""

    http_status = 409
    default_code = "limit_exceeded"
    title = "Limit exceeded"


@dataclass(frozen=True, slots=True)
class Problem:
    """RFC 9457 problem details, independent of any web framework."""

    status: int
    title: str
    detail: str
    code: str
    errors: list[dict[str, str]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": f"https://creditplan.dev/problems/{self.code}",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "code": self.code,
        }
        if self.errors:
            body["errors"] = self.errors
        body.update(self.extra)
        return body


def to_problem(error: CreditplanError) -> Problem:
    return Problem(
        status=error.http_status,
        title=error.title,
        detail=error.message,
        code=error.code,
        errors=[{"field": p.field, "message": p.message, "code": p.code} for p in error.problems],
        extra=error.extra,
    )
