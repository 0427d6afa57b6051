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
        indexes = [models.Index(fields=["customer_ref"]), models.Index(fields=["group_ref"])]

    def __str__(self) -> str:
        return f"{self.application_ref} {self.status}"


class Movement(models.Model):
    """Every change of every quota counter: the answer to "why is 3.2 million reserved in branch X?"."""

    quota = models.ForeignKey(Quota, on_delete=models.PROTECT, related_name="movements")
    reservation = models.ForeignKey(Reservation, null=True, on_delete=models.PROTECT, related_name="movements")
    kind = models.CharField(max_length=12)  # reserve, release, expire, consume, repay, unrepay, adjust
    reserved_delta = models.BigIntegerField(default=0)
    consumed_delta = models.BigIntegerField(default=0)
    outstanding_delta = models.BigIntegerField(default=0)
    limit_delta = models.BigIntegerField(default=0)
    on_date = models.DateField(db_index=True)
    at = models.DateTimeField(auto_now_add=True)
    actor_name = models.CharField(max_length=150)

    class Meta:
        ordering = ["id"]

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

    class Meta:
        constraints = [models.UniqueConstraint(fields=["dimension", "code"], name="dimension_code_unique")]

    def __str__(self) -> str:
        return f"{self.dimension}:{self.code}"
