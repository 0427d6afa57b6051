"""The expected-credit-loss, stress-test and re-rating pages through Django's test client, in Chinese and English (no
English on a Chinese page, no raw code on any), over a book that was re-rated, provided for, posted and stressed:
what they show is what the services stored; a reader bound to a branch sees its branch only and not the whole-book
pages; a loan officer is refused."""

from __future__ import annotations

import datetime as dt
import io
import re
from typing import Any

import ecl_book
import pytest
from django.core.management import call_command
from test_pages import EN, ZH, _strip_data, assert_chinese, assert_no_raw_codes, visible_text

from creditplan.core.money import format_minor
from creditplan.org import services as org
from creditplan.plans import services as plans
from creditplan.risk.models import LoanEcl, StressResult
from creditplan.risk.services import behaviour
from factories import PASSWORD

JUNE = dt.date(2025, 6, 30)
PRODUCT_CODES = frozenset({"ep", "home", "qtr", "io", "mortgage", "business"})  # product codes: data


def login(client: Any, username: str) -> None:
    assert client.login(username=username, password=PASSWORD)


@pytest.fixture
def world(bank: dict[str, Any], settings: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    settings.RISK_DIR = str(tmp_path / "risk")
    settings.RISK_AFTER_CLOSE = "snapshot"
    book = ecl_book.build(bank)
    ecl_book.close(ecl_book.START, JUNE, ecl_book.paying(book), monkeypatch)
    approver = org.create_user(None, username="risk2", password=PASSWORD, role="risk_manager", branch_code="HO",
                               display_name="risk2")
    org.create_user(None, username="ops_bj", password=PASSWORD, role="operations", branch_code="BJ01",
                    display_name="ops_bj")
    behaviour.train_behaviour_model(bank["risk"], approver)
    plan = plans.create_plan(bank["planner"], code="fy2025", name="2025 信贷计划", period_start="2025-01-01",
                             period_end="2025-12-31", net_capital="50000000", new_lending_limit="20000000",
                             balance_limit="30000000")
    plans.activate_plan(bank["planner"], plan.id)
    out = io.StringIO()
    call_command("risk", "ecl-setup", stdout=out)
    call_command("risk", "rerate", "--month", "2025-05", stdout=out)
    call_command("risk", "rerate", "--month", "2025-06", stdout=out)
    call_command("risk", "ecl", "--date", JUNE.isoformat(), stdout=out)
    call_command("risk", "stress", "--date", JUNE.isoformat(), stdout=out)
    return {**book, "output": out.getvalue()}


@pytest.mark.django_db
def test_the_commands_and_every_page_in_both_languages(client: Any, world: dict[str, Any]) -> None:
    said = world["output"]
    assert "13 customers re-rated" in said and "allowance account reconciles" in said
    assert "severe-recession" in said
    pages = ["/risk/ecl/", f"/risk/ecl/?date={JUNE}", "/risk/ecl/stress/", "/risk/ecl/behaviour/",
             "/risk/ecl/behaviour/?month=2025-05"]
    for user in ("risk", "auditor", "planner"):
        login(client, user)
        for url in pages:
            zh = client.get(url, **ZH)
            assert zh.status_code == 200, (user, url)
            assert_chinese(zh.content.decode(), typed=PRODUCT_CODES)
            en = client.get(url, **EN)
            assert en.status_code == 200, (user, url)
            assert_no_raw_codes(en.content.decode())
            text = _strip_data(en.content.decode())
            for name in ("等额本金消费贷", "住房按揭", "按季还款经营贷", "先息后本经营贷"):
                text = text.replace(name, " ")
            assert not re.search(r"[\u4e00-\u9fff]", text), (user, url)


@pytest.mark.django_db
def test_the_pages_show_what_was_stored(client: Any, world: dict[str, Any]) -> None:
    login(client, "risk")
    page = client.get("/risk/ecl/", **EN).content.decode()
    total = sum(LoanEcl.objects.filter(as_of=JUNE).values_list("ecl_minor", flat=True))
    assert format_minor(total) in visible_text(page)
    assert page.count('class="badge ok"') == 2  # BJ01 and SH01 reconciled
    stressed = StressResult.objects.get(as_of=JUNE, scenario__code="severe-recession").figures
    text = visible_text(client.get("/risk/ecl/stress/", **EN).content.decode())
    assert format_minor(stressed["stressed"]["provision"]) in text and format_minor(stressed["base"]["provision"]) in text
    assert stressed["stressed"]["provision"] > stressed["base"]["provision"]
    assert stressed["stressed"]["capital"]["extra_provision"] > 0
    moves = client.get("/risk/ecl/behaviour/", **EN).content.decode()
    assert 'id="card-down">' in moves and "Largest downgrades" in moves


@pytest.mark.django_db
def test_a_branch_reader_sees_its_branch_only_and_a_loan_officer_nothing(client: Any, world: dict[str, Any]) -> None:
    login(client, "ops_bj")
    page = client.get("/risk/ecl/", **EN).content.decode()
    assert "BJ01" in page and "SH01" not in page
    bj = sum(LoanEcl.objects.filter(as_of=JUNE, branch="BJ01").values_list("ecl_minor", flat=True))
    assert format_minor(bj) in visible_text(page)
    assert client.get("/risk/ecl/stress/", **EN).status_code == 403
    assert client.get("/risk/ecl/behaviour/", **EN).status_code == 403
    login(client, "officer_bj")
    for url in ("/risk/ecl/", "/risk/ecl/stress/", "/risk/ecl/behaviour/"):
        assert client.get(url, **EN).status_code == 403


@pytest.mark.django_db
def test_pages_without_any_run_say_so(client: Any, bank: dict[str, Any]) -> None:
    login(client, "risk")
    for url, marker in (("/risk/ecl/", "no-run"), ("/risk/ecl/stress/", "no-run"), ("/risk/ecl/behaviour/", "no-run")):
        page = client.get(url, **ZH)
        assert page.status_code == 200 and marker in page.content.decode()
        assert_chinese(page.content.decode())
    assert client.get("/risk/ecl/?date=2025-01-31").status_code == 200  # nothing computed at all: the empty page


@pytest.mark.django_db
def test_the_largest_downgrades_name_the_customer_the_reader_may_see(client: Any, world: dict[str, Any]) -> None:
    from creditplan.customers.models import Customer

    login(client, "risk")
    view = behaviour.grade_migration(world["risk"])
    assert view is not None and view.biggest_downgrades
    first = view.biggest_downgrades[0]
    customer = Customer.objects.select_related("branch").get(pk=first["customer_id"])
    assert first["customer_name"] == customer.name
    page = client.get("/risk/ecl/behaviour/", **ZH).content.decode()
    table = page.split('id="downgrades"', 1)[1].split("</table>", 1)[0]
    assert f'<a href="/customers/{customer.pk}/">{customer.name}</a>' in table  # the name, linked to the customer
    # a reader bound to a branch is told the names of its own customers only
    ids = [int(d["customer_id"]) for d in view.biggest_downgrades]
    named = behaviour._customer_names(org_user("ops_bj"), ids)
    branches = dict(Customer.objects.filter(pk__in=ids).values_list("pk", "branch__code"))
    assert set(named) == {c for c in ids if branches[c] == "BJ01"}


def org_user(username: str) -> Any:
    from creditplan.org.models import User

    return User.objects.select_related("branch").get(username=username)


@pytest.mark.django_db
def test_the_tables_by_branch_and_by_product_have_room_for_a_name_on_one_line(client: Any,
                                                                            world: dict[str, Any]) -> None:
    login(client, "risk")
    page = client.get("/risk/ecl/", **ZH).content.decode()
    # side by side in two equal columns (not the shell's .two, whose second column is a third of the page and broke
    # a product's name one character per line), each table scrolling sideways on a phone
    pair = page.split('<div class="ecl-pair">', 1)[1].split('<h2>', 3)
    assert 'id="branches"' in pair[1] and 'id="products"' in pair[2]
    assert '<div class="two">' not in page
    products = page.split('id="products"', 1)[1].split("</table>", 1)[0]
    assert re.search(r'<td class="name">等额本金消费贷</td>', products)
    style = re.sub(r"\s+", " ", page.split("<style>", 1)[1].split("</style>", 1)[0])
    assert "table.ecl td.name { min-width: 7em; white-space: nowrap; }" in style
    assert ".ecl-pair { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr));" in style
    assert "@media (max-width: 720px) { .ecl-pair { grid-template-columns: 1fr; } }" in style
    assert ".ecl-scroll { overflow-x: auto;" in style
