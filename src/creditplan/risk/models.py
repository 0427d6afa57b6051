"""Risk monitoring's records: indicator definitions, their daily values, the kept snapshots of the book, alerts.

Thresholds are kept as decimal text (the house rule for rates: no binary floats in the database for figures a
person sets); computed values are floats — ratios of exact integer sums, recomputed identically from the kept
snapshots.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from creditplan.org.models import Branch


class Indicator(models.Model):
    """A key risk indicator as the institution defines it (the standard set is installed, then editable)."""

    code = models.SlugField(max_length=60, unique=True)
    name_en = models.CharField(max_length=120)
    name_zh = models.CharField(max_length=120)
    explain_en = models.TextField(blank=True)
    explain_zh = models.TextField(blank=True)
    fact = models.CharField(max_length=20)  # loans | applications | quotas
    formula = models.TextField()
    unit = models.CharField(max_length=10, default="ratio")  # ratio | number
    dimensions = models.JSONField(default=list)  # ["total", "branch", …]
    amber = models.CharField(max_length=40)  # decimal text
    red = models.CharField(max_length=40)
    worse = models.CharField(max_length=4, default="up")  # up | down
    mode = models.CharField(max_length=6, default="level")  # level | change
    owner_role = models.CharField(max_length=20, default="risk_manager")
    frequency = models.CharField(max_length=10, default="daily")  # daily | weekly | monthly
    standard = models.BooleanField(default=False)  # shipped with the product
    active = models.BooleanField(default=True)
    sort_order = models.PositiveIntegerField(default=0)
    version = models.PositiveIntegerField(default=1)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["sort_order", "code"]

    def __str__(self) -> str:
        return self.code


class AlertRule(models.Model):
    """When an indicator's judgement becomes an alert: red, amber (or red), or N periods worsening in a row."""

    indicator = models.ForeignKey(Indicator, on_delete=models.CASCADE, related_name="rules")
    kind = models.CharField(max_length=10)  # red | amber | worsening
    periods = models.PositiveSmallIntegerField(default=3)
    active = models.BooleanField(default=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["indicator", "kind"], name="risk_rule_once_per_kind")]

    def __str__(self) -> str:
        return f"{self.indicator_id}:{self.kind}"


class Snapshot(models.Model):
    """The loan book (and the plan's quotas) as they stood after the close of `as_of`, kept as a Parquet file."""

    as_of = models.DateField(unique=True)
    path = models.CharField(max_length=300)
    loans = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    taken_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"snapshot {self.as_of}"


class Run(models.Model):
    """One computation of the indicators for a date (after the close, or a recomputation)."""

    as_of = models.DateField(db_index=True)
    engine = models.CharField(max_length=10, default="local")
    recompute = models.BooleanField(default=False)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    loans = models.PositiveIntegerField(default=0)
    values = models.PositiveIntegerField(default=0)
    alerts = models.PositiveIntegerField(default=0)
    seconds = models.FloatField(default=0.0)

    def __str__(self) -> str:
        return f"run {self.as_of}"


class IndicatorValue(models.Model):
    """An indicator's value for one member of one dimension on one date ("total" / "" for the institution)."""

    as_of = models.DateField()
    indicator = models.ForeignKey(Indicator, on_delete=models.CASCADE, related_name="values")
    dimension = models.CharField(max_length=20)
    member = models.CharField(max_length=60)
    value = models.FloatField(null=True)  # None: no rows (a ratio over nothing)
    numerator = models.FloatField(null=True)  # for ratio formulas: the exact sums behind the value
    denominator = models.FloatField(null=True)
    previous = models.FloatField(null=True)  # the value one period earlier
    rag = models.CharField(max_length=6)  # green | amber | red | none

    class Meta:
        constraints = [models.UniqueConstraint(fields=["as_of", "indicator", "dimension", "member"],
                                               name="risk_value_once")]
        indexes = [models.Index(fields=["indicator", "dimension", "member", "as_of"], name="risk_value_series")]

    def __str__(self) -> str:
        return f"{self.indicator_id} {self.dimension}={self.member} {self.as_of}"


class AlertStatus(models.TextChoices):
    OPEN = "open", "open"
    ACKNOWLEDGED = "acknowledged", "acknowledged"
    RESOLVED = "resolved", "resolved"


class Alert(models.Model):
    """A condition found by a run, routed to the indicator's owner role (and to a branch, for branch members).

    At most one alert per condition (`key`: indicator, rule, dimension, member) is open or acknowledged at a time:
    a partial unique index makes a second one impossible even if two runs race."""

    key = models.CharField(max_length=200)
    indicator = models.ForeignKey(Indicator, on_delete=models.PROTECT, related_name="alerts")
    rule_kind = models.CharField(max_length=10)
    dimension = models.CharField(max_length=20)
    member = models.CharField(max_length=60)
    branch = models.ForeignKey(Branch, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    owner_role = models.CharField(max_length=20)
    status = models.CharField(max_length=12, choices=AlertStatus.choices, default=AlertStatus.OPEN)
    raised_on = models.DateField()  # the as-of date whose run found it
    value = models.FloatField(null=True)
    rag = models.CharField(max_length=6)
    raised_at = models.DateTimeField()
    acknowledged_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                        related_name="+")
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+")
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution = models.CharField(max_length=30, blank=True)  # a reason code
    resolution_note = models.CharField(max_length=500, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["key"], condition=Q(status__in=["open", "acknowledged"]),
                                               name="risk_alert_one_open_per_condition")]
        indexes = [models.Index(fields=["status", "-raised_at"], name="risk_alert_status")]

    def __str__(self) -> str:
        return self.key


class AlertComment(models.Model):
    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    text = models.CharField(max_length=1000)
    at = models.DateTimeField()

    def __str__(self) -> str:
        return f"comment on {self.alert_id}"
