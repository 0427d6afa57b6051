"""The loans JSON API (mounted at /api/v1/loans): products, loans and their schedules, disbursement,
payments (idempotent: `Idempotency-Key`), reversals, payoff quotes, prepayments, bank files, and the
repayment calculator.

Money goes out as decimal strings ("1234.50") and comes in as decimal strings (or whole numbers): a JSON
float is refused by name, never rounded. Errors are problem+json (creditplan.api), naming the field.
Like every api module this one goes through the services (import-linter: no models here).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Header, Query, Router, Schema
from ninja.responses import Status
from pydantic import Field

from creditplan.core.access import Actor
from creditplan.core.daycount import DayCount
from creditplan.core.errors import ValidationError
from creditplan.core.money import Rounding, format_minor, from_ppm, parse_minor
from creditplan.loans import approvals, payments, reports, services
from creditplan.loans.domain import schedule as sched

router = Router(tags=["loans"])

Amount = str | int
MAX_BANK_FILE_BYTES = 64 * 1024 * 1024


def _y(minor: int, currency: str = "CNY") -> str:
    """An amount in an answer: the money edge's plain form, "1234.50" (allocation values may be numpy ints)."""
    return format_minor(int(minor), currency, grouping=False)


def _actor(request: HttpRequest) -> Actor:
    return request.auth


# --- schemas ----------------------------------------------------------------------------------------------

class ProductRead(Schema):
    code: str
    name: str
    currency: str
    min_amount: str
    max_amount: str
    min_term: int
    max_term: int
    method: str
    months_per_period: int
    day_count: str
    interest_rule: str
    rate_type: str
    rate: str = Field(description="annual rate as a fraction, e.g. 0.043500")
    upfront_fee_bp: int
    installment_fee: str
    late_fee: str
    penalty_markup_pct: int
    grace_days: int
    waterfall: list[str]
    overpayment: str
    max_backdate_days: int
    auto_debit: bool
    allocation: str = Field("component", description="component (the waterfall across installments) or "
                            "installment (逐期: the oldest installment in full first)")
    debit_partial: bool = True
    debit_retry_days: int = 3
    # interest and penalty conventions (issue 18)
    first_period: str = Field("resolve", description="resolve | stub_actual_360 (the broken first period)")
    due_date_roll: str = Field("none", description="none | following | modified_following")
    grace_mode: str = Field("free", description="free (grace days never charged) | waiver (charged when the "
                            "arrears outlast the grace)")
    penalty_on_principal: bool = True
    compound_on_interest: bool = True
    compound_markup_pct: int | None = Field(None, description="复利 markup; null: the penalty markup")
    is_active: bool


def _product(p: Any) -> ProductRead:
    cur = p.currency
    return ProductRead(code=p.code, name=p.name, currency=cur, min_amount=_y(p.min_amount_minor, cur),
                       max_amount=_y(p.max_amount_minor, cur), min_term=p.min_term, max_term=p.max_term,
                       method=p.method,
                       months_per_period=p.months_per_period, day_count=p.day_count,
                       interest_rule=p.interest_rule, rate_type=p.rate_type,
                       rate=str(from_ppm(p.rate_ppm)), upfront_fee_bp=p.upfront_fee_bp,
                       installment_fee=_y(p.installment_fee_minor, cur), late_fee=_y(p.late_fee_minor, cur),
                       penalty_markup_pct=p.penalty_markup_pct, grace_days=p.grace_days,
                       waterfall=list(p.waterfall or services.DEFAULT_WATERFALL), overpayment=p.overpayment,
                       max_backdate_days=p.max_backdate_days, auto_debit=p.auto_debit,
                       allocation=p.allocation, debit_partial=p.debit_partial,
                       debit_retry_days=p.debit_retry_days, is_active=p.is_active,
                       first_period=p.first_period, due_date_roll=p.due_date_roll, grace_mode=p.grace_mode,
                       penalty_on_principal=p.penalty_on_principal, compound_on_interest=p.compound_on_interest,
                       compound_markup_pct=p.compound_markup_pct)


class BalancesRead(Schema):
    principal_outstanding: str
    overdue_principal: str
    overdue_interest: str
    accrued_interest: str
    penalty: str
    fees: str
    credit: str
    total_due: str = Field(description="what must be paid today to be current")


