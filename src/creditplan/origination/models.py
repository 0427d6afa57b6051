"""Applications, the transitions of their state and the approvals on them.

The decision itself lives in the decisions domain (`decision_id`); the figures the review queue filters and
sorts on (grade, score, approved amount, required approvals) and a snapshot of the decision's explanation are
copied here when the decision is made, so that the queue is one indexed query and the application page
shows what the decision said at the time, whatever changes in the decisions domain later.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from creditplan.customers.models import Customer
from creditplan.org.models import Branch
from creditplan.origination.domain import Channel, Status


class Application(models.Model):
    ref = models.CharField(max_length=24, unique=True)
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="applications")
    branch = models.ForeignKey(Branch, on_delete=models.PROTECT, related_name="+")
    product = models.CharField(max_length=30)  # loans.Product code
    currency = models.CharField(max_length=3, default="CNY")
    amount_minor = models.BigIntegerField()
    term = models.PositiveIntegerField()  # periods
    channel = models.CharField(max_length=10, choices=[(c.value, c.value) for c in Channel])
    inputs = models.JSONField(default=dict)  # the decision's inputs: stated, from the records and the bureau
    input_sources = models.JSONField(default=dict)  # input name → stated | records | bureau | derived
    requested_inputs = models.JSONField(default=list)  # the stated inputs the last request for information asked for
    status = models.CharField(max_length=20, choices=[(s.value, s.value) for s in Status], default=Status.DRAFT.value)
    auto_approved = models.BooleanField(default=False)  # straight through: approved with no human touch
    entered_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    reviewed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+")
    idempotency_key = models.CharField(max_length=120, unique=True, null=True, blank=True)  # "<user id>:<key>"
    request_hash = models.CharField(max_length=64, blank=True)  # what the key was first used for
    # the automated decision (decisions domain), and what of it the queue needs
    decision = models.ForeignKey("decisions.Decision", null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="+")
    decision_outcome = models.CharField(max_length=10, blank=True)  # approve | refer | decline
    score = models.IntegerField(null=True, blank=True)
    grade = models.CharField(max_length=8, blank=True, db_index=True)
    approved_amount_minor = models.BigIntegerField(null=True, blank=True)
    rate_ppm = models.IntegerField(null=True, blank=True)
    installment_minor = models.BigIntegerField(null=True, blank=True)
    required_level = models.CharField(max_length=30, blank=True)
    required_approvals = models.PositiveSmallIntegerField(default=1)
    quota_status = models.CharField(max_length=20, blank=True)  # reserved, escalated, released, untracked, …
    reasons = models.JSONField(default=list)
    decision_snapshot = models.JSONField(default=dict)  # rules fired, limit and price steps, policy version
    queued_at = models.DateTimeField(null=True, blank=True)  # entered the review queue (age filter, SLA)
    decided_at = models.DateTimeField(null=True, blank=True)  # final approve / decline
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["status", "queued_at"]), models.Index(fields=["customer", "-id"])]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount_minor__gt=0), name="application_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.ref} {self.status}"


class Transition(models.Model):
    """One change of an application's state: from, to, who, when, why. Append-only."""

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="transitions")
    from_status = models.CharField(max_length=20, blank=True)  # "" for creation
    to_status = models.CharField(max_length=20)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    actor_name = models.CharField(max_length=150)  # "system" for the automated decision
    reason = models.CharField(max_length=500, blank=True)
    at = models.DateTimeField()

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.application_id}: {self.from_status} → {self.to_status}"


class Approval(models.Model):
    """A reviewer's decision on a referred case: approve (one of the approvals required) or decline, with a
    reason code. One approval per person per application, enforced by the database as well."""

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="approvals")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    decision = models.CharField(max_length=10)  # approve | decline
    reason_code = models.CharField(max_length=40)
    note = models.CharField(max_length=500, blank=True)
    level = models.CharField(max_length=30, blank=True)  # the authority it was given under
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["application", "user"], condition=models.Q(decision="approve"),
                                    name="one_approval_per_person"),
        ]

    def __str__(self) -> str:
        return f"{self.application_id} {self.decision} by {self.user_id}"


class ApplicationDraft(models.Model):
    """The online form, saved on the server after each step: what the customer typed so far (text, as typed),
    the furthest step reached and when each step was first reached (the form's drop-off is counted from these).

    `token` is the draft's unguessable name in its URL. `stash` holds fields posted after the session expired
    (the browser could not say who it was): they are put back into the form once the owner logs in again.
    Old unsubmitted drafts are purged by the daily job: their data and stash are wiped, the step timestamps kept
    so the drop-off figures of past periods do not change."""

    token = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    branch = models.ForeignKey(Branch, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    product = models.CharField(max_length=30, blank=True)
    channel = models.CharField(max_length=10, default="web")
    data = models.JSONField(default=dict, blank=True)
    stash = models.JSONField(default=dict, blank=True)
    furthest_step = models.PositiveSmallIntegerField(default=1)  # 1 offer, 2 details, 3 consent, 4 submitted
    step_times = models.JSONField(default=dict, blank=True)  # step name → ISO time first reached
    application_ref = models.CharField(max_length=24, blank=True)
    created_at = models.DateTimeField(db_index=True)
    updated_at = models.DateTimeField()
    submitted_at = models.DateTimeField(null=True, blank=True)
    purged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["user", "-updated_at"])]

    def __str__(self) -> str:
        return f"draft {self.pk} step {self.furthest_step}"


class Escalation(models.Model):
    """A case that waited longer than its state's service level, brought to the next level of the branch
    hierarchy: who (the system job), when, why, and to which branch. One row per wait and level, so running the
    job twice escalates nothing twice (the database refuses a duplicate)."""

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="escalations")
    status = models.CharField(max_length=20)  # the state it waited in
    since = models.DateTimeField()  # when it entered that state
    level = models.PositiveSmallIntegerField()  # 1: the next level up, 2: the one above that
    to_branch = models.ForeignKey(Branch, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    due_at = models.DateTimeField()
    at = models.DateTimeField()
    actor_name = models.CharField(max_length=150, default="system")
    reason = models.CharField(max_length=300)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["application", "status", "since", "level"],
                                               name="one_escalation_per_wait_and_level")]

    def __str__(self) -> str:
        return f"{self.application_id} {self.status} level {self.level}"
