"""The risk pages through Django's test client: every page for a risk manager, a planner, an auditor and operations
in Chinese and English (no English on a Chinese page, no raw code on any), a loan officer refused; the definition
form's refusals next to their fields; Excel exports; the loans behind a cell equal to the figure's numerator; the
alert workflow and the dashboard card."""

from __future__ import annotations

import datetime as dt
import html
import io
import re
from typing import Any

import pytest
from openpyxl import load_workbook

from creditplan.core.money import format_minor, to_major
from creditplan.ledger import services as ledger
from creditplan.loans import payments
from creditplan.loans import services as loans
from creditplan.org import services as org
from creditplan.risk.models import Alert, Indicator, IndicatorValue, Snapshot
from creditplan.risk.services import analytics
from factories import PASSWORD

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}
LAST = dt.date(2025, 6, 30)
MONTH_ENDS = [dt.date(2025, 1, 31), dt.date(2025, 2, 28), dt.date(2025, 3, 31), dt.date(2025, 4, 30),
              dt.date(2025, 5, 31), LAST]


def _pay_on_time(book: dict[str, Any]) -> Any:
    """Every loan but the second (BJ01) pays each instalment on its due date."""
    payers = [book["loans"][0], book["loans"][2], book["loans"][3]]

    def pay(day: dt.date) -> None:
        for loan in payers:
            fresh = loans.get_loan(book["ops"], loan.ref)
            for inst in fresh.installments.filter(due_date=day, version=fresh.schedule_version):
                due = inst.principal_minor + inst.interest_minor + inst.fee_minor
                payments.post_payment(book["ops"], loan_ref=loan.ref, amount=format_minor(due, grouping=False), value_date=day,
                                      reference=f"T-{loan.ref}-{day:%Y%m%d}", channel="teller")
    return pay


@pytest.fixture
def world(risk_book: dict[str, Any], close_days: Any, settings: Any) -> dict[str, Any]:
    """The four-loan book closed from 15 January to 30 June 2025 with the indicators run at every month-end: the
    second loan (BJ01) never pays, so by June it is 90+ days past due, substandard, and the NPL ratio is red.
    (The close itself runs nothing of risk here: the test chooses the dates, as `creditplan risk run` would.)"""
    settings.RISK_AFTER_CLOSE = "off"
    close_days(dt.date(2025, 1, 15), LAST, run_on=MONTH_ENDS, pay=_pay_on_time(risk_book))
    bad = loans.get_loan(risk_book["ops"], risk_book["loans"][1].ref)
    assert bad.risk_class >= 3
    return {**risk_book, "bad": bad}


def login(client: Any, username: str) -> Any:
    assert client.login(username=username, password=PASSWORD)
    return client


# --- reading a page as a person does --------------------------------------------------------------------------

def _main(page: str) -> str:
    return page.split("<main>", 1)[1].split("</main>", 1)[0]


def visible_text(page: str, *, keep_code: bool = False) -> str:
    """The words a reader sees in <main>: no scripts, styles or tags; <code> (formulas, field names, references:
    data the user wrote) left out unless asked for."""
    body = _main(page)
    body = re.sub(r"<(script|style|textarea)\b.*?</\1>", " ", body, flags=re.S)  # a textarea holds what was typed
    if not keep_code:
        body = re.sub(r"<code\b.*?</code>", " ", body, flags=re.S)
    body = re.sub(r"<[^>]+>", " ", body)
    return html.unescape(body)


# Words a Chinese page may hold: data (the product code of the test book), product names (Excel), and the formula
# language's own vocabulary in the formula help (sum, count, mean, top_share are what the user types).
ALLOWED_LATIN = {"consumer", "Excel", "sum", "count", "mean", "top_share", "n"}
RAW_CODES = re.compile(r"\b(risk_manager|npl_ratio|action_taken|within_appetite|data_error|threshold_reviewed|"
                       r"special_mention|unknown_field|amber_beyond_red|dimension_not_in_data|unknown_dimension|"
                       r"worsening|risk_class|prev_\w+)\b")
ENUM_CELLS = {"open", "resolved", "red", "amber", "green", "none", "total", "branch", "product", "daily", "monthly",
              "up", "down", "level", "change", "ratio", "number", "loans", "web", "booked"}