def _balances(b: services.Balances, cur: str) -> BalancesRead:
    return BalancesRead(principal_outstanding=_y(b.principal_minor, cur),
                        overdue_principal=_y(b.overdue_principal_minor, cur),
                        overdue_interest=_y(b.overdue_interest_minor, cur),
                        accrued_interest=_y(b.accrued_interest_minor, cur), penalty=_y(b.penalty_minor, cur),
                        fees=_y(b.fees_minor, cur), credit=_y(b.credit_minor, cur),
                        total_due=_y(b.total_due_minor, cur))


class LoanRead(Schema):
    ref: str
    customer_id: int
    branch: str
    product: str
    status: str
    currency: str
    principal: str
    rate: str
    rate_type: str
    method: str
    term: int
    start_date: dt.date
    first_due_date: dt.date
    maturity_date: dt.date
    next_due_date: dt.date | None
    current_seq: int
    balances: BalancesRead
    dpd: int
    bucket: int
    risk_class: int
    closed_through: dt.date
    closed_on: dt.date | None
    application_ref: str


def _loan(loan: Any) -> LoanRead:
    return LoanRead(ref=loan.ref, customer_id=loan.customer_id, branch=loan.branch.code, product=loan.product.code,
                    status=loan.status, currency=loan.currency, principal=_y(loan.principal_minor, loan.currency),
                    rate=str(from_ppm(loan.rate_ppm)), rate_type=loan.rate_type, method=loan.method, term=loan.term,
                    start_date=loan.start_date, first_due_date=loan.first_due_date, maturity_date=loan.maturity_date,
                    next_due_date=loan.next_due_date, current_seq=loan.current_seq,
                    balances=_balances(services.balances(loan), loan.currency), dpd=loan.dpd, bucket=loan.bucket,
                    risk_class=loan.risk_class, closed_through=loan.closed_through, closed_on=loan.closed_on,
                    application_ref=loan.application_ref)


class LoanList(Schema):
    items: list[LoanRead]
    total: int
    page: int
    pages: int
    outstanding: str
    overdue: str


class LoanFilters(Schema):
    status: Literal["active", "closed", "written_off"] | None = None
    bucket: int | None = Field(None, ge=0, le=7)
    risk_class: int | None = Field(None, alias="class", ge=1, le=5)
    branch: str = ""
    product: str = ""
    q: str = ""
    page: int = Field(1, ge=1)
    page_size: int = Field(25, ge=1, le=200)


class InstallmentRead(Schema):
    seq: int
    version: int
    start_date: dt.date
    due_date: dt.date
    principal: str
    interest: str
    fee: str
    payment: str
    paid_principal: str
    paid_interest: str
    paid_fee: str
    status: str
    paid_on: dt.date | None


def _installment(i: Any, cur: str) -> InstallmentRead:
    return InstallmentRead(seq=i.seq, version=i.version, start_date=i.start_date, due_date=i.due_date,
                           principal=_y(i.principal_minor, cur), interest=_y(i.interest_minor, cur),
                           fee=_y(i.fee_minor, cur),
                           payment=_y(i.principal_minor + i.interest_minor + i.fee_minor, cur),
                           paid_principal=_y(i.paid_principal_minor, cur),
                           paid_interest=_y(i.paid_interest_minor, cur), paid_fee=_y(i.paid_fee_minor, cur),
                           status=i.status, paid_on=i.paid_on)


class DisburseRequest(Schema):
    customer_id: int
    product: str
    amount: Amount = Field(description="yuan, decimal string, e.g. \"120000.00\"")
    term: int = Field(description="number of periods")
    start_date: dt.date | None = None
    first_due_date: dt.date | None = None
    rate: str | None = Field(None, description="fixed-rate products: the rate the contract was signed at "
                                               "(default); another rate is refused")
    application_ref: str = Field("", description="required: the application approved and signed by the "
                                                 "customer (status ready_to_disburse) this loan pays out")
    currency: str | None = Field(None, description="optional; must be the application's and the product's "
                                                   "currency")
    reference: str = ""


class PaymentRequest(Schema):
    amount: Amount = Field(description="yuan, decimal string, e.g. \"1024.50\"")
    reference: str | None = Field(None, description="the payer's unique reference; else the Idempotency-Key header")
    value_date: dt.date | None = None
    channel: Literal["teller", "api"] = Field(
        "api", description="teller (at the counter) or api; bank-file and auto-debit payments are recorded "
                           "by the import and the daily close, never sent by a client")


