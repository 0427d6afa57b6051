"""Loans as the system of record: products, loans with their live balances, schedules, payments, the daily
close and the general ledger.

Money is integer minor units (fen) in BigInteger columns; rates are integer parts-per-million (3.95 % =
39_500 ppm). The `Loan` row carries the loan's *current* state in flat columns on purpose: the daily close
reads and writes a million of them as columns (numpy arrays), so nothing it needs may hide in JSON or in a
join. `Installment` rows are the schedule (the truth about what falls due when); `Payment` rows are the
money received, each with the loan state it found so that a reversal can restore and replay.

Sign convention of the general ledger: `Posting.amount_minor` > 0 is a debit, < 0 a credit; every
`JournalEntry` sums to zero per currency.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from creditplan.customers.models import Customer
from creditplan.org.models import Branch


class Product(models.Model):
    """A loan product: the contract terms every loan of it inherits at disbursement (copied onto the loan,
    so that editing a product never changes a signed contract)."""

    code = models.SlugField(max_length=30, unique=True)
    name = models.CharField(max_length=100)
    name_en = models.CharField(max_length=100, blank=True, default="")  # the English name (issue 20)
    currency = models.CharField(max_length=3, default="CNY")
    min_amount_minor = models.BigIntegerField()
    max_amount_minor = models.BigIntegerField()
    min_term = models.PositiveIntegerField(default=1)  # periods
    max_term = models.PositiveIntegerField(default=360)
    method = models.CharField(max_length=20, default="equal-installment")  # schedule.Method values
    months_per_period = models.PositiveSmallIntegerField(default=1)  # 1 monthly, 3 quarterly, n custom
    grace_periods = models.PositiveSmallIntegerField(default=0)  # interest-only periods before amortising
    day_count = models.CharField(max_length=8, default="30/360")  # DayCount values
    rounding = models.CharField(max_length=10, default="half_up")  # Rounding values
    interest_rule = models.CharField(max_length=16, default="running-total")  # schedule.InterestRule values
    rate_type = models.CharField(max_length=8, default="fixed")  # fixed | floating
    rate_ppm = models.PositiveIntegerField()  # fixed: the rate; floating: informative (LPR + spread at launch)
    lpr_tenor = models.CharField(max_length=2, default="1y")  # floating: "1y" or "5y"
    spread_ppm = models.IntegerField(default=0)  # floating: added to the LPR (may be negative)
    reset_months = models.PositiveSmallIntegerField(default=12)  # floating: reset every n months from start
    rate_floor_ppm = models.PositiveIntegerField(default=0)
    rate_cap_ppm = models.PositiveIntegerField(default=240_000)  # 24 %: the judicial protection line
    upfront_fee_bp = models.PositiveIntegerField(default=0)  # basis points of the amount, at disbursement
    installment_fee_minor = models.BigIntegerField(default=0)
    penalty_markup_pct = models.PositiveSmallIntegerField(default=50)  # penalty rate = rate × (1 + markup)
    grace_days = models.PositiveSmallIntegerField(default=3)  # days after a due date before penalty/fee
    late_fee_minor = models.BigIntegerField(default=0)  # per installment still in arrears after grace
    waterfall = models.JSONField(default=list)  # e.g. ["penalty", "fee", "interest", "principal"]
    overpayment = models.CharField(max_length=8, default="credit")  # credit | refund
    max_backdate_days = models.PositiveSmallIntegerField(default=30)  # payment value date window
    freeze_dpd = models.PositiveSmallIntegerField(default=30)  # credit limit frozen after n days past due
    auto_debit = models.BooleanField(default=True)  # apply credit balance on the due date
    # issue 18, one block per concern
    # non-accrual (非应计): interest and penalty leave income when dpd > non_accrual_dpd, or at class
    # ≥ non_accrual_class (0: by days past due only)
    non_accrual_dpd = models.PositiveSmallIntegerField(default=90)
    non_accrual_class = models.PositiveSmallIntegerField(default=0)
    # interest and penalty conventions (docs/loans.md "Interest and penalty conventions (issue 18)")
    first_period = models.CharField(max_length=16, default="resolve")  # resolve | stub_actual_360 (FirstPeriod)
    due_date_roll = models.CharField(max_length=20, default="none")  # none | following | modified_following
    grace_mode = models.CharField(max_length=8, default="free")  # free (days never charged) | waiver
    penalty_on_principal = models.BooleanField(default=True)  # 罚息 on overdue principal
    compound_on_interest = models.BooleanField(default=True)  # 复利 on overdue interest
    compound_markup_pct = models.PositiveSmallIntegerField(null=True, blank=True)  # None: penalty_markup_pct
    # repayment (docs/loans.md "Repayment: order, batch debit, back-dating (issue 18)"): allocation by component
    # (the waterfall across installments) or installment by installment (逐期, term-sheet clause `allocation`);
    # the close's debit of the settlement account (mandates): partial debits allowed, retries on the next n
    # business days
    allocation = models.CharField(max_length=12, default="component")  # component | installment
    debit_partial = models.BooleanField(default=True)
    debit_retry_days = models.PositiveSmallIntegerField(default=3)
    # contract changes (docs/loans.md "Repricing, spread amendments and prepayment (issue 18)"): floating loans
    # reprice on the anniversary of the start date or on a calendar month-day (每年1月1日: "01-01"), every
    # reset_months; prepayment rules (term-sheet clause `prepayment`; all 0: none): a fee in basis points of
    # the principal prepaid within the first n months (0: always), a minimum partial prepayment, at most n
    # prepayments a contract year (0: no limit), none in the first n months (lock-in)
    reset_basis = models.CharField(max_length=12, default="anniversary")  # anniversary | calendar
    reset_month_day = models.CharField(max_length=5, default="01-01")  # calendar: MM-DD
    prepay_fee_bp = models.PositiveIntegerField(default=0)
    prepay_fee_months = models.PositiveSmallIntegerField(default=0)
    prepay_min_minor = models.BigIntegerField(default=0)
    prepay_max_per_year = models.PositiveSmallIntegerField(default=0)
    prepay_lockin_months = models.PositiveSmallIntegerField(default=0)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(condition=models.Q(min_amount_minor__gt=0,
                                                      max_amount_minor__gte=models.F("min_amount_minor")),
                                   name="product_amount_range"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    def display_name(self) -> str:
        """The product's name in the page's language: the English name on an English page (the Chinese name when
        it has none), the Chinese name otherwise — never the code."""
        from django.utils.translation import get_language

        if (get_language() or "zh").startswith("en") and self.name_en:
            return self.name_en
        return self.name


class LprRate(models.Model):
    """Loan Prime Rate as published (monthly, on the 20th): floating loans reset to LPR + spread."""

    tenor = models.CharField(max_length=2)  # "1y" | "5y"
    effective_date = models.DateField()
    rate_ppm = models.PositiveIntegerField()

    class Meta:
        ordering = ["tenor", "-effective_date"]
        constraints = [models.UniqueConstraint(fields=["tenor", "effective_date"], name="lpr_once_per_day")]

    def __str__(self) -> str:
        return f"LPR {self.tenor} {self.effective_date} {self.rate_ppm} ppm"


class TermSheet(models.Model):
    """A declarative, versioned set of contract clauses (see domain/terms.py), stored once per distinct content:
    `digest` is SHA-256 over its canonical JSON, so the ledger can name exactly the terms a loan ran under."""

    digest = models.CharField(max_length=64, unique=True)
    body = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"term sheet {self.digest[:12]}"


class LoanStatus(models.TextChoices):
    ACTIVE = "active"
    CLOSED = "closed"  # repaid in full
    WRITTEN_OFF = "written_off"


class Loan(models.Model):
    """One disbursed loan and its live state. Terms are copied from the product at disbursement."""

    ref = models.CharField(max_length=24, unique=True)
    application_ref = models.CharField(max_length=40, blank=True, db_index=True)  # plan reservation, if any
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="loans")
    segment = models.CharField(max_length=30, blank=True)  # the credit plan's customer segment (普惠小微…)
    branch = models.ForeignKey(Branch, on_delete=models.PROTECT, related_name="+")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="loans")
    term_sheet = models.ForeignKey(TermSheet, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=12, default=LoanStatus.ACTIVE, choices=LoanStatus.choices)
    currency = models.CharField(max_length=3, default="CNY")
    # terms (copied from the product, or agreed)
    principal_minor = models.BigIntegerField()
    rate_ppm = models.PositiveIntegerField()  # current contractual annual rate
    spread_ppm = models.IntegerField(default=0)
    rate_type = models.CharField(max_length=8, default="fixed")
    method = models.CharField(max_length=20)
    term = models.PositiveIntegerField()  # number of periods
    months_per_period = models.PositiveSmallIntegerField(default=1)
    day_count = models.CharField(max_length=8, default="30/360")
    rounding = models.CharField(max_length=10, default="half_up")
    interest_rule = models.CharField(max_length=16, default="running-total")  # copied from the product
    start_date = models.DateField()  # value date of the disbursement
    first_due_date = models.DateField()
    maturity_date = models.DateField()
    next_reset_date = models.DateField(null=True, blank=True)  # floating loans
    # balances (minor units, never negative)
    principal_outstanding_minor = models.BigIntegerField()  # all unpaid principal, overdue included
    overdue_principal_minor = models.BigIntegerField(default=0)
    overdue_interest_minor = models.BigIntegerField(default=0)  # interest of due installments, unpaid
    accrued_interest_minor = models.BigIntegerField(default=0)  # current period, accrued, not yet due
    penalty_minor = models.BigIntegerField(default=0)  # penalty interest charged, unpaid
    penalty_carry = models.BigIntegerField(default=0)  # sub-fen remainder of penalty accrual (numerator)
    fees_minor = models.BigIntegerField(default=0)  # fees charged, unpaid
    credit_minor = models.BigIntegerField(default=0)  # overpayment held for the customer
    # the period now accruing
    current_seq = models.PositiveIntegerField(default=1)  # 0 once no installment is left to accrue
    period_start_date = models.DateField()
    next_due_date = models.DateField(null=True, blank=True)
    period_interest_minor = models.BigIntegerField(default=0)  # scheduled interest of the current period
    period_principal_minor = models.BigIntegerField(default=0)
    period_fee_minor = models.BigIntegerField(default=0)
    # delinquency and classification
    oldest_due_date = models.DateField(null=True, blank=True)  # oldest unpaid due date; null when current
    dpd = models.PositiveIntegerField(default=0)
    bucket = models.PositiveSmallIntegerField(default=0)  # 0 current, 1 1–30, … 7 360+
    risk_class = models.PositiveSmallIntegerField(default=1)  # 1 正常 2 关注 3 次级 4 可疑 5 损失
    fee_check_date = models.DateField(null=True, blank=True)  # when the late fee for the last due date is judged
    frozen = models.BooleanField(default=False)  # credit limit frozen (contract clause)
    # restructuring
    restructured_until = models.DateField(null=True, blank=True)  # end of the observation period
    pre_restructure_class = models.PositiveSmallIntegerField(null=True, blank=True)
    restructure_count = models.PositiveSmallIntegerField(default=0)
    schedule_version = models.PositiveIntegerField(default=1)
    # cumulative income recognised on this loan (the subledger side of the income accounts)
    interest_income_minor = models.BigIntegerField(default=0)
    penalty_income_minor = models.BigIntegerField(default=0)
    fee_income_minor = models.BigIntegerField(default=0)
    # life cycle
    closed_through = models.DateField()  # last business date whose close has been applied to this loan
    closed_on = models.DateField(null=True, blank=True)
    written_off_on = models.DateField(null=True, blank=True)
    written_off_minor = models.BigIntegerField(default=0)
    recovered_minor = models.BigIntegerField(default=0)
    # issue 18, one block per concern
    # non-accrual: interest and penalty owed are tracked off the balance sheet (表外, GL 7001) while set
    non_accrual = models.BooleanField(default=False)
    non_accrual_since = models.DateField(null=True, blank=True)
    # written off and kept on record (账销案存, GL 7101): interest accrued after the write-off, and its sub-fen rest
    written_off_principal_minor = models.BigIntegerField(default=0)  # of written_off_minor: principal
    memo_interest_minor = models.BigIntegerField(default=0)
    memo_carry = models.BigIntegerField(default=0)
    # classification by the 2023 rules (docs/loans.md): the end of the cure a non-performing loan waits out before
    # an upgrade (null: none running), and the approved manual class floor (0: none) with its end and reason
    cure_until = models.DateField(null=True, blank=True)
    manual_class = models.PositiveSmallIntegerField(default=0)
    manual_class_until = models.DateField(null=True, blank=True)
    manual_class_reason = models.CharField(max_length=300, blank=True)
    # interest and penalty conventions: copied from the product (schedule), and the kernel's PENALTY_COLUMNS
    first_period = models.CharField(max_length=16, default="resolve")
    due_date_roll = models.CharField(max_length=20, default="none")
    grace_penalty_minor = models.BigIntegerField(default=0)  # penalty held during a waiver grace, not yet charged
    grace_compound_minor = models.BigIntegerField(default=0)  # of which 复利 (on overdue interest)
    compound_minor = models.BigIntegerField(default=0)  # cumulative 复利 charged (the rest of the penalty is 罚息)
    compound_carry = models.BigIntegerField(default=0)  # sub-fen remainder of the 复利 split (numerator)
    penalty_charged_minor = models.BigIntegerField(default=0)  # cumulative penalty charged (罚息 + 复利)
    disbursed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT,
                                     related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["-id"]
        # No index may cover a column the close writes (dpd, bucket, class, balances, closed_through):
        # then PostgreSQL updates the row in place (HOT) without touching any index.
        indexes = [
            models.Index(fields=["customer", "status"], name="loan_customer"),
            models.Index(fields=["branch", "status"], name="loan_branch"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(principal_minor__gt=0, principal_outstanding_minor__gte=0,
                                   overdue_principal_minor__gte=0, overdue_interest_minor__gte=0,
                                   accrued_interest_minor__gte=0, penalty_minor__gte=0, fees_minor__gte=0,
                                   credit_minor__gte=0),
                name="loan_balances_not_negative"),
        ]

    def __str__(self) -> str:
        return self.ref


class Installment(models.Model):
    """One row of a schedule. A reschedule (floating reset, partial prepayment, restructuring) marks the
    unpaid future rows `superseded` and adds the new ones under the next `version`: old schedules are kept."""

    loan = models.ForeignKey(Loan, on_delete=models.CASCADE, related_name="installments")
    version = models.PositiveIntegerField(default=1)
    seq = models.PositiveIntegerField()
    start_date = models.DateField()
    due_date = models.DateField()
    principal_minor = models.BigIntegerField()
    interest_minor = models.BigIntegerField()
    fee_minor = models.BigIntegerField(default=0)
    paid_principal_minor = models.BigIntegerField(default=0)
    paid_interest_minor = models.BigIntegerField(default=0)
    paid_fee_minor = models.BigIntegerField(default=0)
    status = models.CharField(max_length=10, default="scheduled")  # scheduled | due | paid | superseded
    paid_on = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["loan", "seq", "version"]
        constraints = [models.UniqueConstraint(fields=["loan", "version", "seq"], name="installment_once")]
        indexes = [models.Index(fields=["loan", "status", "seq"], name="installment_open")]

    def __str__(self) -> str:
        return f"{self.loan_id}#{self.seq} v{self.version} due {self.due_date}"


class Payment(models.Model):
    """Money received for a loan. `reference` makes posting idempotent: the same reference twice is one
    payment. `state_before` is the loan's state (columns and open installments) just before this payment,
    what a reversal restores before replaying everything after it."""

    reference = models.CharField(max_length=64, unique=True)
    loan = models.ForeignKey(Loan, on_delete=models.PROTECT, related_name="payments")
    value_date = models.DateField()
    amount_minor = models.BigIntegerField()
    channel = models.CharField(max_length=10, default="teller")  # teller | api | file | auto | recovery
    kind = models.CharField(max_length=12, default="regular")  # regular | prepay_full | prepay_term |
    #                                                            prepay_pmt (lower payment) | recovery
    allocation = models.JSONField(default=dict)  # {"penalty": .., "fee": .., "interest": .., "principal": ..,
    #                                               "credit": .., "refund": ..}
    state_before = models.JSONField(default=dict)
    status = models.CharField(max_length=10, default="posted")  # posted | reversed
    reversal_reason = models.CharField(max_length=200, blank=True)
    posted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    posted_at = models.DateTimeField(auto_now_add=True)
    reversed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["loan", "value_date", "id"]
        indexes = [models.Index(fields=["loan", "value_date"], name="payment_loan_date")]
        constraints = [models.CheckConstraint(condition=models.Q(amount_minor__gt=0), name="payment_positive")]

    def __str__(self) -> str:
        return f"{self.reference} {self.amount_minor}"


class LoanActivity(models.Model):
    """A discrete thing that happened to one loan, for its statement and its page: disbursement, an
    installment falling due, a late fee, a class change, a rate reset, a restructuring, a write-off, and
    every contract clause the close executed (`clause` names it)."""

    loan = models.ForeignKey(Loan, on_delete=models.CASCADE, related_name="activities")
    business_date = models.DateField()
    kind = models.CharField(max_length=30)
    clause = models.CharField(max_length=30, blank=True)
    amount_minor = models.BigIntegerField(default=0)
    detail = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["loan", "business_date", "id"]
        indexes = [models.Index(fields=["loan", "business_date"], name="activity_loan_date")]

    def __str__(self) -> str:
        return f"{self.loan_id} {self.business_date} {self.kind}"


class Restructuring(models.Model):
    """A change of a loan's terms for a borrower in difficulty (or a flexible-repayment request)."""

    loan = models.ForeignKey(Loan, on_delete=models.PROTECT, related_name="restructurings")
    effective_date = models.DateField()
    kind = models.CharField(max_length=20)  # extend_term | change_method | capitalise | holiday
    params = models.JSONField(default=dict)
    old_version = models.PositiveIntegerField()
    new_version = models.PositiveIntegerField()
    class_before = models.PositiveSmallIntegerField()
    observation_until = models.DateField(null=True, blank=True)  # null: an extension (展期), not observed
    reason = models.CharField(max_length=300)
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.loan_id} {self.kind} {self.effective_date}"


