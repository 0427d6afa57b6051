"""Organisation use cases: branches, users, permission checks, branch scoping and API tokens."""

from __future__ import annotations

import copy
import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import authenticate
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from creditplan.core.access import Actor
from creditplan.core.access import may as may  # re-exported: pages ask org.may
from creditplan.core.access import require as require
from creditplan.core.errors import Conflict, Forbidden, NotAuthenticated, NotFound, ValidationError
from creditplan.ledger import services as ledger
from creditplan.org import sql, throttle
from creditplan.org.domain import BranchLevel, Perm, Role, parent_level_problem, sees_all_branches
from creditplan.org.models import ApiToken, Branch, User


def scope_to_branches(actor: Actor, queryset: QuerySet, branch_field: str = "branch") -> QuerySet:
    """Restrict `queryset` to the actor's branch subtree unless the role works across all branches."""
    if sees_all_branches(actor.role):
        return queryset
    if actor.branch_id is None or actor.branch is None:
        return queryset.none()
    return queryset.filter(**{f"{branch_field}__path__startswith": actor.branch.path})


def branch_in_scope(actor: Actor, branch: Branch) -> bool:
    if sees_all_branches(actor.role):
        return True
    return actor.branch_id is not None and actor.branch is not None and branch.path.startswith(actor.branch.path)


def get_branch(code: str) -> Branch:
    try:
        return Branch.objects.get(code=code, is_active=True)
    except Branch.DoesNotExist:
        raise NotFound(f"no active branch with code {code!r}", code="unknown_branch", field="branch")


def branch_path(code: str) -> str | None:
    """The materialised path of a branch by code (open or closed), for "this branch and below" filters."""
    return Branch.objects.filter(code=(code or "").strip().upper()).values_list("path", flat=True).first()


def list_branches(actor: Actor) -> list[Branch]:
    return list(_visible_branches(actor))


def _visible_branches(actor: Actor) -> QuerySet:
    qs = Branch.objects.filter(is_active=True)
    if sees_all_branches(actor.role):
        return qs
    if actor.branch_id is None or actor.branch is None:
        return qs.none()
    return qs.filter(path__startswith=actor.branch.path)


@transaction.atomic
def create_branch(
    actor: Actor | None, *, code: str, name: str, level: str, parent_code: str | None = None, name_en: str = "",
    region_code: str = "",
) -> Branch:
    if actor is not None:
        require(actor, Perm.BRANCH_MANAGE)
    code = (code or "").strip().upper()
    if not code or not code.replace("-", "").isalnum() or len(code) > 20:
        raise ValidationError("branch code must be 1-20 letters or digits", field="code")
    if not (name or "").strip():
        raise ValidationError("branch name is required", field="name")
    try:
        lvl = BranchLevel(level)
    except ValueError:
        raise ValidationError(f"level must be one of {', '.join(x.value for x in BranchLevel)}", field="level")
    parent = get_branch(parent_code) if parent_code else None
    problem = parent_level_problem(lvl, BranchLevel(parent.level) if parent else None)
    if problem:
        raise ValidationError(problem, field="parent", code="branch_hierarchy")
    if Branch.objects.filter(code=code).exists():
        raise Conflict(f"branch {code} already exists", field="code", code="duplicate_branch")
    branch = Branch.objects.create(
        code=code, name=name.strip(), name_en=name_en.strip(), level=lvl.value, parent=parent,
        path=f"{parent.path if parent else '/'}{code}/", region_code=region_code,
    )
    ledger.append(actor, "branch.created", "branch", branch.code,
                  {"code": code, "name": branch.name, "level": lvl.value, "parent": parent_code})
    return branch


