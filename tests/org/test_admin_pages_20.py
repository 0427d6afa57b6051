"""Administration in the app (issue 20 §6): users, roles, branches and their hierarchy, temporary passwords and
deactivation, in both languages, each change on the ledger; refused to every role but the administrator's."""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client

from creditplan.customers.services import create_customer
from creditplan.ledger.models import Event
from creditplan.org import services as org
from creditplan.org.models import ApiToken, Branch, User
from factories import PASSWORD, individual

NON_ADMINS = ["risk", "planner", "auditor", "ops", "officer_bj", "approver_bj", "customer"]


def _client(user: User, lang: str = "zh-hans") -> Client:
    c = Client(HTTP_ACCEPT_LANGUAGE=lang)
    c.force_login(user)
    return c


def _events(kind: str) -> list[dict]:
    return [json.loads(e.entry)["data"] | {"_actor": e.actor_name, "_subject": e.subject_id}
            for e in Event.objects.filter(kind=kind).order_by("seq")]


def _temporary(html: str) -> str:
    m = re.search(r'data-testid="temporary-password">([^<]+)<', html)
    assert m, html[:3000]
    return m.group(1)


def test_the_administrator_finds_administration_in_the_menu_and_no_one_else_does(bank) -> None:
    page = _client(bank["admin"]).get("/").content.decode()
    assert 'href="/org/users/"' in page and "系统管理" in page
    for name in NON_ADMINS:
        assert 'href="/org/users/"' not in _client(bank[name]).get("/").content.decode(), name


@pytest.mark.parametrize("url", ["/org/users/", "/org/users/new/", "/org/branches/", "/org/branches/BJ01/",
                                 "/org/users/1/"])
def test_every_administration_page_is_refused_to_other_roles(bank, url) -> None:
    for name in NON_ADMINS:
        assert _client(bank[name]).get(url).status_code == 403, (name, url)


def test_posts_are_refused_to_other_roles_and_change_nothing(bank) -> None:
    officer = bank["officer_bj"]
    c = _client(bank["approver_bj"])
    before = Event.objects.count()
    assert c.post("/org/users/new/", {"username": "x1", "role": "admin", "branch": "HO"}).status_code == 403
    assert c.post(f"/org/users/{officer.pk}/", {"role": "admin", "branch": "HO"}).status_code == 403
    assert c.post(f"/org/users/{officer.pk}/status/", {"reason": "left"}).status_code == 403
    assert c.post(f"/org/users/{officer.pk}/password/", {}).status_code == 403
    assert c.post("/org/branches/BJ01/close/", {"reason": "merged"}).status_code == 403
    assert c.post("/org/branches/", {"code": "X", "name": "x", "level": "branch", "parent": "HO"}).status_code == 403
    assert Event.objects.count() == before
    officer.refresh_from_db()
    assert officer.role == "loan_officer" and officer.is_active and not User.objects.filter(username="x1").exists()


def test_admin_creates_a_user_with_a_temporary_password_shown_once_who_must_change_it(bank) -> None:
    admin = _client(bank["admin"])
    response = admin.post("/org/users/new/", {"username": "teller7", "display_name": "李四", "role": "loan_officer",
                                              "branch": "BJ01", "email": ""})
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    temporary = _temporary(response.content.decode())
    user = User.objects.get(username="teller7")
    assert user.must_change_password and user.role == "loan_officer" and user.branch.code == "BJ01"
    assert temporary not in user.password  # stored as a hash only
    [event] = [e for e in _events("user.created") if e["username"] == "teller7"]
    assert event["_actor"] == "admin" and event["role"] == "loan_officer" and temporary not in json.dumps(event)
    # the user page never shows a password
    assert temporary not in admin.get(f"/org/users/{user.pk}/").content.decode()

    # the temporary password opens only the password page, and gives no API token
    new = Client()
    assert new.post("/login/", {"username": "teller7", "password": temporary}).status_code == 302
    response = new.get("/customers/")
    assert response.status_code == 302 and response["Location"] == "/org/password/"
    api = Client().post("/api/v1/auth/token", {"username": "teller7", "password": temporary},
                        content_type="application/json")
    assert api.status_code == 403 and not ApiToken.objects.filter(user=user).exists()
    response = new.post("/org/password/", {"current": temporary, "new": "my-own-secret-9", "new2": "my-own-secret-9"})
    assert response.status_code == 302
    assert new.get("/customers/").status_code == 200
    user.refresh_from_db()
    assert not user.must_change_password and user.check_password("my-own-secret-9")
    assert _events("user.password_changed")[-1]["replaced_temporary"] is True


def test_create_user_form_refusals_are_sentences_in_the_page_language(bank) -> None:
    zh = _client(bank["admin"]).post("/org/users/new/", {"username": "officer_bj", "role": "loan_officer",
                                                         "branch": "BJ01"})
    assert zh.status_code == 422 and "已存在" in zh.content.decode()
    en = _client(bank["admin"], "en").post("/org/users/new/", {"username": "new1", "role": "approver", "branch": ""})
    assert en.status_code == 422 and "Staff users need a branch." in en.content.decode()
    assert not User.objects.filter(username="new1").exists()


