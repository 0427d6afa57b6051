"""Take the screenshots of docs/user-guide.md from a running demo server.

It starts nothing itself. Serve the demo data set first, from a scratch folder so its SQLite file stays there:

    mkdir -p /tmp/demo && cd /tmp/demo && rm -rf var && export CREDITPLAN_DEVELOPMENT=1   # random keys in var/
    /path/to/creditplan/.venv/bin/creditplan migrate -v0
    /path/to/creditplan/.venv/bin/creditplan compile-translations
    /path/to/creditplan/.venv/bin/creditplan seed-demo --customers 3000
    /path/to/creditplan/.venv/bin/creditplan serve --port 8000 &

then, from the repository root:

    .venv/bin/python scripts/screenshots.py [--base-url http://127.0.0.1:8000] [--out docs/screenshots]

Needs Debian's Chromium (`bash scripts/install-system-deps.sh`) and the playwright Python package (test extra).
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from playwright.sync_api import Page, expect, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_ARGS = ["--no-sandbox", "--headless=new", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
USERNAME, PASSWORD = "admin", "creditplan-demo"  # the demo data set's administrator (seed-demo)
SEARCH = "王"  # a common surname: many demo customers match


def log_in(page: Page) -> None:
    page.goto("/login/")
    page.locator("#id_username").fill(USERNAME)
    page.locator("#id_password").fill(PASSWORD)
    page.locator(".login button[type=submit]").click()
    expect(page.locator("header .who")).to_be_visible()


def dashboard(page: Page, path: Path) -> None:
    page.goto("/")
    # The context asks for reduced motion, so the chart draws at once, without its animation.
    expect(page.locator("#onboarding canvas")).to_be_visible()
    page.wait_for_function("() => echarts.getInstanceByDom(document.getElementById('onboarding'))")
    page.screenshot(path=path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", default="http://127.0.0.1:8000")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    expect.set_options(timeout=15_000)

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)
        context = browser.new_context(base_url=args.base_url.rstrip("/"), locale="zh-CN",
                                      viewport={"width": 1280, "height": 800}, device_scale_factor=1,
                                      reduced_motion="reduce")
        page = context.new_page()
        page.goto("/login/")
        page.screenshot(path=out / "login.png")
        log_in(page)

        dashboard(page, out / "dashboard.png")

        page.goto("/customers/")
        page.get_by_role("searchbox").fill(SEARCH)
        expect(page).to_have_url(re.compile(r"q="))  # the live search has answered
        expect(page.locator("#rows tbody tr").first).to_contain_text(SEARCH)
        page.screenshot(path=out / "customers.png")

        page.locator("#rows tbody tr a").first.click()
        expect(page.locator("dl.kv")).to_be_visible()
        page.screenshot(path=out / "customer.png")
        page.locator("a[href='?reveal=1']").click()  # a recorded reveal: it shows up in the audit trail below
        expect(page).to_have_url(re.compile(r"reveal=1"))

        page.goto("/customers/new/")
        page.locator("#id_name").fill("王小明")
        page.locator("#id_branch").fill("BJ01")
        page.locator("#id_id_number").fill("11010819850615001X")  # wrong check character
        page.locator("#id_phone").fill("138 0013 8000")
        page.locator("#id_monthly_income").fill("15,000.00")
        page.locator("#id_employer").fill("华为技术有限公司")
        page.locator("form.grid button[type=submit]").click()
        expect(page.locator("ul.errorlist").first).to_be_visible()
        page.screenshot(path=out / "customer-form-error.png")

        page.goto("/audit/?kind=customer.")
        expect(page.locator("main table tbody tr").first).to_be_visible()
        page.screenshot(path=out / "audit.png")

        page.goto("/")
        page.locator("select[name=language]").select_option("en")
        expect(page.locator("html")).to_have_attribute("lang", "en")
        dashboard(page, out / "dashboard-en.png")
        page.locator("select[name=language]").select_option("zh-hans")  # leave the demo user in Chinese
        expect(page.locator("html")).to_have_attribute("lang", "zh-hans")

        context.close()
        browser.close()
    for name in ("login", "dashboard", "customers", "customer", "customer-form-error", "audit", "dashboard-en"):
        print(out / f"{name}.png")


if __name__ == "__main__":
    main()
