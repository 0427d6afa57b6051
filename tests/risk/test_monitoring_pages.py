"""The model monitoring pages in Chinese and English: every champion and challenger with its verdicts, one version's
PSI by week, CSI per feature, approval by grade, cohorts and calibration — in words, never a raw code."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

import pytest
from monitoring_book import add_decisions, german_scorecard, moment, records, register_champion

from creditplan.risk.services import monitoring
from creditplan.scoring import engine
from creditplan.scoring import services as scoring
from factories import PASSWORD

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}
WEEK = dt.date(2026, 11, 16)
RAW = ("insufficient_data", "stable", "watch", "champion", "challenger", "scorecard", "has_reference", "missing",
       "special")
"""Codes a page must never show (checked on the words a person sees, not on CSS classes)."""


@pytest.fixture
def monitored(bank: dict[str, Any], settings: Any, tmp_path: Any) -> dict[str, Any]:
    """retail-pd v1 champion (with its development profile), monitored two weeks: the second week's applicants all
    have the riskiest current-account status. v2 registered without a profile, challenger on 10 % of traffic."""
    settings.RISK_DIR = str(tmp_path / "risk")
    v1 = register_champion(bank)
    result, X = german_scorecard()
    v2 = scoring.register_version(bank["risk"], model_name="retail-pd", artifact=result.artifact,
                                  metrics=engine.artifact_metrics(result.artifact), report_html="<p>report</p>").id
    scoring.validate_version(bank["risk"], v2)
    scoring.approve_version(bank["admin"], v2)
    scoring.set_challenger(bank["admin"], "retail-pd", v2, 10)
    rows = records(X.iloc[result.train_rows])
    add_decisions(v1, rows, at=moment(WEEK + dt.timedelta(days=1)), prefix="A")
    add_decisions(v1, [{**r, "current_account": "overdrawn"} for r in rows], at=moment(WEEK + dt.timedelta(days=8)),
                  prefix="B")
    add_decisions(v2, rows[:50], at=moment(WEEK + dt.timedelta(days=8)), prefix="C")
    monitoring.monitor_models(WEEK)
    monitoring.monitor_models(WEEK + dt.timedelta(days=7))
    return {**bank, "v1": v1, "v2": v2}


def _get(client: Any, url: str, lang: dict[str, str]) -> str:
    response = client.get(url, **lang)
    assert response.status_code == 200, url
    return response.content.decode()


def _visible(page: str) -> str:
    """The page's words: its main part without scripts, styles, tags or attributes."""
    body = page[page.index("<main>"):page.index("</main>")]
    body = re.sub(r"<(script|style).*?</\1>", "", body, flags=re.S)
    return re.sub(r"<[^>]+>", " ", body)


def test_the_list_shows_every_champion_and_challenger_with_its_verdicts(client: Any, monitored: dict[str, Any]
                                                                         ) -> None:
    assert client.login(username="risk", password=PASSWORD)
    en = _get(client, "/risk/models/", EN)
    table = en[en.index('id="monitored"'):]
    assert "Champion" in table and "Challenger (10 %)" in table
    assert re.search(r"v1</td>.*?2026-11-23.*?700.*?Act", table, re.S)  # the latest week called for action
    assert "No development profile: retrain or re-register to monitor stability." in table  # v2
    assert f'href="/risk/models/{monitored["v1"]}/"' in table
    zh = _get(client, "/risk/models/", ZH)
    text = _visible(zh)
    for word in ("模型监控", "冠军模型", "挑战者模型", "需处置", "缺少开发样本基准：请重新训练或重新注册模型以监控稳定性。",
                 "月度风险报告", "下载 PDF"):
        assert word in text, word
    for english in ("Champion", "Challenger", "Act", "Stable", "Model monitoring", "Applications", "Overall"):
        assert english not in text, english
    assert not [raw for raw in RAW if raw in text]


