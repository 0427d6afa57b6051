"""Persistence of the decision engine: policies and their versions, example cases, the per-product decision
settings (model, affordability, pricing grid), the approval authority matrix, and every decision made.

A published policy version is immutable: editing it creates a new draft, so a stored decision's
`policy_version` always names the exact rules it ran.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Policy(models.Model):
    """The credit policy of one loan product: a chain of versions, at most one published at a time."""

    product = models.CharField(max_length=30, unique=True)  # loans.Product code
    name = models.CharField(max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["product"]

    def __str__(self) -> str:
        return f"{self.product} {self.name}"


class PolicyVersion(models.Model):
    """One version of a policy: its GoRules JDM document and where it stands in the four-eyes life-cycle."""

    policy = models.ForeignKey(Policy, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    status = models.CharField(max_length=12, default="draft")  # domain.lifecycle.PolicyStatus
    jdm = models.TextField()  # canonical JSON text
    jdm_sha256 = models.CharField(max_length=64)
    note = models.CharField(max_length=300, blank=True)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    author_name = models.CharField(max_length=150)
    validation = models.JSONField(default=dict)  # the last validation report
    validated_at = models.DateTimeField(null=True, blank=True)
    test_summary = models.JSONField(default=dict)  # the last run against the example cases
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="+")
    submitted_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+")
    approved_by_name = models.CharField(max_length=150, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["policy_id", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["policy", "number"], name="policy_version_number"),
            models.UniqueConstraint(fields=["policy"], condition=models.Q(status="published"),
                                    name="one_published_version_per_policy"),
        ]

    def __str__(self) -> str:
        return f"{self.policy_id} v{self.number} {self.status}"


class ExampleCase(models.Model):
    """A saved example application with the outcome the policy is expected to give it."""

    policy = models.ForeignKey(Policy, on_delete=models.CASCADE, related_name="examples")
    name = models.CharField(max_length=100)
    application = models.JSONField(default=dict)  # amount_minor, term, segment, score?, inputs
    expected_outcome = models.CharField(max_length=10)  # approve | refer | decline
    created_by_name = models.CharField(max_length=150)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["policy_id", "id"]
        constraints = [models.UniqueConstraint(fields=["policy", "name"], name="example_name_per_policy")]

    def __str__(self) -> str:
        return f"{self.name} → {self.expected_outcome}"


class ProductSettings(models.Model):
    """What the engine needs to know about a product beyond its contract terms."""

    product = models.CharField(max_length=30, unique=True)
    model_name = models.CharField(max_length=60, blank=True)  # scoring model; blank: no model (refer)
    segment_models = models.JSONField(default=dict)  # {segment: model name} overriding model_name
    dsr_pct = models.PositiveSmallIntegerField(default=50)  # share of monthly income debt service may take
    dual_approval_above_minor = models.BigIntegerField(default=50_000_000)  # two approvals above this amount
    amount_step_minor = models.BigIntegerField(default=10_000)  # limits are rounded down to this step (100 yuan)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.product


class GradeTerms(models.Model):
    """One row of a product's pricing grid: by grade, the spread over the LPR, the grade's amount limit and
    the amount up to which an application of that grade may be approved with no human touch."""

    product = models.CharField(max_length=30)
    grade = models.CharField(max_length=8)
    spread_bp = models.IntegerField()
    limit_minor = models.BigIntegerField()  # 0: the grade is not lent to
    auto_approve_max_minor = models.BigIntegerField(default=0)  # 0: never straight through

    class Meta:
        ordering = ["product", "grade"]
        constraints = [models.UniqueConstraint(fields=["product", "grade"], name="grade_terms_per_product")]

    def __str__(self) -> str:
        return f"{self.product} {self.grade}"


class AuthorityRule(models.Model):
    """Delegated approval authority: a role at a branch level may approve, for a product (blank: all), up to
    an amount and down to a grade."""

    role = models.CharField(max_length=20)
    branch_level = models.CharField(max_length=20)  # org BranchLevel
    product = models.CharField(max_length=30, blank=True)
    max_amount_minor = models.BigIntegerField()
    worst_grade = models.CharField(max_length=8)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["branch_level", "role", "product", "max_amount_minor"]

    def __str__(self) -> str:
        return f"{self.role}@{self.branch_level} {self.product or '*'} ≤{self.max_amount_minor} ≥{self.worst_grade}"


class Decision(models.Model):
    """One automated decision, with everything needed to explain and replay it."""

    application_ref = models.CharField(max_length=60, db_index=True)
    customer_id = models.BigIntegerField(db_index=True)
    product = models.CharField(max_length=30)
    branch = models.CharField(max_length=20)  # org Branch code
    branch_path = models.CharField(max_length=255, blank=True)
    channel = models.CharField(max_length=10)
    requested_minor = models.BigIntegerField()
    term = models.PositiveIntegerField()
    segment = models.CharField(max_length=30, blank=True)
    inputs = models.JSONField(default=dict)
    inputs_hash = models.CharField(max_length=64)
    facts = models.JSONField(default=dict)  # the context the policy saw (derived fields included)
    model_version_id = models.BigIntegerField(null=True, blank=True)
    score = models.FloatField(null=True, blank=True)  # points, not money
    pd = models.FloatField(null=True, blank=True)
    grade = models.CharField(max_length=8, blank=True)
    policy_version = models.ForeignKey(PolicyVersion, null=True, blank=True, on_delete=models.PROTECT,
                                       related_name="decisions")
    outcome = models.CharField(max_length=10, db_index=True)
    policy_outcome = models.CharField(max_length=10, blank=True)  # what the policy and limit said, before STP
    reasons = models.JSONField(default=list)  # [{code, en, zh}]
    rules_fired = models.JSONField(default=list)
    limit_steps = models.JSONField(default=list)
    price_steps = models.JSONField(default=list)
    approved_minor = models.BigIntegerField(default=0)
    rate_ppm = models.IntegerField(null=True, blank=True)
    apr_ppm = models.IntegerField(null=True, blank=True)
    installment_minor = models.BigIntegerField(null=True, blank=True)
    quota_status = models.CharField(max_length=20, blank=True)
    quota_detail = models.CharField(max_length=300, blank=True)
    required_level = models.CharField(max_length=20, blank=True)
    required_approvals = models.PositiveSmallIntegerField(default=1)
    timings_us = models.JSONField(default=dict)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    actor_name = models.CharField(max_length=150)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["product", "-id"])]

    def __str__(self) -> str:
        return f"{self.application_ref} {self.outcome}"