@transaction.atomic
def create_user(
    actor: Actor | None, *, username: str, password: str, role: str, branch_code: str | None = None,
    display_name: str = "", email: str = "",
) -> User:
    """Create a log-in. `actor=None` is the operator at the console (CLI), trusted by construction."""
    if actor is not None:
        require(actor, Perm.USER_MANAGE)
    username = (username or "").strip()
    if not username or len(username) > 150:
        raise ValidationError("username is required (at most 150 characters)", field="username")
    try:
        role_v = Role(role)
    except ValueError:
        raise ValidationError(f"role must be one of {', '.join(r.value for r in Role)}", field="role",
                              code="unknown_role")
    branch = None
    if branch_code:
        try:
            branch = get_branch(branch_code)
        except NotFound as exc:
            raise ValidationError(exc.message, field="branch", code="unknown_branch")
    elif role_v is not Role.CUSTOMER:
        raise ValidationError("staff users need a branch", field="branch", code="branch_required")
    if not password or len(password) < 8:
        raise ValidationError("password must have at least 8 characters", field="password")
    if User.objects.filter(username=username).exists():
        raise Conflict(f"user {username} already exists", field="username", code="duplicate_user")
    try:
        user = User.objects.create_user(
            username=username, password=password, role=role_v.value, branch=branch,
            display_name=display_name or username, email=email,
            is_staff=role_v is Role.ADMIN, is_superuser=role_v is Role.ADMIN,
        )
    except IntegrityError:
        raise Conflict(f"user {username} already exists", field="username", code="duplicate_user")
    ledger.append(actor, "user.created", "user", user.pk,
                  {"username": username, "role": role_v.value, "branch": branch_code})
    return user


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_at: datetime
    user: User


def _hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


TooManyAttempts = throttle.TooManyAttempts
client_address = throttle.client_address


def authenticate_login(*, username: str, password: str, address: str = "", request: Any = None) -> User:
    """The one way in with a password (the log-in page and POST /api/v1/auth/token): throttled per user name and
    per client address (org/throttle.py) BEFORE the password is checked, so a refused attempt costs no Argon2.
    Raises throttle.TooManyAttempts (429) or NotAuthenticated; a success clears the user's count."""
    throttle.check(username, address)
    user = authenticate(request, username=username, password=password)
    if user is None or not user.is_active:
        throttle.record_failure(username, address)
        raise NotAuthenticated("wrong username or password", code="bad_credentials")
    throttle.record_success(username)
    return user


def issue_token(*, username: str, password: str, address: str = "") -> IssuedToken:
    user = authenticate_login(username=username, password=password, address=address)
    if user.must_change_password:  # a temporary password opens the password page, nothing else
        raise Forbidden("this password is temporary: log in to the pages and choose your own first",
                        code="password_change_required")
    raw = "cp_" + secrets.token_urlsafe(32)
    expires = timezone.now() + timedelta(hours=settings.API_TOKEN_HOURS)
    with transaction.atomic():
        ApiToken.objects.create(user=user, key_hash=_hash_token(raw), expires_at=expires)
        ledger.append(user, "auth.token_issued", "user", user.pk, {"expires_at": expires})
    return IssuedToken(raw, expires, user)


def revoke_token(raw: str) -> bool:
    """The presenting token revokes itself (POST /api/v1/auth/logout): it stops working on the next call, in
    every process (each call reads the token's row). False when it was not a live token."""
    key = _hash_token(raw)
    with transaction.atomic():
        token = (ApiToken.objects.select_for_update().select_related("user")
                 .filter(key_hash=key, revoked=False).first())
        if token is None:
            return False
        ApiToken.objects.filter(pk=token.pk).update(revoked=True, revoked_at=timezone.now())
        ledger.append(token.user, "auth.token_revoked", "user", token.user_id,
                      {"username": token.user.username, "tokens": 1, "reason": "logout"})
    _token_users.pop(key, None)
    return True


TOKEN_REVOCATION_REASONS = ("logout", "password_changed", "admin", "command")


def revoke_user_tokens(actor: Actor | None, user: User, *, reason: str, token_ids: Iterable[int] | None = None) -> int:
    """Revoke every live API token of `user` (or those of `token_ids` among them): log-out of the pages, a new
    password, an administrator, the console. One ledger event naming who, why and how many, when there was any.
    Returns how many.

    No permission check: callers are the user's own log-out and password change, the admin, `revoke_tokens`."""
    if reason not in TOKEN_REVOCATION_REASONS:
        raise ValueError(f"unknown reason {reason!r}")
    at = timezone.now()
    with transaction.atomic():
        live = ApiToken.objects.select_for_update().filter(user_id=user.pk, revoked=False, expires_at__gt=at)
        if token_ids is not None:
            live = live.filter(pk__in=list(token_ids))
        keys = list(live.values_list("key_hash", flat=True))
        if not keys:
            return 0
        count = ApiToken.objects.filter(key_hash__in=keys).update(revoked=True, revoked_at=at)
        ledger.append(actor, "auth.tokens_revoked", "user", user.pk,
                      {"username": user.username, "tokens": count, "reason": reason})
    for key in keys:
        _token_users.pop(key, None)
    return count