def assert_no_raw_codes(page: str) -> None:
    text = visible_text(page)
    found = RAW_CODES.findall(text)
    assert not found, found
    cells = re.findall(r"<(?:td|dd|option|th)\b[^>]*>\s*(?:<[^>]+>\s*)*([^<]*?)\s*<", _main(page))
    assert not [c for c in cells if c.strip() in ENUM_CELLS], [c for c in cells if c.strip() in ENUM_CELLS]


def assert_chinese(page: str, *, typed: frozenset[str] = frozenset()) -> None:
    """No English in <main> but data: `typed` are the words the user typed that a refusal names."""
    words = set(re.findall(r"\b[A-Za-z][A-Za-z_]+\b", visible_text(page))) - ALLOWED_LATIN - typed
    assert not words, sorted(words)
    assert_no_raw_codes(page)


# --- every page, every reader -----------------------------------------------------------------------------------

def _pages(world: dict[str, Any]) -> list[str]:
    alert = Alert.objects.filter(indicator__code="npl_ratio", dimension="total").first()
    assert alert is not None
    return [
        "/risk/", f"/risk/?date={MONTH_ENDS[3]}", "/risk/indicators/", "/risk/indicators/npl_ratio/",
        "/risk/indicators/npl_ratio/?dimension=branch&member=BJ01", "/risk/indicators/approval_rate/",
        "/risk/delinquency/", "/risk/vintage/", "/risk/vintage/?bad=90", "/risk/migration/", "/risk/concentration/",
        "/risk/alerts/", "/risk/alerts/?status=all", f"/risk/alerts/{alert.pk}/",
        f"/risk/loans/?source=indicator&indicator=npl_ratio&dimension=total&date={LAST}",
        f"/risk/loans/?source=bucket&date={LAST}&bucket=4",
        f"/risk/loans/?source=share&date={LAST}&dimension=region&member=110000",
    ]


def test_every_page_for_every_reader_in_both_languages(client: Any, world: dict[str, Any]) -> None:
    pages = _pages(world)
    for user in ("risk", "auditor", "ops"):
        login(client, user)
        for url in pages:
            if user == "ops" and url.startswith("/risk/alerts/") and url[-2].isdigit():
                assert client.get(url).status_code == 404  # operations own no indicator: the alert is not theirs
                continue
            zh = client.get(url, **ZH)
            assert zh.status_code == 200, (user, url, zh.status_code)
            assert_chinese(zh.content.decode())
            en = client.get(url, **EN)
            assert en.status_code == 200, (user, url)
            assert_no_raw_codes(en.content.decode())
            assert not re.search(r"[\u4e00-\u9fff]", _strip_data(en.content.decode())), (user, url)
    # the planner sees the plan's indicators' alerts only: the NPL alert is not routed to planners
    login(client, "planner")
    for url in pages[:-4]:
        assert client.get(url, **ZH).status_code == 200, url
        assert_chinese(client.get(url, **ZH).content.decode())
    assert client.get(pages[-4], **ZH).status_code == 404


def _strip_data(page: str) -> str:
    """An English page without its data: customer, branch and product names are Chinese in the test book, and an
    indicator's explanation is the definition's own text (the shipped NPL ratio names the classes in Chinese)."""
    text = visible_text(re.sub(r'<p class="explain" id="explain">.*?</p>', " ", page, flags=re.S))
    for name in ("张三", "北京", "上海", "海淀", "浦东", "个人消费贷", "总行", "分行", "支行"):
        text = text.replace(name, " ")
    return text


def test_a_loan_officer_is_refused_every_page(client: Any, world: dict[str, Any]) -> None:
    login(client, "officer_bj")
    for url in _pages(world):
        assert client.get(url).status_code == 403, url
    assert client.get("/risk/new-indicator/").status_code == 403
    assert "/risk/" not in _main(client.get("/", **EN).content.decode())
    assert 'href="/risk/"' not in client.get("/", **EN).content.decode()


def test_the_overview_puts_red_cells_first_and_links_to_their_loans(client: Any, world: dict[str, Any]) -> None:
    login(client, "risk")
    page = client.get("/risk/", **EN).content.decode()
    attention = page.split('id="t-attention"', 1)[1].split("</section>", 1)[0]
    badges = re.findall(r'class="badge rag-(red|amber)"', attention)
    assert badges and badges[0] == "red" and badges == sorted(badges, key=lambda b: b != "red")
    assert "NPL ratio" in attention and "/risk/loans/?source=indicator&amp;indicator=npl_ratio" in attention
    red = IndicatorValue.objects.filter(as_of=LAST, rag="red").count()
    assert f'id="card-red">{red}<' in page
    assert 'id="heat-data"' in page  # the indicators × branches heat map
    assert 'href="/risk/"' in page  # the Risk menu item
    zh = client.get("/risk/", **ZH).content.decode()
    assert "不良贷款率" in zh and "红灯" in zh and "风险监测" in zh


