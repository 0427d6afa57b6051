"""Spread amendments (存量贷款利率加点调整) of live floating loans in batch, without a restructuring — as the 2023
adjustment of existing first-home mortgages (中国人民银行 国家金融监督管理总局《关于降低存量首套住房贷款利率有关事项的
通知》, 2023-08-31): a new spread for the loans selected by product, branch and disbursement date, effective on a
date, applied at each loan's next reset or on the effective date itself.

    preview(actor, batch_ref=…, spread_bp=…, …) -> Amendment     what would change (writes nothing)
    apply(actor, batch_ref=…, spread_bp=…, …) -> Amendment       change it (idempotent by batch_ref)

Each amended loan signs a NEW term sheet (its rate_reset clause with the new spread; stored once per distinct
content, so a thousand loans of one product share one), gets a `spread_amended` activity naming the clause, and
the batch is ONE ledger event `loan.spreads_amended` listing every loan with its old and new spread and the
digest of the sheet it now runs under. An amendment is not a restructuring: the class, the observation period
and the restructuring count do not change (关注 is for borrowers in difficulty, not for a rate cut).

When it applies:
- `next_reset` (default): the loan's next reset (on the anniversary or calendar date of its rate_reset clause)
  takes LPR + the new spread;
- `effective`: the close reprices the loan on the effective date — the LPR of its last regular reset + the new
  spread (only the spread changes; cob/steps.rate_resets, an off-cycle reset), with split-period interest
  (分段计息) across that day — and its regular resets continue as before.

The effective date is the business day after the loans' last close (run the batch on the day it takes effect,
before that night's close); a loan closed through the effective date already, or not yet closed through the day
before, is left out and counted. Fixed-rate loans in the selection are left out and counted (`fixed_rate`);
loans already at the new spread too (`unchanged`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from django.db import transaction

from creditplan.core.access import Actor
from creditplan.core.errors import Conflict, ValidationError
from creditplan.ledger import services as ledger
from creditplan.loans import clock
from creditplan.loans.domain.terms import TermSheet as Sheet
from creditplan.loans.domain.terms import sheet_for_product, sheet_from_json
from creditplan.loans.models import Loan, LoanActivity, LoanStatus, Product, SpreadAmendment
from creditplan.loans.models import TermSheet as StoredSheet
from creditplan.loans.products import store_term_sheet
from creditplan.loans.values import parse_date
from creditplan.org import services as org
from creditplan.org.domain import Perm
from creditplan.org.models import Branch

__all__ = ["APPLY_AT", "Amendment", "apply", "preview"]

APPLY_AT = ("next_reset", "effective")
MAX_SPREAD_BP = 3_000  # ±30 %: a spread beyond that is a typing error, not a repricing
_BATCH = 500  # loans locked and written per step


@dataclass
class Amendment:
    """What a batch changes (preview) or changed (apply)."""

    batch_ref: str
    effective_date: dt.date
    apply_at: str
    spread_ppm: int
    selection: dict[str, Any]
    loans: int = 0  # amended (or to amend)
    principal_minor: int = 0  # their principal not yet due
    annual_interest_change_minor: int = 0  # a year's interest on that principal at the spread change
    by_spread: list[dict[str, int]] = field(default_factory=list)  # per old spread: loans, principal, change
    left_out: dict[str, int] = field(default_factory=dict)  # reason → loans
    applied: bool = False
    duplicate: bool = False

    def as_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["effective_date"] = self.effective_date.isoformat()
        return out


def _clean(batch_ref: Any, spread_bp: Any, effective_date: Any, apply_at: str, products: Iterable[str],
           branches: Iterable[str], disbursed_from: Any, disbursed_to: Any) -> Amendment:
    ref = str(batch_ref or "").strip()
    if not ref or len(ref) > 64 or not ref.isprintable():
        raise ValidationError("batch_ref is required: the batch's reference, at most 64 characters",
                              field="batch_ref", code="required")
    if isinstance(spread_bp, bool) or not str(spread_bp).strip().lstrip("+-").isdigit():
        raise ValidationError(f"spread_bp must be a whole number of basis points (e.g. -30), not {spread_bp!r}",
                              field="spread_bp", code="invalid_number")
    bp = int(str(spread_bp).strip())
    if abs(bp) > MAX_SPREAD_BP:
        raise ValidationError(f"spread_bp {bp} is beyond ±{MAX_SPREAD_BP} basis points", field="spread_bp",
                              code="spread_out_of_range")
    if apply_at not in APPLY_AT:
        raise ValidationError(f"apply_at must be one of {', '.join(APPLY_AT)}", field="apply_at",
                              code="invalid_apply_at")
    day = clock.business_date() if effective_date in (None, "") else parse_date(effective_date, "effective_date")
    start = None if disbursed_from in (None, "") else parse_date(disbursed_from, "disbursed_from")
    end = None if disbursed_to in (None, "") else parse_date(disbursed_to, "disbursed_to")
    if start and end and end < start:
        raise ValidationError("disbursed_to is before disbursed_from", field="disbursed_to", code="range")
    codes = sorted({str(c).strip() for c in products if str(c).strip()})
    known = set(Product.objects.filter(code__in=codes).values_list("code", flat=True))
    if set(codes) - known:
        raise ValidationError(f"no product {', '.join(sorted(set(codes) - known))}", field="products",
                              code="unknown_product")
    where = sorted({str(b).strip() for b in branches if str(b).strip()})
    found = set(Branch.objects.filter(code__in=where).values_list("code", flat=True))
    if set(where) - found:
        raise ValidationError(f"no branch {', '.join(sorted(set(where) - found))}", field="branches",
                              code="unknown_branch")
    selection = {"products": codes, "branches": where, "disbursed_from": start.isoformat() if start else None,
                 "disbursed_to": end.isoformat() if end else None}
    return Amendment(ref, day, apply_at, bp * 100, selection)


def _selected(actor: Actor, a: Amendment) -> Any:
    """The active loans of the selection within the actor's branch subtree (fixed-rate ones included)."""
    from django.db.models import Q

    qs = org.scope_to_branches(actor, Loan.objects.filter(status=LoanStatus.ACTIVE))
    sel = a.selection
    if sel["products"]:
        qs = qs.filter(product__code__in=sel["products"])
    if sel["branches"]:
        paths = Branch.objects.filter(code__in=sel["branches"]).values_list("path", flat=True)
        under = Q()
        for path in paths:
            under |= Q(branch__path__startswith=path)
        qs = qs.filter(under)
    if sel["disbursed_from"]:
        qs = qs.filter(start_date__gte=sel["disbursed_from"])
    if sel["disbursed_to"]:
        qs = qs.filter(start_date__lte=sel["disbursed_to"])
    return qs


