"""Early-warning pages in Chinese and English (no English on a Chinese page, no raw code on any): the watch list, an
entry, the customer page's warning box, the weights a risk manager changes, the import of external records refused
line by line; the API; the warning-level table on the policy pages under its own name."""

from __future__ import annotations

import datetime as dt
import html
import re
from typing import Any

import pytest
from signal_book import pay_on_time

from creditplan.risk.models import ExternalRecord, SignalWeight, WatchEntry
from creditplan.risk.services import signals
from factories import PASSWORD

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}
DAY = dt.date(2025, 3, 10)
RAW = re.compile(r"\b(first_missed_payment|dpd_rising|class_downgrade|behaviour_worse|utilisation_jump|inflow_fall|"
                 r"external_negative|group_member_bad|score_\w+|external_record|court_judgment|ruleset:[\w-]+)\b")
ENUM_CELLS = {"green", "yellow", "orange", "red", "open", "closed", "blacklist", "enforcement"}


@pytest.fixture
def world(risk_book: dict[str, Any], close_days: Any, settings: Any) -> dict[str, Any]:
    """The risk book kept daily to 10 March 2025, the second customer never paying and with a court judgment, the
    signals run on 10 March: that customer is orange and on the watch list."""
    settings.RISK_AFTER_CLOSE = "snapshot"
    bad = risk_book["customers"][1]
    close_days(dt.date(2025, 1, 15), DAY, pay=pay_on_time(risk_book))
    signals.import_external_records(risk_book["risk"], [{
        "customer_id": str(bad), "kind": "court_judgment", "source": "中国裁判文书网", "reference": "(2025)京0108民初9号",
        "record_date": "2025-03-01"}], today=DAY)
    signals.run_signals(DAY)
    return {**risk_book, "bad": bad, "entry": WatchEntry.objects.get(customer_id=bad)}


def login(client: Any, username: str) -> Any:
    assert client.login(username=username, password=PASSWORD)
    return client


