from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _

from creditplan.org.domain import ROLE_LABELS, BranchLevel, Role


class Branch(models.Model):
    """A node of the institution: head office → branch → sub-branch.

    `path` is a materialised path ("/HO/BJ/BJ01/") so that "this branch and everything below it" is
    one indexed prefix query on SQLite and PostgreSQL alike.
    """

    code = models.CharField(_("code"), max_length=20, unique=True)
    name = models.CharField(_("name"), max_length=100)
    name_en = models.CharField(_("English name"), max_length=100, blank=True)
    level = models.CharField(_("level"), max_length=20, choices=[(lv.value, lv.value) for lv in BranchLevel])
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    path = models.CharField(max_length=255, db_index=True, editable=False)
    region_code = models.CharField(_("region"), max_length=6, blank=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["path"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class User(AbstractUser):
    role = models.CharField(
        _("role"), max_length=20, choices=[(r.value, ROLE_LABELS[r][0]) for r in Role], default=Role.CUSTOMER
    )
    branch = models.ForeignKey(Branch, null=True, blank=True, on_delete=models.PROTECT, related_name="users")
    display_name = models.CharField(_("display name"), max_length=100, blank=True)
    preferred_language = models.CharField(max_length=10, blank=True)

    def __str__(self) -> str:
        return self.display_name or self.username


class ApiToken(models.Model):
    """A bearer token for the JSON API. Only its SHA-256 is stored: a database leak yields no usable token."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"token of {self.user_id} until {self.expires_at:%Y-%m-%d %H:%M}"