class PrepayRequest(Schema):
    amount: Amount
    reference: str | None = None
    value_date: dt.date | None = None
    mode: Literal["full", "shorten_term", "reduce_installment"] = "full"


class ReversalRequest(Schema):
    reason: str


class PaymentRead(Schema):
    reference: str
    loan_ref: str
    value_date: dt.date
    amount: str
    currency: str
    channel: str
    kind: str
    status: str
    duplicate: bool = Field(description="the reference was already posted: this is that payment, nothing re-applied")
    backdated: bool
    allocation: dict[str, str] = Field(description="penalty, fee, interest, principal, credit, refund, … (yuan)")
    loan_status: str
    balances: BalancesRead
    adjustment: dict[str, str] = Field(description="backdating/reversal: change per GL account (yuan, debit +)")


_MONEY_KEYS = ("penalty", "fee", "interest", "principal", "accrued_interest", "prepaid_principal", "credit",
               "credit_used", "refund", "credit_refunded", "cash", "interest_recognised", "penalty_recognised",
               "installment_minor")


def _payment(r: payments.PaymentResult) -> PaymentRead:
    cur = r.currency
    alloc = {k.removesuffix("_minor"): _y(v, cur) for k, v in r.allocation.items() if k in _MONEY_KEYS}
    return PaymentRead(reference=r.reference, loan_ref=r.loan_ref, value_date=r.value_date,
                       amount=_y(r.amount_minor, cur), currency=cur, channel=r.channel, kind=r.kind, status=r.status,
                       duplicate=r.duplicate, backdated=r.backdated, allocation=alloc, loan_status=r.loan_status,
                       balances=_balances(r.balances, cur),
                       adjustment={k: _y(v, cur) for k, v in r.adjustment.items()})


class PayoffRead(Schema):
    loan_ref: str
    on: dt.date
    currency: str
    principal: str
    overdue_interest: str
    accrued_interest: str
    penalty: str
    penalty_projected: str
    fees: str
    credit: str
    total: str
    prepayment_fee: str = "0.00"  # 提前还款违约金 (clause prepayment, issue 18), included in total


def _payoff(q: payments.PayoffQuote) -> PayoffRead:
    cur = q.currency
    return PayoffRead(loan_ref=q.loan_ref, on=q.on, currency=cur, principal=_y(q.principal_minor, cur),
                      overdue_interest=_y(q.overdue_interest_minor, cur),
                      accrued_interest=_y(q.accrued_interest_minor, cur), penalty=_y(q.penalty_minor, cur),
                      penalty_projected=_y(q.penalty_projected_minor, cur), fees=_y(q.fees_minor, cur),
                      credit=_y(q.credit_minor, cur), total=_y(q.total_minor, cur),
                      prepayment_fee=_y(q.prepayment_fee_minor, cur))


class RejectedRead(Schema):
    line: int
    reference: str
    reason: str


class BankFileRead(Schema):
    filename: str
    digest: str
    lines: int
    posted: int
    duplicates: int
    rejected: list[RejectedRead]
    totals: dict[str, str]
    replayed: int
    seconds: float


class CalculatorParams(Schema):
    amount: str = Field(description="yuan, e.g. \"1000000\"")
    rate: str = Field(description="annual rate as a fraction, e.g. \"0.0395\"")
    term: int = Field(ge=1, le=sched.MAX_PERIODS)
    method: str = "equal-installment"
    day_count: str = "30/360"
    start: dt.date | None = None
    first_due: dt.date | None = None
    months_per_period: int = Field(1, ge=1, le=12)
    rounding: str = "half_up"
    interest_rule: str = Field("running-total", description="running-total | per-line")
    grace_periods: int = Field(0, ge=0)
    fee: str = Field("0", description="fee per installment (yuan)")


class CalculatorRead(Schema):
    amount: str
    rate: str
    method: str
    day_count: str
    installments: list[dict[str, Any]]
    totals: dict[str, str]


# --- endpoints (fixed paths before /{ref}) ----------------------------------------------------------------

@router.get("/products", response=list[ProductRead], summary="Loan products")
def list_products(request: HttpRequest) -> list[ProductRead]:
    return [_product(p) for p in services.list_products()]


