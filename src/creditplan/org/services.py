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
from creditplan.core.errors import Conflict, NotAuthenticated, NotFound, ValidationError
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
