"""A customer's pages on a phone (issue 20, §5): at 360 × 740, in Chinese and in English, every page a customer can
open fits the screen — the page does not scroll sideways and no table, card or box scrolls sideways inside it
(tables become cards) — and what the customer came for is on the screen: the next instalment and its due date,
the amount overdue, each application's amount and status, the contract to sign, their messages. The menu either
fits or says that it scrolls (a fade with an arrow at its edge), and the page being shown is in view in it.

Before issue 20 the loan page's schedule, payments and activity tables and the My applications table scrolled
sideways inside the page (the amount and status of an application off the screen), and the menu was cut with no
cue that it scrolls."""

from __future__ import annotations

import datetime as dt
import re
import sys
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "origination"))
from application_data import BUREAU, GOOD, REFER, make_world  # noqa: E402

from creditplan.core.money import format_minor  # noqa: E402
from factories import PASSWORD  # noqa: E402

pytestmark = pytest.mark.e2e

PHONE = {"width": 360, "height": 740}
LOCALES = ["zh-CN", "en-US"]

# Why a page does not fit: the page wider than the screen, or a box in it that scrolls (or clips) sideways.
OVERFLOW = """() => {
  const out = [], w = window.innerWidth;
  if (document.documentElement.scrollWidth > w) out.push('page ' + document.documentElement.scrollWidth + ' px');
  for (const el of document.querySelectorAll('main *')) {
    const s = getComputedStyle(el);
    if (s.overflowX === 'visible' || el.clientWidth <= 1) continue;
    if (el.scrollWidth > el.clientWidth + 1)
      out.push(el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + (el.className ? '.' + el.className : '')
               + ' ' + el.scrollWidth + ' > ' + el.clientWidth + ' px');
  }
  return out;
}"""

# Whether an element is wholly on the screen, sideways: inside the window and not cut by a box around it.
ON_SCREEN = """(el) => {
  const r = el.getBoundingClientRect();
  if (r.width === 0 || r.left < -0.5 || r.right > window.innerWidth + 0.5) return false;
  for (let p = el.parentElement; p; p = p.parentElement) {
    if (getComputedStyle(p).overflowX === 'visible') continue;
    const b = p.getBoundingClientRect();
    if (r.left < b.left - 0.5 || r.right > b.right + 0.5) return false;
  }
  return true;
}"""

# The menu: it fits, or it shows that it scrolls (a cue at an edge: its ::before or ::after), and the current
# page's item is on the screen.
MENU = """() => {
  const nav = document.querySelector('header.top nav');
  if (!nav) return {fits: true, cue: false, active: true};
  const shows = (part) => { const s = getComputedStyle(nav, part);
    return s.content !== 'none' && s.content !== 'normal' && s.display !== 'none' && s.visibility === 'visible'; };
  const a = nav.querySelector('a.active');
  const n = nav.getBoundingClientRect();
  const r = a ? a.getBoundingClientRect() : null;
  return {fits: nav.scrollWidth <= nav.clientWidth + 1,
          cue: shows('::after') || shows('::before'),
          active: !r || (r.left >= n.left - 0.5 && r.right <= n.right + 0.5)};
}"""

# Words a Chinese page must not show (raw codes, English): the product code, statuses, outcomes.
US_DATE = re.compile(r"\b\d{1,2}/\d{1,2}/\d{4}\b")  # 12/07/2026: 7 December or 12 July?
RAW_ON_ZH = re.compile(r"\b(consumer|business|approved|referred|declined|contract_offered|active|pending|sent|"
                       r"Approved|In review|Declined|Disbursed|Contract offered|Active|Sent|Pending)\b")


