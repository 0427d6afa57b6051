"""Issue 20: the loan pages name repayment methods and five-category classes in the page's language only (no
"Equal installment (等额本息)" on an English page), and the loan list sits in a box that scrolls by itself so the
page never scrolls sideways."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest

from factories import PASSWORD

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}
HAN = re.compile(r"[\u4e00-\u9fff]")
METHODS_ZH = ("等额本息", "等额本金", "先息后本", "到期一次还本付息")
CLASSES_ZH = ("正常", "关注", "次级", "可疑", "损失")
CLASSES_EN = ("Normal", "Special mention", "Substandard", "Doubtful", "Loss")


def login(client: Any, username: str) -> Any:
    assert client.login(username=username, password=PASSWORD)
    return client


def options(page: str, name: str) -> list[str]:
    select = re.search(rf'<select name="{name}"[^>]*>(.*?)</select>', page, flags=re.S)
    assert select, name
    return [html.unescape(o).strip() for o in re.findall(r"<option[^>]*>(.*?)</option>", select.group(1), flags=re.S)]


@pytest.mark.django_db
@pytest.mark.parametrize("user", ["customer", "officer_bj"])
def test_the_calculator_names_the_methods_in_the_pages_language_only(client, loan_world, compiled_catalogue,
                                                                     user):
    login(client, user)
    en = options(client.get("/loans/calculator/", **EN).content.decode(), "method")
    assert en == ["Equal installment", "Equal principal", "Interest only, principal at maturity",
                  "Bullet: principal and interest at maturity"]
    assert not [o for o in en if HAN.search(o)]
    zh = options(client.get("/loans/calculator/", **ZH).content.decode(), "method")
    assert zh == list(METHODS_ZH)


@pytest.mark.django_db
def test_the_loan_list_names_the_classes_in_the_pages_language_only(client, loan_world, make_loan,
                                                                    compiled_catalogue):
    make_loan()
    login(client, "officer_bj")
    en_page = client.get("/loans/", **EN).content.decode()
    en = options(en_page, "risk_class")
    assert en == ["All classes", *CLASSES_EN]
    zh = options(client.get("/loans/", **ZH).content.decode(), "risk_class")
    assert zh[1:] == list(CLASSES_ZH) and not [o for o in zh if re.search(r"[A-Za-z]", o)]
    # the table is inside its own horizontal scroll box: a narrow window scrolls the list, not the page
    box = en_page.index('<div class="table-scroll" id="loan-table-box">')
    assert box < en_page.index('id="loan-table"') < en_page.index("</div>", box)