def revoke_tokens(actor: Actor | None, username: str, *, reason: str = "admin") -> int:
    """An administrator (or the console: `actor` None, `creditplan revoke-tokens --user NAME`) revokes every live
    API token of a user."""
    if actor is not None:
        require(actor, Perm.USER_MANAGE)
    user = User.objects.filter(username=(username or "").strip()).first()
    if user is None:
        raise NotFound(f"no user {username!r}", code="unknown_user", field="user")
    return revoke_user_tokens(actor, user, reason=reason)


def record_user_change(actor: Actor | None, user: User, changes: dict[str, list[Any]], *, created: bool = False) -> None:
    """A user created, or their role, branch or standing changed, outside the services (Django admin), on the
    ledger: who changed what, from what to what ([before, after]). Call inside the transaction of the save."""
    if changes or created:
        ledger.append(actor, "user.created" if created else "user.changed", "user", user.pk,
                      {"username": user.username, "changes": changes, "via": "admin"})


_token_users: dict[str, tuple[tuple[Any, ...], User]] = {}
_MAX_TOKEN_USERS = 10_000




def user_for_token(raw: str) -> User | None:
    """The active user a valid (unrevoked, unexpired) API token belongs to, with their branch; else None.

    The database is asked on every call, in one indexed statement; building the user through the ORM is what
    costs (about a millisecond), so the user built for a token is kept and reused while the token's, the user's
    and the branch's rows read back exactly as they were: a revoked or expired token, a deactivated user, a new
    role or branch take effect on the very next call. Each call gets its own copy of the user."""
    key = _hash_token(raw)
    row = sql.fetch_token_row(key, timezone.now())
    if row is None:
        _token_users.pop(key, None)
        return None
    cached = _token_users.get(key)
    if cached is not None and cached[0] == row:
        user = cached[1]
    else:
        token = (ApiToken.objects.select_related("user", "user__branch")
                 .filter(key_hash=key, revoked=False, expires_at__gt=timezone.now()).first())
        if token is None:
            return None
        user = token.user
        if len(_token_users) >= _MAX_TOKEN_USERS:
            _token_users.clear()
        _token_users[key] = (row, user)
    if not user.is_active:
        return None
    return copy.copy(user)


def display_names(usernames: Iterable[str]) -> dict[str, str]:
    """User name → the name people are shown (the display name, else the user name), for the names given."""
    wanted = {u for u in usernames if u}
    if not wanted:
        return {}
    return {u: d or u for u, d in User.objects.filter(username__in=wanted).values_list("username", "display_name")}


def list_all_branches() -> list[Branch]:
    """Every active branch, for trusted batch code (imports, demo seed) that has no acting user."""
    return list(Branch.objects.filter(is_active=True))


def require_in_scope(actor: Actor | None, branch: Branch | None, *, message: str = "not found",
                     code: str = "not_found", field: str | None = None) -> None:
    """Refuse a record of a branch outside the actor's subtree exactly as if it did not exist: NotFound with
    the caller's own not-found message, code and field, so "not yours" and "does not exist" are one answer
    (404, the same body) and nothing about another branch's record leaks. Call it as soon as the record is
    found, before any other check on it. `actor` None is trusted code (the close, imports, a service acting
    for the system): nothing to check. A record with no branch is seen only by roles that see every branch."""
    if actor is None:
        return
    if branch is None:
        if not sees_all_branches(getattr(actor, "role", "")):
            raise NotFound(message, code=code, field=field)
        return
    if not branch_in_scope(actor, branch):
        raise NotFound(message, code=code, field=field)


