"""Lists that scale: one way every list page reads its paging, sorting and filter parameters, and one way it
exports what it shows as CSV or Excel.

A service that lists things takes a `Listing` (page, page size, sort key, direction) and returns a `Page`; the view
reads the `Listing` from the query string with `listing_from(request, sorts=…)` and renders the shared pager
(`{% include "common/_pager.html" with page=page %}`) and export links (`{% include "common/_export.html" %}`).
An export runs the same service query with `Listing.everything()` (bounded by EXPORT_MAX_ROWS) and hands the rows
to `export_response`.

Every parameter is checked: an unknown sort key or a page number that is not a number falls back to the default
(a list page never fails on a hand-edited URL). Nothing here knows about models: services slice their querysets
with `Listing.offset` / `Listing.limit` and count with `.count()`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any, Generic, TypeVar

from django.http import HttpRequest, HttpResponse, QueryDict
from django.utils.http import content_disposition_header

T = TypeVar("T")

PAGE_SIZES = (25, 50, 100, 200)
DEFAULT_PAGE_SIZE = 50
EXPORT_MAX_ROWS = 100_000
"""The most rows one export holds (an Excel sheet takes 1,048,576; a browser download of 100,000 rows is ~10 MB)."""
MAX_PAGE = 1_000_000


@dataclass(frozen=True)
class Listing:
    """What a list page asks for: which page, how many per page, in which order."""

    page: int = 1
    per_page: int = DEFAULT_PAGE_SIZE
    sort: str = ""
    descending: bool = False
    export: bool = False

    @property
    def offset(self) -> int:
        return 0 if self.export else (self.page - 1) * self.per_page

    @property
    def limit(self) -> int:
        return EXPORT_MAX_ROWS if self.export else self.per_page

    def order_by(self, columns: dict[str, str], default: str) -> list[str]:
        """The ORM ordering for this listing: `columns` maps a sort key the page offers to a field path; the
        default key's column breaks ties (and a primary key after it keeps paging stable)."""
        column = columns.get(self.sort) or columns[default]
        first = f"-{column}" if self.descending else column
        return [first, "-pk" if self.descending else "pk"]

    def everything(self) -> Listing:
        return replace(self, page=1, export=True)


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list: its rows, which page it is, and how many rows the whole list has."""

    items: Sequence[T]
    listing: Listing
    total: int
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def number(self) -> int:
        return self.listing.page

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.listing.per_page))

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.pages

    @property
    def first_row(self) -> int:
        return 0 if not self.items else self.listing.offset + 1

    @property
    def last_row(self) -> int:
        return self.listing.offset + len(self.items)


def paginate(rows: Any, listing: Listing) -> Page[Any]:
    """Slice a queryset (or a list) for the listing: one COUNT and one bounded SELECT. A page past the end shows
    the last page (a list that shrank while the user paged)."""
    total = rows.count() if hasattr(rows, "count") and not isinstance(rows, list) else len(rows)
    if not listing.export:
        last = max(1, -(-total // listing.per_page))
        if listing.page > last:
            listing = replace(listing, page=last)
    items = list(rows[listing.offset:listing.offset + listing.limit])
    return Page(items=items, listing=listing, total=total)


def _int(raw: str | None, default: int, low: int, high: int) -> int:
    try:
        value = int((raw or "").strip())
    except ValueError:
        return default
    return min(max(value, low), high)


def listing_from(request: HttpRequest, *, sorts: Iterable[str] = (), default_sort: str = "",
                 default_descending: bool = False) -> Listing:
    """The listing a list page's query string asks for: `page`, `per_page` (one of PAGE_SIZES), `sort` (a key of
    `sorts`; `-key` sorts descending), `export` (csv or xlsx). Anything else falls back to the default."""
    params = request.GET
    per_page = _int(params.get("per_page"), DEFAULT_PAGE_SIZE, 1, max(PAGE_SIZES))
    if per_page not in PAGE_SIZES:
        per_page = DEFAULT_PAGE_SIZE
    raw_sort = (params.get("sort") or "").strip()
    descending = raw_sort.startswith("-")
    key = raw_sort.lstrip("-")
    if key not in set(sorts):
        key, descending = default_sort, default_descending
    return Listing(page=_int(params.get("page"), 1, 1, MAX_PAGE), per_page=per_page, sort=key,
                   descending=descending, export=export_format(request) is not None)


def export_format(request: HttpRequest) -> str | None:
    """"csv" or "xlsx" when the request asks for an export (?export=csv), else None."""
    value = (request.GET.get("export") or "").strip().lower()
    return value if value in ("csv", "xlsx") else None


def query_without(params: QueryDict, *names: str) -> str:
    """The query string without the named parameters (what the pager and sort links build on)."""
    copy = params.copy()
    for name in names:
        copy.pop(name, None)
    return copy.urlencode()


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


def _text_cell(value: Any) -> Any:
    """A spreadsheet never runs a customer's text as a formula (CSV/formula injection): a text starting with
    = + - @ or a tab/return is prefixed with an apostrophe."""
    value = _cell(value)
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def export_response(rows: Iterable[Sequence[Any]], headers: Sequence[str], fmt: str, filename: str) -> HttpResponse:
    """The rows as a download: CSV in UTF-8 with a byte-order mark (Excel opens Chinese text right), or an .xlsx
    sheet with every text cell stored as text. `headers` are the column titles in the page's language; the rows
    hold what the page shows (labels, not codes; amounts as yuan text from the money formatter)."""
    if fmt == "xlsx":
        from openpyxl import Workbook

        book = Workbook(write_only=True)
        sheet = book.create_sheet()
        sheet.append(list(headers))
        for row in rows:
            sheet.append([_text_cell(v) for v in row])  # openpyxl stores a str starting with "=" as a formula
        out = io.BytesIO()
        book.save(out)
        body, content_type = out.getvalue(), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    else:
        text = io.StringIO()
        writer = csv.writer(text)
        writer.writerow(list(headers))
        for row in rows:
            writer.writerow([_text_cell(v) for v in row])
        body, content_type = ("\ufeff" + text.getvalue()).encode("utf-8"), "text/csv; charset=utf-8"
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = content_disposition_header(True, f"{filename}.{fmt}")
    return response


def list_context(request: HttpRequest, page: Page[Any]) -> dict[str, Any]:
    """What the shared pager and export links need: the page, and the query string of the list's filters and sort
    (without `page` and `export`)."""
    return {"page": page, "pager_query": query_without(request.GET, "page", "export")}