# --- the loans behind a cell --------------------------------------------------------------------------------

def _drill_rows(page: str) -> list[tuple[str, str]]:
    """(loan reference, counted amount) of each row of the loans table."""
    table = page.split('id="t-loans"', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr>(.*?)</tr>", table.split("<tbody>", 1)[1], flags=re.S)
    out = []
    for r in rows:
        ref = re.search(r'href="/loans/([^/]+)/"', r)
        cells = re.findall(r"<td[^>]*>(.*?)</td>", r, flags=re.S)
        if ref:
            out.append((ref.group(1), re.sub(r"<[^>]+>", "", cells[-1]).strip()))
    return out


def test_drill_down_rows_are_the_loans_the_numerator_counts(client: Any, world: dict[str, Any]) -> None:
    login(client, "risk")
    bad = world["bad"]
    for dimension, member in (("total", ""), ("branch", "BJ01"), ("product", "consumer")):
        v = IndicatorValue.objects.get(indicator__code="npl_ratio", as_of=LAST, dimension=dimension, member=member)
        page = client.get("/risk/loans/", {"source": "indicator", "indicator": "npl_ratio", "dimension": dimension,
                                           "member": member, "date": LAST.isoformat()}, **EN).content.decode()
        rows = _drill_rows(page)
        assert [r for r, _a in rows] == [bad.ref]
        counted = sum(int(a.replace(",", "").replace(".", "")) for _r, a in rows)  # yuan with 2 decimals → fen
        assert counted == v.numerator  # the loans behind the cell add up to its numerator
    # a green cell has none
    page = client.get("/risk/loans/", {"source": "indicator", "indicator": "npl_ratio", "dimension": "branch",
                                       "member": "SH01", "date": LAST.isoformat()}, **EN).content.decode()
    assert _drill_rows(page) == [] and "No loan is behind this cell." in page
    # the service agrees for every member of every loan indicator with a ratio: the drill rows add to the numerator
    for v in IndicatorValue.objects.filter(as_of=LAST, indicator__fact="loans", numerator__isnull=False,
                                           indicator__code__in=["npl_ratio", "overdue_90_plus", "roll_61_90_90_plus",
                                                                "class_downgrade"]):
        d = analytics.indicator_loans(world["risk"], v.indicator.code, LAST, v.dimension, v.member)
        assert d.counted_total == v.numerator, (v.indicator.code, v.dimension, v.member)
    # a roll-rate matrix cell: the loans that moved
    page = client.get("/risk/delinquency/", **EN).content.decode()
    link = re.search(r'href="(/risk/loans/\?source=roll[^"]+i=4&amp;j=4)"', page)
    assert link, "the 91-180 → 91-180 cell (the bad loan, end of May to end of June) links to its loans"
    assert [r for r, _a in _drill_rows(client.get(html.unescape(link.group(1)), **EN).content.decode())] == [bad.ref]


# --- the definition form ------------------------------------------------------------------------------------

NEW = {"code": "npl_consumer", "name_zh": "消费贷不良率", "name_en": "Consumer NPL", "fact": "loans",
       "formula": 'sum(outstanding, risk_class >= 3 and product == "consumer") / sum(outstanding)', "unit": "ratio",
       "dimensions": ["branch"], "amber": "0.02", "red": "0.03", "worse": "up", "mode": "level",
       "owner_role": "risk_manager", "frequency": "daily", "rules": ["red"], "periods": "3"}


def _error(page: str, name: str) -> str:
    m = re.search(rf'id="err-{name}">(.*?)</ul>', page, flags=re.S)
    assert m, f"no error next to {name}"
    return html.unescape(re.sub(r"<[^>]+>", " ", m.group(1)))


@pytest.mark.parametrize(("change", "field", "zh_text", "en_text"), [
    ({"formula": "sum(balance) / sum(outstanding)"}, "formula", "未知字段“balance”", "Unknown field balance"),
    ({"amber": "0.05", "red": "0.03"}, "amber", "黄灯（0.05）越过了红灯（0.03）", "Amber (0.05) is beyond red (0.03)"),
    ({"dimensions": ["planet"]}, "dimensions", "没有“planet”这个维度", "Unknown dimension planet"),
    ({"fact": "applications", "formula": "count(approved) / count(decided)", "dimensions": ["vintage"]},
     "dimensions", "发放月份", "has no dimension vintage"),
    ({"formula": "sum(channel)"}, "formula", "“channel”不是数值", "channel is not a number"),
    ({"amber": "two", "red": "0.03"}, "amber", "阈值必须是数字", "threshold must be a number"),
])
def test_the_definition_form_refuses_naming_the_problem_next_to_its_field(
        client: Any, risk_book: dict[str, Any], change: dict[str, Any], field: str, zh_text: str,
        en_text: str) -> None:
    login(client, "risk")
    before = (Indicator.objects.count(), ledger.count_events("risk.indicator_defined"))
    zh = client.post("/risk/new-indicator/", {**NEW, **change}, **ZH)
    assert zh.status_code == 422
    assert zh_text in _error(zh.content.decode(), field)
    assert_chinese(zh.content.decode(), typed=frozenset({"balance", "planet", "channel"}))
    en = client.post("/risk/new-indicator/", {**NEW, **change}, **EN)
    assert en.status_code == 422 and en_text in _error(en.content.decode(), field)
    assert (Indicator.objects.count(), ledger.count_events("risk.indicator_defined")) == before  # nothing written


def test_a_risk_manager_defines_and_changes_an_indicator(client: Any, risk_book: dict[str, Any]) -> None:
    login(client, "risk")
    form = client.get("/risk/new-indicator/", **ZH).content.decode()
    assert "prev_outstanding" in form and "上期本金余额" in form  # the fields a formula can use, with their meaning
    assert_chinese(form)
    response = client.post("/risk/new-indicator/", NEW, **EN)
    assert response.status_code == 302 and response["Location"] == "/risk/indicators/npl_consumer/"
    made = Indicator.objects.get(code="npl_consumer")
    assert (made.amber, made.red, made.dimensions, made.owner_role) == ("0.02", "0.03", ["total", "branch"],
                                                                         "risk_manager")
    edit = client.get("/risk/indicators/npl_consumer/edit/", **EN).content.decode()
    assert 'value="0.02"' in edit and "Consumer NPL" in edit
    response = client.post("/risk/indicators/npl_consumer/edit/", {**NEW, "amber": "0.01", "red": "0.025",
                                                                   "rules": ["red", "worsening"], "periods": "4",
                                                                   "active": "on"}, **ZH)
    assert response.status_code == 302
    made.refresh_from_db()
    assert (made.amber, made.red, made.version) == ("0.01", "0.025", 2)
    assert sorted(made.rules.values_list("kind", "periods")) == [("red", 4), ("worsening", 4)]
    page = client.get("/risk/indicators/npl_consumer/", **ZH).content.decode()
    assert "连续4期恶化" in page and "1.00 %" in page
    assert_chinese(page)
    # a planner may read the definitions but not change them
    login(client, "planner")
    assert client.get("/risk/indicators/npl_consumer/").status_code == 200
    assert client.get("/risk/indicators/npl_consumer/edit/").status_code == 403
    assert client.post("/risk/new-indicator/", {**NEW, "code": "x2"}).status_code == 403
    assert not Indicator.objects.filter(code="x2").exists()


# --- Excel ------------------------------------------------------------------------------------------------------

def _sheet(response: Any) -> list[list[Any]]:
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    ws = load_workbook(io.BytesIO(response.content)).active
    return [[c.value for c in row] for row in ws.iter_rows()]


def test_any_table_exports_to_excel_with_numbers_as_numbers_and_text_as_text(client: Any,
                                                                          world: dict[str, Any]) -> None:
    login(client, "risk")
    rows = _sheet(client.get("/risk/?export=attention", **ZH))
    assert rows[0][:4] == ["指标", "维度", "成员", "数值"]
    cells = IndicatorValue.objects.filter(as_of=LAST, rag__in=["red", "amber"])
    assert len(rows) - 1 == cells.count()
    npl = cells.get(indicator__code="npl_ratio", dimension="total")
    assert ["不良贷款率", "全行", "全行", npl.value] == rows[1][:4]  # red first; the value a number, not text
    en = _sheet(client.get("/risk/?export=attention", **EN))
    assert en[0][:4] == ["Indicator", "Dimension", "Member", "Value"] and en[1][0] == "NPL ratio"
    # the drill-down table: one row per loan, principal in yuan as a number
    loans_rows = _sheet(client.get(f"/risk/loans/?source=indicator&indicator=npl_ratio&date={LAST}&export=loans",
                                   **EN))
    assert [r[0] for r in loans_rows[1:]] == [world["bad"].ref]
    assert loans_rows[1][4] == to_major(world["bad"].principal_outstanding_minor)
    # a name that starts like a formula is written as text, never as a formula
    Indicator.objects.filter(code="npl_ratio").update(name_en='=HYPERLINK("http://x.example","y")')
    wb = load_workbook(io.BytesIO(client.get("/risk/indicators/?export=definitions", **EN).content))
    cell = next(c for row in wb.active.iter_rows() for c in row if str(c.value).startswith("=HYPERLINK"))
    assert cell.data_type == "s" and cell.quotePrefix
    for page in ("/risk/delinquency/?export=roll", "/risk/migration/?export=migration", "/risk/vintage/?export=vintage",
                 "/risk/concentration/?export=customers", "/risk/alerts/?export=alerts"):
        assert len(_sheet(client.get(page, **EN))) > 1, page
    assert client.get("/risk/?export=nothing").status_code == 404


# --- analytics figures ------------------------------------------------------------------------------------------

def test_vintage_migration_and_concentration_read_the_kept_books(client: Any, world: dict[str, Any]) -> None:
    risk = world["risk"]
    v = analytics.vintage(risk, LAST, 30)
    assert v.cohorts == ["2025-01"] and v.sizes["2025-01"] == 4
    # the bad loan's first instalment fell due on 15 February: 31+ days late by the end of March (month on book 2)
    assert v.rates["2025-01"][:6] == [0.0, 0.0, 0.25, 0.25, 0.25, 0.25]
    v90 = analytics.vintage(risk, LAST, 90)
    assert v90.rates["2025-01"][3] == 0.0 and v90.rates["2025-01"][4] == 0.25
    # the loans behind a vintage cell: the cohort's loans bad by that month on book
    bad = world["bad"].ref
    assert [r.ref for r in analytics.vintage_loans(risk, LAST, 30, "2025-01", 2).rows] == [bad]
    assert analytics.vintage_loans(risk, LAST, 30, "2025-01", 1).rows == []
    m = analytics.migration(risk, MONTH_ENDS[3], LAST)
    assert sum(map(sum, m.counts)) == 4 and m.worse_share is not None and m.worse_share > 0
    # every migration cell's loans are as many as the cell counts
    for i in range(5):
        for j in range(5):
            d = analytics.transition_loans(risk, "risk_class", MONTH_ENDS[3], LAST, i, j)
            assert len(d.rows) == m.counts[i][j], (i, j)
            assert d.counted_total == m.amounts[i][j]
    c = analytics.concentration(risk, LAST)
    assert c.loans == 4 and sum(s.outstanding for s in c.by["branch"]) == c.outstanding
    assert {s.key for s in c.by["branch"]} == {"BJ01", "SH01"}
    for share in (*c.top_customers, *c.by["branch"], *c.by["region"]):
        dimension = "customer" if share in c.top_customers else ("branch" if share in c.by["branch"] else "region")
        d = analytics.share_loans(risk, LAST, dimension, share.key)
        assert (len(d.rows), d.counted_total) == (share.loans, share.outstanding), (dimension, share.key)
    login(client, "risk")
    page = client.get("/risk/vintage/", **ZH).content.decode()
    assert "2025-01" in page and "25.00 %" in page
    page = client.get(f"/risk/migration/?start={MONTH_ENDS[3]}&end={LAST}", **ZH).content.decode()
    assert "次级" in page and 'id="card-worse"' in page


def test_operations_at_a_branch_see_their_branches_only(client: Any, world: dict[str, Any]) -> None:
    org.create_user(None, username="ops_bj", password=PASSWORD, role="operations", branch_code="BJ01",
                    display_name="ops_bj")
    login(client, "ops_bj")
    page = client.get("/risk/", **EN).content.decode()
    assert "BJ01" in visible_text(page) and "SH01" not in visible_text(page)
    c = client.get("/risk/concentration/", **EN).content.decode()
    assert "SH01" not in visible_text(c)
    assert client.get("/risk/loans/", {"source": "indicator", "indicator": "npl_ratio", "dimension": "branch",
                                       "member": "SH01", "date": LAST.isoformat()}).status_code == 404
    assert client.get("/risk/loans/", {"source": "indicator", "indicator": "npl_ratio", "dimension": "total",
                                       "date": LAST.isoformat()}).status_code == 404
    bj = client.get("/risk/loans/", {"source": "indicator", "indicator": "npl_ratio", "dimension": "branch",
                                     "member": "BJ01", "date": LAST.isoformat()}, **EN).content.decode()
    assert [r for r, _a in _drill_rows(bj)] == [world["bad"].ref]


# --- alerts -----------------------------------------------------------------------------------------------------

def test_the_alert_workflow_on_the_pages(client: Any, world: dict[str, Any]) -> None:
    alert = Alert.objects.get(indicator__code="npl_ratio", dimension="total", status="open")
    login(client, "risk")
    home = client.get("/", **ZH).content.decode()
    card = home.split('id="risk-alerts-card"', 1)[1].split("</a>", 1)[0]
    routed = Alert.objects.filter(status__in=["open", "acknowledged"]).exclude(owner_role="planner")
    assert f'<div class="v">{routed.count()}</div>' in card and f"{routed.filter(rag='red').count()} 个红灯" in card
    listing = client.get("/risk/alerts/", **ZH).content.decode()
    assert f'href="/risk/alerts/{alert.pk}/"' in listing and "待处理" in listing

    url = f"/risk/alerts/{alert.pk}/"
    page = client.get(url, **ZH).content.decode()
    assert 'id="drill-link"' in page and 'id="trend-data"' in page and "确认" in page
    assert client.post(f"{url}acknowledge/", **ZH).status_code == 302
    assert client.post(f"{url}comment/", {"text": "催收已联系借款人"}, **ZH).status_code == 302
    # no reason: refused next to the reason, in the page's language
    refused = client.post(f"{url}resolve/", {"reason": "", "note": ""}, **ZH)
    assert refused.status_code == 422 and "请选择解决预警的原因" in _error(refused.content.decode(), "reason")
    refused = client.post(f"{url}resolve/", {"reason": "other", "note": ""}, **EN)
    assert refused.status_code == 422 and "say in the note" in _error(refused.content.decode(), "note").lower()
    assert client.post(f"{url}resolve/", {"reason": "action_taken", "note": "已催收"}, **ZH).status_code == 302
    alert.refresh_from_db()
    assert (alert.status, alert.resolution, alert.acknowledged_by.username) == ("resolved", "action_taken", "risk")
    page = client.get(url, **ZH).content.decode()
    assert "已解决" in page and "已采取措施" in page and "催收已联系借款人" in page
    assert_chinese(page, typed=frozenset({"risk"}))  # the user's name (the test bank's users have English names)
    assert "Action taken" in client.get(url, **EN).content.decode()
    again = client.post(f"{url}acknowledge/", **EN, follow=True).content.decode()
    assert "Only an open alert can be acknowledged" in again or "alert" in again.lower()

    # the auditor reads the alert but cannot handle it
    other = Alert.objects.filter(status="open", owner_role="risk_manager").exclude(pk=alert.pk).first()
    assert other is not None
    login(client, "auditor")
    page = client.get(f"/risk/alerts/{other.pk}/", **ZH).content.decode()
    assert 'id="resolve-form"' not in page and 'id="acknowledge-form"' not in page
    assert client.post(f"/risk/alerts/{other.pk}/acknowledge/").status_code == 403
    other.refresh_from_db()
    assert other.status == "open"


def test_the_dashboard_card_only_for_risk_readers(client: Any, world: dict[str, Any]) -> None:
    login(client, "officer_bj")
    assert 'id="risk-alerts-card"' not in client.get("/").content.decode()
    login(client, "planner")
    card = client.get("/", **EN).content.decode().split('id="risk-alerts-card"', 1)[1].split("</a>", 1)[0]
    planner_alerts = Alert.objects.filter(status="open", owner_role="planner").count()
    assert f'<div class="v">{planner_alerts}</div>' in card


def test_pages_without_any_run_say_so(client: Any, bank: dict[str, Any], settings: Any, tmp_path: Any) -> None:
    settings.RISK_DIR = str(tmp_path / "risk")
    login(client, "risk")
    for url in ("/risk/", "/risk/delinquency/", "/risk/vintage/", "/risk/migration/", "/risk/concentration/",
                "/risk/alerts/", "/risk/indicators/"):
        page = client.get(url, **ZH)
        assert page.status_code == 200, url
        assert_chinese(page.content.decode())
    assert not Snapshot.objects.exists()
