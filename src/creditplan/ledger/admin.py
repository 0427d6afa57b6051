from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from creditplan.ledger.models import Event, SignedTreeHead, VerificationRun


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    """Read-only: the log is append-only, even for administrators."""

    list_display = ("seq", "occurred_at", "actor_name", "kind", "subject_type", "subject_id")
    list_filter = ("kind",)
    search_fields = ("subject_id", "actor_name")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


class _ReadOnly(admin.ModelAdmin):
    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(SignedTreeHead)
class SignedTreeHeadAdmin(_ReadOnly):
    """Evidence: issued by `creditplan ledger sth` or the API, never edited."""

    list_display = ("id", "tree_size", "issued_at", "key_id", "issued_by", "reason")


@admin.register(VerificationRun)
class VerificationRunAdmin(_ReadOnly):
    list_display = ("id", "started_at", "ok", "events_checked", "first_bad_seq", "actor_name")
    list_filter = ("ok",)