def _sheet_of(loan: Loan, stored: dict[int, Sheet]) -> Sheet:
    if loan.term_sheet_id is None:
        return sheet_for_product(loan.product)
    if loan.term_sheet_id not in stored:
        stored[loan.term_sheet_id] = sheet_from_json(StoredSheet.objects.get(pk=loan.term_sheet_id).body)
    return stored[loan.term_sheet_id]


def _with_spread(sheet: Sheet, spread_ppm: int) -> Sheet:
    body = sheet.as_json()
    for c in body["clauses"]:
        if c["kind"] == "rate_reset":
            c["spread_ppm"] = spread_ppm
    return sheet_from_json(body)


def _survey(actor: Actor, a: Amendment, *, lock: bool) -> list[tuple[Loan, Sheet, int]]:
    """(loan, its sheet, its old spread) for each loan to amend; fills a's counts and left_out."""
    qs = _selected(actor, a)
    left: dict[str, int] = {}
    fixed = qs.exclude(rate_type="floating").count()
    if fixed:
        left["fixed_rate"] = fixed
    floating = qs.filter(rate_type="floating").select_related("product").order_by("id")
    if lock:
        floating = floating.select_for_update(of=("self",))
    day_before = a.effective_date - dt.timedelta(days=1)
    stored: dict[int, Sheet] = {}
    chosen: list[tuple[Loan, Sheet, int]] = []
    groups: dict[int, dict[str, int]] = {}
    for loan in floating.iterator(chunk_size=2_000) if not lock else floating:
        sheet = _sheet_of(loan, stored)
        clause = sheet.clause("rate_reset")
        reason = None
        if clause is None:
            reason = "no_rate_reset"
        elif loan.closed_through >= a.effective_date:
            reason = "closed_through_effective_date"
        elif loan.closed_through < day_before:
            reason = "close_pending"
        elif int(clause["spread_ppm"]) == a.spread_ppm:
            reason = "unchanged"
        if reason:
            left[reason] = left.get(reason, 0) + 1
            continue
        assert clause is not None
        old = int(clause["spread_ppm"])
        chosen.append((loan, sheet, old))
        not_due = loan.principal_outstanding_minor - loan.overdue_principal_minor
        g = groups.setdefault(old, {"from_spread_ppm": old, "to_spread_ppm": a.spread_ppm, "loans": 0,
                                    "principal_minor": 0, "annual_interest_change_minor": 0})
        g["loans"] += 1
        g["principal_minor"] += not_due
        g["annual_interest_change_minor"] += not_due * (a.spread_ppm - old) // 1_000_000
    a.loans = len(chosen)
    a.by_spread = [groups[k] for k in sorted(groups)]
    a.principal_minor = sum(g["principal_minor"] for g in a.by_spread)
    a.annual_interest_change_minor = sum(g["annual_interest_change_minor"] for g in a.by_spread)
    a.left_out = dict(sorted(left.items()))
    return chosen


