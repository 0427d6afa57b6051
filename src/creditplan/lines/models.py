"""Credit lines, the changes that go through maker-checker, and what occupies each line.

A line belongs to a customer today. Issue 19 adds customer groups: a group line will name its group in
`group_ref` (nullable; a line names a customer or a group, the check constraint says so) and the same counters,
changes and occupations serve it.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from creditplan.customers.models import Customer
from creditplan.lines.domain import ChangeKind, LineStatus
from creditplan.org.models import Branch


class CreditLine(models.Model):
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="credit_lines", null=True,
                                 blank=True)
    group_ref = models.CharField(max_length=60, null=True, blank=True)  # issue 19: a group's line
    branch = models.ForeignKey(Branch, on_delete=models.PROTECT, related_name="+")
    currency = models.CharField(max_length=3, default="CNY")
    amount_minor = models.BigIntegerField(default=0)
    reserved_minor = models.BigIntegerField(default=0)
    used_minor = models.BigIntegerField(default=0)
    revolving = models.BooleanField(default=True)
    status = models.CharField(max_length=10, default=LineStatus.PROPOSED,
                              choices=[(s.value, s.value) for s in LineStatus])
    expires_on = models.DateField()
    sub_limits = models.JSONField(default=dict)  # product code → amount in fen
    usage = models.JSONField(default=dict)  # product code → [reserved, used] in fen
    freeze_reason = models.CharField(max_length=300, blank=True)
    proposed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+")
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+")
    approved_at = models.DateTimeField(null=True, blank=True)
    version = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["customer", "status"], name="lines_customer_status")]
        constraints = [
            models.UniqueConstraint(fields=["customer"], condition=Q(status__in=["proposed", "active", "frozen"]),
                                    name="lines_one_open_line_per_customer"),
            models.CheckConstraint(condition=Q(customer__isnull=False) | Q(group_ref__isnull=False),
                                   name="lines_customer_or_group"),
            models.CheckConstraint(condition=Q(amount_minor__gte=0) & Q(reserved_minor__gte=0) & Q(used_minor__gte=0),
                                   name="lines_counters_not_negative"),
        ]

    def __str__(self) -> str:
        return f"line {self.pk} ({self.status})"


class LineChange(models.Model):
    """A proposed change (the first approval of a line included): a maker proposes, another user with the
    authority approves or rejects it. A risk manager's freeze or reduction takes effect at once (`immediate`)."""

    line = models.ForeignKey(CreditLine, on_delete=models.PROTECT, related_name="changes")
    kind = models.CharField(max_length=12, choices=[(k.value, k.value) for k in ChangeKind])
    amount_minor = models.BigIntegerField(null=True, blank=True)
    expires_on = models.DateField(null=True, blank=True)
    sub_limits = models.JSONField(null=True, blank=True)
    revolving = models.BooleanField(null=True, blank=True)
    reason = models.CharField(max_length=300)
    status = models.CharField(max_length=10, default="pending")  # pending → approved | rejected
    immediate = models.BooleanField(default=False)
    proposed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+")
    proposed_by_name = models.CharField(max_length=150)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+")
    decided_by_name = models.CharField(max_length=150, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    note = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        constraints = [models.UniqueConstraint(fields=["line"], condition=Q(status="pending"),
                                               name="lines_one_pending_change")]

    def __str__(self) -> str:
        return f"{self.kind} of line {self.line_id} ({self.status})"


class Occupation(models.Model):
    """What one application (or loan) holds on a line: reserved while approved, then paid out."""

    line = models.ForeignKey(CreditLine, on_delete=models.PROTECT, related_name="occupations")
    application_ref = models.CharField(max_length=60, unique=True)
    product = models.CharField(max_length=30)
    status = models.CharField(max_length=10)  # reserved → used → repaid; reserved → released | expired
    reserved_minor = models.BigIntegerField(default=0)
    disbursed_minor = models.BigIntegerField(default=0)
    outstanding_minor = models.BigIntegerField(default=0)
    restored_minor = models.BigIntegerField(default=0)  # room given back by repayments (revolving lines)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["line", "status"], name="lines_occupation_line_status")]

    def __str__(self) -> str:
        return f"{self.application_ref} on line {self.line_id} ({self.status})"
