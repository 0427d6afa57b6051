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

    def __str__(self) -> str:
        return self.name
