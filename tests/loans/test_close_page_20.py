"""Issue 20 §3–§4 on the loan pages: operations run the daily close from its page (a confirmed button, progress
polled while it runs, never twice at once), and the loan and close-run lists scale (filters, sorting by column,
paging, CSV/Excel export with labels, never codes); product names in the page's language."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import threading
from typing import Any

import pytest

from creditplan.loans import cob
from creditplan.loans import services as loans
from creditplan.loans.cob import launch
from creditplan.loans.models import CloseRun, Product
from factories import PASSWORD

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}
ONE = dt.timedelta(days=1)


def login(client: Any, username: str) -> Any:
    assert client.login(username=username, password=PASSWORD)
    return client


@pytest.fixture
def open_day(loan_world: dict[str, Any], make_loan: Any, settings: Any) -> dict[str, Any]:
    """Two loans of two customers, closed through yesterday: today's close is the next to run (in the request:
    the test database is not shared with a background thread)."""
    settings.CLOSE_IN_BACKGROUND = False
    today = loans.business_date()
    for customer in (0, 1):
        make_loan(start=today - 2 * ONE, customer=customer)
    cob.run_close(today - ONE)
    return {**loan_world, "today": today}


def test_operations_run_the_close_from_its_page(client: Any, open_day: dict[str, Any]) -> None:
    today = open_day["today"]
    login(client, "ops")
    page = client.get("/loans/close/", **EN).content.decode()
    control = page[page.index('id="close-control"'):page.index("</section>", page.index('id="close-control"'))]
    form = re.search(r'<form method="post" action="/loans/close/run/" id="close-start-form" data-confirm="([^"]+)">',
                     control)
    assert form and "Run the close of" in form.group(1)  # a confirmation before the day's books are closed
    assert 'id="close-start"' in control and "2 active loans to close" in control
    assert "books" in page[page.index('id="close-rule"'):]
    response = client.post("/loans/close/run/", {"date": today.isoformat()}, follow=True, **EN)
    assert response.status_code == 200 and CloseRun.objects.get(business_date=today).status == "done"
    done = response.content.decode()
    assert "The close of" in done and "is done" in done and 'id="close-start"' not in done
    assert f'/loans/close/{today.isoformat()}/' in done  # its report is one click away
    # the same in Chinese, and a second run of a done date changes nothing
    zh = client.get("/loans/close/", **ZH).content.decode()
    assert "今日账务已关闭" in zh[zh.index('id="close-control"'):]
    client.post("/loans/close/run/", {"date": today.isoformat()})
    assert CloseRun.objects.get(business_date=today).attempts == 1
    # reading the close runs is not running them: the auditor sees no button, a loan officer may not post
    login(client, "auditor")
    assert 'id="close-start"' not in client.get("/loans/close/", **EN).content.decode()
    login(client, "officer_bj")
    assert client.post("/loans/close/run/", {"date": today.isoformat()}).status_code == 403


def test_a_running_close_shows_its_progress_and_is_not_started_twice(client: Any, open_day: dict[str, Any]) -> None:
    today = open_day["today"]
    # a close stopped after its first chunk (one customer of two), as a killed run leaves it
    cob.run_close(today, chunk_size=1, stop_after_chunks=1)
    login(client, "ops")
    part = client.get("/loans/close/progress/", **EN).content.decode()
    assert 'hx-trigger="every 2s"' in part and 'hx-get="/loans/close/progress/"' in part  # polled while it runs
    assert re.search(r'<progress id="close-progress" max="100" value="50"', part)
    assert "1 of 2 loans closed (50 %)" in part
    assert 'id="close-resume"' in part  # no thread of this server runs it: it may be resumed
    # while a close of the date runs in this server, the button is disabled and a second start is refused
    release = threading.Event()
    holder = threading.Thread(target=release.wait, daemon=True)
    holder.start()
    launch._running[today] = holder
    try:
        busy = client.get("/loans/close/progress/", **ZH).content.decode()
        assert 'disabled aria-busy="true"' in busy and 'id="close-resume"' not in busy
        refused = client.post("/loans/close/run/", {"date": today.isoformat()}, follow=True, **ZH).content.decode()
        assert "正在运行" in refused and CloseRun.objects.get(business_date=today).status == "running"
    finally:
        release.set()
        holder.join()
        launch._running.pop(today, None)
    client.post("/loans/close/run/", {"date": today.isoformat()})  # resumed: the loans not yet done
    run = CloseRun.objects.get(business_date=today)
    assert run.status == "done" and run.report["loans"] == 2
    finished = client.get("/loans/close/progress/", **EN).content.decode()
    assert "hx-trigger" not in finished  # polling stops once it is done


def test_a_close_of_a_day_not_begun_is_refused_in_the_pages_language(client: Any, open_day: dict[str, Any]) -> None:
    login(client, "ops")
    tomorrow = open_day["today"] + ONE
    page = client.post("/loans/close/run/", {"date": tomorrow.isoformat()}, follow=True, **ZH).content.decode()
    assert not CloseRun.objects.filter(business_date=tomorrow).exists()
    message = re.search(r'class="msg[^"]*"[^>]*>(.*?)</', page, re.S).group(1)
    assert not re.search(r"[A-Za-z]{4,}", message), message


def test_close_runs_are_paged_filtered_and_exported(client: Any, loan_world: dict[str, Any], make_loan: Any) -> None:
    today = loans.business_date()
    make_loan(start=today - 61 * ONE)
    day = today - 60 * ONE
    while day <= today:
        cob.run_close(day)
        day += ONE
    login(client, "ops")
    page = client.get("/loans/close/", **EN).content.decode()
    table = page[page.index('id="close-runs"'):page.index("</table>", page.index('id="close-runs"'))]
    assert table.count("<tr>") == 50 + 1 and "Page 1 of 2" in page  # 61 runs: 50 a page
    oldest = client.get("/loans/close/?sort=date", **EN).content.decode()
    assert f"/loans/close/{(today - 60 * ONE).isoformat()}/" in oldest.split('id="close-runs"')[1][:2000]
    narrow = client.get(f"/loans/close/?from={(today - 9 * ONE).isoformat()}&status=done", **EN).content.decode()
    assert "Rows 1–10 of 10" in narrow
    export = client.get("/loans/close/?export=csv", **ZH)
    rows = list(csv.reader(io.StringIO(export.content.decode("utf-8-sig"))))
    assert len(rows) == 62 and rows[0][0] == "营业日" and rows[1][1] == "已完成"


def test_the_loan_list_filters_sorts_and_exports_in_words(client: Any, loan_world: dict[str, Any],
                                                          make_loan: Any) -> None:
    Product.objects.filter(code="consumer").update(name_en="Personal consumer loan")
    today = loans.business_date()
    old = make_loan(start=today - 75 * ONE)
    make_loan(start=today - 5 * ONE, customer=1, amount="50000.00")
    day = old.start_date + ONE
    while day <= today:
        cob.run_close(day)
        day += ONE
    login(client, "officer_bj")
    page = client.get("/loans/", **EN).content.decode()
    assert "Personal consumer loan" in page and ">consumer<" not in page  # the product's name, never its code
    assert "个人消费贷" in client.get("/loans/", **ZH).content.decode()
    late = client.get("/loans/?dpd_min=30", **EN).content.decode()
    assert old.ref in late and "1 loan" in late
    by_dpd = client.get("/loans/?sort=-dpd", **EN).content.decode()
    assert by_dpd.index(old.ref) < by_dpd.index("LN", by_dpd.index(old.ref) + 12)
    assert 'aria-sort="descending"' in by_dpd and "?sort=dpd" in by_dpd  # a second click reverses it
    export = client.get("/loans/?export=csv", **EN)
    assert export["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(export.content.decode("utf-8-sig"))))
    assert rows[0][:4] == ["Loan no.", "Customer", "Branch", "Product"] and len(rows) == 3
    assert {r[3] for r in rows[1:]} == {"Personal consumer loan"} and {r[11] for r in rows[1:]} == {"Active"}
    xlsx = client.get("/loans/?export=xlsx", **ZH)
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
