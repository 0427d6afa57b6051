"""Browser tests: Debian's Chromium driven by Playwright's sync API against pytest-django's live server.

One Chromium per test session (per xdist worker), a fresh browser context (cookies, language) per test.
The context asks for Chinese like a browser set up in mainland China; the app's default is Chinese too.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polib
import pytest
from playwright.sync_api import expect, sync_playwright

from factories import PASSWORD

CHROMIUM = os.environ.get("CREDITPLAN_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--headless=new", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


@pytest.fixture(scope="session", autouse=True)
def _compiled_translations() -> None:
    """The pages are checked in Chinese, and .mo files are not in git (`creditplan compile-translations`
    builds them): compile a missing or stale catalogue here so a bare `pytest tests/e2e` works too."""
    from django.conf import settings
    from django.core.signals import setting_changed

    for root in settings.LOCALE_PATHS:
        for po in Path(root).glob("*/LC_MESSAGES/*.po"):
            mo = po.with_suffix(".mo")
            if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
                tmp = mo.with_name(f"{mo.name}.{os.getpid()}.tmp")  # xdist workers may race: replace atomically
                polib.pofile(str(po)).save_as_mofile(str(tmp))
                os.replace(tmp, mo)
    # Drop catalogues this process may have cached before the .mo existed (here or in another xdist worker).
    setting_changed.send(sender=None, setting="LOCALE_PATHS", value=settings.LOCALE_PATHS, enter=False)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} not found: run `bash scripts/install-system-deps.sh` as root (make test does)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def new_page(browser: Any, live_server: Any) -> Iterator[Any]:
    """Opens pages in fresh contexts (one per user in a test); all are closed at the end of the test."""
    expect.set_options(timeout=10_000)
    contexts = []

    def make(locale: str = "zh-CN") -> Any:
        context = browser.new_context(base_url=live_server.url, locale=locale,
                                      viewport={"width": 1280, "height": 800})
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        # Decisive actions ask for confirmation (creditplan.js, window.confirm): a user who clicked means it, so
        # a test's click is confirmed; a test of the question itself replaces this handler.
        page.on("dialog", lambda dialog: dialog.accept())
        return page

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page: Any) -> Any:
    return new_page()


@pytest.fixture
def log_in() -> Any:
    """log_in(page, username): log in through the form, as the user would, and wait for the dashboard."""
    def log_in(page: Any, username: str) -> None:
        page.goto("/login/")
        page.locator("#id_username").fill(username)
        page.locator("#id_password").fill(PASSWORD)
        page.locator(".login button[type=submit]").click()
        expect(page.locator("header .who")).to_contain_text(username)

    return log_in
