"""Administration pages (issue 20 §6): users (list, create, edit role and branch, deactivate and reactivate, a
temporary password), roles (what each may do, read-only), branches and their hierarchy (create, rename, move,
close, reopen), and each user's own password page. Under /org/ — /admin/ stays Django's admin, for developers.

The services do the work (org.services: the permission first, one transaction, a ledger event); a page shows
their refusals as sentences in the page's language (org.labels.problem). A temporary password is shown once, on
the answer to the POST that made it, never stored in clear, never in an address, and the answer is not cached."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from creditplan.common import listing as lists
from creditplan.core.errors import CreditplanError, NotFound
from creditplan.ledger import labels as ledger_words
from creditplan.ledger import services as ledger
from creditplan.org import labels
from creditplan.org import services as org
from creditplan.org.domain import ROLE_PERMISSIONS, BranchLevel, Perm, Role
from creditplan.org.forms import (
    BranchCreateForm,
    BranchMoveForm,
    BranchRenameForm,
    PasswordChangeForm,
    ReasonForm,
    ResetPasswordForm,
    UserCreateForm,
    UserEditForm,
)


def _refusal(form: Any, exc: CreditplanError) -> None:
    """A service's refusal next to the field it is about (the form keeps what was typed); 403 goes to the error
    page."""
    if exc.http_status == 403:
        raise exc
    text = labels.problem(exc.code, exc.message, exc.extra)
    field = exc.field if exc.field in form.fields else None
    form.add_error(field, text)


def _branch_choices(actor: Any, *, open_only: bool = True) -> list[tuple[str, str]]:
    rows = org.branch_tree(actor)
    return [(b.code, "\u00a0\u00a0" * b.depth + f"{b.code} {labels.branch_name(b.name, b.name_en)}")
            for b in rows if b.is_active or not open_only]


def _user_event_rows(actor: Any, subject_type: str, subject_id: Any) -> list[dict[str, Any]]:
    rows = []
    for h in ledger.history(actor, subject_type, subject_id, limit=50):
        kind = labels.label("event", h.kind)  # org's own words; any other event in the ledger's
        rows.append({"h": h, "kind": kind if kind != h.kind else ledger_words.event_label(h.kind),
                     "text": _event_text(h.data),
                     "actor": ledger_words.actor_label(h.actor)})
    return rows


def _event_text(data: dict[str, Any]) -> str:
    """An event's data as words: the fields changed (before → after, roles and reasons as labels)."""
    parts = []
    for field, change in (data.get("changes") or {}).items():
        if isinstance(change, list) and len(change) == 2:
            before, after = (labels.label("role", v) if field == "role" else _word(v) for v in change)
            parts.append(f"{labels.label('field', field)}: {before or '—'} → {after or '—'}")
    if data.get("reason"):
        reason = data["reason"]
        parts.append(labels.label("user_reason", reason) if reason in labels.REASON_CODES
                     else labels.label("branch_reason", reason))
    if data.get("parent") and isinstance(data["parent"], list):
        parts.append(f"{labels.label('field', 'parent')}: {data['parent'][0] or '—'} → {data['parent'][1]}")
    return "; ".join(str(p) for p in parts)


def sort_headers(request: HttpRequest, listing: lists.Listing, columns: list[tuple[str, Any]]) -> list[dict[str, Any]]:
    """Column headers that sort the list: a click sorts by the column, a second click reverses it; the filters
    stay, the page starts again at 1."""
    base = lists.query_without(request.GET, "sort", "page", "export")
    out = []
    for key, label in columns:
        current = listing.sort == key
        target = key if not current or listing.descending else f"-{key}"
        arrow = (" ▼" if listing.descending else " ▲") if current else ""
        out.append({"key": key, "label": label, "arrow": arrow,
                    "query": f"{base}&sort={target}" if base else f"sort={target}",
                    "aria": "descending" if current and listing.descending else "ascending" if current else "none"})
    return out


def _word(value: Any) -> Any:
    """A recorded value as words: a flag as yes / no (never True / False)."""
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    return value


def _secret_page(request: HttpRequest, context: dict[str, Any]) -> HttpResponse:
    """The one answer that shows a temporary password: never cached, never indexed."""
    response = render(request, "org/temporary_password.html", context)
    add_never_cache_headers(response)
    response["Cache-Control"] = "no-store, " + response["Cache-Control"]
    return response