# --------------------------------------------------------------------------------------------------------------
# Administration in the pages (issue 20 §6): users, branches and their hierarchy, temporary passwords.
# Each use case: the permission first, one transaction, the ledger event inside it. No stored password is ever
# read back or shown; a temporary one is handed out once and must be replaced at the next log-in.
# --------------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class UserRow:
    """What the administration pages show of a log-in (never its password)."""

    id: int
    username: str
    display_name: str
    email: str
    role: str
    branch_code: str
    branch_name: str
    branch_name_en: str
    is_active: bool
    must_change_password: bool
    last_login: datetime | None
    date_joined: datetime


def _user_row(u: User) -> UserRow:
    b = u.branch
    return UserRow(u.pk, u.username, u.display_name, u.email, u.role, b.code if b else "", b.name if b else "",
                   b.name_en if b else "", u.is_active, u.must_change_password, u.last_login, u.date_joined)


USER_SORTS = {"username": "username", "name": "display_name", "role": "role", "branch": "branch__path",
              "last_login": "last_login", "joined": "date_joined"}
USER_STATUSES = ("active", "inactive", "must_change")


def list_users(actor: Actor, listing: Any, *, q: str = "", role: str = "", branch: str = "",
               status: str = "") -> Any:
    """One page of log-ins (common.listing.Page of UserRow) for the administrator: by name (user or display),
    role, branch (and everything below it), standing. Unknown filter values are ignored."""
    from creditplan.common.listing import paginate

    require(actor, Perm.USER_MANAGE)
    qs = scope_to_branches(actor, User.objects.select_related("branch"))
    q = (q or "").strip()[:150]
    if q:
        from django.db.models import Q

        qs = qs.filter(Q(username__icontains=q) | Q(display_name__icontains=q) | Q(email__icontains=q))
    if role in Role._value2member_map_:
        qs = qs.filter(role=role)
    if branch:
        b = Branch.objects.filter(code=branch.strip().upper()).first()
        qs = qs.filter(branch__path__startswith=b.path) if b else qs.none()
    if status == "active":
        qs = qs.filter(is_active=True)
    elif status == "inactive":
        qs = qs.filter(is_active=False)
    elif status == "must_change":
        qs = qs.filter(must_change_password=True, is_active=True)
    page = paginate(qs.order_by(*listing.order_by(USER_SORTS, "username")), listing)
    return type(page)(items=[_user_row(u) for u in page.items], listing=page.listing, total=page.total)


def _managed_user(actor: Actor, user_id: int, *, lock: bool = False) -> User:
    qs = User.objects.select_related("branch")
    if lock:  # the user's row only: PostgreSQL locks no row of the nullable side of the join to the branch
        qs = qs.select_for_update(of=("self",))
    user = qs.filter(pk=user_id).first()
    if user is None:
        raise NotFound(f"no user {user_id}", code="unknown_user", field="user")
    require_in_scope(actor, user.branch, message=f"no user {user_id}", code="unknown_user", field="user")
    return user


def get_user(actor: Actor, user_id: int) -> UserRow:
    require(actor, Perm.USER_MANAGE)
    return _user_row(_managed_user(actor, user_id))


_TEMP_ALPHABET = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/l/I to misread


def temporary_password() -> str:
    """A random temporary password (16 characters, about 92 bits), for an administrator to hand over once."""
    return "".join(secrets.choice(_TEMP_ALPHABET) for _ in range(16))


def _check_password(password: str, user: User | None = None, *, field: str = "password") -> None:
    """Django's password validators (settings.AUTH_PASSWORD_VALIDATORS), as a ValidationError with a code."""
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError as DjangoValidationError

    if not password or len(password) < 8:
        raise ValidationError("password must have at least 8 characters", field=field, code="password_too_short")
    if len(password) > 128:
        raise ValidationError("password must have at most 128 characters", field=field, code="password_too_long")
    try:
        validate_password(password, user)
    except DjangoValidationError as exc:
        raise ValidationError("; ".join(exc.messages), field=field, code="password_weak")


