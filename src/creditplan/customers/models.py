from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from creditplan.customers.domain import CustomerKind, CustomerStatus
from creditplan.org.models import Branch


class Customer(models.Model):
    """An individual or a company the institution serves.

    Personal identifiers are stored three ways, each for one purpose: `*_enc` (Fernet ciphertext, the
    only copy of the full value), `id_index` (keyed HMAC for the one-customer-per-identity rule) and
    `*_masked` (what lists show without decrypting).
    """

    kind = models.CharField(_("kind"), max_length=12, choices=[(k.value, k.value) for k in CustomerKind])
    status = models.CharField(max_length=10, default=CustomerStatus.ACTIVE,
                              choices=[(s.value, s.value) for s in CustomerStatus])
    name = models.CharField(_("name"), max_length=100, db_index=True)
    branch = models.ForeignKey(Branch, on_delete=models.PROTECT, related_name="customers")
    user = models.OneToOneField(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="customer")
    # individuals
    id_number_enc = models.TextField(blank=True)
    id_index = models.CharField(max_length=64, unique=True, null=True, blank=True)
    id_masked = models.CharField(max_length=18, blank=True, db_index=True)
    birth_date = models.DateField(null=True, blank=True)
    sex = models.CharField(max_length=1, blank=True)
    monthly_income_minor = models.BigIntegerField(null=True, blank=True)
    currency = models.CharField(max_length=3, default="CNY")
    employer = models.CharField(max_length=100, blank=True)
    # both
    phone_enc = models.TextField(blank=True)
    phone_masked = models.CharField(max_length=16, blank=True)
    region_code = models.CharField(max_length=6, blank=True)
    # companies
    uscc = models.CharField(max_length=18, unique=True, null=True, blank=True)
    industry_code = models.CharField(max_length=5, blank=True, db_index=True)

    onboarded_on = models.DateField(_("customer since"), db_index=True)
    version = models.PositiveIntegerField(default=1)
    # How the ledger's customer events render personal data: 1 = the first releases' masked values and clear
    # birth date / region (kept for records written then, until their next change), 2 = keyed digests.
    audit_format = models.PositiveSmallIntegerField(default=2)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(monthly_income_minor__gte=0) | models.Q(
                monthly_income_minor__isnull=True), name="customer_income_not_negative"),
        ]
        # the companies among a range of customers, read by each chunk of the daily close (the debtor rule of
        # the risk classification is for non-retail debtors only): few rows, no customer row read
        indexes = [models.Index(fields=["id"], condition=models.Q(kind="company"), name="customer_company")]

    def __str__(self) -> str:
        return self.name


class CorrectionStatus(models.TextChoices):
    PENDING = "pending", _("pending")
    APPROVED = "approved", _("approved")
    REJECTED = "rejected", _("rejected")


class IdentityCorrection(models.Model):
    """A four-eyes change of a customer's identity (resident ID number, hence birth date and sex; a company's
    unified social credit code): requested by one user, approved or rejected by another.

    The new values wait here encrypted (`values_enc`, a JSON object under the PII key); `new_index` is the blind
    index of a new ID number (duplicate check), `new_masked` what the pages show."""

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="identity_corrections")
    status = models.CharField(max_length=10, default=CorrectionStatus.PENDING, choices=CorrectionStatus.choices)
    fields = models.CharField(max_length=100)
    values_enc = models.TextField()
    new_index = models.CharField(max_length=64, blank=True)
    new_masked = models.CharField(max_length=40, blank=True)
    reason = models.TextField()
    customer_version = models.PositiveIntegerField()
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.TextField(blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["customer"], condition=models.Q(status="pending"),
                                    name="one_pending_identity_correction"),
        ]

    def __str__(self) -> str:
        return f"identity correction {self.pk} ({self.status})"


class GroupRelation(models.TextChoices):
    CONTROL = "control", _("control")
    GUARANTEE = "guarantee", _("mutual guarantee")
    CONTROLLER = "controller", _("same actual controller")
    FAMILY = "family", _("family")


class CustomerGroup(models.Model):
    """A group of connected customers (关联集团 / 关联方) whose exposures count together against the group limit.
    A group may sit inside a larger one (`parent`); `root` is the top of its tree, where the limit applies."""

    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=100)
    name_en = models.CharField(max_length=100, blank=True, default="")  # the English name (issue 20); blank: `name`
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    root = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    head = models.ForeignKey(Customer, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=10, default="active")  # active | dissolved
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class GroupMember(models.Model):
    """A customer's membership of a group, by relation type, from an effective date (to one, when it ended)."""

    group = models.ForeignKey(CustomerGroup, on_delete=models.PROTECT, related_name="members")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="group_memberships")
    relation = models.CharField(max_length=12, choices=GroupRelation.choices)
    effective_from = models.DateField()
    effective_to = models.DateField(null=True, blank=True)  # the last day; null while it holds

    class Meta:
        ordering = ["group", "id"]
        indexes = [models.Index(fields=["customer", "effective_from"])]
        # issue 19 (customer groups, customers/0006_groups_more): a membership never ends before it starts
        constraints = [models.CheckConstraint(
            condition=models.Q(effective_to__isnull=True) | models.Q(effective_to__gte=models.F("effective_from")),
            name="group_member_dates")]

    def __str__(self) -> str:
        return f"{self.customer_id} in {self.group_id} ({self.relation})"


class GroupChange(models.Model):
    """A proposed change to the group registry (create a group, add or end a membership, move a group under
    another), waiting for a second user's decision (maker-checker)."""

    kind = models.CharField(max_length=16)  # create_group | add_member | end_member | set_parent | dissolve
    group = models.ForeignKey(CustomerGroup, null=True, blank=True, on_delete=models.PROTECT, related_name="changes")
    payload = models.JSONField(default=dict)
    status = models.CharField(max_length=10, default=CorrectionStatus.PENDING, choices=CorrectionStatus.choices)
    source = models.CharField(max_length=100, blank=True)  # a file import: its name and line
    # issue 19 (customers/0006_groups_more): the changes of one imported file share a batch, decided together
    batch = models.CharField(max_length=40, blank=True, db_index=True)
    proposed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    decision_note = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"group change {self.pk} {self.kind} {self.status}"
