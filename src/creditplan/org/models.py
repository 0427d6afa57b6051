from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractUser
from django.db import models, transaction
from django.dispatch import Signal
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


#: Sent inside the transaction that saves a user's new password (keyword `user`). The organisation app connects
#: the revocation of the user's API tokens to it (org/apps.py): the models do not import the services.
password_changed = Signal()


class User(AbstractUser):
    role = models.CharField(
        _("role"), max_length=20, choices=[(r.value, ROLE_LABELS[r][0]) for r in Role], default=Role.CUSTOMER
    )
    branch = models.ForeignKey(Branch, null=True, blank=True, on_delete=models.PROTECT, related_name="users")
    display_name = models.CharField(_("display name"), max_length=100, blank=True)
    preferred_language = models.CharField(max_length=10, blank=True)
    # set when an administrator gives the user a temporary password: until the user chooses their own, every page
    # sends them to the password change (org/middleware.py) and the API issues them no token
    must_change_password = models.BooleanField(_("must change password"), default=False)

    def __str__(self) -> str:
        return self.display_name or self.username

    def save(self, *args: Any, **kwargs: Any) -> None:
        """A new password, whatever the path (a page, the admin, `set_password` in code), revokes every API token
        of the user in the same transaction: a token obtained with the old password must not outlive it.
        (Django's own rehashing on log-in is not a new password: it clears `_password` before saving.)"""
        changed = self._password is not None and not self._state.adding
        if not changed:
            super().save(*args, **kwargs)
            return
        with transaction.atomic():
            super().save(*args, **kwargs)
            password_changed.send(sender=User, user=self)


class ApiToken(models.Model):
    """A bearer token for the JSON API. Only its SHA-256 is stored: a database leak yields no usable token."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked = models.BooleanField(_("revoked"), default=False)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self) -> str:
        return f"token of {self.user_id} until {self.expires_at:%Y-%m-%d %H:%M}"


class LoginThrottle(models.Model):
    """Failed log-ins in a row for one user name or one client address (org/throttle.py). In the database, not in
    a process, so that every gunicorn worker sees the same count. `key` is "user:" + SHA-256 of the name typed
    (a password typed into the name field is not kept) or "addr:" + the address."""

    key = models.CharField(max_length=80, unique=True)
    failures = models.PositiveIntegerField(default=0)
    last_failure_at = models.DateTimeField(db_index=True)
    locked_until = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.key[:20]}… {self.failures} failures"
