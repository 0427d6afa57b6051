"""The online form, step by step: product and an indicative offer → details → consent → submit. Each step is saved
on the server as a draft (what the customer typed, the furthest step reached, when each step was first reached),
so that a customer who leaves can come back, and so that the bank can see at which step customers give up.

Nothing typed is lost when the session expires in the middle of the form: the page posts to the draft's own URL
(an unguessable token), and a post that arrives without a session is stashed on the draft and put back into the
form once the owner logs in again (the browser also keeps a copy in localStorage). Only the draft's owner ever
sees its data; the stash is only a holding place.

Submitting a draft calls `services.submit_application` unchanged, with the draft's token as the idempotency key,
so a double submit or a retry after a crash makes one application. Drafts are not regulated records: saving a
step writes no ledger event (the submission does). The daily job purges drafts older than N days: the typed data
is wiped, the step timestamps stay, so the drop-off figures of past periods do not change.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from creditplan.core.errors import Conflict, FieldProblem, NotFound, ValidationError
from creditplan.core.money import Rounding, format_minor, from_ppm, parse_minor
from creditplan.loans import services as loans
from creditplan.loans.domain.schedule import Method, ScheduleTerms, build_schedule
from creditplan.org import services as org
from creditplan.org.domain import Perm
from creditplan.origination import services
from creditplan.origination.models import ApplicationDraft

STEPS: tuple[str, ...] = ("offer", "details", "consent")
STEP_NO: dict[str, int] = {"offer": 1, "details": 2, "consent": 3, "submitted": 4}
FIELDS: dict[str, tuple[str, ...]] = {
    "offer": ("product", "amount", "term"),
    "details": ("loan_purpose", "monthly_income", "monthly_debt_payments", "employment", "months_employed",
                "housing", "dependants"),
    "consent": ("consent",),
}
ALL_FIELDS = frozenset(f for names in FIELDS.values() for f in names)
MAX_FIELD_CHARS = 200
RESUME_DAYS = 30  # an unfinished draft newer than this is offered again when the customer opens the form


@dataclass(frozen=True)
class DraftView:
    token: str
    furthest_step: int
    data: dict[str, str]
    submitted: bool
    application_ref: str
    created_at: dt.datetime
    updated_at: dt.datetime
    step_times: dict[str, str]
    restored_step: str = ""  # set once, when fields stashed after a session expiry were put back

    @property
    def current_step(self) -> str:
        """The step to show: the furthest reached (consent at most)."""
        return STEPS[min(self.furthest_step, 3) - 1]

    def may_show(self, step: str) -> bool:
        return step in STEP_NO and STEP_NO[step] <= min(self.furthest_step, 3)


def _view(d: ApplicationDraft, restored: str = "") -> DraftView:
    return DraftView(d.token, d.furthest_step, dict(d.data or {}), d.submitted_at is not None, d.application_ref,
                     d.created_at, d.updated_at, dict(d.step_times or {}), restored)


def clean_fields(data: Any) -> dict[str, str]:
    """Only the form's own fields, as text, each at most MAX_FIELD_CHARS (a draft is not a file store)."""
    out: dict[str, str] = {}
    if not hasattr(data, "get"):
        return out
    for name in ALL_FIELDS:
        value = data.get(name)
        if value is None:
            continue
        out[name] = str(value)[:MAX_FIELD_CHARS]
    return out


def _now(now: dt.datetime | None) -> dt.datetime:
    return now or timezone.now()


def start_or_resume(actor: Any, *, now: dt.datetime | None = None) -> DraftView:
    """The customer opens the form: their latest unfinished draft (recent), else a new one."""
    org.require(actor, Perm.APPLICATION_APPLY)
    now = _now(now)
    d = (ApplicationDraft.objects.filter(user=actor, submitted_at__isnull=True, purged_at__isnull=True,
                                         updated_at__gte=now - dt.timedelta(days=RESUME_DAYS))
         .order_by("-updated_at", "-id").first())
    if d is not None:
        return _view(d)
    return start_new(actor, now=now)


