"""Issue 20: a review task opened by a watch-list entry that a court judgment raised names the record's source in
the page's language: 中国裁判文书网 on the Chinese page, China Judgements Online on the English one (the stored
signal keeps the source as imported; the page names it)."""

from __future__ import annotations

import datetime as dt
import html
import re
from typing import Any

import pytest

from creditplan.customers import services as customers
from creditplan.customers.models import Customer
from creditplan.risk.models import ReviewTask, WatchEntry
from creditplan.risk.services import reviews, signals
from factories import PASSWORD, individual

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}


def visible(page: str) -> str:
    body = page.split("<main>", 1)[1].split("</main>", 1)[0]
    body = re.sub(r"<(script|style|textarea)\b.*?</\1>", " ", body, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", body))


@pytest.mark.django_db
def test_the_review_task_and_the_watch_entry_name_the_source_in_the_pages_language(client: Any,
                                                                                   bank: dict[str, Any]) -> None:
    customer = customers.create_customer(bank["officer_bj"], individual(1, branch="BJ01"))
    day = dt.date.today()
    entry = WatchEntry.objects.create(
        customer_id=customer.id, branch_id=Customer.objects.get(pk=customer.id).branch_id, entered_on=day, entry_level="orange", level="orange",
        peak_level="orange", updated_on=day, reason={
            "score": 30, "rule": "external_record", "message_en": "A negative external record: at least orange",
            "message_zh": "有外部负面记录：至少橙色", "signals": [{"code": "external_negative", "weight": 30, "figures": {
                "records": 1, "kind": "court_judgment", "date": "2026-11-05", "source": "中国裁判文书网",
                "days": 90}}]})
    reviews.on_watch_changes(signals.WatchChanges(day, (signals.WatchChange(entry.pk, customer.id, "entered",
                                                                            "orange", day),)))
    task = ReviewTask.objects.get(customer_id=customer.id)
    assert client.login(username="risk", password=PASSWORD)
    for url in (f"/post-loan/{task.pk}/", f"/risk/watch/{entry.pk}/"):
        en = visible(client.get(url, **EN).content.decode())
        assert "Court judgment reported by China Judgements Online on 2026-11-05" in en, url
        assert "中国裁判文书网" not in en and "法院判决" not in en, url
        zh = visible(client.get(url, **ZH).content.decode())
        assert "中国裁判文书网于2026-11-05记录法院判决" in zh, url
        assert "China Judgements Online" not in zh, url
