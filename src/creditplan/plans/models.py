from __future__ import annotations

from django.conf import settings
from django.db import models

from creditplan.org.models import Branch
from creditplan.plans.domain import ControlMode


class Plan(models.Model):
    """A credit plan (信贷计划) for a period, with the institution's net capital for concentration limits."""

    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=100)
    period_start = models.DateField()
    period_end = models.DateField()
    status = models.CharField(max_length=10, default="draft")  # draft → active → closed
    currency = models.CharField(max_length=3, default="CNY")
    net_capital_minor = models.BigIntegerField()
    single_customer_bp = models.PositiveIntegerField(default=1000)
    group_bp = models.PositiveIntegerField(default=1500)
    large_exposure_bp = models.PositiveIntegerField(default=250)
    alert_thresholds_pct = models.JSONField(default=list)  # e.g. [80, 100]
    pace_margin_pct = models.PositiveIntegerField(default=20)
    approval_validity_days = models.PositiveIntegerField(default=30)
    # issue 19: transfers between quotas of different dimensions (branch → product…) need this set
    transfer_across_dimensions = models.BooleanField(default=False)
    # plan periods (PlanPeriod): "none" = the period's limit only; "roll" = a month's unused quota rolls into the
    # next; "lapse" = a month's unused quota lapses
    period_control = models.CharField(max_length=8, default="none")
    opening_date = models.DateField(null=True, blank=True)  # the day the opening book was taken (activation)
    # issue 19 §6 (targets): bumped whenever the plan's targets change; the reservation reads it with the plan and
    # keeps the plan's ratio caps per process under (plan id, this version) — plans.services.targets
    targets_version = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-period_start", "code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class Quota(models.Model):
    """One cell of the plan: a combination of dimension values (blank = all) with its two limits and live
    counters. Children split their parent; a loan moves every quota whose dimensions it matches."""

    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="quotas")
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    branch = models.ForeignKey(Branch, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    product = models.CharField(max_length=30, blank=True)
    industry = models.CharField(max_length=1, blank=True)  # GB/T 4754 section
    region = models.CharField(max_length=2, blank=True)  # GB/T 2260 province
    segment = models.CharField(max_length=30, blank=True)
    control_mode = models.CharField(max_length=10, default=ControlMode.HARD,
                                    choices=[(m.value, m.value) for m in ControlMode])
    new_lending_limit_minor = models.BigIntegerField()
    balance_limit_minor = models.BigIntegerField()
    reserved_minor = models.BigIntegerField(default=0)
    consumed_minor = models.BigIntegerField(default=0)
    outstanding_minor = models.BigIntegerField(default=0)
    opening_balance_minor = models.BigIntegerField(default=0)  # the book in this cell on the plan's first day
    frozen = models.BooleanField(default=False)  # no new reservations; existing ones kept
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["plan", "id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(new_lending_limit_minor__gte=0, balance_limit_minor__gte=0,
                                                      reserved_minor__gte=0, consumed_minor__gte=0,
                                                      outstanding_minor__gte=0), name="quota_not_negative"),
        ]

    def __str__(self) -> str:
        return f"quota {self.pk} of {self.plan.code}"


class Reservation(models.Model):
    """The quota held for one approved application, and what became of it."""

    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="reservations")
    application_ref = models.CharField(max_length=60)
    status = models.CharField(max_length=12)  # reserved, escalated, consumed, released, expired, repaid
    amount_minor = models.BigIntegerField()
    disbursed_minor = models.BigIntegerField(default=0)
    outstanding_minor = models.BigIntegerField(default=0)
    branch = models.ForeignKey(Branch, on_delete=models.PROTECT, related_name="+")
    product = models.CharField(max_length=30, blank=True)
    industry = models.CharField(max_length=1, blank=True)
    region = models.CharField(max_length=2, blank=True)
    segment = models.CharField(max_length=30, blank=True)
    customer_ref = models.CharField(max_length=60, blank=True)
    group_ref = models.CharField(max_length=60, blank=True)
    large_exposure = models.BooleanField(default=False)
    reason = models.CharField(max_length=300, blank=True)
    quotas = models.ManyToManyField(Quota, related_name="reservations")
    expires_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["plan", "application_ref"], name="one_reservation_per_app")]
        indexes = [models.Index(fields=["customer_ref"]), models.Index(fields=["group_ref"]),
                   # issue 19 §6: a ratio cap sums the plan's approvals not yet paid out (plans.sql.ratio_cap_sums)
                   models.Index(fields=["plan"], condition=models.Q(status__in=["reserved", "escalated"]),
                                name="reservation_open_by_plan")]

    def __str__(self) -> str:
        return f"{self.application_ref} {self.status}"


