"""Issue 20 on the risk pages: decisive actions ask first (resolving an alert here; the limit decisions, the review
record and the weights carry the same data-confirm), and the behaviour model's features are named in the page's
language on the model monitoring page, never by their codes (dpd_now, pay_to_due_3m…)."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import translation
from test_pages import world  # noqa: F401  (the fixture: a small book closed to June 2025 with a red NPL ratio)

from creditplan.risk.domain.behaviour import FEATURES
from creditplan.risk.models import Alert
from creditplan.risk.monitoring_labels import feature_label
from factories import PASSWORD

ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


def test_resolving_an_alert_asks_first_in_the_pages_language(client: Any, world: dict[str, Any]) -> None:  # noqa: F811
    alert = Alert.objects.get(indicator__code="npl_ratio", dimension="total", status="open")
    assert client.login(username="risk", password=PASSWORD)
    zh = client.get(f"/risk/alerts/{alert.pk}/", **ZH).content.decode()
    form = zh.split('id="resolve-form"', 1)[1].split(">", 1)[0]
    assert 'data-confirm="确认处置该预警？' in form
    en = client.get(f"/risk/alerts/{alert.pk}/", **EN).content.decode()
    assert 'data-confirm="Resolve this alert?' in en.split('id="resolve-form"', 1)[1].split(">", 1)[0]


@pytest.mark.parametrize("name", FEATURES)
def test_every_behaviour_feature_has_words_in_both_languages(name: str) -> None:
    with translation.override("en"):
        english = feature_label(name)
    with translation.override("zh-hans"):
        chinese = feature_label(name)
    assert english != name and "_" not in english
    assert chinese != name and not chinese.isascii()


def test_a_known_external_source_is_named_in_english_on_an_english_page() -> None:
    from creditplan.risk.domain.signals import explain

    figures = {"kind": "court_judgment", "source": "中国裁判文书网", "date": "2026-11-05", "days": 90, "records": 1}
    assert "China Judgements Online" in explain("external_negative", figures, False)
    assert "中国裁判文书网" in explain("external_negative", figures, True)