def start_new(actor: Any, *, now: dt.datetime | None = None) -> DraftView:
    org.require(actor, Perm.APPLICATION_APPLY)
    now = _now(now)
    from creditplan.customers.models import Customer

    branch_id = Customer.objects.filter(user=actor).values_list("branch_id", flat=True).first()
    d = ApplicationDraft.objects.create(token=secrets.token_urlsafe(24), user=actor, branch_id=branch_id,
                                        channel="web", created_at=now, updated_at=now,
                                        step_times={"offer": now.isoformat()})
    return _view(d)


def _own(actor: Any, token: str, *, for_update: bool = False) -> ApplicationDraft:
    org.require(actor, Perm.APPLICATION_APPLY)
    qs = ApplicationDraft.objects.filter(token=str(token or "")[:64], user=actor)
    if for_update:
        qs = qs.select_for_update()
    d = qs.first()
    if d is None:
        raise NotFound("no such application form", code="draft_not_found")
    return d


@transaction.atomic
def open_draft(actor: Any, token: str, *, now: dt.datetime | None = None) -> DraftView:
    """The owner's draft; fields stashed while the session had expired are put back first (once)."""
    d = _own(actor, token, for_update=True)
    stash = d.stash or {}
    if stash and d.submitted_at is None and d.purged_at is None:
        d.data = {**(d.data or {}), **clean_fields(stash.get("data") or {})}
        step = stash.get("step") if stash.get("step") in STEP_NO else ""
        d.stash = {}
        d.updated_at = _now(now)
        d.save(update_fields=["data", "stash", "updated_at"])
        return _view(d, restored=step if step and STEP_NO[step] <= min(d.furthest_step, 3) else d_step(d))
    return _view(d)


def d_step(d: ApplicationDraft) -> str:
    return STEPS[min(d.furthest_step, 3) - 1]


def stash(token: str, step: str, data: Any, *, now: dt.datetime | None = None) -> bool:
    """A step posted without a session (it expired): keep what was typed on the draft the token names, for its
    owner to find after logging in again. False when there is no open draft of that name."""
    with transaction.atomic():
        d = (ApplicationDraft.objects.select_for_update()
             .filter(token=str(token or "")[:64], submitted_at__isnull=True, purged_at__isnull=True).first())
        if d is None:
            return False
        d.stash = {"step": step if step in STEP_NO else "", "data": clean_fields(data),
                   "at": _now(now).isoformat()}
        d.save(update_fields=["stash"])
    return True


@transaction.atomic
def save_step(actor: Any, token: str, step: str, data: Any, *, complete: bool,
              now: dt.datetime | None = None) -> DraftView:
    """Keep what the customer typed on this step; when the step is `complete` (its fields valid), the next step
    is reached (its time recorded the first time)."""
    if step not in STEPS:
        raise ValidationError("unknown step", field="step", code="unknown_step")
    d = _own(actor, token, for_update=True)
    if d.submitted_at is not None:
        raise Conflict("this application form was already sent", code="draft_submitted")
    now = _now(now)
    fields = {k: v for k, v in clean_fields(data).items() if k in FIELDS[step]}
    if step == "consent" and "consent" not in fields:
        fields["consent"] = ""
    d.data = {**(d.data or {}), **fields}
    if step == "offer":
        d.product = str(d.data.get("product") or "")[:30].strip().lower()
    if complete and STEP_NO[step] < 3:
        nxt = STEPS[STEP_NO[step]]  # the step after this one
        d.furthest_step = max(d.furthest_step, STEP_NO[nxt])
        d.step_times = {**(d.step_times or {}), nxt: (d.step_times or {}).get(nxt) or now.isoformat()}
    d.purged_at = None
    d.updated_at = now
    d.save(update_fields=["data", "product", "furthest_step", "step_times", "updated_at", "purged_at"])
    return _view(d)


def submit_draft(actor: Any, token: str, *, product: str, amount: Any, term: Any, inputs: dict[str, Any],
                 now: dt.datetime | None = None) -> services.ApplicationView:
    """Send the application (the existing use case, unchanged; the token is its idempotency key) and mark the
    draft submitted with the application's reference. Sending again returns the same application."""
    d = _own(actor, token)
    if d.submitted_at is not None and d.application_ref:
        return services.get_application(actor, d.application_ref)
    if d.furthest_step < 3:
        raise Conflict("complete the earlier steps first", code="draft_incomplete")
    customer_id = services.own_customer_id(actor)
    view = services.submit_application(actor, customer_id=customer_id, product=product, amount=amount, term=term,
                                       inputs=inputs, channel="web", idempotency_key=f"draft-{d.token[:40]}")
    now = _now(now)
    with transaction.atomic():
        d = _own(actor, token, for_update=True)
        if d.submitted_at is None:
            d.submitted_at = now
            d.application_ref = view.ref
            d.furthest_step = STEP_NO["submitted"]
            d.step_times = {**(d.step_times or {}), "submitted": now.isoformat()}
            d.updated_at = now
            d.save(update_fields=["submitted_at", "application_ref", "furthest_step", "step_times", "updated_at"])
    return view