def test_admin_changes_role_and_branch_on_the_ledger_but_not_their_own(bank) -> None:
    officer = bank["officer_bj"]
    admin = _client(bank["admin"])
    response = admin.post(f"/org/users/{officer.pk}/", {"display_name": "officer_bj", "email": "",
                                                         "role": "approver", "branch": "BJ"})
    assert response.status_code == 302
    officer.refresh_from_db()
    assert (officer.role, officer.branch.code) == ("approver", "BJ")
    event = _events("user.changed")[-1]
    assert event["changes"] == {"role": ["loan_officer", "approver"], "branch": ["BJ01", "BJ"]}
    assert event["_actor"] == "admin"
    own = admin.post(f"/org/users/{bank['admin'].pk}/", {"display_name": "admin", "role": "auditor", "branch": "HO"})
    assert own.status_code == 422 and "另一位管理员" in own.content.decode()
    assert User.objects.get(pk=bank["admin"].pk).role == "admin"


def test_a_deactivated_user_cannot_log_in_and_loses_sessions_and_tokens(bank) -> None:
    officer = bank["officer_bj"]
    session = Client()
    assert session.post("/login/", {"username": "officer_bj", "password": PASSWORD}).status_code == 302
    token = org.issue_token(username="officer_bj", password=PASSWORD).token
    admin = _client(bank["admin"])
    # no reason chosen: refused, nothing changes
    assert admin.post(f"/org/users/{officer.pk}/status/", {"reason": ""}).status_code == 422
    assert User.objects.get(pk=officer.pk).is_active
    assert admin.post(f"/org/users/{officer.pk}/status/", {"reason": "left"}).status_code == 302
    assert not User.objects.get(pk=officer.pk).is_active
    assert _events("user.deactivated")[-1] == {"username": "officer_bj", "reason": "left", "_actor": "admin",
                                               "_subject": str(officer.pk)}
    assert session.get("/customers/").status_code == 302  # the open session has ended
    assert Client().post("/login/", {"username": "officer_bj", "password": PASSWORD}).status_code == 200
    assert org.user_for_token(token) is None
    assert admin.post(f"/org/users/{officer.pk}/status/", {"reason": "returned"}).status_code == 302
    assert _events("user.reactivated")[-1]["reason"] == "returned"
    assert Client().post("/login/", {"username": "officer_bj", "password": PASSWORD}).status_code == 302
    # nobody deactivates their own log-in
    assert admin.post(f"/org/users/{bank['admin'].pk}/status/", {"reason": "left"}).status_code == 422


def test_reset_password_gives_a_temporary_one_ends_sessions_and_never_shows_the_old(bank) -> None:
    officer = bank["officer_bj"]
    session = Client()
    session.post("/login/", {"username": "officer_bj", "password": PASSWORD})
    response = _client(bank["admin"]).post(f"/org/users/{officer.pk}/password/", {"temporary": ""})
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    temporary = _temporary(response.content.decode())
    officer.refresh_from_db()
    assert officer.must_change_password and officer.check_password(temporary)
    assert not officer.check_password(PASSWORD)
    assert session.get("/customers/").status_code == 302
    event = _events("user.password_reset")[-1]
    assert event["generated"] is True and temporary not in json.dumps(event) and event["_actor"] == "admin"
    # a typed temporary password must pass the validators
    weak = _client(bank["admin"], "en").post(f"/org/users/{officer.pk}/password/", {"temporary": "short"})
    assert weak.status_code == 422 and "at least 8 characters" in weak.content.decode()


def test_roles_page_lists_what_each_role_may_do_in_both_languages(bank) -> None:
    zh = _client(bank["admin"]).get("/org/roles/").content.decode()
    assert "客户经理" in zh and "管理用户、角色和密码" in zh and "org.user_manage" not in zh
    en = _client(bank["admin"], "en").get("/org/roles/").content.decode()
    assert "Loan officer" in en and "Manage users, their roles and passwords" in en and "客户经理" not in en


def test_branches_create_rename_move_on_the_ledger(bank) -> None:
    admin = _client(bank["admin"], "en")
    assert admin.post("/org/branches/", {"code": "bj02", "name": "北京朝阳支行", "name_en": "Beijing Chaoyang",
                                         "level": "sub_branch", "parent": "BJ"}).status_code == 302
    assert Branch.objects.get(code="BJ02").path == "/HO/BJ/BJ02/"
    assert admin.post("/org/branches/BJ02/", {"name": "北京朝阳门支行", "name_en": "Beijing Chaoyangmen"}
                      ).status_code == 302
    assert _events("branch.renamed")[-1]["changes"]["name_en"] == ["Beijing Chaoyang", "Beijing Chaoyangmen"]
    page = admin.get("/org/branches/").content.decode()
    assert "Beijing Chaoyangmen" in page and "Sub-branch" in page
    assert admin.post("/org/branches/BJ02/move/", {"parent": "SH"}).status_code == 302
    assert Branch.objects.get(code="BJ02").path == "/HO/SH/BJ02/"
    assert _events("branch.moved")[-1]["parent"] == ["BJ", "SH"]
    # a sub-branch cannot sit under the head office
    bad = admin.post("/org/branches/BJ02/move/", {"parent": "HO"})
    assert bad.status_code == 422 and Branch.objects.get(code="BJ02").parent.code == "SH"


