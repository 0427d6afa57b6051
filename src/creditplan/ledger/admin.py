from django.contrib import admin

from creditplan.ledger.models import Event


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    """Read-only: the log is append-only, even for administrators."""

    list_display = ("seq", "occurred_at", "actor_name", "kind", "subject_type", "subject_id")
    list_filter = ("kind",)
    search_fields = ("subject_id", "actor_name")

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False
