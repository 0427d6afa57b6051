"""Issue 20 §1, errors users understand: a failed request gives a page in the reader's language, in the site's layout,
with a way home — never Django's debug page, a traceback, the URL list or a developer's message; /api/ paths answer
problem+json. And a refusal names the role and the action in words, not codes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

from factories import PASSWORD

ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
ROOT = Path(__file__).resolve().parents[2]
# What Django's own error pages show (the debug 404 lists every URL pattern; the debug 500 a traceback)
DEBUG_MARKS = ("Traceback", "URLconf", "Using the URLconf", "Django tried these URL patterns", "technical_500",
               "RuntimeError", "Request Method", "DEBUG = True", "<h1>Not Found</h1>", "Server Error (500)")


def _clean(html: str) -> None:
    for mark in DEBUG_MARKS:
        assert mark not in html, mark


def _has_no_chinese(html: str) -> bool:
    body = html.split("<main>", 1)[-1]
    return not any("\u4e00" <= ch <= "\u9fff" for ch in body)


@pytest.mark.django_db
def test_an_unknown_address_gives_a_chinese_page_with_a_way_home(client):
    response = client.get("/no/such/page/", **ZH)
    html = response.content.decode()
    assert response.status_code == 404 and response["Content-Type"].startswith("text/html")
    assert "页面不存在" in html and "请检查地址" in html and "首页" in html
    assert 'href="/"' in html and 'class="top"' in html  # the site's layout, with the link home
    assert "Page not found" not in html and "Not Found" not in html
    _clean(html)


@pytest.mark.django_db
def test_an_unknown_address_gives_an_english_page_to_an_english_reader(client):
    response = client.get("/no/such/page/", **EN)
    html = response.content.decode()
    assert response.status_code == 404
    assert "Page not found" in html and "Home page" in html and _has_no_chinese(html)
    _clean(html)


@pytest.mark.django_db
def test_an_unknown_api_address_answers_problem_json(client):
    response = client.get("/api/no-such-endpoint", **ZH)
    assert response.status_code == 404 and response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "not_found" and response.json()["status"] == 404


def test_a_refusal_names_the_role_and_the_action_in_words_not_codes(client, bank):
    """Was "your role (loan_officer) may not do this (plan.manage)" on the Chinese page too."""
    assert client.login(username="officer_bj", password=PASSWORD)
    zh = client.get("/plans/new/", **ZH)
    html = zh.content.decode()
    assert zh.status_code == 403
    assert "您的角色（客户经理）无权执行此操作：编制和调整信贷计划。" in html
    assert "loan_officer" not in html and "plan.manage" not in html and "may not" not in html
    en = client.get("/plans/new/", **EN)
    html = en.content.decode()
    assert en.status_code == 403
    assert "Your role (Loan officer) may not do this: draw up and change the credit plan." in html
    assert "loan_officer" not in html and "plan.manage" not in html and _has_no_chinese(html)
    _clean(html)


def test_the_api_keeps_the_precise_refusal_with_its_codes(client, bank):
    assert client.login(username="officer_bj", password=PASSWORD)
    response = client.get("/api/v1/models")  # a loan officer may not see scoring models
    body = response.json()
    assert response.status_code == 403 and response["Content-Type"] == "application/problem+json"
    assert body["code"] == "permission_denied" and body["permission"] == "model.view"
    assert body["role"] == "loan_officer"


def test_an_unexpected_failure_in_a_view_gives_the_500_page_in_both_languages(bank, monkeypatch):
    from creditplan.web import views

    def broken(user):  # type: ignore[no-untyped-def]
        raise RuntimeError("a bug nobody should see: /srv/creditplan/secret.py line 12")

    monkeypatch.setattr(views, "_overview", broken)
    client = Client(raise_request_exception=False)
    assert client.login(username="planner", password=PASSWORD)
    zh = client.get("/", **ZH)
    html = zh.content.decode()
    assert zh.status_code == 500 and "系统出错了" in html and "首页" in html
    assert "a bug nobody should see" not in html and "secret.py" not in html
    _clean(html)
    en = client.get("/", **EN)
    html = en.content.decode()
    assert en.status_code == 500 and "Something went wrong" in html and _has_no_chinese(html)
    assert "a bug nobody should see" not in html
    _clean(html)


def test_an_unexpected_failure_under_the_api_answers_problem_json(bank, monkeypatch):
    from creditplan.web import error_views

    request = type("R", (), {"path_info": "/api/v1/customers", "path": "/api/v1/customers"})()
    response = error_views.server_error(request)  # type: ignore[arg-type]
    assert response.status_code == 500 and response["Content-Type"] == "application/problem+json"
    assert b"server_error" in response.content


@pytest.mark.django_db
def test_a_bad_host_gives_the_400_page_not_a_debug_page():
    client = Client(raise_request_exception=False)
    response = client.get("/", HTTP_HOST="evil.example", **ZH)
    html = response.content.decode()
    assert response.status_code == 400 and "无法识别该请求" in html
    _clean(html)


def test_an_expired_form_is_said_in_the_readers_language(bank):
    """A form posted without its CSRF token (open too long, session renewed): Django's page is English and names
    CSRF; ours says what to do."""
    client = Client(enforce_csrf_checks=True)
    assert client.login(username="planner", password=PASSWORD)
    response = client.post("/plans/new/", {"code": "x"}, **ZH)
    html = response.content.decode()
    assert response.status_code == 403 and "表单已过期" in html and "请刷新页面后重新提交" in html
    assert "CSRF verification failed" not in html and "Forbidden" not in html
    _clean(html)


def test_debug_pages_are_off_unless_a_developer_turns_them_on():
    """DEBUG is CREDITPLAN_DEBUG (default 0); development mode and the demo (`make demo`) do not turn it on."""
    env = {k: v for k, v in os.environ.items() if k != "CREDITPLAN_DEBUG"}
    env.update(CREDITPLAN_DEVELOPMENT="1", DJANGO_SETTINGS_MODULE="creditplan.settings")
    code = "import creditplan.settings as s; print(s.DEBUG, s.DEVELOPMENT)"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.split() == ["False", "True"]
    demo = (ROOT / "Makefile").read_text().split("\ndemo:", 1)[1].split("\n\n", 1)[0]
    assert "CREDITPLAN_DEBUG" not in demo and "--debug" not in demo
