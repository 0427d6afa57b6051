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


class ModelMonitor(models.Model):
    """One week's monitoring of one scoring-model version in production (risk.services.monitoring): the score
    PSI of the week's applications, each feature's CSI, the grade mix and approval rates, discrimination by
    origination cohort and calibration by grade, each with its verdict. `result` holds the figures as the pages
    and the monthly report draw them (risk.domain.monitoring)."""

    version = models.ForeignKey("scoring.ModelVersion", on_delete=models.PROTECT, related_name="+")
    model_name = models.CharField(max_length=60)
    number = models.PositiveIntegerField()
    role = models.CharField(max_length=12)  # champion | challenger | other (its status that week)
    week = models.DateField()  # the Monday the week starts
    as_of = models.DateField(null=True, blank=True)  # the snapshot of the book outcomes were read from
    decisions = models.PositiveIntegerField(default=0)
    psi = models.FloatField(null=True)
    psi_verdict = models.CharField(max_length=20)
    verdict = models.CharField(max_length=20)  # the worst of every verdict of the week
    has_reference = models.BooleanField(default=True)
    result = models.JSONField(default=dict)
    computed_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["version", "week"], name="risk_model_monitor_once")]
        indexes = [models.Index(fields=["model_name", "week"], name="risk_model_monitor_week")]

    def __str__(self) -> str:
        return f"{self.model_name} v{self.number} {self.week}"


# --- behaviour scores, expected credit loss, stress tests (issue 17; risk.services.behaviour, .ecl, .stress) -------

class RerateRun(models.Model):
    """One month's behaviour re-rating of every active customer with the behaviour model's champion."""

    month = models.DateField(unique=True)  # the month end
    model_name = models.CharField(max_length=60)
    model_version_id = models.BigIntegerField()
    model_number = models.PositiveIntegerField()
    artifact_sha256 = models.CharField(max_length=64)
    grades = models.JSONField(default=list)  # the model's master scale, best first
    engine = models.CharField(max_length=10, default="local")
    loans = models.PositiveIntegerField(default=0)
    customers = models.PositiveIntegerField(default=0)
    upgrades = models.PositiveIntegerField(default=0)
    downgrades = models.PositiveIntegerField(default=0)
    new = models.PositiveIntegerField(default=0)
    moves = models.JSONField(default=list)  # the migration matrix (risk.domain.behaviour.grade_moves)
    seconds = models.FloatField(default=0.0)
    computed_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"re-rating {self.month}"


class BehaviourScore(models.Model):
    """A customer's behaviour rating for a month: the score, PD and grade of their riskiest active loan, and the
    grade of the month before (blank: not rated then). Written by COPY (a million loans' customers a month)."""

    pk = models.CompositePrimaryKey("month", "customer_id")  # one index fewer to maintain while COPY writes
    month = models.DateField()
    customer_id = models.BigIntegerField()
    score = models.FloatField()
    pd = models.FloatField()
    grade = models.CharField(max_length=8)
    grade_index = models.PositiveSmallIntegerField()  # 0 = the best grade of the model's master scale
    previous_grade = models.CharField(max_length=8, blank=True)
    previous_index = models.SmallIntegerField(default=-1)  # −1: not rated the month before
    loans = models.PositiveIntegerField(default=1)

    class Meta:
        indexes = [models.Index(fields=["customer_id", "month"], name="risk_behaviour_customer")]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.month} {self.grade}"


class LossParameter(models.Model):
    """LGD and CCF of a product (and the collateral its loans carry); product "*" for every product without a row.
    Shares as decimal text, 0–1 (refused otherwise, naming the field)."""

    product = models.CharField(max_length=30, unique=True)
    collateral = models.CharField(max_length=20, default="none")  # none | property | vehicle | deposit | guarantee
    lgd = models.CharField(max_length=20)
    ccf = models.CharField(max_length=20, default="1")
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["product"]

    def __str__(self) -> str:
        return f"{self.product}: LGD {self.lgd}, CCF {self.ccf}"