@pytest.fixture
def customer_world(bank: dict[str, Any], settings: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    """The `customer` user's record with a loan paid out ten days ago (its first instalment next), an application
    approved straight through whose contract is offered (to sign), one in review, and their messages about both."""
    from creditplan.documents import contracts
    from creditplan.integration import senders
    from creditplan.integration import services as integration
    from creditplan.loans import services as loans
    from creditplan.origination import services as origination

    settings.DOCUMENT_DIR = tmp_path / "documents"
    settings.CREDITPLAN_BUREAU_CLIENT = BUREAU
    settings.CREDITPLAN_NOTIFICATION_SENDER = "creditplan.integration.senders.memory"
    monkeypatch.setattr("creditplan.documents.contract_pdf.cjk_font", lambda: None)  # the PDF is not looked at
    world = make_world(bank)
    me = world["customers"][0]

    def submit(inputs: dict[str, Any], amount: str) -> Any:
        return origination.submit_application(world["officer_bj"], customer_id=me, product="consumer", amount=amount,
                                              term=12, inputs=dict(inputs), channel="branch")

    approved = submit(GOOD, "30000.00")
    contracts.offer_contract(world["officer_bj"], approved.ref)
    referred = submit(REFER, "21000.00")
    assert (approved.status, referred.status) == ("approved", "referred")
    loan = loans.disburse(None, customer_id=me, product="consumer", amount="123456.78", term=24,
                          start_date=loans.business_date() - dt.timedelta(days=10))
    integration.run_once(timeout=1)  # their messages, through the memory sender
    senders.memory.clear()
    return {"approved": approved, "referred": referred, "loan": loan}


def _first_installment(loan: Any) -> tuple[str, dt.date]:
    from creditplan.loans.models import Installment

    i = Installment.objects.filter(loan=loan).exclude(status="superseded").order_by("seq").first()
    assert i is not None and i.seq == 1
    return format_minor(i.principal_minor + i.interest_minor + i.fee_minor), i.due_date


def _phone(new_page: Any, locale: str) -> Any:
    page = new_page(locale)
    page.set_viewport_size(PHONE)
    return page


def _log_in(page: Any) -> None:
    page.goto("/login/")
    page.locator("#id_username").fill("customer")
    page.locator("#id_password").fill(PASSWORD)
    page.locator(".login button[type=submit]").click()
    expect(page.locator("#my-loans")).to_be_visible()


class Phone:
    """Checks a customer's pages on the phone; what does not fit is collected, so one run names every page."""

    def __init__(self, page: Any) -> None:
        self.page, self.problems = page, []  # type: ignore[var-annotated]

    def fits(self, what: str) -> None:
        self.page.wait_for_load_state("load")
        overflow = self.page.evaluate(OVERFLOW)
        if overflow:
            self.problems.append(f"{what} scrolls sideways at 360 px: {overflow[:4]}")
        menu = self.page.evaluate(MENU)
        if not (menu["fits"] or menu["cue"]):
            self.problems.append(f"{what}: the menu is cut with no cue that it scrolls")
        if not menu["active"]:
            self.problems.append(f"{what}: the current page's item in the menu is off the screen")

    def shown(self, locator: Any) -> None:
        """Visible and wholly on the screen sideways (not cut off, not behind a sideways scroll)."""
        expect(locator).to_be_visible()
        if not locator.evaluate(ON_SCREEN):
            self.problems.append(f"{locator} is cut off at the side of the screen")


def _words(page: Any, zh: bool) -> None:
    text = page.locator("main").inner_text()
    if zh:
        assert not RAW_ON_ZH.findall(text), f"English or raw codes on a Chinese page: {RAW_ON_ZH.findall(text)}"
    else:
        assert "状态" not in text and "申请" not in text and "到期" not in text, "Chinese words on an English page"
        assert not US_DATE.findall(text), f"US dates on an English page: {US_DATE.findall(text)}"


@pytest.mark.parametrize("locale", LOCALES)
def test_login_fits_a_phone(new_page: Any, locale: str) -> None:
    page = _phone(new_page, locale)
    page.goto("/login/")
    check = Phone(page)
    check.fits("the log-in page")
    check.shown(page.locator("#id_password"))
    check.shown(page.locator(".login button[type=submit]"))
    assert not check.problems, "\n".join(check.problems)


@pytest.mark.parametrize("locale", LOCALES)
def test_a_customers_pages_fit_a_phone_and_show_what_they_came_for(  # type: ignore[no-untyped-def]
        new_page, customer_world, locale):
    zh = locale == "zh-CN"
    loan, approved, referred = customer_world["loan"], customer_world["approved"], customer_world["referred"]
    amount, due = _first_installment(loan)
    page = _phone(new_page, locale)
    _log_in(page)
    check = Phone(page)

    # Home: the next payment of the loan, with its due date, on the screen; applications with their status in words.
    check.fits("the home page")
    card = page.locator("#my-loans article", has_text=loan.ref)
    check.shown(card.locator(".next .v"))
    expect(card.locator(".next .v")).to_have_text(amount)
    expect(card.locator(".next")).to_contain_text(str(due.year))
    check.shown(page.locator("#my-applications").get_by_text(approved.ref))
    _words(page, zh)

    # My loans: the same cards.
    page.goto("/loans/")
    check.fits("My loans")
    check.shown(page.locator("#my-loans article", has_text=loan.ref).locator(".next .v"))

    # The loan: the balance cards, the first instalment (the next one) with its amount and due date, the payments.
    page.goto(f"/loans/{loan.ref}/")
    check.fits("the loan page")
    check.shown(page.locator("#card-outstanding"))
    expect(page.locator("#card-outstanding")).to_have_text("123,456.78")
    check.shown(page.locator("#card-due"))
    first = page.locator("#schedule tbody tr").first
    check.shown(first)
    expect(first).to_contain_text(amount)
    for cell in first.locator("td").all():
        check.shown(cell)
    check.shown(page.locator("#payments"))
    _words(page, zh)

    # My applications: each application's amount and its status, on the screen.
    page.goto("/applications/")
    check.fits("My applications")
    for v, status in ((approved, "已发合同" if zh else "Contract offered"), (referred, "审批中" if zh else "In review")):
        row = page.locator("#applications tbody tr", has_text=v.ref)
        check.shown(row.get_by_role("link", name=v.ref))
        check.shown(row.get_by_text(format_minor(v.amount_minor)))
        check.shown(row.get_by_text(status, exact=True))
    _words(page, zh)

    # The approved application: its contract to read and sign; the signing page; the upload form.
    page.goto(f"/applications/{approved.ref}/")
    check.fits("the application page")
    check.shown(page.locator("#sign-contract"))
    page.locator("#sign-contract").click()
    expect(page.locator("#sign-password")).to_be_visible()
    check.fits("the signing page")
    check.shown(page.locator("#sign-password"))
    check.shown(page.locator("#sign-button"))
    page.goto(f"/documents/applications/{approved.ref}/upload/")
    check.fits("the upload page")
    check.shown(page.locator("#doc-file"))

    # The application in review, and the online form.
    page.goto(f"/applications/{referred.ref}/")
    check.fits("the application in review")
    check.shown(page.locator("#outcome"))
    page.goto("/applications/apply/")
    check.fits("the online application form")
    check.shown(page.get_by_role("button").last)

    # Messages: the approval's message on the screen.
    page.goto("/integration/notifications/")
    check.fits("My messages")
    message = page.locator("main tbody tr", has_text=approved.ref).first
    check.shown(message)

    # The calculator: the monthly payment and the schedule.
    page.goto("/loans/calculator/?amount=1000000&rate=3.95&term=360&method=equal-installment&day_count=30%2F360"
              "&frequency=1&start=2026-01-15&interest_rule=running-total")
    check.fits("the schedule calculator")
    check.shown(page.locator("#first-payment"))
    expect(page.locator("#first-payment")).to_have_text("4,745.37")
    check.shown(page.locator("#calc-schedule tbody tr").first)

    assert not check.problems, "\n".join(check.problems)