@transaction.atomic
def admin_create_user(actor: Actor, *, username: str, role: str, branch_code: str | None, display_name: str = "",
                      email: str = "", temporary: str = "") -> tuple[User, str]:
    """An administrator creates a log-in with a temporary password (the one typed, else a generated one): the
    user must choose their own at the first log-in. Returns the user and the temporary password, which the page
    shows once (it is stored only as a hash)."""
    require(actor, Perm.USER_MANAGE)
    temporary = temporary or temporary_password()
    _check_password(temporary)
    if len(display_name or "") > 100:
        raise ValidationError("the display name has at most 100 characters", field="display_name",
                              code="too_long")
    user = create_user(actor, username=username, password=temporary, role=role, branch_code=branch_code or None,
                       display_name=display_name.strip(), email=(email or "").strip())
    User.objects.filter(pk=user.pk).update(must_change_password=True)
    user.must_change_password = True
    return user, temporary


def _branch_for_user(code: str | None, role: Role) -> Branch | None:
    if not code:
        if role is not Role.CUSTOMER:
            raise ValidationError("staff users need a branch", field="branch", code="branch_required")
        return None
    try:
        return get_branch(code)
    except NotFound as exc:
        raise ValidationError(exc.message, field="branch", code="unknown_branch")


@transaction.atomic
def update_user(actor: Actor, user_id: int, *, role: str, branch_code: str | None, display_name: str = "",
                email: str = "") -> User:
    """Change a user's role, branch, display name or e-mail. An administrator does not change their own role or
    branch (another administrator does: no one widens or narrows their own rights unseen). One `user.changed`
    event with [before, after] of each field that changed."""
    require(actor, Perm.USER_MANAGE)
    user = _managed_user(actor, user_id, lock=True)
    try:
        role_v = Role(role)
    except ValueError:
        raise ValidationError(f"role must be one of {', '.join(r.value for r in Role)}", field="role",
                              code="unknown_role")
    branch = _branch_for_user(branch_code, role_v)
    if len(display_name or "") > 100:
        raise ValidationError("the display name has at most 100 characters", field="display_name",
                              code="too_long")
    email = (email or "").strip()
    if email and ("@" not in email or len(email) > 254):
        raise ValidationError("not an e-mail address", field="email", code="bad_email")
    before = {"role": user.role, "branch": user.branch.code if user.branch_id else None,
              "display_name": user.display_name, "email": user.email}
    after = {"role": role_v.value, "branch": branch.code if branch else None,
             "display_name": (display_name or "").strip() or user.username, "email": email}
    if user.pk == getattr(actor, "pk", None) and (before["role"], before["branch"]) != (after["role"],
                                                                                      after["branch"]):
        raise Conflict("you cannot change your own role or branch: another administrator does",
                       code="own_account", field="role")
    changes = {k: [before[k], after[k]] for k in before if before[k] != after[k]}
    if not changes:
        return user
    user.role, user.branch = role_v.value, branch
    user.display_name, user.email = after["display_name"], email
    user.is_staff = user.is_superuser = role_v is Role.ADMIN
    user.save(update_fields=["role", "branch", "display_name", "email", "is_staff", "is_superuser"])
    ledger.append(actor, "user.changed", "user", user.pk,
                  {"username": user.username, "changes": changes, "via": "pages"})
    return user


USER_STATUS_REASONS = ("left", "leave", "role_change", "security", "error", "returned", "other")


@transaction.atomic
def set_user_active(actor: Actor, user_id: int, *, active: bool, reason: str) -> User:
    """Deactivate (the user can no longer log in; their sessions and API tokens end at once) or reactivate a
    log-in, with a chosen reason. An administrator does not deactivate their own log-in."""
    require(actor, Perm.USER_MANAGE)
    if reason not in USER_STATUS_REASONS:
        raise ValidationError("choose a reason", field="reason", code="reason_required")
    user = _managed_user(actor, user_id, lock=True)
    if user.pk == getattr(actor, "pk", None):
        raise Conflict("you cannot deactivate your own log-in: another administrator does", code="own_account",
                       field="user")
    if user.is_active == active:
        raise Conflict("the user is already " + ("active" if active else "deactivated"),
                       code="user_already_active" if active else "user_already_inactive", field="user")
    user.is_active = active
    user.save(update_fields=["is_active"])
    ledger.append(actor, "user.reactivated" if active else "user.deactivated", "user", user.pk,
                  {"username": user.username, "reason": reason})
    if not active:
        revoke_user_tokens(actor, user, reason="admin")
    return user