class LoanChangeRequest(models.Model):
    """A change of a loan proposed by one user and decided by another (four eyes, loans/approvals.py): a manual
    classification, a restructuring, a write-off… `params` are the cleaned parameters of its kind, `result` what
    the change did once approved. At most one pending request per loan and kind."""

    loan = models.ForeignKey(Loan, on_delete=models.PROTECT, related_name="change_requests")
    kind = models.CharField(max_length=30)
    params = models.JSONField(default=dict)
    reason = models.CharField(max_length=300)
    status = models.CharField(max_length=10, default="pending")  # pending | approved | rejected
    proposed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    proposed_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    note = models.CharField(max_length=300, blank=True)
    result = models.JSONField(default=dict)

    class Meta:
        ordering = ["proposed_at", "id"]
        constraints = [models.UniqueConstraint(fields=["loan", "kind"], condition=models.Q(status="pending"),
                                               name="loan_change_one_pending")]

    def __str__(self) -> str:
        return f"{self.loan_id} {self.kind} {self.status}"


class Account(models.Model):
    """Chart of accounts (科目). `kind` decides the normal side: assets and expenses are debit-normal."""

    code = models.CharField(max_length=10, unique=True)
    name = models.CharField(max_length=100)
    name_zh = models.CharField(max_length=100, blank=True)
    kind = models.CharField(max_length=10)  # asset | liability | income | expense | equity

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class JournalEntry(models.Model):
    """A balanced set of postings. Per-loan operations carry their loan; the close posts one entry per kind
    per chunk with postings per branch (a million loans do not make a million entries a night)."""

    entry_date = models.DateField(db_index=True)
    kind = models.CharField(max_length=20)  # disbursement | accrual | due | penalty | fee | repayment | ...
    loan = models.ForeignKey(Loan, null=True, blank=True, on_delete=models.PROTECT, related_name="journal")
    batch_ref = models.CharField(max_length=40, blank=True, db_index=True)  # close run/chunk, bank file, ...
    memo = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["entry_date", "id"]

    def __str__(self) -> str:
        return f"{self.entry_date} {self.kind} #{self.pk}"


