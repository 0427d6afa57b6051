"""Every page, as every role, in both languages (issue 20's acceptance).

A small demo world is seeded once for this module (the demo seeder's own functions: branches, staff of every role,
customers, models, the credit plan, loans with their daily closes, decisions, applications, lines, risk, post-loan
reviews). Then, for each role (and anonymous) and each language, one browser context logs in once and opens every
page of the URL resolver (tests/e2e/walk_pages.py: a route it cannot fill fails the walk, unless excluded with a
reason). Each page must answer 200, or refuse with a 403/404 page, and what it shows must be in the page's language
(no Chinese on an English page, no English on a Chinese page but the allowed abbreviations and data), with no raw
code (snake_case enum values, permission codes, True/False, data-set codes), no wider than the screen. The
customer's pages are walked once more at 360 px: no horizontal scrolling on a phone. The catalogue has no entry
without a translation, and none fuzzy.

The walk runs once (a module fixture) and each test reports one kind of finding, all of them at once, as
`page | role | language | address | what`.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import walk_pages as walk

from factories import PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.xdist_group("page_walk"), pytest.mark.timeout(1800)]

PHONE = 360


def _seed_world() -> None:
    """The demo, small: what `creditplan seed-demo --customers 200 --loans 30` loads, with the tests' password."""
    from django.core.management import call_command

    from creditplan.customers import demo

    original = demo.DEMO_PASSWORD
    demo.DEMO_PASSWORD = PASSWORD
    try:
        call_command("seed_demo", customers=200, loans=30, stdout=_Quiet())
    finally:
        demo.DEMO_PASSWORD = original
    _webhook_deliveries()


def _webhook_deliveries() -> None:
    """The demo has no webhook receiver: register one (as the administrator) for the last few hundred events, so
    the deliveries and a delivery's page exist. Nothing is sent."""
    from django.test.utils import override_settings

    from creditplan.integration import services as integration
    from creditplan.integration.models import DispatchCursor, WebhookEndpoint
    from creditplan.ledger import services as ledger
    from creditplan.org.models import User

    with override_settings(WEBHOOK_ALLOWED_NETWORKS=["127.0.0.1/32"]):  # the bank's own network, in a test
        created = integration.create_endpoint(User.objects.get(username="admin"), name="核心系统",
                                              url="http://127.0.0.1:9/hooks", events="application.*, loan.*")
    start = max(0, ledger.last_seq() - 300)
    WebhookEndpoint.objects.filter(pk=created.endpoint.id).update(start_seq=start)
    DispatchCursor.objects.update_or_create(id=1, defaults={"last_seq": start})
    integration.dispatch()


class _Quiet:
    def write(self, *args: Any, **kwargs: Any) -> None:
        pass

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


