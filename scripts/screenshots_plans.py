"""Take the credit-plan screenshots of docs/credit-plan.md from a running demo server with a plan in it.

Start a demo (see scripts/screenshots.py), create a plan with some approvals (docs/credit-plan.md shows a
`creditplan shell` snippet), then from the repository root:

    .venv/bin/python scripts/screenshots_plans.py [--base-url http://127.0.0.1:8021] [--out docs/screenshots]
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_ARGS = ["--no-sandbox", "--headless=new", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--base-url", default="http://127.0.0.1:8021")
    ap.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    ap.add_argument("--user", default="planner")
    ap.add_argument("--password", default="creditplan-demo")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_context(base_url=args.base_url, locale="zh-CN", viewport={"width": 1360, "height": 900},
                                   reduced_motion="reduce").new_page()
        page.goto("/login/")
        page.locator("#id_username").fill(args.user)
        page.locator("#id_password").fill(args.password)
        page.locator(".login button[type=submit]").click()
        expect(page.locator("header .who")).to_be_visible()

        page.goto("/plans/")
        page.screenshot(path=str(out / "plan-list.png"), full_page=True)
        page.get_by_role("link", name=re.compile(r"^y\d{4}$")).first.click()
        page.get_by_role("table", name="额度树").get_by_role("link", name="北京分行", exact=True).click()
        expect(page.locator("#explain table")).to_be_visible()
        page.screenshot(path=str(out / "plan-detail.png"), full_page=True)
        plan_url = page.url
        page.goto(plan_url + "dashboard/")
        page.wait_for_function("document.querySelectorAll('canvas').length >= 2")
        page.screenshot(path=str(out / "plan-dashboard.png"), full_page=True)
        page.get_by_label("所属机构").select_option("BJ")
        page.wait_for_url(re.compile(r"branch=BJ"))
        page.wait_for_function("document.querySelectorAll('canvas').length >= 2")
        page.screenshot(path=str(out / "plan-dashboard-bj.png"), full_page=True)
        page.goto(plan_url + "adjustments/")
        page.screenshot(path=str(out / "plan-adjustments.png"), full_page=True)
        page.goto("/plans/new/")
        page.get_by_label("计划代码").fill("y2027")
        page.get_by_label("期间结束").fill("2026-06-30")
        page.get_by_label("新增投放额度（元）").fill("-100")
        page.get_by_role("button", name="创建").click()
        page.screenshot(path=str(out / "plan-form-errors.png"), full_page=True)
        browser.close()


if __name__ == "__main__":
    main()