@router.get("/schedule", response=CalculatorRead, summary="Repayment calculator (no loan needed)")
def calculator(request: HttpRequest, params: Query[CalculatorParams]) -> CalculatorRead:
    principal = parse_minor(params.amount, "amount", allow_zero=False, maximum=payments.MAX_AMOUNT_MINOR)
    fee = 0 if not params.fee.strip() else parse_minor(params.fee, "fee", maximum=payments.MAX_AMOUNT_MINOR)
    try:
        rate = Decimal(params.rate.strip())
    except ArithmeticError:
        raise ValidationError(f"rate must be a decimal fraction such as 0.0395, got {params.rate!r}", field="rate",
                              code="invalid_rate") from None
    terms = sched.ScheduleTerms(
        principal_minor=principal, annual_rate=rate, periods=params.term, method=sched.Method.coerce(params.method),
        start=params.start or services.business_date(), first_due=params.first_due,
        months_per_period=params.months_per_period, day_count=DayCount.coerce(params.day_count),
        rounding=Rounding.coerce(params.rounding), grace_periods=params.grace_periods, fee_per_installment_minor=fee,
        interest_rule=sched.InterestRule.coerce(params.interest_rule))
    lines = sched.build_schedule(terms)
    return CalculatorRead(amount=_y(principal), rate=str(rate), method=terms.method.value,
                          day_count=terms.day_count.value, installments=[ln.as_json() for ln in lines],
                          totals={k: _y(v) for k, v in sched.totals(lines).items()})


@router.get("", response=LoanList, summary="Loans you may see, filtered and paginated")
def list_loans(request: HttpRequest, filters: Query[LoanFilters]) -> LoanList:
    f = reports.LoanFilters(status=filters.status or "", bucket=filters.bucket, risk_class=filters.risk_class,
                            branch=filters.branch, product=filters.product, q=filters.q)
    page = reports.loan_page(_actor(request), f, page=filters.page, page_size=filters.page_size)
    return LoanList(items=[_loan(x) for x in page.items], total=page.total, page=page.page, pages=page.pages,
                    outstanding=_y(page.outstanding_minor), overdue=_y(page.overdue_minor))


@router.post("", response={201: LoanRead},
             summary="Disburse the loan of an approved application the customer has signed (same customer, "
                     "product, currency and term; at most the approved amount)")
def disburse(request: HttpRequest, payload: DisburseRequest) -> Status:
    loan = services.disburse(_actor(request), **payload.model_dump())
    return Status(201, _loan(services.get_loan(_actor(request), loan.ref)))


def _reference(body_ref: str | None, key: str | None) -> str | None:
    ref = (body_ref or "").strip() or (key or "").strip()
    return ref or None


@router.post("/bank-files", response=BankFileRead,
             summary="Import a bank file (CSV reference,loan_ref,amount,value_date): multipart `file` or raw body")
def bank_file(request: HttpRequest) -> BankFileRead:
    upload = request.FILES.get("file") if request.content_type.startswith("multipart/") else None
    if upload is not None:
        if upload.size > MAX_BANK_FILE_BYTES:
            raise ValidationError("the bank file is larger than 64 MiB; split it", field="file", code="too_large")
        content, name = upload.read(), upload.name or ""
    else:
        content, name = request.body, request.headers.get("X-Filename", "")
    if not content:
        raise ValidationError("send the CSV as the request body or as a multipart field `file`", field="file",
                              code="required")
    report = payments.import_bank_file(_actor(request), content, filename=name)
    return BankFileRead(filename=report.filename, digest=report.digest, lines=report.lines, posted=report.posted,
                        duplicates=report.duplicates,
                        rejected=[RejectedRead(line=r.line, reference=r.reference, reason=r.reason)
                                  for r in report.rejected],
                        totals={k.removesuffix("_minor"): _y(v) for k, v in report.totals.items()},
                        replayed=report.replayed, seconds=report.seconds)


@router.post("/payments/{reference}/reversal", response=PaymentRead, summary="Reverse a payment (replays what followed)")
def reverse(request: HttpRequest, reference: str, payload: ReversalRequest) -> PaymentRead:
    return _payment(payments.reverse_payment(_actor(request), reference=reference, reason=payload.reason))