@pytest.fixture(scope="module")
def walked(browser: Any, live_server: Any, django_db_setup: Any, django_db_blocker: Any,
           tmp_path_factory: Any) -> Iterator[dict]:
    """The walk's result: {"findings": [...], "status": {(page, role, language): status}, "problems": [...],
    "seconds": {...}}. The world is removed afterwards (the database flushed)."""
    from django.core.management import call_command
    from django.test.utils import override_settings

    started = time.monotonic()
    with django_db_blocker.unblock(), override_settings(
            PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
            ALLOWED_HOSTS=["localhost", "127.0.0.1", "testserver"],
            # the world's own snapshot and document folders: tests on another worker write var/ at the same dates
            RISK_DIR=str(tmp_path_factory.mktemp("walk-risk")),
            DOCUMENT_DIR=str(tmp_path_factory.mktemp("walk-documents"))):
        try:
            _seed_world()
            seeded = time.monotonic()
            world = walk.world_values()
            pages, problems = walk.pages(world)
            checker = walk.Checker(walk.enum_values(), walk.data_strings())
            result: dict[str, Any] = {"findings": [], "phone": [], "status": {}, "problems": problems,
                                      "pages": pages, "nav": {}}
            per_role: dict[str, int] = {}
            for role, username in walk.ROLES.items():
                role_started = time.monotonic()
                for language in walk.LANGUAGES:
                    context, page = walk.walk_context(browser, live_server.url, language, username, PASSWORD)
                    try:
                        page.goto("/")
                        result["nav"][role] = page.locator("header nav a").evaluate_all(
                            "links => links.map(a => a.getAttribute('href'))")
                        for name, url in pages:
                            status, found, page = walk.visit(page, url, name, role, language, checker)
                            result["status"][(name, role, language)] = status
                            result["findings"] += found
                    finally:
                        context.close()
                per_role[role] = round(time.monotonic() - role_started)
            walked_at = time.monotonic()
            customer_pages = [(n, u) for n, u in pages if result["status"].get((n, "customer", "zh-hans")) == 200]
            result["customer_pages"] = customer_pages
            for language in walk.LANGUAGES:
                context, page = walk.walk_context(browser, live_server.url, language, "customer", PASSWORD,
                                                  width=PHONE)
                try:
                    for name, url in customer_pages:
                        _status, found, page = walk.visit(page, url, name, "customer", language, checker)
                        result["phone"] += [walk.Finding(f.page, f.url, f.role, f.language, f"on a {PHONE} px phone: "
                                                         + f.what) for f in found if f.what.startswith("wider than")]
                finally:
                    context.close()
            result["seconds"] = {"seed": round(seeded - started), "walk": round(walked_at - seeded),
                                 "phone": round(time.monotonic() - walked_at), "per_role": per_role}
            print(f"\npage walk: {len(pages)} pages × {len(walk.ROLES)} roles × 2 languages; "
                  f"seconds {result['seconds']}")
            if os.environ.get("CREDITPLAN_WALK_REPORT"):  # every finding as JSON, for a list to work from
                Path(os.environ["CREDITPLAN_WALK_REPORT"]).write_text(json.dumps({
                    "findings": [f.__dict__ for f in result["findings"] + result["phone"]],
                    "status": [[*k, v] for k, v in result["status"].items()], "seconds": result["seconds"]},
                    ensure_ascii=False))
            yield result
        finally:
            call_command("flush", interactive=False, verbosity=0)


def _report(findings: list[walk.Finding]) -> str:
    return f"{len(findings)} findings:\n" + "\n".join(f.line() for f in findings)


def test_every_route_is_walked_or_excluded_with_a_reason(walked: dict) -> None:
    assert not walked["problems"], "\n".join(walked["problems"])
    assert len(walked["pages"]) > 60


def test_pages_answer_or_refuse_and_each_role_opens_its_menu(walked: dict) -> None:
    bad = [f for f in walked["findings"] if f.what.startswith(("status", "did not open", "not a page", "answers 405"))]
    assert not bad, _report(bad)
    # Each role opens every page its own menu links to, in both languages; a visitor who is not logged in is sent
    # to log in (or sees a public page), never refused or shown an error.
    status, by_url = walked["status"], {url: name for name, url in walked["pages"]}
    refused = [(role, href, language) for role, hrefs in walked["nav"].items() for href in hrefs
               for language in walk.LANGUAGES if status.get((by_url.get(href), role, language)) != 200]
    assert walked["nav"]["admin"] and walked["nav"]["customer"]
    assert not refused, f"a role is refused a page of its own menu: {refused}"
    anonymous = sorted({status[(name, "anonymous", language)] for name, _u in walked["pages"]
                        for language in walk.LANGUAGES})
    assert set(anonymous) <= {200, walk.LOGIN}, anonymous


def test_no_text_in_the_wrong_language(walked: dict) -> None:
    bad = [f for f in walked["findings"] if f.what.startswith(("Chinese on", "English on", "page language"))]
    assert not bad, _report(bad)


def test_no_raw_codes_on_any_page(walked: dict) -> None:
    bad = [f for f in walked["findings"]
           if f.what.startswith(("raw codes", "permission codes", "Python values", "data-set codes"))]
    assert not bad, _report(bad)


def test_no_page_is_wider_than_the_screen(walked: dict) -> None:
    bad = [f for f in walked["findings"] if f.what.startswith("wider than")]
    assert not bad, _report(bad)


def test_customer_pages_fit_a_phone_without_horizontal_scrolling(walked: dict) -> None:
    assert len(walked["customer_pages"]) >= 3  # home, loans, a loan, messages, the calculator…
    assert not walked["phone"], _report(walked["phone"])


def test_the_chinese_catalogue_has_no_untranslated_or_fuzzy_entry() -> None:
    assert walk.untranslated_catalogue() == []