class EclScenario(models.Model):
    """A macro-economic scenario of the provision (base / upside / downside): its weight and PD and LGD multipliers,
    decimal text; the weights add up to 1."""

    name = models.SlugField(max_length=30, unique=True)
    weight = models.CharField(max_length=20)
    pd_multiplier = models.CharField(max_length=20, default="1")
    lgd_multiplier = models.CharField(max_length=20, default="1")
    sort_order = models.PositiveSmallIntegerField(default=0)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["sort_order", "name"]

    def __str__(self) -> str:
        return self.name


class EclRun(models.Model):
    """One computation of the loss allowance for a date, with what it rested on and its totals (fen)."""

    as_of = models.DateField(unique=True)
    engine = models.CharField(max_length=10, default="local")
    loans = models.PositiveIntegerField(default=0)
    stage_loans = models.JSONField(default=list)  # loans in stage 1, 2, 3
    stage_ead = models.JSONField(default=list)  # exposure (fen) per stage, as decimal text
    stage_ecl = models.JSONField(default=list)  # allowance (fen) per stage, as decimal text
    total_minor = models.BigIntegerField(default=0)
    ead_minor = models.BigIntegerField(default=0)
    matrix = models.JSONField(default=dict)  # counts, months, usable states — or {} when the fallback served
    pd_sources = models.JSONField(default=dict)  # behaviour / origination / matrix / fallback: loans each
    scenarios = models.JSONField(default=list)
    parameters = models.JSONField(default=dict)  # LGD / CCF table as used
    previous = models.DateField(null=True, blank=True)  # the run whose stages the cure rule continued
    posted = models.BooleanField(default=False)
    entries = models.JSONField(default=list)  # the journal entries posted: [{id, kind, branch, amount}]
    seconds = models.FloatField(default=0.0)
    computed_at = models.DateTimeField()

    class Meta:
        ordering = ["-as_of"]

    def __str__(self) -> str:
        return f"ECL {self.as_of}"


class LoanEcl(models.Model):
    """One loan's stage and loss allowance on a date: the 12-month and lifetime figures and the one booked (stage 1:
    12-month, stages 2–3: lifetime), in fen. The loan and customer are ids, not foreign keys: a month end writes a
    row per loan of the book by COPY."""

    pk = models.CompositePrimaryKey("as_of", "loan_id")  # the only index: a month end writes a million rows
    as_of = models.DateField()
    loan_id = models.BigIntegerField()
    customer_id = models.BigIntegerField()
    branch = models.CharField(max_length=20)
    product = models.CharField(max_length=30)
    currency = models.CharField(max_length=3, default="CNY")
    stage = models.PositiveSmallIntegerField()
    cured = models.PositiveSmallIntegerField(default=0)  # months in a row meeting a better stage (the cure rule)
    pd12 = models.FloatField()
    pd_origination = models.FloatField(null=True)
    lgd = models.FloatField()
    ead_minor = models.BigIntegerField()
    ecl_12m_minor = models.BigIntegerField()
    ecl_lifetime_minor = models.BigIntegerField()
    ecl_minor = models.BigIntegerField()

    def __str__(self) -> str:
        return f"{self.loan_id} {self.as_of} stage {self.stage}"


class StressScenario(models.Model):
    """A stress scenario: a macro shock (unemployment up, GDP growth down, property prices down) and the PD
    multipliers by segment and industry and the LGD effects it maps to (risk.domain.stress)."""

    code = models.SlugField(max_length=40, unique=True)
    name_en = models.CharField(max_length=120)
    name_zh = models.CharField(max_length=120)
    unemployment_pp = models.CharField(max_length=20, default="0")  # percentage points
    gdp_pp = models.CharField(max_length=20, default="0")  # fall of GDP growth, percentage points
    property_fall = models.CharField(max_length=20, default="0")  # share, 0–1
    pd_segment = models.JSONField(default=dict)  # {"individual": "1.5", "company": "1.3"}
    pd_industry = models.JSONField(default=dict)  # {"E": "1.6", …}
    lgd_multiplier = models.CharField(max_length=20, default="1")  # products without property collateral
    standard = models.BooleanField(default=False)
    sort_order = models.PositiveSmallIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["sort_order", "code"]

    def __str__(self) -> str:
        return self.code