# ---- users ----

@login_required
def users(request: HttpRequest) -> HttpResponse:
    user = request.user
    org.require(user, Perm.USER_MANAGE)
    filters = {k: request.GET.get(k, "").strip() for k in ("q", "role", "branch", "status")}
    listing = lists.listing_from(request, sorts=org.USER_SORTS, default_sort="username")
    page = org.list_users(user, listing, **filters)
    fmt = lists.export_format(request)
    if fmt:
        headers = [_("User name"), _("Display name"), _("Role"), _("Branch"), _("Status"), _("Last log-in"),
                   _("Created")]
        rows = ([u.username, u.display_name, labels.label("role", u.role),
                 f"{u.branch_code} {labels.branch_name(u.branch_name, u.branch_name_en)}".strip(),
                 labels.label("user_status", _status(u)), u.last_login, u.date_joined] for u in page.items)
        return lists.export_response(rows, headers, fmt, "users")
    return render(request, "org/users.html", {
        **lists.list_context(request, page), "filters": filters, "sort": request.GET.get("sort", ""),
        "rows": [{"u": u, "role": labels.label("role", u.role), "status": _status(u),
                  "status_label": labels.label("user_status", _status(u)),
                  "branch": labels.branch_name(u.branch_name, u.branch_name_en)} for u in page.items],
        "roles": labels.choices("role"), "branches": _branch_choices(user, open_only=False),
        "statuses": labels.choices("user_status"),
        "headers": sort_headers(request, page.listing, [
            ("username", _("User name")), ("name", _("Display name")), ("role", _("Role")), ("branch", _("Branch")),
            ("last_login", _("Last log-in")), ("joined", _("Created"))])})


def _status(u: org.UserRow) -> str:
    if not u.is_active:
        return "inactive"
    return "must_change" if u.must_change_password else "active"


@login_required
def user_create(request: HttpRequest) -> HttpResponse:
    actor = request.user
    org.require(actor, Perm.USER_MANAGE)
    form = UserCreateForm(request.POST or None, roles=labels.choices("role"), branches=_branch_choices(actor))
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            created, temporary = org.admin_create_user(
                actor, username=d["username"], role=d["role"], branch_code=d["branch"] or None,
                display_name=d["display_name"], email=d["email"], temporary=d["temporary"])
        except CreditplanError as exc:
            _refusal(form, exc)
        else:
            return _secret_page(request, {"target": org.get_user(actor, created.pk), "temporary": temporary,
                                          "created": True})
    return render(request, "org/user_form.html", {"form": form}, status=422 if form.errors else 200)


@login_required
def user_detail(request: HttpRequest, user_id: int) -> HttpResponse:
    actor = request.user
    org.require(actor, Perm.USER_MANAGE)
    target = org.get_user(actor, user_id)
    form = UserEditForm(request.POST or None, roles=labels.choices("role"), branches=_branch_choices(actor),
                        initial={"display_name": target.display_name, "email": target.email, "role": target.role,
                                 "branch": target.branch_code})
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            org.update_user(actor, user_id, role=d["role"], branch_code=d["branch"] or None,
                            display_name=d["display_name"], email=d["email"])
        except CreditplanError as exc:
            _refusal(form, exc)
        else:
            messages.success(request, _("The changes to %(user)s are saved.") % {"user": target.username})
            return redirect("org:user", user_id=user_id)
    return _user_page(request, target, form, status=422 if form.errors else 200)


def _user_page(request: HttpRequest, target: org.UserRow, form: Any = None, *, status_form: Any = None,
               reset_form: Any = None, status: int = 200) -> HttpResponse:
    actor = request.user
    if form is None:
        form = UserEditForm(roles=labels.choices("role"), branches=_branch_choices(actor),
                            initial={"display_name": target.display_name, "email": target.email,
                                     "role": target.role, "branch": target.branch_code})
    reasons = [(k, v) for k, v in labels.choices("user_reason")
               if (k == "returned") == (not target.is_active) or k in ("error", "other")]
    return render(request, "org/user_detail.html", {
        "target": target, "form": form, "self": target.id == actor.pk,
        "role": labels.label("role", target.role), "status_label": labels.label("user_status", _status(target)),
        "branch": labels.branch_name(target.branch_name, target.branch_name_en),
        "status_form": status_form or ReasonForm(reasons=reasons),
        "reset_form": reset_form or ResetPasswordForm(),
        "history": _user_event_rows(actor, "user", target.id)}, status=status)


