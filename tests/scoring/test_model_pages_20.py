"""Issue 20 §4/§7: the model pages — the validation report in the page's language only, with the registry's
navigation around it (its own address opened in a tab leads to the model page), a confirmation before retiring a
version or promoting a champion, statuses in words."""

from __future__ import annotations

import re
from typing import Any

import pytest

from creditplan.org import services as org
from creditplan.scoring import demo
from creditplan.scoring import services as scoring
from factories import PASSWORD

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}
_CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture
def champion(bank: dict[str, Any], client: Any) -> Any:
    approver = org.create_user(None, username="risk2", password="test-pass-123", role="risk_manager",
                               branch_code="HO", display_name="risk2")
    demo.seed_models(bank["risk"], approver)
    assert client.login(username="risk", password=PASSWORD)
    return next(v for v in scoring.list_versions(bank["risk"]) if v.status == "champion" and v.model == "retail-pd")


def _shown(html: str, hidden: str) -> str:
    """The report's visible text: the section of the other language removed, as the served style hides it."""
    visible = re.sub(rf'<section lang="{hidden}">.*?</section>', "", html, flags=re.S)
    visible = re.sub(r"<(style|title)>.*?</\1>", "", visible, flags=re.S)
    visible = re.sub(r"<svg.*?</svg>", lambda m: " ".join(re.findall(r">([^<]+)<", m.group(0))), visible, flags=re.S)
    return re.sub(r"<[^>]+>", " ", visible)


def test_the_report_in_the_frame_is_in_the_pages_language_only(client: Any, champion: Any) -> None:
    zh = client.get(f"/models/{champion.id}/report/", HTTP_SEC_FETCH_DEST="iframe", **ZH).content.decode()
    assert 'section[lang="en"]{display:none}' in zh
    text = _shown(zh, "en")
    assert "模型验证报告" in text and "征信还款记录" in text and "曾有逾期" in text
    words = set(re.findall(r"[A-Za-z][A-Za-z_]{3,}", text))
    assert words <= {"scorecard", "creditplan", "sha", "inf", "Gini"} | {w for w in words if re.match(r"scorecard", w)}, words
    en = client.get(f"/models/{champion.id}/report/", HTTP_SEC_FETCH_DEST="iframe", **EN).content.decode()
    assert 'section[lang="zh-Hans"]{display:none}' in en
    text = _shown(en, "zh-Hans")
    assert "Validation report" in text and "Repayment record at the bureau" in text and "Overdue in the past" in text
    assert not _CJK.search(text)
    assert "overdue_past" not in text and "current_account" not in text  # the codes are words


def test_the_reports_address_opened_in_a_tab_leads_to_the_model_page_with_navigation(client: Any,
                                                                                      champion: Any) -> None:
    r = client.get(f"/models/{champion.id}/report/", HTTP_SEC_FETCH_DEST="document", **EN)
    assert r.status_code == 302 and r["Location"] == f"/models/{champion.id}/#report-frame"
    page = client.get(f"/models/{champion.id}/", **EN).content.decode()
    nav = page.split('id="model-nav"', 1)[1].split("</nav>", 1)[0]
    assert 'href="/models/"' in nav and "All models" in nav


@pytest.mark.parametrize("lang", [EN, ZH])
def test_retiring_and_promoting_ask_first(client: Any, bank: dict[str, Any], champion: Any,
                                          lang: dict[str, str]) -> None:
    page = client.get(f"/models/{champion.id}/", **lang).content.decode()
    retire = page.split(f'action="/models/{champion.id}/retire/"', 1)[1].split(">", 1)[0]
    assert 'data-confirm="' in retire
    question = retire.split('data-confirm="', 1)[1].split('"', 1)[0]
    assert ("冠军" in question) if lang is ZH else ("champion" in question and not _CJK.search(question))
    assert ">冠军模型<" in page if lang is ZH else ">Champion<" in page  # the status in words
    challenger = next(v for v in scoring.list_versions(bank["risk"]) if v.status == "draft")
    scoring.validate_version(bank["risk"], challenger.id)
    scoring.approve_version(_risk2(), challenger.id)
    page = client.get(f"/models/{challenger.id}/", **lang).content.decode()
    promote = page.split(f'action="/models/{challenger.id}/champion/"', 1)[1].split(">", 1)[0]
    assert 'data-confirm="' in promote


def _risk2() -> Any:
    from creditplan.org.models import User

    return User.objects.get(username="risk2")
