"""Organisation use cases: branches, users, permission checks, branch scoping and API tokens."""

from __future__ import annotations

import copy
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import authenticate
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from creditplan.core.errors import Conflict, Forbidden, NotAuthenticated, NotFound, ValidationError
from creditplan.ledger import services as ledger
from creditplan.org.domain import BranchLevel, Perm, Role, has_perm, parent_level_problem, sees_all_branches
from creditplan.org.models import ApiToken, Branch, User


def require(actor: Any, perm: Perm) -> None:
    """Raise Forbidden unless the actor's role carries `perm`. Every use case calls this first."""
    if actor is None or not getattr(actor, "is_authenticated", False):
        raise NotAuthenticated("log in first")
    if not actor.is_active or not has_perm(actor.role, perm):
        raise Forbidden(f"your role ({actor.role}) may not do this ({perm.value})", code="permission_denied")


def may(actor: Any, perm: Perm) -> bool:
    return bool(actor and getattr(actor, "is_authenticated", False) and has_perm(actor.role, perm))


def scope_to_branches(actor: Any, queryset: QuerySet, branch_field: str = "branch") -> QuerySet:
    """Restrict `queryset` to the actor's branch subtree unless the role works across all branches."""
    if sees_all_branches(actor.role):
        return queryset
    if actor.branch_id is None:
        return queryset.none()
    return queryset.filter(**{f"{branch_field}__path__startswith": actor.branch.path})


def branch_in_scope(actor: Any, branch: Branch) -> bool:
    if sees_all_branches(actor.role):
        return True
    return actor.branch_id is not None and branch.path.startswith(actor.branch.path)


def get_branch(code: str) -> Branch:
    try:
        return Branch.objects.get(code=code, is_active=True)
    except Branch.DoesNotExist:
        raise NotFound(f"no active branch with code {code!r}", code="unknown_branch", field="branch")


def list_branches(actor: Any) -> list[Branch]:
    return list(_visible_branches(actor))


def _visible_branches(actor: Any) -> QuerySet:
    qs = Branch.objects.filter(is_active=True)
    if sees_all_branches(actor.role):
        return qs
    if actor.branch_id is None:
        return qs.none()
    return qs.filter(path__startswith=actor.branch.path)


@transaction.atomic
def create_branch(
    actor: Any, *, code: str, name: str, level: str, parent_code: str | None = None, name_en: str = "",
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
    actor: Any, *, username: str, password: str, role: str, branch_code: str | None = None,
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


@transaction.atomic
def issue_token(*, username: str, password: str) -> IssuedToken:
    user = authenticate(username=username, password=password)
    if user is None or not user.is_active:
        raise NotAuthenticated("wrong username or password", code="bad_credentials")
    raw = "cp_" + secrets.token_urlsafe(32)
    expires = timezone.now() + timedelta(hours=settings.API_TOKEN_HOURS)
    ApiToken.objects.create(user=user, key_hash=_hash_token(raw), expires_at=expires)
    ledger.append(user, "auth.token_issued", "user", user.pk, {"expires_at": expires})
    return IssuedToken(raw, expires, user)


_token_users: dict[str, tuple[tuple[Any, ...], User]] = {}
_MAX_TOKEN_USERS = 10_000


def _token_row_sql() -> str:
    """The valid token's row with its user's and the user's branch's, raw (no ORM: this runs on every API call)."""
    t, u, b = ApiToken._meta, User._meta, Branch._meta
    cols = [f"t.{f.column}" for f in t.concrete_fields] + [f"u.{f.column}" for f in u.concrete_fields] + [
        f"b.{f.column}" for f in b.concrete_fields]
    return (f"SELECT {', '.join(cols)} FROM {t.db_table} t JOIN {u.db_table} u ON u.id = t.user_id "
            f"LEFT JOIN {b.db_table} b ON b.id = u.branch_id WHERE t.key_hash = %s AND t.revoked = %s "
            "AND t.expires_at > %s")


_TOKEN_ROW_SQL = _token_row_sql()


def user_for_token(raw: str) -> User | None:
    """The active user a valid (unrevoked, unexpired) API token belongs to, with their branch; else None.

    The database is asked on every call, in one indexed statement; building the user through the ORM is what
    costs (about a millisecond), so the user built for a token is kept and reused while the token's, the user's
    and the branch's rows read back exactly as they were: a revoked or expired token, a deactivated user, a new
    role or branch take effect on the very next call. Each call gets its own copy of the user."""
    from django.db import connection

    key = _hash_token(raw)
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    with connection.cursor() as cur:
        cur.execute(_TOKEN_ROW_SQL, [key, False, now])
        row = cur.fetchone()
    if row is None:
        _token_users.pop(key, None)
        return None
    cached = _token_users.get(key)
    if cached is not None and cached[0] == tuple(row):
        user = cached[1]
    else:
        token = (ApiToken.objects.select_related("user", "user__branch")
                 .filter(key_hash=key, revoked=False, expires_at__gt=timezone.now()).first())
        if token is None:
            return None
        user = token.user
        if len(_token_users) >= _MAX_TOKEN_USERS:
            _token_users.clear()
        _token_users[key] = (tuple(row), user)
    if not user.is_active:
        return None
    return copy.copy(user)


def list_all_branches() -> list[Branch]:
    """Every active branch, for trusted batch code (imports, demo seed) that has no acting user."""
    return list(Branch.objects.filter(is_active=True))