@login_required
@require_POST
def user_status(request: HttpRequest, user_id: int) -> HttpResponse:
    actor = request.user
    org.require(actor, Perm.USER_MANAGE)
    target = org.get_user(actor, user_id)
    form = ReasonForm(request.POST, reasons=labels.choices("user_reason"))
    if form.is_valid():
        try:
            org.set_user_active(actor, user_id, active=not target.is_active, reason=form.cleaned_data["reason"])
        except CreditplanError as exc:
            _refusal(form, exc)
        else:
            messages.success(request, (_("%(user)s is deactivated: the log-in, its sessions and API tokens no "
                                         "longer work.") if target.is_active
                                       else _("%(user)s is active again.")) % {"user": target.username})
            return redirect("org:user", user_id=user_id)
    return _user_page(request, target, status_form=form, status=422)


@login_required
@require_POST
def user_reset_password(request: HttpRequest, user_id: int) -> HttpResponse:
    actor = request.user
    org.require(actor, Perm.USER_MANAGE)
    target = org.get_user(actor, user_id)
    form = ResetPasswordForm(request.POST)
    if form.is_valid():
        try:
            temporary = org.reset_password(actor, user_id, temporary=form.cleaned_data["temporary"])
        except CreditplanError as exc:
            _refusal(form, exc)
        else:
            return _secret_page(request, {"target": org.get_user(actor, user_id), "temporary": temporary,
                                          "created": False})
    return _user_page(request, target, reset_form=form, status=422)


# ---- roles ----

@login_required
def roles(request: HttpRequest) -> HttpResponse:
    """What each role may do, in words (the kernel's table, read-only: it changes with the code, reviewed)."""
    if not (org.may(request.user, Perm.USER_MANAGE) or org.may(request.user, Perm.AUDIT_VIEW)):
        org.require(request.user, Perm.USER_MANAGE)
    role_list = list(Role)
    table = [{"perm": labels.label("perm", p), "cells": [p in ROLE_PERMISSIONS[r] for r in role_list]}
             for p in Perm]
    return render(request, "org/roles.html", {
        "roles": [labels.label("role", r.value) for r in role_list], "table": table,
        "all_branches": [labels.label("role", r.value) for r in role_list if org.sees_all_branches(r.value)]})


# ---- branches ----

def _parent_choices(actor: Any, level: str | None = None, exclude_path: str = "") -> list[tuple[str, str]]:
    wanted = {BranchLevel.BRANCH.value: BranchLevel.HEAD_OFFICE.value,
              BranchLevel.SUB_BRANCH.value: BranchLevel.BRANCH.value}.get(level or "")
    return [(b.code, "\u00a0\u00a0" * b.depth + f"{b.code} {labels.branch_name(b.name, b.name_en)}")
            for b in org.branch_tree(actor)
            if b.is_active and b.level != BranchLevel.SUB_BRANCH.value and (wanted is None or b.level == wanted)
            and not (exclude_path and b.code == exclude_path)]


@login_required
def branches(request: HttpRequest) -> HttpResponse:
    actor = request.user
    org.require(actor, Perm.BRANCH_MANAGE)
    form = BranchCreateForm(request.POST or None, levels=labels.choices("level"),
                            parents=_parent_choices(actor))
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            b = org.create_branch(actor, code=d["code"], name=d["name"], name_en=d["name_en"], level=d["level"],
                                  parent_code=d["parent"] or None, region_code=d["region_code"])
        except CreditplanError as exc:
            _refusal(form, exc)
        else:
            messages.success(request, _("Branch %(code)s created.") % {"code": b.code})
            return redirect("org:branches")
    rows = [{"b": b, "name": labels.branch_name(b.name, b.name_en), "level": labels.label("level", b.level),
             "indent": "\u00a0\u00a0\u00a0" * b.depth,
             "status": labels.label("branch_status", "open" if b.is_active else "closed")}
            for b in org.branch_tree(actor)]
    return render(request, "org/branches.html", {"rows": rows, "form": form},
                  status=422 if form.errors else 200)


