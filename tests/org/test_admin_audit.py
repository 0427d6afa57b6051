"""Changes made in Django admin to what a user may do (role, branch, active, staff) reach the ledger with who made
them (security issue 14, low finding)."""

from __future__ import annotations

import json
from typing import Any

from creditplan.ledger.models import Event
from creditplan.org.models import Branch, User


def _form(user: User, **changes: Any) -> dict[str, Any]:
    """The admin's change form for `user` as the browser would send it, with `changes` applied."""
    data = {"username": user.username, "first_name": user.first_name, "last_name": user.last_name,
            "email": user.email, "role": user.role, "branch": user.branch_id or "", "display_name": user.display_name,
            "date_joined_0": user.date_joined.strftime("%Y-%m-%d"), "date_joined_1": "08:00:00",
            "last_login_0": "", "last_login_1": "", "_save": "Save"}
    if user.is_active:
        data["is_active"] = "on"
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def test_role_branch_and_standing_changed_in_the_admin_are_on_the_ledger(bank, admin_client) -> None:
    admin_client.force_login(bank["admin"])
    officer = User.objects.get(username="officer_bj")
    bj = Branch.objects.get(code="BJ")
    response = admin_client.post(f"/admin/org/user/{officer.pk}/change/",
                                 _form(officer, role="approver", branch=bj.pk, is_active=None))
    assert response.status_code == 302, response.content.decode()[:2000]
    officer.refresh_from_db()
    assert (officer.role, officer.branch_id, officer.is_active) == ("approver", bj.pk, False)
    event = Event.objects.get(kind="user.changed")
    assert (event.actor_name, event.subject_id) == ("admin", str(officer.pk))
    assert json.loads(event.entry)["data"]["changes"] == {
        "role": ["loan_officer", "approver"], "branch": ["BJ01", "BJ"], "is_active": [True, False]}


def test_a_save_that_changes_nothing_audited_writes_no_event(bank, admin_client) -> None:
    admin_client.force_login(bank["admin"])
    officer = User.objects.get(username="officer_bj")
    response = admin_client.post(f"/admin/org/user/{officer.pk}/change/", _form(officer, display_name="王五"))
    assert response.status_code == 302
    assert not Event.objects.filter(kind="user.changed").exists()


def test_a_user_added_in_the_admin_is_on_the_ledger(bank, admin_client) -> None:
    admin_client.force_login(bank["admin"])
    before = Event.objects.filter(kind="user.created").count()
    response = admin_client.post("/admin/org/user/add/", {
        "username": "teller1", "usable_password": "true", "password1": "a-good-password-1",
        "password2": "a-good-password-1", "_save": "Save"})
    assert response.status_code == 302, response.content.decode()[:3000]
    event = Event.objects.filter(kind="user.created").order_by("-seq").first()
    assert Event.objects.filter(kind="user.created").count() == before + 1
    data = json.loads(event.entry)["data"]
    assert event.actor_name == "admin" and data["username"] == "teller1" and data["via"] == "admin"
    assert data["changes"]["role"] == [None, "customer"] and data["changes"]["is_superuser"] == [None, False]