class Posting(models.Model):
    entry = models.ForeignKey(JournalEntry, on_delete=models.CASCADE, related_name="postings")
    account = models.CharField(max_length=10)  # Account.code (kept as text: the close inserts in bulk)
    branch_code = models.CharField(max_length=20)
    currency = models.CharField(max_length=3, default="CNY")
    amount_minor = models.BigIntegerField()  # > 0 debit, < 0 credit

    class Meta:
        indexes = [models.Index(fields=["account", "branch_code"], name="posting_account")]

    def __str__(self) -> str:
        return f"{self.account} {self.branch_code} {self.amount_minor}"


class CloseRun(models.Model):
    """One business date's close. The per-loan marker `Loan.closed_through` is what makes the close
    restartable: a chunk's loans, its postings and its `CloseChunk` commit together, so a killed run
    resumes with exactly the loans not yet done."""

    business_date = models.DateField(unique=True)
    status = models.CharField(max_length=10, default="running")  # running | done
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=1)
    report = models.JSONField(default=dict)
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT,
                                   related_name="+")

    class Meta:
        ordering = ["-business_date"]

    def __str__(self) -> str:
        return f"close {self.business_date} {self.status}"


class CloseChunk(models.Model):
    run = models.ForeignKey(CloseRun, on_delete=models.CASCADE, related_name="chunks")
    first_loan_id = models.BigIntegerField()
    loans = models.PositiveIntegerField()
    totals = models.JSONField(default=dict)  # accrual, penalty, fees, due, class moves, ...
    seconds = models.FloatField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"close chunk from loan {self.first_loan_id}"