def _branch_page(request: HttpRequest, code: str, *, rename: Any = None, move: Any = None, close: Any = None,
                 status: int = 200) -> HttpResponse:
    actor = request.user
    try:
        b = org.get_branch_row(actor, code)
    except NotFound:
        raise Http404(_("No such branch."))
    parents = [(c, n) for c, n in _parent_choices(actor, b.level) if c != b.code and c != b.parent_code]
    return render(request, "org/branch_detail.html", {
        "b": b, "name": labels.branch_name(b.name, b.name_en), "level": labels.label("level", b.level),
        "status": labels.label("branch_status", "open" if b.is_active else "closed"),
        "rename": rename or BranchRenameForm(initial={"name": b.name, "name_en": b.name_en}),
        "move": move or BranchMoveForm(parents=parents), "may_move": bool(parents),
        "close": close or ReasonForm(reasons=labels.choices("branch_reason")),
        "history": _user_event_rows(actor, "branch", b.code)}, status=status)


@login_required
def branch_detail(request: HttpRequest, code: str) -> HttpResponse:
    actor = request.user
    org.require(actor, Perm.BRANCH_MANAGE)
    if request.method == "POST":
        form = BranchRenameForm(request.POST)
        if form.is_valid():
            try:
                org.rename_branch(actor, code, **form.cleaned_data)
            except CreditplanError as exc:
                _refusal(form, exc)
            else:
                messages.success(request, _("The branch's names are saved."))
                return redirect("org:branch", code=code)
        return _branch_page(request, code, rename=form, status=422)
    return _branch_page(request, code)


@login_required
@require_POST
def branch_move(request: HttpRequest, code: str) -> HttpResponse:
    actor = request.user
    org.require(actor, Perm.BRANCH_MANAGE)
    b = org.get_branch_row(actor, code)
    form = BranchMoveForm(request.POST, parents=_parent_choices(actor, b.level))
    if form.is_valid():
        try:
            org.move_branch(actor, code, parent_code=form.cleaned_data["parent"])
        except CreditplanError as exc:
            _refusal(form, exc)
        else:
            messages.success(request, _("Branch %(code)s moved.") % {"code": b.code})
            return redirect("org:branch", code=code)
    return _branch_page(request, code, move=form, status=422)


@login_required
@require_POST
def branch_close(request: HttpRequest, code: str) -> HttpResponse:
    actor = request.user
    org.require(actor, Perm.BRANCH_MANAGE)
    form = ReasonForm(request.POST, reasons=labels.choices("branch_reason"))
    if form.is_valid():
        try:
            b = org.close_branch(actor, code, reason=form.cleaned_data["reason"])
        except CreditplanError as exc:
            _refusal(form, exc)
        else:
            messages.success(request, _("Branch %(code)s closed.") % {"code": b.code})
            return redirect("org:branch", code=code)
    return _branch_page(request, code, close=form, status=422)


@login_required
@require_POST
def branch_reopen(request: HttpRequest, code: str) -> HttpResponse:
    actor = request.user
    try:
        b = org.reopen_branch(actor, code)
    except CreditplanError as exc:
        if exc.http_status in (403, 404):
            raise
        messages.error(request, labels.problem(exc.code, exc.message, exc.extra))
    else:
        messages.success(request, _("Branch %(code)s reopened.") % {"code": b.code})
    return redirect("org:branch", code=code)


# ---- the user's own password ----

@login_required
def password(request: HttpRequest) -> HttpResponse:
    """Every user's own password page; the one page a user with a temporary password may open
    (org.middleware.PasswordChangeRequired)."""
    user = request.user
    form = PasswordChangeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        if d["new"] != d["new2"]:
            form.add_error("new2", labels.problem("password_mismatch", "the two new passwords differ"))
        else:
            try:
                org.change_own_password(user, current=d["current"], new=d["new"])
            except CreditplanError as exc:
                _refusal(form, exc)
            else:
                update_session_auth_hash(request, user)  # this session stays; every other one ends
                messages.success(request, _("Your password is changed."))
                return redirect("web:home")
    return render(request, "org/password.html", {"form": form, "must": user.must_change_password},
                  status=422 if form.errors else 200)