class StressResult(models.Model):
    """A stress test of the book on a date: the base and the stressed figures side by side (`figures`)."""

    as_of = models.DateField()
    scenario = models.ForeignKey(StressScenario, on_delete=models.CASCADE, related_name="results")
    figures = models.JSONField(default=dict)
    computed_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["as_of", "scenario"], name="risk_stress_once")]

    def __str__(self) -> str:
        return f"{self.scenario_id} {self.as_of}"


# --- early warning (issue 17, item 2; risk.services.signals) ---------------------------------------------------------

class SignalWeight(models.Model):
    """The weight of one early-warning signal in a customer's score (risk.domain.signals.SIGNALS; a signal without a
    row weighs its default)."""

    code = models.SlugField(max_length=40, unique=True)
    weight = models.PositiveSmallIntegerField()
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.code}={self.weight}"


class SignalRun(models.Model):
    """One computation of every customer's signals and warning level for a date, with what it rested on."""

    as_of = models.DateField(unique=True)
    engine = models.CharField(max_length=10, default="local")
    loans = models.PositiveIntegerField(default=0)
    customers = models.PositiveIntegerField(default=0)
    levels = models.JSONField(default=dict)  # level → customers
    signals = models.JSONField(default=dict)  # signal code → customers it fired for
    weights = models.JSONField(default=dict)  # signal code → weight, as used
    references = models.JSONField(default=dict)  # input → the date compared with (null: absent)
    absent = models.JSONField(default=list)  # signals that could not be evaluated for want of an input
    policy_version_id = models.BigIntegerField(null=True)
    policy_number = models.PositiveIntegerField(default=0)
    policy_sha256 = models.CharField(max_length=64, blank=True)
    combinations = models.PositiveIntegerField(default=0)  # distinct (score, flags) evaluated by the table
    inputs_sha256 = models.CharField(max_length=64, blank=True)  # the line use kept for the run a month later
    watch_updated = models.BooleanField(default=False)
    entered = models.PositiveIntegerField(default=0)
    left = models.PositiveIntegerField(default=0)
    recomputed = models.PositiveIntegerField(default=0)
    seconds = models.FloatField(default=0.0)
    computed_at = models.DateTimeField()

    class Meta:
        ordering = ["-as_of"]

    def __str__(self) -> str:
        return f"signals {self.as_of}"


class CustomerSignal(models.Model):
    """A customer's warning level and signals on a date — stored for every customer with a signal or a level above
    green (a customer of the run without a row was green with no signal). Written by COPY."""

    as_of = models.DateField()
    customer_id = models.BigIntegerField()
    branch = models.CharField(max_length=20, blank=True)
    level = models.CharField(max_length=8)
    score = models.PositiveIntegerField(default=0)
    mask = models.PositiveIntegerField(default=0)
    signals = models.JSONField(default=list)  # [{code, weight, figures}]
    rule = models.CharField(max_length=60, blank=True)  # the reason code of the table row that gave the level

    class Meta:
        constraints = [models.UniqueConstraint(fields=["as_of", "customer_id"], name="risk_signal_once")]
        indexes = [models.Index(fields=["customer_id", "as_of"], name="risk_signal_customer")]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.as_of} {self.level}"


class WatchStatus(models.TextChoices):
    OPEN = "open", "open"
    CLOSED = "closed", "closed"