class Movement(models.Model):
    """Every change of every quota counter: the answer to "why is 3.2 million reserved in branch X?"."""

    quota = models.ForeignKey(Quota, on_delete=models.PROTECT, related_name="movements")
    reservation = models.ForeignKey(Reservation, null=True, on_delete=models.PROTECT, related_name="movements")
    # reserve, release, expire, consume, repay, unrepay, adjust, transfer_in, transfer_out, book (a movement of the
    # loan book outside a reservation: repayment, write-off, capitalisation…), freeze, unfreeze
    kind = models.CharField(max_length=12)
    reserved_delta = models.BigIntegerField(default=0)
    consumed_delta = models.BigIntegerField(default=0)
    outstanding_delta = models.BigIntegerField(default=0)
    limit_delta = models.BigIntegerField(default=0)
    balance_limit_delta = models.BigIntegerField(default=0, db_default=0)  # raw-SQL inserts leave it out
    on_date = models.DateField(db_index=True)
    at = models.DateTimeField(auto_now_add=True)
    actor_name = models.CharField(max_length=150)

    class Meta:
        ordering = ["id"]
        # issue 19 §7: a month's use of a quota (plan periods, "lapse") sums its movements of the month
        indexes = [models.Index(fields=["quota", "on_date"], name="plans_movement_quota_day")]

    def __str__(self) -> str:
        return f"{self.kind} on quota {self.quota_id}"


class Adjustment(models.Model):
    """A branch's request for more quota (positive) or its return of unused quota (negative)."""

    quota = models.ForeignKey(Quota, on_delete=models.PROTECT, related_name="adjustments")
    delta_minor = models.BigIntegerField()
    reason = models.CharField(max_length=300)
    status = models.CharField(max_length=10, default="pending")  # pending, approved, rejected
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    decision_note = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True)

    def __str__(self) -> str:
        return f"adjustment {self.pk} {self.status}"


class DimensionCode(models.Model):
    """Product and customer-segment codes a plan may use (branches, industries and regions come from
    their own registers)."""

    dimension = models.CharField(max_length=10)  # product | segment
    code = models.CharField(max_length=30)
    name = models.CharField(max_length=100)
    name_en = models.CharField(max_length=100, blank=True, default="")  # the English name (issue 20); blank: name

    class Meta:
        constraints = [models.UniqueConstraint(fields=["dimension", "code"], name="dimension_code_unique")]

    def __str__(self) -> str:
        return f"{self.dimension}:{self.code}"


class Transfer(models.Model):
    """调剂: available quota moved from one quota to another of the same plan, proposed by one planner and applied
    by another (maker-checker) under the same row locks as reservations."""

    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="transfers")
    source = models.ForeignKey(Quota, on_delete=models.PROTECT, related_name="transfers_out")
    target = models.ForeignKey(Quota, on_delete=models.PROTECT, related_name="transfers_in")
    measure = models.CharField(max_length=12, default="new_lending")  # new_lending | balance
    amount_minor = models.BigIntegerField()
    reason = models.CharField(max_length=300)
    status = models.CharField(max_length=10, default="pending")  # pending, applied, rejected, refused
    refusal = models.CharField(max_length=300, blank=True)  # why it could not be applied (source used up…)
    # --- issue 19 §3 (transfers, migration 0005): the refusal's stable code and, for a source found short, what it
    # had available when the checker approved — so a page says why in the reader's language, with the figures
    refusal_code = models.CharField(max_length=40, blank=True)
    refusal_available_minor = models.BigIntegerField(null=True, blank=True)
    # --- end issue 19 §3
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    decision_note = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount_minor__gt=0), name="transfer_positive"),
            models.CheckConstraint(condition=~models.Q(source=models.F("target")), name="transfer_two_quotas"),
        ]

    def __str__(self) -> str:
        return f"transfer {self.pk} {self.status}"


