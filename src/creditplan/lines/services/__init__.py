"""Credit-line use cases — the one door other apps, the pages and the API go through.

    lifecycle.py   propose a line, propose a change, decide it (maker-checker, authority); freeze or reduce at
                   once for risk reasons; a change by the bank's rules (risk's dynamic limits: `rule_change`);
                   reading lines and changes
    occupation.py  the line moving with the loan: reserve, release, draw, restore, unrestore, expire
    sources.py     what the apps above register: a customer's exposures, the products
    records.py     the frozen records handed back (amounts in fen)

The arithmetic is lines.domain; the two statements of the submission's hot path are lines.sql.
"""

from __future__ import annotations

from creditplan.lines.domain import Availability, ChangeKind, Line, LineStatus, availability
from creditplan.lines.services.lifecycle import (
    approver_max_minor,
    authority_needed,
    customer_lines,
    decide_change,
    decision_refusal,
    freeze_line,
    get_line,
    line_occupations,
    list_changes,
    list_lines,
    may_decide,
    my_line,
    propose_change,
    propose_line,
    reduce_line,
    rule_change,
)
from creditplan.lines.services.occupation import (
    draw,
    expire_reservations,
    line_for_decision,
    release,
    reserve,
    restore,
    unrestore,
    write_reservation,
)
from creditplan.lines.services.records import ChangeView, LineView, OccupationView, SubLimitView
from creditplan.lines.services.sources import (
    Exposure,
    products,
    register_exposure_source,
    register_product_source,
)

__all__ = [
    "Availability", "ChangeKind", "ChangeView", "Exposure", "Line", "LineStatus", "LineView", "OccupationView",
    "SubLimitView", "approver_max_minor", "authority_needed", "availability", "customer_lines", "decide_change",
    "decision_refusal", "draw",
    "expire_reservations", "freeze_line", "get_line", "line_for_decision", "line_occupations", "list_changes",
    "list_lines", "may_decide", "my_line", "products", "propose_change", "propose_line", "reduce_line", "register_exposure_source",
    "register_product_source", "release", "reserve", "restore", "rule_change", "unrestore", "write_reservation",
]
