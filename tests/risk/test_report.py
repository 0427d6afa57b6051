"""The monthly risk report as a PDF, in Chinese and in English: the key indicators red first, the trend, the
transition matrix, vintage curves, concentration, the models' stability and the open alerts — read back from the
file as a person would see them (pypdf extracts the text)."""

from __future__ import annotations

import datetime as dt
import io
import re
from typing import Any

import pytest
from django.core.management import call_command
from monitoring_book import register_champion
from pypdf import PdfReader

from creditplan.core.money import to_major
from creditplan.loans import payments
from creditplan.loans import services as loans
from creditplan.risk import report as monthly
from creditplan.risk.models import Alert, IndicatorValue
from creditplan.risk.services import monitoring
from factories import PASSWORD

END = dt.date(2025, 5, 31)


def _text(pdf: bytes) -> str:
    """The PDF's text without spaces. (fpdf2 writes CJK text as two-byte codes through an embedded encoding CMap;
    pypdf reads such a code as two one-byte codes and returns U+0000 before each character: dropped here.)"""
    reader = PdfReader(io.BytesIO(pdf))
    return re.sub(r"[\s\x00]+", "", "".join(page.extract_text() for page in reader.pages))


@pytest.fixture
def month(risk_book: dict[str, Any], close_days: Any) -> dict[str, Any]:
    """Four loans from 15 January 2025 closed day by day to 31 May, indicators run at each month-end; the
    second loan never pays. A champion model monitored in the week of 19 May."""
    payers = [risk_book["loans"][0], risk_book["loans"][2], risk_book["loans"][3]]

    def pay(day: dt.date) -> None:
        for loan in payers:
            fresh = loans.get_loan(risk_book["ops"], loan.ref)
            for inst in fresh.installments.filter(due_date=day, version=fresh.schedule_version):
                due = inst.principal_minor + inst.interest_minor + inst.fee_minor
                payments.post_payment(risk_book["ops"], loan_ref=loan.ref, amount=str(to_major(due)), value_date=day,
                                      reference=f"T-{loan.ref}-{day:%Y%m%d}", channel="teller")

    close_days(dt.date(2025, 1, 15), END, run_on=[dt.date(2025, 1, 31), dt.date(2025, 2, 28), dt.date(2025, 3, 31),
                                                  dt.date(2025, 4, 30), END], pay=pay)
    register_champion(risk_book)
    monitoring.monitor_models(dt.date(2025, 5, 19))
    return risk_book


def _npl(day: dt.date) -> IndicatorValue:
    return IndicatorValue.objects.get(indicator__code="npl_ratio", as_of=day, dimension="total", member="")


def test_the_report_in_chinese(month: dict[str, Any]) -> None:
    data = monthly.monthly_report_pdf(month["risk"], "2025-05", "zh")
    assert data.startswith(b"%PDF")
    text = _text(data)
    for heading in ("月度风险报告·2025年5月", "1.关键风险指标", "2.不良与逾期趋势", "3.逾期迁徙与滚动率", "4.账龄分析曲线",
                    "5.集中度", "6.评分模型稳定性", "7.月末未关闭的预警"):
        assert heading in text, heading
    npl = _npl(END)
    assert npl.rag == "red"
    assert f"不良贷款率{npl.value * 100:.2f}%" in text  # the key indicator with its value
    # red first, then amber, green and those without a value
    table = text[text.index("1.关键风险指标"):text.index("2.不良与逾期趋势")]
    signals = re.findall("红|黄|绿|无数值", table)
    order = {"红": 0, "黄": 1, "绿": 2, "无数值": 3}
    assert signals[0] == "红" and signals == sorted(signals, key=order.__getitem__)
    # the transition matrix: the unpaid loan moved from 61–90 to 91–180 days in May
    assert "61–90天→91–180天100.0%" in text
    assert "retail-pdv1" in text and "冠军模型" in text and "样本不足" in text
    alert = Alert.objects.filter(indicator__code="npl_ratio", status="open").first()
    assert alert is not None and "不良贷款率" in text[text.index("7.月末未关闭的预警"):]
    for english in ("Key risk indicators", "Monthly risk report", "Insufficient data", "Champion", "Vintage curves"):
        assert english not in text


def test_the_report_in_english(month: dict[str, Any]) -> None:
    data = monthly.monthly_report_pdf(month["risk"], "2025-05", "en")
    text = _text(data)
    for heading in ("Monthlyriskreport·May2025", "1.Keyriskindicators", "2.NPLandoverduetrend",
                    "3.Delinquencytransitionsandrollrates", "4.Vintagecurves", "5.Concentration",
                    "6.Scoringmodels'stability", "7.Alertsopenatthemonth'send"):
        assert heading in text, heading
    npl = _npl(END)
    assert f"NPLratio{npl.value * 100:.2f}%" in text
    assert "61–90days→91–180days100.0%" in text
    assert "retail-pdv1" in text and "Champion" in text and "Insufficientdata" in text
    assert "2025-01(n=4)" in text  # the vintage of January 2025, four loans
    assert re.search(r"4loansonthebookat2025-05-31", text)
    assert "不良" not in text


def test_the_download_route_and_the_command(month: dict[str, Any], client: Any, tmp_path: Any) -> None:
    assert client.login(username="risk", password=PASSWORD)
    response = client.get("/risk/report/?month=2025-05&lang=en")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert 'filename="risk-report-2025-05-en.pdf"' in response["Content-Disposition"]
    assert "Keyriskindicators" in _text(response.content)
    zh = client.get("/risk/report/?month=2025-05", HTTP_ACCEPT_LANGUAGE="zh-hans")  # the page's language
    assert "关键风险指标" in _text(zh.content)
    wrong = client.get("/risk/report/?month=April", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert wrong.status_code == 422 and "月份的格式为" in wrong.content.decode()
    out = tmp_path / "risk-2025-05.pdf"
    call_command("risk", "report", "--month", "2025-05", "--lang", "zh", "--out", str(out))
    assert "月度风险报告" in _text(out.read_bytes())


def test_only_head_office_roles_download_the_institutions_report(month: dict[str, Any], client: Any) -> None:
    assert client.login(username="officer_bj", password=PASSWORD)  # no risk.view
    assert client.get("/risk/report/?month=2025-05").status_code == 403


def test_a_month_without_figures_says_so(bank: dict[str, Any], settings: Any, tmp_path: Any) -> None:
    settings.RISK_DIR = str(tmp_path / "risk")
    text = _text(monthly.monthly_report_pdf(bank["risk"], "2024-06", "en"))
    assert "Noindicatorruninthismonth." in text
    assert "Nosnapshotofthebookinthismonth." in text
    assert "Nomodelwasmonitoredinthismonth" in text