# --- issue 18: repayment by debit of the borrower's settlement account -----------------------------------------

class DebitMandate(models.Model):
    """The borrower's authority to debit their settlement account at the bank for what falls due on a loan
    (代扣授权). The close debits it on each due date and retries on the next `product.debit_retry_days` business
    days while something is left unpaid (`retries_left`). The account number is shown masked (last 4)."""

    loan = models.OneToOneField(Loan, on_delete=models.CASCADE, related_name="debit_mandate")
    account_no = models.CharField(max_length=34)
    active = models.BooleanField(default=True)
    cycle_date = models.DateField(null=True, blank=True)  # the due date whose debit cycle runs
    attempt = models.PositiveSmallIntegerField(default=0)  # attempts made in that cycle
    retries_left = models.PositiveSmallIntegerField(default=0)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"mandate {self.loan_id} ****{self.account_no[-4:]}"


class SettlementAccount(models.Model):
    """The built-in settlement gateway's view of the borrowers' accounts at the bank: what core banking would
    answer to "debit up to X" (the available balance). A real core-banking gateway replaces it
    (loans.settlement.SettlementGateway)."""

    account_no = models.CharField(max_length=34, unique=True)
    currency = models.CharField(max_length=3, default="CNY")
    balance_minor = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(balance_minor__gte=0),
                                              name="settlement_balance_not_negative")]

    def __str__(self) -> str:
        return f"settlement ****{self.account_no[-4:]}"


class SettlementDebit(models.Model):
    """One debit asked of the built-in gateway, by reference: the same reference again answers the same debit."""

    reference = models.CharField(max_length=64, unique=True)
    account_no = models.CharField(max_length=34)
    asked_minor = models.BigIntegerField()
    debited_minor = models.BigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.reference} {self.debited_minor}/{self.asked_minor}"


# --- issue 18: batch spread amendments (loans/amendments.py) --------------------------------------------------

class SpreadAmendment(models.Model):
    """A batch change of live floating loans' spreads (as the 2023 存量首套房贷利率 adjustment), without a
    restructuring: `batch_ref` makes it idempotent; what it selected, changed and left out is kept."""

    batch_ref = models.CharField(max_length=64, unique=True)
    effective_date = models.DateField()
    apply_at = models.CharField(max_length=12)  # next_reset | effective
    new_spread_ppm = models.IntegerField()
    selection = models.JSONField(default=dict)  # products, branches, disbursed_from, disbursed_to
    loans = models.PositiveIntegerField(default=0)  # amended
    left_out = models.JSONField(default=dict)  # reason → count (fixed rate, …)
    result = models.JSONField(default=dict)
    applied_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"spread amendment {self.batch_ref}"
