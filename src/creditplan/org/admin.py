from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from creditplan.org.models import Branch, User


@admin.register(Branch)
class BranchAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "level", "parent", "is_active")
    search_fields = ("code", "name")
    readonly_fields = ("path",)


@admin.register(User)
class CreditplanUserAdmin(UserAdmin):
    list_display = ("username", "display_name", "role", "branch", "is_active")
    list_filter = ("role", "branch")
    fieldsets = (*UserAdmin.fieldsets, ("creditplan", {"fields": ("role", "branch", "display_name")}))