def visible(page: str) -> str:
    body = page.split("<main>", 1)[1].split("</main>", 1)[0]
    body = re.sub(r"<(script|style|textarea)\b.*?</\1>", " ", body, flags=re.S)
    body = re.sub(r"<code\b.*?</code>", " ", body, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", body))


def assert_chinese(page: str) -> None:
    text = visible(page)
    assert not RAW.findall(text), RAW.findall(text)
    words = set(re.findall(r"\b[A-Za-z][A-Za-z_]+\b", text)) - {"consumer", "CSV"}
    assert not words, sorted(words)


def assert_english(page: str) -> None:
    text = visible(page)
    assert not RAW.findall(text), RAW.findall(text)
    main = page.split("<main>", 1)[1]
    cells = re.findall(r"<(?:td|dd|option|th|span|li)\b[^>]*>\s*([^<]*?)\s*<", main)
    assert not [c for c in cells if c.strip() in ENUM_CELLS], [c for c in cells if c.strip() in ENUM_CELLS]


@pytest.mark.django_db
def test_the_watch_list_and_an_entry_in_both_languages(client: Any, world: dict[str, Any]) -> None:
    login(client, "risk")
    entry = world["entry"]
    for url in ("/risk/watch/", "/risk/watch/?status=all", f"/risk/watch/{entry.pk}/", "/risk/watch/weights/",
                "/risk/watch/external/"):
        zh = client.get(url, **ZH)
        assert zh.status_code == 200, url
        assert_chinese(zh.content.decode())
        en = client.get(url, **EN)
        assert en.status_code == 200, url
        assert_english(en.content.decode())
    zh = visible(client.get("/risk/watch/", **ZH).content.decode())
    assert "张三2" in zh and "橙色" in zh and "加权得分55至79分" in zh and "首次逾期" in zh
    en = visible(client.get(f"/risk/watch/{entry.pk}/", **EN).content.decode())
    assert "Days past due rose from 0 a month ago and 16 a week ago to 23." in en
    assert "Court judgment reported by China Judgements Online on 2025-03-01" in en and "Weighted score from 55 to 79" in en
    # a loan officer has no risk view: refused
    client.logout()
    login(client, "officer_bj")
    assert client.get("/risk/watch/", **ZH).status_code == 403


@pytest.mark.django_db
def test_the_customer_page_shows_the_level_and_the_signals_explained(client: Any, world: dict[str, Any]) -> None:
    login(client, "officer_bj")  # the customer's own branch: sees the box (no watch-list link without risk view)
    page = client.get(f"/customers/{world['bad']}/", **ZH).content.decode()
    text = visible(page)
    assert "预警" in text and "橙色" in text
    assert "逾期天数由一个月前0天、一周前16天升至23天。" in text
    assert "中国裁判文书网于2025-03-01记录法院判决" in text
    assert f"/risk/watch/{world['entry'].pk}/" not in page
    assert not RAW.findall(text)
    client.logout()
    login(client, "risk")
    page = client.get(f"/customers/{world['bad']}/", **EN).content.decode()
    assert "Orange" in visible(page) and f"/risk/watch/{world['entry'].pk}/" in page
    good = client.get(f"/customers/{world['customers'][0]}/", **EN).content.decode()
    assert "No early-warning signal." in visible(good) and "Green" in visible(good)


@pytest.mark.django_db
def test_a_risk_manager_changes_the_weights_and_a_bad_weight_is_shown_at_its_box(client: Any,
                                                                                world: dict[str, Any]) -> None:
    login(client, "risk")
    form = {f"weight_{code}": str(w) for code, w in signals.weights().items()}
    bad = client.post("/risk/watch/weights/", {**form, "weight_dpd_rising": "很多"}, **ZH)
    assert bad.status_code == 422 and "0到1000之间的整数" in visible(bad.content.decode())
    assert not SignalWeight.objects.exists()
    ok = client.post("/risk/watch/weights/", {**form, "weight_dpd_rising": "40"}, **ZH)
    assert ok.status_code == 302 and signals.weights()["dpd_rising"] == 40
    client.logout()
    login(client, "auditor")  # sees the weights, cannot change them
    assert client.post("/risk/watch/weights/", {**form, "weight_dpd_rising": "1"}).status_code == 403


@pytest.mark.django_db
def test_an_import_with_a_bad_line_is_refused_naming_the_line_and_the_field(client: Any,
                                                                           world: dict[str, Any]) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    login(client, "risk")
    good = f"{world['customers'][0]},黑名单,某征信机构,BL-7,2025-03-02"
    text = f"customer_id,kind,source,reference,record_date\n{good}\n{world['customers'][2]},传闻,某机构,X-1,2025-03-02\n"
    page = client.post("/risk/watch/external/", {"file": SimpleUploadedFile("r.csv", text.encode())}, **ZH)
    assert page.status_code == 422
    assert "第3行，种类：" in visible(page.content.decode())
    assert ExternalRecord.objects.count() == 1  # the judgment of the fixture only
    page = client.post("/risk/watch/external/", {"file": SimpleUploadedFile("r.csv", f"customer_id,kind,source,"
                                                 f"reference,record_date\n{good}\n".encode())}, **ZH)
    assert page.status_code == 302 and ExternalRecord.objects.count() == 2


@pytest.mark.django_db
def test_the_api_imports_records_refuses_bad_ones_by_field_and_reads_levels(client: Any,
                                                                            world: dict[str, Any]) -> None:
    login(client, "risk")
    record = {"customer_id": world["customers"][0], "kind": "enforcement", "source": "执行信息公开网",
              "reference": "ZX-1", "record_date": "2025-03-05"}
    bad = client.post("/api/v1/early-warning/external-records",
                      {"records": [record, {**record, "reference": "ZX-2", "record_date": "05/03/2025"}]},
                      content_type="application/json")
    assert bad.status_code == 422
    body = bad.json()
    assert body["errors"][0]["field"] == "rows[1].record_date" and body["errors"][0]["code"] == "date_format"
    ok = client.post("/api/v1/early-warning/external-records", {"records": [record]}, content_type="application/json")
    assert ok.status_code == 201 and ok.json()["created"] == 1
    warning = client.get(f"/api/v1/early-warning/customers/{world['bad']}").json()
    assert warning["level"] == "orange" and [s["code"] for s in warning["signals"]] == [
        "first_missed_payment", "dpd_rising", "external_negative"]
    assert warning["signals"][1]["explain_zh"] == "逾期天数由一个月前0天、一周前16天升至23天。"
    watch = client.get("/api/v1/early-warning/watch").json()
    assert [(w["customer_id"], w["level"], w["rule"]) for w in watch] == [(world["bad"], "orange", "score_orange")]
    client.logout()
    login(client, "officer_bj")
    assert client.post("/api/v1/early-warning/external-records", {"records": [record]},
                       content_type="application/json").status_code == 403


@pytest.mark.django_db
def test_the_level_table_is_on_the_policy_pages_under_its_own_name(client: Any, world: dict[str, Any]) -> None:
    login(client, "risk")
    zh = client.get("/decisions/", **ZH).content.decode()
    assert "预警等级" in visible(zh) and "ruleset:" not in visible(zh)
    from creditplan.decisions import services as decisions

    policy = next(p for p in decisions.list_policies(world["risk"]) if p.product == signals.WARNING_RULESET)
    assert policy.published is not None
    page = client.get(f"/decisions/versions/{policy.published.id}/", **ZH).content.decode()
    assert "预警等级" in visible(page) and "橙色" in visible(page) and "模拟" not in visible(page)
    tests = client.get(f"/decisions/versions/{policy.published.id}/tests/", **EN).content.decode()
    assert "Example cases" in tests and "Orange" in visible(tests)