@transaction.atomic
def reset_password(actor: Actor, user_id: int, *, temporary: str = "") -> str:
    """An administrator gives a user a temporary password (the one typed, else a generated one) that must be
    replaced at the next log-in. The user's sessions end (Django checks the password hash on every request) and
    their API tokens are revoked (models.User.save). Returns the temporary password, shown once; the ledger event
    holds no password."""
    require(actor, Perm.USER_MANAGE)
    user = _managed_user(actor, user_id, lock=True)
    if user.pk == getattr(actor, "pk", None):
        raise Conflict("change your own password on the password page", code="own_account", field="user")
    generated = not temporary
    temporary = temporary or temporary_password()
    _check_password(temporary, user)
    user.set_password(temporary)
    user.must_change_password = True
    user.save(update_fields=["password", "must_change_password"])
    ledger.append(actor, "user.password_reset", "user", user.pk,
                  {"username": user.username, "generated": generated})
    throttle.record_success(user.username)  # a user locked out by failed log-ins may log in with the new one
    return temporary


@transaction.atomic
def change_own_password(user: User, *, current: str, new: str) -> None:
    """A user replaces their password (the temporary one included): the current one is checked, the new one must
    pass the validators and differ from the current one."""
    if user is None or not user.is_authenticated:
        raise NotAuthenticated("log in first")
    if not user.check_password(current or ""):
        raise ValidationError("the current password is wrong", field="current", code="wrong_password")
    _check_password(new, user, field="new")
    if new == current:
        raise ValidationError("the new password must differ from the current one", field="new",
                              code="same_password")
    was_temporary = user.must_change_password
    user.set_password(new)
    user.must_change_password = False
    user.save(update_fields=["password", "must_change_password"])
    ledger.append(user, "user.password_changed", "user", user.pk,
                  {"username": user.username, "replaced_temporary": was_temporary})


# ---- branches ----

@dataclass(frozen=True)
class BranchRow:
    id: int
    code: str
    name: str
    name_en: str
    level: str
    parent_code: str
    depth: int
    is_active: bool
    users: int


def _branch_row(b: Branch, users: int = 0) -> BranchRow:
    return BranchRow(b.pk, b.code, b.name, b.name_en, b.level, b.parent.code if b.parent_id else "",
                     max(0, b.path.count("/") - 2), b.is_active, users)


def branch_tree(actor: Actor) -> list[BranchRow]:
    """Every branch (closed ones included), in hierarchy order, with its number of active users."""
    require(actor, Perm.BRANCH_MANAGE)
    from django.db.models import Count, Q

    rows = (Branch.objects.select_related("parent").order_by("path")
            .annotate(n_users=Count("users", filter=Q(users__is_active=True))))
    return [_branch_row(b, b.n_users) for b in rows]


def get_branch_row(actor: Actor, code: str) -> BranchRow:
    require(actor, Perm.BRANCH_MANAGE)
    b = Branch.objects.select_related("parent").filter(code=(code or "").strip().upper()).first()
    if b is None:
        raise NotFound(f"no branch with code {code!r}", code="unknown_branch", field="branch")
    return _branch_row(b, b.users.filter(is_active=True).count())


def _branch_for_update(code: str) -> Branch:
    b = Branch.objects.select_for_update().filter(code=(code or "").strip().upper()).first()
    if b is None:
        raise NotFound(f"no branch with code {code!r}", code="unknown_branch", field="branch")
    return b


@transaction.atomic
def rename_branch(actor: Actor, code: str, *, name: str, name_en: str = "") -> Branch:
    require(actor, Perm.BRANCH_MANAGE)
    b = _branch_for_update(code)
    name, name_en = (name or "").strip(), (name_en or "").strip()
    if not name:
        raise ValidationError("branch name is required", field="name", code="required")
    if len(name) > 100 or len(name_en) > 100:
        raise ValidationError("a branch name has at most 100 characters", field="name" if len(name) > 100
                              else "name_en", code="too_long")
    changes = {k: [v0, v1] for k, v0, v1 in (("name", b.name, name), ("name_en", b.name_en, name_en)) if v0 != v1}
    if changes:
        b.name, b.name_en = name, name_en
        b.save(update_fields=["name", "name_en"])
        ledger.append(actor, "branch.renamed", "branch", b.code, {"code": b.code, "changes": changes})
    return b


