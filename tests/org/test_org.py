"""Organisation: the branch hierarchy, users and roles, permission checks and API tokens."""

from __future__ import annotations

import datetime as dt

import pytest

from creditplan.core.errors import Conflict, Forbidden, NotAuthenticated, ValidationError
from creditplan.org import services as org
from creditplan.org.domain import ROLE_PERMISSIONS, Perm, Role, has_perm, sees_all_branches
from creditplan.org.models import ApiToken, Branch, User
from factories import PASSWORD


def test_every_role_has_a_label_and_a_permission_set():
    assert set(ROLE_PERMISSIONS) == set(Role)
    # a customer may apply and follow their own applications, nothing a member of staff may do
    assert ROLE_PERMISSIONS[Role.CUSTOMER] == frozenset({Perm.APPLICATION_VIEW, Perm.APPLICATION_APPLY})
    assert has_perm("admin", Perm.USER_MANAGE) and not has_perm("loan_officer", Perm.USER_MANAGE)
    assert not has_perm("risk_manager", Perm.CUSTOMER_VIEW_PII)
    assert not has_perm("no-such-role", Perm.CUSTOMER_VIEW)
    assert sees_all_branches("auditor") and not sees_all_branches("approver")


def test_branch_tree_paths_and_level_rules(bank):
    assert Branch.objects.get(code="BJ01").path == "/HO/BJ/BJ01/"
    with pytest.raises(ValidationError) as exc:
        org.create_branch(None, code="BJ0101", name="x", level="sub_branch", parent_code="BJ01")
    assert exc.value.field == "parent" and exc.value.code == "branch_hierarchy"
    with pytest.raises(ValidationError):
        org.create_branch(None, code="HO2", name="second head office", level="head_office", parent_code="HO")
    with pytest.raises(Conflict):
        org.create_branch(None, code="bj", name="dup", level="branch", parent_code="HO")
    with pytest.raises(ValidationError) as exc:
        org.create_branch(None, code="X1", name="x", level="region", parent_code="HO")
    assert exc.value.field == "level"


def test_only_admins_manage_branches_and_users(bank):
    with pytest.raises(Forbidden):
        org.create_branch(bank["risk"], code="GZ", name="广州分行", level="branch", parent_code="HO")
    with pytest.raises(Forbidden):
        org.create_user(bank["officer_bj"], username="x", password=PASSWORD, role="admin", branch_code="HO")
    user = org.create_user(bank["admin"], username="new_officer", password=PASSWORD, role="loan_officer",
                           branch_code="SH01")
    assert user.branch.code == "SH01" and user.check_password(PASSWORD)


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"role": "wizard", "branch_code": "HO"}, "role"),
    ({"role": "loan_officer", "branch_code": None}, "branch"),
    ({"role": "loan_officer", "branch_code": "NOPE"}, "branch"),
    ({"role": "loan_officer", "branch_code": "HO", "password": "short"}, "password"),
])
def test_bad_user_input_names_the_field(bank, kwargs, field):
    args = {"username": "u1", "password": PASSWORD, **kwargs}
    with pytest.raises(ValidationError) as exc:
        org.create_user(None, **args)
    assert exc.value.field == field
    assert not User.objects.filter(username="u1").exists()


def test_anonymous_and_inactive_users_are_refused(bank):
    from django.contrib.auth.models import AnonymousUser

    with pytest.raises(NotAuthenticated):
        org.require(AnonymousUser(), Perm.CUSTOMER_VIEW)
    officer = bank["officer_bj"]
    officer.is_active = False
    with pytest.raises(Forbidden):
        org.require(officer, Perm.CUSTOMER_VIEW)


def test_tokens_are_stored_hashed_and_expire(bank):
    issued = org.issue_token(username="officer_bj", password=PASSWORD)
    assert org.user_for_token(issued.token) == bank["officer_bj"]
    stored = ApiToken.objects.get()
    assert issued.token not in stored.key_hash and len(stored.key_hash) == 64
    ApiToken.objects.update(expires_at=stored.expires_at - dt.timedelta(days=1))
    assert org.user_for_token(issued.token) is None
    with pytest.raises(NotAuthenticated):
        org.issue_token(username="officer_bj", password="wrong-password")


def test_createuser_command(bank, capsys):
    from django.core.management import call_command
    from django.core.management.base import CommandError

    call_command("createuser", username="cli_user", role="approver", branch="BJ", password=PASSWORD)
    assert User.objects.get(username="cli_user").role == "approver"
    with pytest.raises(CommandError, match="branch"):
        call_command("createuser", username="cli_user2", role="approver", branch="NOPE", password=PASSWORD)


def test_production_settings_without_keys_fail_the_system_check(settings):
    # Debug pages on do not silence the check any more (they did: a server with CREDITPLAN_DEBUG=1 said nothing
    # while encrypting personal data under a key derived from the repository's secret); only development mode
    # does, and there the keys are random ones of the machine.
    from creditplan.web.checks import creditplan_settings

    settings.DEVELOPMENT, settings.DEBUG, settings.PII_KEYS = False, True, []
    assert "creditplan.E001" in {p.id for p in creditplan_settings(None)}
    settings.DEBUG = False
    assert "creditplan.E001" in {p.id for p in creditplan_settings(None)}
    settings.DEVELOPMENT = True
    assert {p.id for p in creditplan_settings(None)} == {"creditplan.W001"}  # development mode says it is on