# --- four-eyes loan changes (issue 18: loans/approvals.py) ------------------------------------------------------

class ChangeProposal(Schema):
    kind: str = Field(description="classification | restructure | write_off | …")
    params: dict[str, Any] = Field(default_factory=dict, description="the kind's parameters, e.g. "
                                   '{"risk_class": 3, "until": "2026-06-30"} or {"lift": true}; restructure: '
                                   '{"kind": "extend_term", "extend_periods": 6}')
    reason: str


class ChangeDecision(Schema):
    approve: bool
    note: str = ""


class ChangeRead(Schema):
    id: int
    loan: str
    kind: str
    params: dict[str, Any]
    reason: str
    status: str
    proposed_by: str
    proposed_at: dt.datetime
    decided_by: str | None
    decided_at: dt.datetime | None
    note: str
    result: dict[str, Any]


def _change(r: Any) -> ChangeRead:
    return ChangeRead(id=r.pk, loan=r.loan.ref, kind=r.kind, params=r.params, reason=r.reason, status=r.status,
                      proposed_by=r.proposed_by.username, proposed_at=r.proposed_at,
                      decided_by=r.decided_by.username if r.decided_by_id else None, decided_at=r.decided_at,
                      note=r.note, result=r.result)


@router.get("/changes", response=list[ChangeRead], summary="Pending loan changes in your branches (four eyes)")
def pending_changes(request: HttpRequest, loan: str | None = None) -> list[ChangeRead]:
    return [_change(r) for r in approvals.pending(_actor(request), loan=loan)]


@router.post("/changes/{request_id}/decision", response=ChangeRead,
             summary="Approve or reject a loan change (not your own; approval runs it)")
def decide_change(request: HttpRequest, request_id: int, payload: ChangeDecision) -> ChangeRead:
    return _change(approvals.decide(_actor(request), request_id, approve=payload.approve, note=payload.note))


@router.post("/{ref}/changes", response={201: ChangeRead},
             summary="Propose a loan change: a manual class, a restructuring or extension, … (four eyes)")
def propose_change(request: HttpRequest, ref: str, payload: ChangeProposal) -> Status:
    return Status(201, _change(approvals.propose(_actor(request), payload.kind, ref, params=payload.params,
                                                 reason=payload.reason)))


@router.get("/{ref}", response=LoanRead, summary="One loan with its balances")
def get_loan(request: HttpRequest, ref: str) -> LoanRead:
    return _loan(services.get_loan(_actor(request), ref))


@router.get("/{ref}/schedule", response=list[InstallmentRead], summary="The loan's current schedule")
def loan_schedule(request: HttpRequest, ref: str) -> list[InstallmentRead]:
    loan = services.get_loan(_actor(request), ref)
    return [_installment(i, loan.currency) for i in services.current_schedule(loan)]


@router.post("/{ref}/payments", response={200: PaymentRead, 201: PaymentRead},
             summary="Post a repayment (201; the same reference / Idempotency-Key again: 200, the same payment)")
def post_payment(request: HttpRequest, ref: str, payload: PaymentRequest,
                 idempotency_key: str | None = Header(None, alias="Idempotency-Key")) -> Status:
    r = payments.post_payment(_actor(request), loan_ref=ref, amount=payload.amount,
                              reference=_reference(payload.reference, idempotency_key),
                              value_date=payload.value_date, channel=payload.channel)
    return Status(200 if r.duplicate else 201, _payment(r))


@router.get("/{ref}/payoff", response=PayoffRead, summary="What settles the loan on a date (default today)")
def payoff(request: HttpRequest, ref: str, on: dt.date | None = None) -> PayoffRead:
    return _payoff(payments.payoff_quote(_actor(request), ref, on))


@router.post("/{ref}/prepayments", response={200: PaymentRead, 201: PaymentRead},
             summary="Prepay: full (payoff), shorten_term or reduce_installment")
def prepay(request: HttpRequest, ref: str, payload: PrepayRequest,
           idempotency_key: str | None = Header(None, alias="Idempotency-Key")) -> Status:
    r = payments.prepay(_actor(request), loan_ref=ref, amount=payload.amount,
                        reference=_reference(payload.reference, idempotency_key), value_date=payload.value_date,
                        mode=payload.mode, channel="api")
    return Status(200 if r.duplicate else 201, _payment(r))
