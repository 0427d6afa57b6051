"""Django admin for branches, users and API tokens.

Changes made here reach the ledger like any other: a user's role, branch and standing (active, staff, superuser)
changed or set on creation (`user.changed`, `user.created`), API tokens revoked (`auth.tokens_revoked`), and a
new password revokes the user's tokens (org.models.User.save). Its log-in form is throttled like the pages'.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin
from django.db import transaction
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from creditplan.org import services as org
from creditplan.org.forms import AdminLoginForm
from creditplan.org.models import ApiToken, Branch, User

# the admin's log-in is throttled like the pages' (org/throttle.py)
admin.site.login_form = AdminLoginForm

# what an administrator may change about a user that decides what the user may do and see
AUDITED_FIELDS = ("role", "branch", "is_active", "is_staff", "is_superuser")


def _audit_value(user: User, field: str) -> Any:
    if field == "branch":
        return user.branch.code if user.branch_id else None
    return getattr(user, field)


@admin.register(Branch)
class BranchAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "level", "parent", "is_active")
    search_fields = ("code", "name")
    readonly_fields = ("path",)


@admin.action(description=_("Revoke the API tokens of the selected users"), permissions=["change"])
def revoke_user_tokens(modeladmin: admin.ModelAdmin, request: Any, queryset: Any) -> None:
    total = 0
    with transaction.atomic():
        for user in queryset:
            total += org.revoke_user_tokens(request.user, user, reason="admin")
    modeladmin.message_user(request, ngettext("%(n)d API token revoked.", "%(n)d API tokens revoked.", total)
                            % {"n": total}, messages.SUCCESS)


@admin.register(User)
class CreditplanUserAdmin(UserAdmin):
    list_display = ("username", "display_name", "role", "branch", "is_active")
    list_filter = ("role", "branch")
    fieldsets = (*UserAdmin.fieldsets, ("creditplan", {"fields": ("role", "branch", "display_name")}))
    actions = [revoke_user_tokens]

    def save_model(self, request: Any, obj: User, form: Any, change: bool) -> None:
        """Save, then put on the ledger who changed which of AUDITED_FIELDS from what to what (the admin runs this
        inside the transaction of the save, so the change and its event commit together)."""
        before = User.objects.select_related("branch").filter(pk=obj.pk).first() if change else None
        super().save_model(request, obj, form, change)
        if before is None:
            org.record_user_change(request.user, obj, {f: [None, _audit_value(obj, f)] for f in AUDITED_FIELDS},
                                   created=True)
            return
        changes = {f: [_audit_value(before, f), _audit_value(obj, f)] for f in AUDITED_FIELDS
                   if _audit_value(before, f) != _audit_value(obj, f)}
        org.record_user_change(request.user, obj, changes)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are only seen and revoked here: they are issued by logging in (POST /api/v1/auth/token)."""

    list_display = ("user", "created_at", "expires_at", "last_used_at", "revoked", "revoked_at")
    list_filter = ("revoked",)
    search_fields = ("user__username",)
    fields = ("user", "created_at", "expires_at", "last_used_at", "revoked", "revoked_at")
    readonly_fields = fields
    actions = ["revoke"]

    def has_add_permission(self, request: Any) -> bool:
        return False

    @admin.action(description=_("Revoke the selected API tokens"), permissions=["change"])
    def revoke(self, request: Any, queryset: Any) -> None:
        total = 0
        ids = list(queryset.values_list("pk", flat=True))
        with transaction.atomic():
            for user in User.objects.filter(pk__in=queryset.values("user_id")):
                total += org.revoke_user_tokens(request.user, user, reason="admin", token_ids=ids)
        self.message_user(request, ngettext("%(n)d API token revoked.", "%(n)d API tokens revoked.", total)
                          % {"n": total}, messages.SUCCESS)