def test_a_versions_page_in_english(client: Any, monitored: dict[str, Any]) -> None:
    assert client.login(username="risk", password=PASSWORD)
    page = _get(client, f"/risk/models/{monitored['v1']}/", EN)
    weeks = page[page.index('id="weeks"'):page.index("</table>", page.index('id="weeks"'))]
    assert re.search(r"2026-11-23</td><td class=\"num\">700</td><td class=\"num\">0\.\d{4}</td>\s*<td><span "
                     r"class=\"badge v-act\">Act", weeks)
    assert re.search(r"2026-11-16</td><td class=\"num\">700</td><td class=\"num\">0\.0000</td>\s*<td><span "
                     r"class=\"badge v-stable\">Stable", weeks)
    features = page[page.index('id="features"'):]
    first = features[features.index("<tbody>"):features.index("</tr>", features.index("<tbody>"))]
    assert "Current-account balance" in first and "Act" in first  # the feature that moved, worst first
    assert "Special codes" in features and "Missing" in features
    assert 'id="grades-verdict"' in page and "Approval rate" in page
    assert "No loan has been paid out on this version's decisions yet." in page
    chart = json.loads(re.search(r'<script id="chart-data" type="application/json">(.*?)</script>', page,
                                 re.S).group(1))
    assert chart["thresholds"] == {"watch": 0.1, "act": 0.25}
    assert chart["weeks"] == ["Week of 2026-11-16", "Week of 2026-11-23"]
    assert chart["psi"][0] == 0.0 and chart["psi"][1] > 0.25
    assert len(chart["score_bins"]) == 10 and chart["labels"]["development"] == "Development sample"


def test_a_versions_page_in_chinese_has_no_english_and_no_codes(client: Any, monitored: dict[str, Any]) -> None:
    assert client.login(username="risk", password=PASSWORD)
    page = _get(client, f"/risk/models/{monitored['v1']}/", ZH)
    text = _visible(page)
    for word in ("评分稳定性周度走势（PSI）", "特征稳定性（CSI）", "各评级通过率", "按放款月份的区分能力", "各评级校准", "需处置", "稳定",
                 "活期账户余额", "特殊值", "缺失", "冠军模型", "评分卡"):
        assert word in text, word
    for english in ("Stable", "Act", "Watch", "Insufficient data", "Special codes", "Missing", "Feature stability",
                    "Approval by grade", "Champion", "Scorecard", "Week of"):
        assert english not in text, english
    assert not [raw for raw in RAW if raw in text]
    chart = json.loads(re.search(r'<script id="chart-data" type="application/json">(.*?)</script>', page,
                                 re.S).group(1))
    assert chart["weeks"][0] == "2026-11-16 当周" and chart["labels"]["predicted"] == "预测违约概率"


def test_a_version_without_a_development_profile_says_what_to_do(client: Any, monitored: dict[str, Any]) -> None:
    assert client.login(username="risk", password=PASSWORD)
    en = _get(client, f"/risk/models/{monitored['v2']}/", EN)
    assert "Retrain or re-register to monitor stability." in en and 'id="features"' not in en
    zh = _get(client, f"/risk/models/{monitored['v2']}/", ZH)
    assert "请重新训练或重新注册模型以监控稳定性" in zh


def test_who_sees_model_monitoring(client: Any, monitored: dict[str, Any]) -> None:
    assert client.login(username="officer_bj", password=PASSWORD)  # no risk.view
    assert client.get("/risk/models/").status_code == 403
    assert client.get(f"/risk/models/{monitored['v1']}/").status_code == 403
    assert client.login(username="auditor", password=PASSWORD)
    assert client.get(f"/risk/models/{monitored['v1']}/", **EN).status_code == 200
    assert client.get("/risk/models/999999/", **EN).status_code == 404
    registry = _get(client, "/models/", EN)  # the model registry links here
    assert 'href="/risk/models/"' in registry and "Monitoring in production" in registry