class WatchEntry(models.Model):
    """A customer on the watch list: entered at orange or red, leaves after WATCH_EXIT_DAYS days in a row below
    orange. At most one open entry per customer. Item 3 (review tasks) reads these rows (docs/early-warning.md)."""

    customer = models.ForeignKey("customers.Customer", on_delete=models.PROTECT, related_name="+")
    branch = models.ForeignKey(Branch, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=8, choices=WatchStatus.choices, default=WatchStatus.OPEN)
    entered_on = models.DateField()
    entry_level = models.CharField(max_length=8)
    level = models.CharField(max_length=8)  # the latest run's level (its signals: CustomerSignal of that date)
    peak_level = models.CharField(max_length=8)
    reason = models.JSONField(default=dict)  # at entry: {score, rule, message_en, message_zh, signals: [...]}
    below_since = models.DateField(null=True, blank=True)  # the first day of the current run of days below orange
    updated_on = models.DateField()  # the latest run that moved it
    escalated_on = models.DateField(null=True, blank=True)  # the latest day its level rose above its peak
    left_on = models.DateField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["customer"], condition=Q(status="open"),
                                               name="risk_watch_one_open_per_customer")]
        indexes = [models.Index(fields=["status", "-entered_on"], name="risk_watch_status"),
                   models.Index(fields=["entered_on"], name="risk_watch_entered")]

    def __str__(self) -> str:
        return f"watch {self.customer_id} {self.status}"


class ExternalRecord(models.Model):
    """A negative record about a customer from outside the institution (court judgment, enforcement, dishonest
    debtor listing, blacklist, administrative penalty): where it comes from and its date. Imported by the API or
    `creditplan risk external-records import FILE.csv`; the same source and reference is never stored twice."""

    customer = models.ForeignKey("customers.Customer", on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=30)  # risk.domain.signals.EXTERNAL_KIND_CODES
    source = models.CharField(max_length=100)
    reference = models.CharField(max_length=100)
    record_date = models.DateField()
    amount_minor = models.BigIntegerField(null=True, blank=True)
    note = models.CharField(max_length=300, blank=True)
    imported_at = models.DateTimeField()
    imported_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["source", "reference"], name="risk_external_once")]
        indexes = [models.Index(fields=["record_date"], name="risk_external_date")]

    def __str__(self) -> str:
        return f"{self.kind} {self.customer_id} {self.record_date}"


class Inflow(models.Model):
    """A month's inflows on one of a customer's linked accounts (sum of credits, fen), imported from transaction
    data. The product keeps no transactions: this is the input of the inflow signal, empty until fed."""

    customer = models.ForeignKey("customers.Customer", on_delete=models.PROTECT, related_name="+")
    account = models.CharField(max_length=40)  # the institution's reference of the linked account
    month = models.DateField()  # the first day of the month
    amount_minor = models.BigIntegerField()
    source = models.CharField(max_length=60, blank=True)
    imported_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["customer", "account", "month"], name="risk_inflow_once")]
        indexes = [models.Index(fields=["month"], name="risk_inflow_month")]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.account} {self.month}"


# --- post-loan management (issue 17, items 3 and 5; risk.services.reviews, risk.services.limits) --------------------

