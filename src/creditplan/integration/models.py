"""Outbound webhooks and their delivery log, customer notifications, and the mapping of external customer
references (inbound sync). The ledger is the outbox: `DispatchCursor` is how far it has been read."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from creditplan.customers.models import Customer


class WebhookEndpoint(models.Model):
    """A receiver (a CRM, a data platform) of application and loan events. The shared secret is stored encrypted
    (the PII cipher) and shown once, when the endpoint is created."""

    name = models.CharField(max_length=100)
    url = models.URLField(max_length=500)
    secret_enc = models.TextField()
    secret_hint = models.CharField(max_length=12)  # the last characters, to tell secrets apart
    events = models.JSONField(default=list)  # patterns: application.*, loan.disbursed …
    active = models.BooleanField(default=True)
    start_seq = models.BigIntegerField(default=0)  # only events after this ledger number (no history replay)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    deactivated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.name} → {self.url}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending"  # not tried yet
    FAILED = "failed"  # tried, failed, another attempt is scheduled
    DELIVERED = "delivered"
    DEAD = "dead"  # every attempt failed; only a manual redelivery sends it again


class WebhookDelivery(models.Model):
    """One event for one endpoint: the delivery log's row."""

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.PROTECT, related_name="deliveries")
    seq = models.BigIntegerField()  # the ledger event
    kind = models.CharField(max_length=60)
    subject_id = models.CharField(max_length=40, blank=True)
    payload = models.JSONField()
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)  # since created or last redelivered
    next_attempt_at = models.DateTimeField(null=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.IntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-id"]
        constraints = [models.UniqueConstraint(fields=["endpoint", "seq"], name="webhook_delivery_once")]
        indexes = [models.Index(fields=["status", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"delivery #{self.pk} {self.kind} → {self.endpoint_id} ({self.status})"


class DeliveryAttempt(models.Model):
    """One HTTP request of a delivery: what was sent, what came back, how long it took."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveIntegerField()
    at = models.DateTimeField()
    request_headers = models.JSONField(default=dict)
    status_code = models.IntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    response_excerpt = models.TextField(blank=True)
    duration_ms = models.IntegerField(default=0)
    manual = models.BooleanField(default=False)

    class Meta:
        ordering = ["delivery", "number"]

    def __str__(self) -> str:
        return f"attempt {self.number} of delivery {self.delivery_id}"


class DispatchCursor(models.Model):
    """The one row saying up to which ledger event dispatching is done. Locked while dispatching."""

    id = models.SmallIntegerField(primary_key=True, default=1)
    last_seq = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(null=True)

    def __str__(self) -> str:
        return f"dispatched through event {self.last_seq}"


class NotificationStatus(models.TextChoices):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"  # the sender refused it every time


class Notification(models.Model):
    """A message to a customer about their application or loan, or to a member of staff about a risk alert routed
    to them (exactly one of `customer`, `user`), sent by the configured sender."""

    customer = models.ForeignKey(Customer, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                             related_name="+")  # a member of staff (their e-mail address on the user record)
    channel = models.CharField(max_length=10, choices=[("sms", "sms"), ("email", "email")])
    to_enc = models.TextField()  # the address, encrypted (PII)
    to_masked = models.CharField(max_length=120)
    subject_zh = models.CharField(max_length=200)
    body_zh = models.TextField()
    subject_en = models.CharField(max_length=200)
    body_en = models.TextField()
    seq = models.BigIntegerField()  # the ledger event that caused it
    kind = models.CharField(max_length=60)
    subject_id = models.CharField(max_length=40)
    status = models.CharField(max_length=10, choices=NotificationStatus.choices, default=NotificationStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True)
    created_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["customer", "seq", "channel"], name="notification_once"),
            models.UniqueConstraint(fields=["user", "seq", "channel"], name="notification_once_per_user"),
            models.CheckConstraint(condition=models.Q(customer__isnull=False, user__isnull=True)
                                   | models.Q(customer__isnull=True, user__isnull=False),
                                   name="notification_one_recipient"),
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"{self.channel} to {self.to_masked}: {self.subject_en}"


class ExternalCustomerRef(models.Model):
    """Which of our customers an outside system's reference (a CRM's customer id) stands for."""

    source = models.CharField(max_length=40)
    external_ref = models.CharField(max_length=80)
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["source", "external_ref"], name="external_ref_once")]

    def __str__(self) -> str:
        return f"{self.source}:{self.external_ref} → customer {self.customer_id}"