def purge_drafts(*, older_than_days: int = 30, now: dt.datetime | None = None) -> int:
    """Wipe what was typed into drafts untouched for `older_than_days` (submitted or not: a submitted draft's
    data lives on in its application). The step timestamps stay for the drop-off figures. Idempotent."""
    if older_than_days < 1:
        raise ValidationError("older_than_days must be at least 1", field="days", code="out_of_range")
    now = _now(now)
    cutoff = now - dt.timedelta(days=older_than_days)
    return (ApplicationDraft.objects.filter(updated_at__lt=cutoff, purged_at__isnull=True)
            .update(data={}, stash={}, purged_at=now))


# --- the indicative offer ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Offer:
    """What the product's standard terms give for the amount and term typed: indicative only (the decision,
    after the details, sets the real limit and price). decisions has no quote service that works without the
    applicant's details, so this is the product's standard rate and its repayment schedule."""

    product: str
    product_name: str
    amount_minor: int
    term: int
    months_per_period: int
    rate_ppm: int
    rate_floor_ppm: int
    rate_cap_ppm: int
    first_payment_minor: int
    last_payment_minor: int
    total_interest_minor: int


def indicative_offer(product: Any, amount: Any, term: Any, *, today: dt.date | None = None) -> Offer:
    """Check the first step (product on offer, amount and term in its range; every problem named by field) and
    price it at the product's standard rate."""
    problems: list[FieldProblem] = []
    code = str(product or "").strip().lower()
    p = next((x for x in services.products_on_offer() if x.code == code), None)
    if not code:
        problems.append(FieldProblem("product", "product is required", "required"))
    elif p is None:
        problems.append(FieldProblem("product", f"no product {code!r}", "unknown_product"))
    minor = None
    try:
        minor = parse_minor(amount, "amount", allow_zero=False)
    except ValidationError as exc:
        problems.extend(exc.problems)
    if p is not None and minor is not None and not p.min_amount_minor <= minor <= p.max_amount_minor:
        problems.append(FieldProblem("amount", f"amount must be between {format_minor(p.min_amount_minor)} "
                                               f"and {format_minor(p.max_amount_minor)}", "amount_out_of_range"))
    text = str(term or "").strip()
    n = int(text) if text.isdigit() else None
    if n is None:
        problems.append(FieldProblem("term", "term is required" if not text else "term must be a whole number "
                                     "of periods", "required" if not text else "term_format"))
    elif p is not None and not p.min_term <= n <= p.max_term:
        problems.append(FieldProblem("term", f"term must be from {p.min_term} to {p.max_term} periods",
                                     "term_out_of_range"))
    if problems:
        raise ValidationError.collect(problems)
    assert p is not None and minor is not None and n is not None
    today = today or loans.business_date()
    rate = p.rate_ppm
    if p.rate_type == "floating":
        try:
            rate = loans.floating_rate_ppm(p, p.lpr_tenor, p.spread_ppm, today, p.rate_floor_ppm, p.rate_cap_ppm)
        except Conflict:
            rate = p.rate_ppm
    lines = build_schedule(ScheduleTerms(
        principal_minor=minor, annual_rate=from_ppm(rate), periods=n, method=Method.coerce(p.method), start=today,
        months_per_period=p.months_per_period, day_count=p.day_count, rounding=Rounding.coerce(p.rounding),
        grace_periods=p.grace_periods, fee_per_installment_minor=p.installment_fee_minor,
        interest_rule=p.interest_rule))
    return Offer(p.code, p.name, minor, n, p.months_per_period, rate, p.rate_floor_ppm, p.rate_cap_ppm,
                 lines[0].payment, lines[-1].payment, sum(ln.interest for ln in lines))
