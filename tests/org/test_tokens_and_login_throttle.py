"""API tokens can be revoked and die with a log-out or a new password; log-ins are throttled per user and per address
before the password is checked (security issue 14, finding 10)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from creditplan.ledger.models import Event
from creditplan.org import services as org
from creditplan.org import throttle
from creditplan.org.models import ApiToken, LoginThrottle, User
from factories import PASSWORD

WRONG = "not-the-password"


class Clock:
    """The throttle's clock, moved by the test (no sleeping)."""

    def __init__(self) -> None:
        self.now = timezone.now()

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    c = Clock()
    monkeypatch.setattr(throttle, "now", c)
    return c


@pytest.fixture
def password_checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The user names whose password was actually checked (the costly Argon2 step)."""
    checked: list[str] = []
    real = org.authenticate

    def counting(request: Any = None, **credentials: Any) -> Any:
        checked.append(credentials.get("username"))
        return real(request, **credentials)

    monkeypatch.setattr(org, "authenticate", counting)
    return checked


def _token(client, username: str = "officer_bj", password: str = PASSWORD, **extra: str):
    return client.post("/api/v1/auth/token", {"username": username, "password": password},
                       content_type="application/json", **extra)


def _me(client, token: str) -> int:
    return client.get("/api/v1/auth/me", HTTP_AUTHORIZATION=f"Bearer {token}").status_code


def _events(kind: str) -> list[dict[str, Any]]:
    return [{"actor": e.actor_name, **json.loads(e.entry)["data"]} for e in Event.objects.filter(kind=kind)]


# --------------------------------------------------------------------------------------------------------------
# Revocation
# --------------------------------------------------------------------------------------------------------------

def test_the_presenting_token_revokes_itself_and_stops_working_at_once(bank, client) -> None:
    first, second = _token(client).json()["token"], _token(client).json()["token"]
    assert _me(client, first) == 200  # the user is now cached for this token
    response = client.post("/api/v1/auth/logout", HTTP_AUTHORIZATION=f"Bearer {first}")
    assert response.status_code == 204
    assert _me(client, first) == 401 and org.user_for_token(first) is None
    assert _me(client, second) == 200  # only the presenting token
    assert _events("auth.token_revoked") == [{"actor": "officer_bj", "username": "officer_bj", "tokens": 1,
                                              "reason": "logout"}]
    assert ApiToken.objects.filter(revoked=True, revoked_at__isnull=False).count() == 1


def test_logging_out_of_the_pages_revokes_the_users_tokens(bank, client) -> None:
    token = _token(client).json()["token"]
    client.force_login(bank["officer_bj"])
    assert client.post("/logout/").status_code == 302
    assert _me(client, token) == 401
    assert _events("auth.tokens_revoked") == [{"actor": "officer_bj", "username": "officer_bj", "tokens": 1,
                                               "reason": "logout"}]


def test_a_new_password_revokes_the_users_tokens_whatever_the_path(bank, client, admin_client) -> None:
    token = _token(client).json()["token"]
    user = User.objects.get(username="officer_bj")
    user.set_password("a-brand-new-password")
    user.save()
    assert _me(client, token) == 401
    token = _token(client, password="a-brand-new-password").json()["token"]
    assert _me(client, token) == 200
    # through the admin's password form
    admin = admin_client
    admin.force_login(bank["admin"])
    response = admin.post(f"/admin/org/user/{user.pk}/password/",
                          {"password1": "another-new-password-9", "password2": "another-new-password-9"})
    assert response.status_code == 302, response.content.decode()[:3000]
    assert _me(client, token) == 401
    assert [e["reason"] for e in _events("auth.tokens_revoked")] == ["password_changed", "password_changed"]
    other = _token(client, username="approver_bj").json()["token"]
    bank["approver_bj"].save()  # saving a user without a new password revokes nothing
    assert _me(client, other) == 200


def test_revoke_tokens_command(bank, client, capsys) -> None:
    from creditplan.cli import product_help

    tokens = [_token(client).json()["token"] for _ in range(2)]
    call_command("revoke_tokens", user="officer_bj")
    assert "revoked 2 API tokens of officer_bj" in capsys.readouterr().out
    assert [_me(client, t) for t in tokens] == [401, 401]
    assert _events("auth.tokens_revoked") == [{"actor": "system", "username": "officer_bj", "tokens": 2,
                                               "reason": "command"}]
    with pytest.raises(CommandError, match="no user"):
        call_command("revoke_tokens", user="nobody")
    line = next(ln for ln in product_help().splitlines() if ln.strip().startswith("revoke-tokens"))
    assert "Revoke every API token of a user" in line


def test_admin_actions_revoke_tokens(bank, client, admin_client) -> None:
    officer, approver = _token(client).json()["token"], _token(client, username="approver_bj").json()["token"]
    admin_client.force_login(bank["admin"])
    row = ApiToken.objects.get(user__username="officer_bj")
    response = admin_client.post("/admin/org/apitoken/", {"action": "revoke", "_selected_action": [row.pk]})
    assert response.status_code == 302
    assert (_me(client, officer), _me(client, approver)) == (401, 200)
    response = admin_client.post("/admin/org/user/", {"action": "revoke_user_tokens",
                                                      "_selected_action": [bank["approver_bj"].pk]})
    assert response.status_code == 302 and _me(client, approver) == 401
    assert [(e["actor"], e["username"], e["reason"]) for e in _events("auth.tokens_revoked")] == [
        ("admin", "officer_bj", "admin"), ("admin", "approver_bj", "admin")]


def test_only_user_managers_revoke_other_peoples_tokens(bank) -> None:
    from creditplan.core.errors import Forbidden

    with pytest.raises(Forbidden):
        org.revoke_tokens(bank["officer_sh"], "officer_bj")
    assert org.revoke_tokens(bank["admin"], "officer_bj") == 0


# --------------------------------------------------------------------------------------------------------------
# Throttling
# --------------------------------------------------------------------------------------------------------------

def test_thirty_wrong_passwords_lock_the_user_even_against_the_right_one(bank, client, clock,
                                                                         password_checks) -> None:
    statuses = [_token(client, password=WRONG).status_code for _ in range(30)]
    # five free failures, the sixth locks for 2 s; meanwhile every attempt is refused unchecked
    assert statuses[:6] == [401] * 6 and set(statuses[6:]) == {429}
    assert len(password_checks) == 6
    refused = _token(client)  # the right password, still refused
    assert refused.status_code == 429 and refused["Retry-After"] == "2"
    assert refused.json()["code"] == "too_many_attempts" and "try again in 2 seconds" in refused.json()["detail"]
    assert len(password_checks) == 6  # a refused attempt costs no password check
    clock.advance(2)
    assert _token(client).status_code == 200
    assert not LoginThrottle.objects.filter(key=throttle.user_key("officer_bj")).exists()  # success clears it
    assert _token(client, password=WRONG).status_code == 401  # the count started over


def test_the_back_off_doubles_with_each_further_failure(bank, client, clock) -> None:
    waits = []
    for _ in range(12):
        response = _token(client, password=WRONG)
        if response.status_code == 429:
            waits.append(int(response["Retry-After"]))
            clock.advance(waits[-1])
            response = _token(client, password=WRONG)
        assert response.status_code == 401
    refused = _token(client, password=WRONG)
    waits.append(int(refused["Retry-After"]))
    assert waits == [2, 4, 8, 16, 32, 64, 128]
    # capped at a quarter of an hour, and a day without failures forgets the count
    row = LoginThrottle.objects.get(key=throttle.user_key("officer_bj"))
    assert throttle.policy("user").lock_for(row.failures + 20) == dt.timedelta(minutes=15)
    clock.advance(24 * 3600 + 1)
    assert _token(client, password=WRONG).status_code == 401
    assert LoginThrottle.objects.get(key=throttle.user_key("officer_bj")).failures == 1


def test_one_address_trying_many_names_is_locked_and_others_are_not(bank, client, clock) -> None:
    for i in range(21):
        assert _token(client, username=f"guess{i}", password=WRONG, REMOTE_ADDR="203.0.113.7").status_code == 401
    assert _token(client, REMOTE_ADDR="203.0.113.7").status_code == 429  # a real user behind that address too
    assert _token(client, REMOTE_ADDR="198.51.100.4").status_code == 200  # elsewhere, the same user gets in
    clock.advance(2)
    assert _token(client, REMOTE_ADDR="203.0.113.7").status_code == 200


def test_the_state_is_in_the_database_shared_by_every_worker(bank, clock) -> None:
    for _ in range(6):
        throttle.record_failure("officer_bj", "203.0.113.7")
    assert LoginThrottle.objects.filter(key=throttle.user_key("officer_bj"), failures=6,
                                        locked_until__gt=clock.now).exists()
    assert "officer_bj" not in "".join(LoginThrottle.objects.values_list("key", flat=True))  # names are hashed
    with pytest.raises(throttle.TooManyAttempts):
        throttle.check("officer_bj", "")


def test_the_log_in_page_is_throttled_with_a_sentence_saying_when(bank, client, clock, password_checks) -> None:
    form = {"username": "approver_bj", "password": WRONG}
    for _ in range(6):
        page = client.post("/login/", form)
        assert page.status_code == 200 and "用户名或密码错误" in page.content.decode()
    page = client.post("/login/", {**form, "password": PASSWORD})
    assert page.status_code == 429 and page["Retry-After"] == "2"
    assert "登录失败次数过多，请在 2 秒后重试。" in page.content.decode()
    assert len(password_checks) == 6
    english = client.post("/login/", {**form, "password": PASSWORD}, HTTP_ACCEPT_LANGUAGE="en")
    assert "Too many failed log-ins. Try again in 2 seconds." in english.content.decode()
    clock.advance(2)
    assert client.post("/login/", {**form, "password": PASSWORD}).status_code == 302


def test_the_page_and_the_api_share_one_count(bank, client, clock) -> None:
    for _ in range(3):
        client.post("/login/", {"username": "risk", "password": WRONG})
    for _ in range(3):
        assert _token(client, username="risk", password=WRONG).status_code == 401
    assert _token(client, username="risk").status_code == 429


def test_the_admin_log_in_is_throttled_too(bank, client, clock, password_checks) -> None:
    form = {"username": "admin", "password": WRONG, "next": "/admin/"}
    for _ in range(6):
        assert client.post("/admin/login/", form).status_code == 200
    page = client.post("/admin/login/", {**form, "password": PASSWORD}, HTTP_ACCEPT_LANGUAGE="en")
    assert "Too many failed log-ins. Try again in 2 seconds." in page.content.decode()
    assert len(password_checks) == 6 and "_auth_user_id" not in client.session
    clock.advance(2)
    assert client.post("/admin/login/", {**form, "password": PASSWORD}).status_code == 302