@transaction.atomic
def move_branch(actor: Actor, code: str, *, parent_code: str) -> Branch:
    """Put a branch (and everything below it) under another parent of the right level. Branch scoping follows at
    once: it reads the branch's path, which is rewritten for the whole subtree."""
    require(actor, Perm.BRANCH_MANAGE)
    b = _branch_for_update(code)
    try:
        parent = get_branch((parent_code or "").strip().upper())
    except NotFound as exc:
        raise ValidationError(exc.message, field="parent", code="unknown_branch")
    if parent.path.startswith(b.path):
        raise ValidationError("a branch cannot move under itself or one of its own sub-branches", field="parent",
                              code="branch_cycle")
    problem = parent_level_problem(BranchLevel(b.level), BranchLevel(parent.level))
    if problem:
        raise ValidationError(problem, field="parent", code="branch_hierarchy")
    if b.parent_id == parent.pk:
        return b
    old_path, new_path = b.path, f"{parent.path}{b.code}/"
    before = b.parent.code if b.parent_id else None
    for node in Branch.objects.select_for_update().filter(path__startswith=old_path):
        node.path = new_path + node.path[len(old_path):]
        if node.pk == b.pk:
            node.parent = parent
        node.save(update_fields=["path", "parent"])
    ledger.append(actor, "branch.moved", "branch", b.code, {"code": b.code, "parent": [before, parent.code]})
    b.refresh_from_db()
    return b


# What still sits in a branch, counted by the apps above the organisation (they register from their AppConfig:
# customers, live loans): the organisation imports none of them.
_BRANCH_HOLDERS: dict[str, Any] = {}


def register_branch_holder(name: str, count: Any) -> None:
    """`count(branch_id) -> int`: how many records of this kind keep a branch open."""
    _BRANCH_HOLDERS[name] = count


BRANCH_CLOSE_REASONS = ("merged", "relocated", "closed_down", "error", "other")


@transaction.atomic
def close_branch(actor: Actor, code: str, *, reason: str) -> Branch:
    """Close a branch that holds nothing any more: no active user, no open sub-branch, no customer, no live loan
    (each counted; the refusal names how many of each). Its history stays; it can be reopened."""
    require(actor, Perm.BRANCH_MANAGE)
    if reason not in BRANCH_CLOSE_REASONS:
        raise ValidationError("choose a reason", field="reason", code="reason_required")
    b = _branch_for_update(code)
    if not b.is_active:
        raise Conflict(f"branch {b.code} is already closed", code="branch_closed", field="branch")
    counts = {"branches": Branch.objects.filter(parent=b, is_active=True).count(),
              "users": User.objects.filter(branch=b, is_active=True).count()}
    for name, count in _BRANCH_HOLDERS.items():
        counts[name] = int(count(b.pk))
    held = {k: v for k, v in counts.items() if v}
    if held:
        listed = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in held.items())
        raise Conflict(f"branch {b.code} cannot be closed: it still has {listed}; move them elsewhere first",
                       code="branch_not_empty", field="branch", extra={"branch": b.code, **counts})
    b.is_active = False
    b.save(update_fields=["is_active"])
    ledger.append(actor, "branch.closed", "branch", b.code, {"code": b.code, "reason": reason})
    return b


@transaction.atomic
def reopen_branch(actor: Actor, code: str) -> Branch:
    require(actor, Perm.BRANCH_MANAGE)
    b = _branch_for_update(code)
    if b.is_active:
        raise Conflict(f"branch {b.code} is open", code="branch_open", field="branch")
    if b.parent_id and not b.parent.is_active:
        raise Conflict(f"the parent branch {b.parent.code} is closed: reopen it first", code="parent_closed",
                       field="branch")
    b.is_active = True
    b.save(update_fields=["is_active"])
    ledger.append(actor, "branch.reopened", "branch", b.code, {"code": b.code})
    return b
