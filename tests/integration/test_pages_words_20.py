"""Issue 20 (page walk): the webhook pages name events in words (the code in <code> beside, where a developer needs
it), the signature header and the JSON body are marked as data, and a Chinese page holds no English words."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.db import transaction
from django.test import Client

from creditplan.integration import services as integration
from creditplan.ledger import services as ledger

_ALLOWED = {"Webhook", "JSON", "HMAC", "SHA", "URL", "CRM", "HTTP", "Excel", "CSV", "creditplan", "min"}


def _client(user: Any, lang: str) -> Client:
    c = Client(HTTP_ACCEPT_LANGUAGE=lang)
    c.force_login(user)
    return c


def _seen(html: str) -> str:
    """<main> as a user reads it: no tags, nothing marked as data (<code>, <pre>, class "data"), no form values."""
    main = html.split("<main", 1)[1].split("</main>", 1)[0]
    main = re.sub(r"<(code|pre|script|style)\b[^>]*>.*?</\1>", " ", main, flags=re.S)
    main = re.sub(r"<(td|span|dd|div) class=\"[^\"]*\bdata\b[^\"]*\"[^>]*>.*?</\1>", " ", main, flags=re.S)
    return re.sub(r"<[^>]+>", " ", main)


def _latin(text: str) -> set[str]:
    return {w for w in re.findall(r"[A-Za-z][A-Za-z0-9_\-]+", text)
            if w not in _ALLOWED and not any(c.isdigit() for c in w)}


@pytest.fixture
def delivered(bank: dict[str, Any], settings: Any) -> int:
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    settings.DEVELOPMENT = True
    integration.create_endpoint(bank["admin"], name="CRM", url="http://127.0.0.1:9/hooks",
                                events="application.*, risk.alert_raised")
    with transaction.atomic():
        ledger.append(None, "application.submitted", "application", "AP-W-1",
                      {"amount_minor": 100, "quota_status": "not_checked"})
    integration.dispatch(now=dt.datetime(2025, 7, 1, 9, tzinfo=dt.UTC))
    [d] = integration.list_deliveries(bank["admin"])
    return d.id


def test_the_chinese_webhook_page_names_events_in_words(bank, delivered) -> None:
    html = _client(bank["admin"], "zh-hans").get("/integration/").content.decode()
    seen = _seen(html)
    assert not _latin(seen), sorted(_latin(seen))
    assert "<code>X-Creditplan-Signature</code>" in html and "请求头" in seen
    assert "贷款申请（全部事件）" in seen and "风险预警已触发" in seen and "<code>risk.alert_raised</code>" in html
    en = _seen(_client(bank["admin"], "en").get("/integration/").content.decode())
    assert "Applications (every event)" in en and "alert_raised" not in en


def test_the_delivery_log_and_a_delivery_show_the_event_in_words_and_the_body_as_data(bank, delivered) -> None:
    for lang, words in (("zh-hans", "申请已提交"), ("en", "Application submitted")):
        log = _client(bank["admin"], lang).get("/integration/deliveries/").content.decode()
        assert words in _seen(log) and "application.submitted" not in _seen(log)
        page = _client(bank["admin"], lang).get(f"/integration/deliveries/{delivered}/").content.decode()
        seen = _seen(page)
        assert words in seen
        for code in ("amount_minor", "not_checked", "occurred_at", "leaf_hash", "application.submitted"):
            assert code not in seen, code
        assert re.search(r'<pre class="[^"]*\bdata\b[^"]*" translate="no"', page)
        if lang == "zh-hans":
            assert not _latin(seen), sorted(_latin(seen))