class ReviewTask(models.Model):
    """A post-loan review of a customer: because they entered the watch list (orange or red), or a routine check (30
    days after a business loan was paid out, yearly for a customer with a loan on the book). Owned by a loan officer;
    done when a visit or call is recorded with the findings and an action. At most one open task per customer and
    kind; `key` makes its creation idempotent (watch:<entry>:<level>, disbursement:<loan>, annual:<customer>:<year>)."""

    customer = models.ForeignKey("customers.Customer", on_delete=models.PROTECT, related_name="+")
    branch = models.ForeignKey(Branch, on_delete=models.PROTECT, related_name="+")  # the customer's, at creation
    kind = models.CharField(max_length=14)  # risk.domain.reviews.TaskKind
    key = models.CharField(max_length=80, unique=True)
    level = models.CharField(max_length=8, blank=True)  # a watch task's level (the worst while it is open)
    watch_entry_id = models.BigIntegerField(null=True, blank=True)
    loan_ref = models.CharField(max_length=24, blank=True)  # the loan a 30-day check is about
    reason = models.JSONField(default=dict)  # why: the watch entry's message and signals, or the routine trigger
    status = models.CharField(max_length=6, default="open")  # open | done
    created_on = models.DateField()  # the business date it was created for
    due_on = models.DateField()
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                              related_name="+")
    owner_source = models.CharField(max_length=12, blank=True)  # application | branch | assigned | "" (none found)
    escalation_level = models.PositiveSmallIntegerField(default=0)  # 1 the branch's approvers, 2 risk managers
    escalated_on = models.DateField(null=True, blank=True)
    contact_on = models.DateField(null=True, blank=True)  # the visit's or call's date
    channel = models.CharField(max_length=8, blank=True)  # visit | call
    findings = models.TextField(blank=True)
    action = models.CharField(max_length=12, blank=True)  # risk.domain.reviews.Action
    action_amount_minor = models.BigIntegerField(null=True, blank=True)  # a reduction's new line amount
    action_result = models.CharField(max_length=16, blank=True)  # frozen | reduced | proposed | recorded
    line_change_id = models.BigIntegerField(null=True, blank=True)
    done_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                related_name="+")
    done_by_name = models.CharField(max_length=150, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["due_on", "id"]
        constraints = [models.UniqueConstraint(fields=["customer", "kind"], condition=Q(status="open"),
                                               name="risk_review_one_open_per_kind")]
        indexes = [models.Index(fields=["status", "due_on"], name="risk_review_status_due"),
                   models.Index(fields=["owner", "status"], name="risk_review_owner")]

    def __str__(self) -> str:
        return f"review {self.pk} {self.kind} {self.customer_id} ({self.status})"


class ReviewRun(models.Model):
    """One daily run of the review job for a closed date: the tasks it created and escalated (its window starts
    after the last run's date, so a missed day is caught up)."""

    as_of = models.DateField(unique=True)
    created = models.JSONField(default=dict)  # kind → tasks created
    escalated = models.JSONField(default=dict)  # level → tasks escalated
    proposals_closed = models.PositiveIntegerField(default=0)  # limit proposals found approved or rejected
    computed_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"reviews {self.as_of}"


class LimitRun(models.Model):
    """One monthly run of the dynamic-limit rules (one per month; `as_of` the date it ran for)."""

    month = models.DateField(unique=True)  # the first day of the month
    as_of = models.DateField()
    policy_version_id = models.BigIntegerField(null=True)
    policy_number = models.PositiveIntegerField(default=0)
    policy_sha256 = models.CharField(max_length=64, blank=True)
    counts = models.JSONField(default=dict)  # outcome/status → customers
    computed_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"limits {self.month}"


class LimitProposal(models.Model):
    """What the limit rules proposed for one customer's line in a month, with its reasons: applied at once (within
    policy), or waiting in the credit lines' maker-checker queue (`line_change_id`) until a person decides it."""

    run = models.ForeignKey(LimitRun, on_delete=models.PROTECT, related_name="proposals")
    customer = models.ForeignKey("customers.Customer", on_delete=models.PROTECT, related_name="+")
    branch = models.ForeignKey(Branch, on_delete=models.PROTECT, related_name="+")
    line_id = models.BigIntegerField()
    outcome = models.CharField(max_length=10)  # increase | reduce | freeze
    amount_before_minor = models.BigIntegerField()
    amount_after_minor = models.BigIntegerField()
    within_policy = models.BooleanField(default=False)
    status = models.CharField(max_length=10)  # applied | pending | approved | rejected | skipped
    note = models.CharField(max_length=30, blank=True)  # why skipped: change_pending, nothing_to_cut…
    reason = models.CharField(max_length=60, blank=True)  # the table row's reason code
    message_en = models.CharField(max_length=300, blank=True)
    message_zh = models.CharField(max_length=300, blank=True)
    facts = models.JSONField(default=dict)  # what the table read
    facts_en = models.CharField(max_length=400, blank=True)
    facts_zh = models.CharField(max_length=400, blank=True)
    row = models.PositiveIntegerField(default=0)
    line_change_id = models.BigIntegerField(null=True, blank=True)
    notified = models.BooleanField(default=False)  # the customer was told (risk.limit_changed appended)
    decided_by_name = models.CharField(max_length=150, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-id"]
        constraints = [models.UniqueConstraint(fields=["run", "customer"], name="risk_limit_once_per_run")]
        indexes = [models.Index(fields=["status"], name="risk_limit_status")]

    def __str__(self) -> str:
        return f"limit {self.outcome} {self.customer_id} ({self.status})"