def preview(actor: Actor, *, batch_ref: Any, spread_bp: Any, effective_date: Any = None,
            apply_at: str = "next_reset", products: Iterable[str] = (), branches: Iterable[str] = (),
            disbursed_from: Any = None, disbursed_to: Any = None) -> Amendment:
    """What `apply` would change, loan count, old and new spreads, a year's interest effect; writes nothing.
    A batch already applied answers what it did (duplicate)."""
    org.require(actor, Perm.LOAN_AMEND)
    a = _clean(batch_ref, spread_bp, effective_date, apply_at, products, branches, disbursed_from, disbursed_to)
    done = _existing(a)
    if done is not None:
        return done
    _survey(actor, a, lock=False)
    return a


def _existing(a: Amendment) -> Amendment | None:
    row = SpreadAmendment.objects.filter(batch_ref=a.batch_ref).first()
    if row is None:
        return None
    same = (row.effective_date, row.apply_at, row.new_spread_ppm, row.selection) == (
        a.effective_date, a.apply_at, a.spread_ppm, a.selection)
    if not same:
        raise Conflict(f"batch {a.batch_ref} was already applied with other terms (spread "
                       f"{row.new_spread_ppm // 100} bp from {row.effective_date}, {row.apply_at})",
                       field="batch_ref", code="batch_reused")
    done = Amendment(**{**row.result, "effective_date": row.effective_date})
    done.duplicate = True
    return done


def apply(actor: Actor, *, batch_ref: Any, spread_bp: Any, effective_date: Any = None, apply_at: str = "next_reset",
          products: Iterable[str] = (), branches: Iterable[str] = (), disbursed_from: Any = None,
          disbursed_to: Any = None, progress: Callable[[int, int], None] | None = None) -> Amendment:
    """Amend the selected floating loans' spread (one transaction, one ledger event for the batch). The same
    batch_ref again returns what it did and changes nothing; with other terms it is refused (batch_reused)."""
    org.require(actor, Perm.LOAN_AMEND)
    a = _clean(batch_ref, spread_bp, effective_date, apply_at, products, branches, disbursed_from, disbursed_to)
    with transaction.atomic():
        done = _existing(a)
        if done is not None:
            return done
        chosen = _survey(actor, a, lock=True)
        if not chosen:
            raise ValidationError(f"no floating-rate loan of the selection can be amended (left out: "
                                  f"{_left_out_text(a.left_out) or 'none selected'})", field="selection",
                                  code="nothing_to_amend")
        new_sheets: dict[str, Any] = {}  # digest → stored row
        items: list[dict[str, Any]] = []
        activities: list[LoanActivity] = []
        for k, (loan, sheet, old) in enumerate(chosen):
            new = _with_spread(sheet, a.spread_ppm)
            if new.digest not in new_sheets:
                new_sheets[new.digest] = store_term_sheet(new)
            loan.term_sheet = new_sheets[new.digest]
            loan.spread_ppm = a.spread_ppm
            if a.apply_at == "effective" and (loan.next_reset_date is None or loan.next_reset_date > a.effective_date):
                loan.next_reset_date = a.effective_date
            loan.version += 1
            detail = {"batch_ref": a.batch_ref, "from_spread_ppm": old, "to_spread_ppm": a.spread_ppm,
                      "apply_at": a.apply_at, "effective_date": a.effective_date.isoformat(),
                      "term_sheet": new.digest, "previous_term_sheet": sheet.digest,
                      "next_reset": loan.next_reset_date.isoformat() if loan.next_reset_date else None}
            activities.append(LoanActivity(loan=loan, business_date=a.effective_date, kind="spread_amended",
                                           clause="rate_reset", detail=detail))
            items.append({"loan": loan.ref, "from_spread_ppm": old, "to_spread_ppm": a.spread_ppm,
                          "term_sheet": new.digest})
            if progress is not None and (k + 1) % _BATCH == 0:
                progress(k + 1, len(chosen))
        Loan.objects.bulk_update([c[0] for c in chosen], ["term_sheet", "spread_ppm", "next_reset_date", "version"],
                                 batch_size=_BATCH)
        LoanActivity.objects.bulk_create(activities, batch_size=_BATCH)
        if progress is not None:
            progress(len(chosen), len(chosen))
        a.applied = True
        SpreadAmendment.objects.create(batch_ref=a.batch_ref, effective_date=a.effective_date, apply_at=a.apply_at,
                                       new_spread_ppm=a.spread_ppm, selection=a.selection, loans=a.loans,
                                       left_out=a.left_out, result=a.as_json(),
                                       applied_by=getattr(actor, "user", None) if actor else None)
        ledger.append(actor, "loan.spreads_amended", "amendment", a.batch_ref, {
            "effective_date": a.effective_date, "apply_at": a.apply_at, "spread_ppm": a.spread_ppm,
            "selection": a.selection, "loans": a.loans, "left_out": a.left_out, "by_spread": a.by_spread,
            "clause": "rate_reset", "items": items})
    return a


def _left_out_text(left: dict[str, int]) -> str:
    return ", ".join(f"{n} {reason.replace('_', ' ')}" for reason, n in left.items())
