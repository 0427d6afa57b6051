"""Issue 20 on the credit-line pages: every amount field refuses an absurd amount (1e400, 27 digits, 10^16 yuan)
next to its field and naming it, in the page's language, writing nothing; the line's codes go through one label
table (lines/labels.py); approving or rejecting a change and the risk manager's measure at once ask first."""

from __future__ import annotations

import re

import pytest
from django.utils import translation
from line_data import EN, in_a_year

from creditplan.lines import labels
from creditplan.lines import services as lines
from creditplan.lines.models import CreditLine, LineChange

ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}


def errors(page: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", "", e) for e in re.findall(r'class="errorlist[^>]*>(.*?)</ul>', page, re.S))


@pytest.mark.parametrize("typed", ["1e400", "9" * 27, "10000000000000000"])
def test_a_proposed_line_with_an_absurd_amount_is_refused_naming_the_field(client, world, typed):
    client.force_login(world["officer_bj"])
    form = {"customer_id": str(world["customers"][0]), "amount": typed, "expires_on": in_a_year(),
            "revolving": "yes", "reason": "年度授信", "sub_product_0": "consumer", "sub_amount_0": typed}
    zh = client.post("/lines/new/", form, **ZH)
    assert zh.status_code == 422
    said = errors(zh.content.decode())
    assert "授信金额" in said and not re.search(r"[A-Za-z_]{3,}", said), said
    en = client.post("/lines/new/", form, **EN)
    said = errors(en.content.decode())
    assert en.status_code == 422 and "Line amount (yuan)" in said and "Sub-limit: amount (yuan)" in said
    assert not CreditLine.objects.exists() and not LineChange.objects.exists()


def test_a_change_with_an_absurd_amount_is_refused(client, world, give_line):
    line = give_line()
    client.force_login(world["officer_bj"])
    r = client.post(f"/lines/{line.id}/", {"kind": "increase", "amount": "1e30", "reason": "more"}, **EN)
    assert r.status_code == 422 and "New amount (yuan): not an amount" in errors(r.content.decode())
    assert lines.get_line(world["risk"], line.id).pending is None


@pytest.mark.parametrize(("kind", "code", "en"), [("state", "frozen", "Frozen"), ("kind", "increase", "Increase"),
                                                  ("occupation", "used", "Paid out")])
def test_one_label_table(kind, code, en):
    with translation.override("en"):
        assert labels.label(kind, code) == en
    with translation.override("zh-hans"):
        assert not labels.label(kind, code).isascii()


def test_deciding_a_change_and_a_risk_measure_ask_first(client, world, give_line):
    line = give_line()
    lines.propose_change(world["approver_bj"], line.id, kind="increase", amount="60000.00", reason="more")
    client.force_login(world["risk"])
    page = client.get("/lines/approvals/", **ZH).content.decode()
    assert 'data-confirm="确认批准该变更（提额）？批准后立即生效。"' in page and 'data-confirm="确认驳回该变更（提额）？"' in page
    detail = client.get(f"/lines/{line.id}/", **EN).content.decode()
    assert 'data-confirm="Apply this risk measure to the line now?' in detail