def test_moving_a_branch_moves_its_subtree_and_branch_scoping_follows(bank) -> None:
    org.create_branch(None, code="GD", name="广东分行", level="branch", parent_code="HO")
    org.create_branch(None, code="GD01", name="广州支行", level="sub_branch", parent_code="GD")
    org.move_branch(bank["admin"], "SH01", parent_code="GD")
    assert Branch.objects.get(code="SH01").path == "/HO/GD/SH01/"
    sh = create_customer(bank["officer_sh"], individual(3))
    gd_users = org.list_users(bank["admin"], _listing(), branch="GD").items
    assert [u.username for u in gd_users] == ["officer_sh"] and sh.branch_code == "SH01"


def _listing(**kw):  # type: ignore[no-untyped-def]
    from creditplan.common.listing import Listing

    return Listing(**kw)


def test_closing_a_branch_that_still_holds_users_and_customers_is_refused_with_the_counts(bank) -> None:
    create_customer(bank["officer_bj"], individual(1))
    create_customer(bank["officer_bj"], individual(2))
    zh = _client(bank["admin"]).post("/org/branches/BJ01/close/", {"reason": "merged"})
    text = zh.content.decode()
    assert zh.status_code == 422 and "BJ01" in text and "1 名在岗用户" in text and "2 位客户" in text
    en = _client(bank["admin"], "en").post("/org/branches/BJ01/close/", {"reason": "merged"}).content.decode()
    assert "Branch BJ01 cannot be closed: it still has 1 active user, 2 customers." in en
    bj = _client(bank["admin"], "en").post("/org/branches/BJ/close/", {"reason": "merged"}).content.decode()
    assert "1 open sub-branch" in bj and "1 active user" in bj
    assert Branch.objects.get(code="BJ01").is_active and not Event.objects.filter(kind="branch.closed").exists()


def test_an_empty_branch_closes_with_a_reason_and_reopens(bank) -> None:
    org.create_branch(None, code="BJ09", name="北京测试支行", level="sub_branch", parent_code="BJ")
    admin = _client(bank["admin"])
    assert admin.post("/org/branches/BJ09/close/", {"reason": ""}).status_code == 422
    assert admin.post("/org/branches/BJ09/close/", {"reason": "closed_down"}).status_code == 302
    assert not Branch.objects.get(code="BJ09").is_active
    assert _events("branch.closed")[-1] == {"code": "BJ09", "reason": "closed_down", "_actor": "admin",
                                            "_subject": "BJ09"}
    assert admin.post("/org/branches/BJ09/reopen/").status_code == 302
    assert Branch.objects.get(code="BJ09").is_active and _events("branch.reopened")


def test_user_list_pages_filters_and_exports(bank) -> None:
    for i in range(60):
        org.create_user(None, username=f"teller{i:02d}", password=PASSWORD, role="loan_officer", branch_code="SH01")
    admin = _client(bank["admin"], "en")
    page = admin.get("/org/users/?branch=SH&per_page=25&page=2&sort=username").content.decode()
    assert "Rows 26–50 of 61" in page and "teller24" in page and "officer_bj" not in page
    csv = admin.get("/org/users/?role=approver&export=csv")
    body = csv.content.decode("utf-8-sig")
    assert csv["Content-Type"].startswith("text/csv") and "approver_bj" in body and "Approver" in body
    assert "teller" not in body and "password" not in body.lower()


def test_a_user_page_history_says_changes_in_words(bank) -> None:
    from django.db import transaction

    officer = bank["officer_bj"]
    with transaction.atomic():  # as Django admin records a change (org/admin.py)
        org.record_user_change(bank["admin"], officer, {"is_active": [True, False], "role": ["loan_officer",
                                                                                             "approver"]})
    zh = _client(bank["admin"]).get(f"/org/users/{officer.pk}/").content.decode()
    assert "修改用户" in zh and "客户经理 → 审批人" in zh and "是 → 否" in zh
    text = re.sub(r"<[^>]+>", " ", zh)  # what the page shows (option values aside)
    assert "True" not in text and "loan_officer" not in text and "user.changed" not in text


def test_a_history_row_by_the_system_says_system_in_words(bank) -> None:
    """Issue 20 (page walk): a change no person made showed its actor as "system" on the Chinese page."""
    from django.db import transaction

    officer = bank["officer_bj"]
    with transaction.atomic():
        org.record_user_change(None, officer, {"role": ["loan_officer", "approver"]})
    zh = _client(bank["admin"]).get(f"/org/users/{officer.pk}/").content.decode()
    en = _client(bank["admin"], "en").get(f"/org/users/{officer.pk}/").content.decode()
    assert "<td>系统</td>" in zh and "<td>system</td>" not in zh
    assert "<td>System</td>" in en
    branch = _client(bank["admin"]).get("/org/branches/BJ01/").content.decode()
    assert "<td>system</td>" not in branch
