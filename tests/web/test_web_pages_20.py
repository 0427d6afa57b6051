"""The web app's own pages in the page's language (issue 20 §2, found by tests/e2e/test_page_walk.py): the
dashboard's customers by branch and a customer's branch in English on English pages; a customer's history says
who changed it in words ("the system" was the raw actor "system" on Chinese pages); an identity correction's
decision asks for confirmation; the header links the password page."""

from __future__ import annotations

from typing import Any

from django.test import Client

from creditplan.customers.services import create_customer
from creditplan.org.models import Branch
from factories import individual, resident_id


def _client(user: Any, lang: str) -> Client:
    c = Client(HTTP_ACCEPT_LANGUAGE=lang)
    c.force_login(user)
    return c


def test_the_dashboard_names_branches_in_the_pages_language(bank: dict[str, Any]) -> None:
    Branch.objects.filter(code="BJ01").update(name_en="Beijing Haidian sub-branch")
    create_customer(bank["officer_bj"], individual(1))
    english = _client(bank["admin"], "en").get("/").content.decode()
    assert "Beijing Haidian sub-branch" in english and "北京海淀支行" not in english
    chinese = _client(bank["admin"], "zh-hans").get("/").content.decode()
    assert "北京海淀支行" in chinese


def test_a_customer_page_shows_the_branch_and_the_history_in_the_pages_language(bank: dict[str, Any]) -> None:
    Branch.objects.filter(code="BJ01").update(name_en="Beijing Haidian sub-branch")
    from creditplan.customers import services as customers

    customers.import_customers(None, [individual(2, branch="BJ01")])  # an import: the system made the customer
    view = customers.search_customers(bank["admin"], "", page=1).items[0]
    english = _client(bank["admin"], "en").get(f"/customers/{view.id}/").content.decode()
    assert "Beijing Haidian sub-branch" in english and "北京海淀支行" not in english
    chinese = _client(bank["admin"], "zh-hans").get(f"/customers/{view.id}/").content.decode()
    assert "<td>system</td>" not in chinese and "系统" in chinese


def test_deciding_an_identity_correction_asks_first(bank: dict[str, Any]) -> None:
    from creditplan.customers import services as customers

    view = create_customer(bank["officer_bj"], individual(3))
    customers.request_identity_correction(bank["officer_bj"], view.id, {"id_number": resident_id(4)},
                                          "the ID card says otherwise")
    page = _client(bank["ops"], "zh-hans").get("/customers/identity-corrections/").content.decode()
    assert page.count("data-confirm=") == 2  # approve and reject both ask before they act


def test_every_page_links_the_password_page(bank: dict[str, Any]) -> None:
    page = _client(bank["officer_bj"], "zh-hans").get("/").content.decode()
    assert 'href="/org/password/"' in page and "修改密码" in page