class CapitalBase(models.Model):
    """The institution's capital base (资本净额) the concentration limits are measured against, from an effective
    date; a change is proposed by one user and approved by another."""

    amount_minor = models.BigIntegerField()
    effective_from = models.DateField()
    note = models.CharField(max_length=300, blank=True)
    status = models.CharField(max_length=10, default="pending")  # pending, approved, rejected
    proposed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True)

    class Meta:
        ordering = ["-effective_from", "-id"]
        constraints = [models.CheckConstraint(condition=models.Q(amount_minor__gt=0), name="capital_positive")]
        indexes = [models.Index(fields=["status", "effective_from"])]

    def __str__(self) -> str:
        return f"capital base {self.amount_minor} from {self.effective_from}"


class Target(models.Model):
    """A minimum target or a ratio limit of a plan, besides its caps: an amount, a growth rate over a base, a
    count of borrowers, a share of a measure in another, or a growth against another's growth. `numerator` and
    `denominator` select the loans (a list of filters, any of which matches: {"product": "mortgage"},
    {"industry": "K"}, {"segment": "inclusive_sme"}; an empty list is the whole book)."""

    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="targets")
    code = models.SlugField(max_length=40)
    name = models.CharField(max_length=100)
    template = models.CharField(max_length=40, blank=True)  # the shipped template it came from, if any
    # min_amount | min_growth | min_borrowers | max_share | min_share | min_growth_vs
    kind = models.CharField(max_length=16)
    measure = models.CharField(max_length=12, default="balance")  # balance | new_lending | borrowers
    numerator = models.JSONField(default=list)
    denominator = models.JSONField(default=list)
    threshold = models.BigIntegerField()  # fen (min_amount), basis points (rates, shares), count (borrowers)
    base_value = models.BigIntegerField(null=True, blank=True)  # the base period's figure, when not the opening
    control = models.CharField(max_length=10, default="monitor")  # refuse | escalate | monitor (ratio caps)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["plan", "id"]
        constraints = [models.UniqueConstraint(fields=["plan", "code"], name="target_code_unique")]

    def __str__(self) -> str:
        return f"target {self.code} of plan {self.plan_id}"


class PlanPeriod(models.Model):
    """A month or a quarter of an annual plan and its share of the plan (basis points of the year's limits)."""

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="periods")
    seq = models.PositiveSmallIntegerField()
    kind = models.CharField(max_length=8)  # month | quarter
    start = models.DateField()
    end = models.DateField()
    share_bp = models.PositiveIntegerField()

    class Meta:
        ordering = ["plan", "kind", "seq"]
        constraints = [models.UniqueConstraint(fields=["plan", "kind", "seq"], name="plan_period_unique")]

    def __str__(self) -> str:
        return f"{self.kind} {self.seq} of plan {self.plan_id}"


class BookCell(models.Model):
    """The plan's loan book by dimension: one row per combination of branch, product, industry, region and segment
    that has loans. Opening balance on the plan's first day, outstanding principal now, new lending in the period.
    Quotas are limits over these cells; targets and ratio limits are measured on them; the reconciliation compares
    them with the loans."""

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="cells")
    branch = models.ForeignKey(Branch, on_delete=models.PROTECT, related_name="+")
    product = models.CharField(max_length=30, blank=True)
    industry = models.CharField(max_length=1, blank=True)
    region = models.CharField(max_length=2, blank=True)
    segment = models.CharField(max_length=30, blank=True)
    opening_minor = models.BigIntegerField(default=0)
    outstanding_minor = models.BigIntegerField(default=0)
    new_lending_minor = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["plan", "branch", "product", "industry", "region", "segment"],
                                               name="book_cell_unique")]

    def __str__(self) -> str:
        return f"cell {self.pk} of plan {self.plan_id}"


# --- issue 19 §5 (the plan over the whole book, migration 0004) ---------------------------------------------------
class BookReconciliation(models.Model):
    """One run of the reconciliation of a plan's book with the loans (plans.services.book.reconcile): when, how many
    cells and quotas it compared, and every difference it found (empty: the book reconciled)."""

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="reconciliations")
    at = models.DateTimeField(auto_now_add=True)
    cells = models.PositiveIntegerField(default=0)
    quotas = models.PositiveIntegerField(default=0)
    # [{"what": "cell"|"quota", "key": [branch id, product, industry, region, segment] | quota id, "label": …,
    #   "plan_minor": …, "loans_minor": …}]
    differences = models.JSONField(default=list)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"reconciliation {self.pk} of plan {self.plan_id}"
# --- end issue 19 §5
