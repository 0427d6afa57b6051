"""Take the screenshot tour of docs/tour.md: the main page of each role, in Chinese and in English (the customer's
on a phone), from a running demo server.

It starts nothing itself. Serve the demo first (README, quick start: `make demo`, or from a scratch folder):

    mkdir -p /tmp/demo && cd /tmp/demo && export CREDITPLAN_DEVELOPMENT=1
    /path/to/creditplan/.venv/bin/creditplan migrate -v0
    /path/to/creditplan/.venv/bin/creditplan seed-demo --customers 600
    /path/to/creditplan/.venv/bin/creditplan serve --port 8000 &

then, from the repository root:

    .venv/bin/python scripts/tour.py [--base-url http://127.0.0.1:8000] [--out docs/screenshots] [--markdown docs/tour.md]

It writes docs/screenshots/tour-<role>-<language>.png and docs/tour.md (which links them). Needs Debian's Chromium
(`bash scripts/install-system-deps.sh`) and the playwright Python package (test extra).
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_ARGS = ["--no-sandbox", "--headless=new", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
PASSWORD = "creditplan-demo"  # the demo data set's password for every user (seed-demo)
LANGUAGES = {"zh-hans": ("中文", "zh-CN"), "en": ("English", "en-US")}
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


@dataclass
class Stop:
    role: str  # the file name's part
    username: str
    path: str  # "plan": the active plan's dashboard, found from the plan list
    title_en: str
    title_zh: str
    what_en: str
    what_zh: str
    phone: bool = False


TOUR = [
    Stop("admin", "admin", "/", "Administrator: the dashboard", "系统管理员：工作台",
         "The whole bank at a glance: the loan book, the credit plan's use, the review queue, the last daily close, "
         "risk alerts and customers; the menu holds every area, user and branch management included.",
         "全行概览：贷款余额、信贷计划执行、待审批队列、最近一次日终、风险预警与客户；菜单包含所有功能，含用户与机构管理。"),
    Stop("planner", "planner", "plan", "Planner: the credit plan's execution", "计划管理员：信贷计划执行",
         "The active plan's dashboard: each quota's limit, what is used and reserved, targets and their progress.",
         "当前生效计划的执行看板：各额度的上限、已用与占用、目标及完成进度。"),
    Stop("risk_manager", "risk", "/risk/", "Risk manager: risk monitoring", "风险经理：风险监测",
         "The portfolio's indicators against their thresholds, open alerts, delinquency and concentration.",
         "组合风险指标与阈值、未处理预警、逾期与集中度。"),
    Stop("loan_officer", "officer_bj", "/applications/", "Loan officer: applications", "客户经理：贷款申请",
         "The branch's applications: their state, amount, grade and what waits for the officer.",
         "本网点的贷款申请：状态、金额、评级以及待客户经理处理的事项。"),
    Stop("approver", "approver_bj", "/applications/?scope=all", "Approver: the review queue", "审批人：审批队列",
         "The cases of the approver's branches waiting for a decision, with their service-level timers; the "
         "default view keeps to the cases within the approver's own authority.",
         "辖内机构等待审批的案件及其时限；默认只显示在本人审批权限内的案件。"),
    Stop("operations", "ops", "/loans/close/", "Operations: the daily close", "运营：日终处理",
         "Each business date's close: accruals, overdue buckets, five-category classes, the ledger's signed head; "
         "the next close runs from this page.",
         "每个营业日的日终：计息、逾期分档、五级分类、账本签名树头；下一次日终可在此页面运行。"),
    Stop("auditor", "auditor", "/audit/", "Auditor: the audit trail", "审计：审计轨迹",
         "Every business event on the tamper-evident ledger, with the ledger's health and signed tree heads.",
         "防篡改账本上的每个业务事件，以及账本健康状况与签名树头。"),
    Stop("customer", "customer", "/", "Customer: my loans, on a phone", "客户：我的贷款（手机）",
         "What to pay next and the payoff today, the customer's applications, credit line and messages.",
         "下期应还与今日结清金额、我的申请、授信额度与消息。", phone=True),
]


def log_in(page: Page, username: str) -> None:
    page.goto("/login/")
    page.locator("#id_username").fill(username)
    page.locator("#id_password").fill(PASSWORD)
    page.locator(".login button[type=submit]").click()
    page.wait_for_url(lambda url: "/login/" not in url)


def resolve(page: Page, path: str) -> str:
    if path != "plan":
        return path
    page.goto("/plans/")
    link = page.locator("main a[href^='/plans/']").evaluate_all(
        "links => links.map(a => a.getAttribute('href'))")
    plans = [h for h in link if re.fullmatch(r"/plans/\d+/", h)]
    return f"{plans[0]}dashboard/" if plans else "/plans/"


def shoot(browser: object, base_url: str, stop: Stop, language: str, out: Path) -> Path:
    locale = LANGUAGES[language][1]
    viewport = PHONE if stop.phone else DESKTOP
    context = browser.new_context(base_url=base_url, locale=locale, viewport=viewport,  # type: ignore[attr-defined]
                                  reduced_motion="reduce", device_scale_factor=1,
                                  is_mobile=stop.phone, has_touch=stop.phone)
    context.add_cookies([{"name": "django_language", "value": language, "url": base_url}])
    page = context.new_page()
    log_in(page, stop.username)
    page.goto(resolve(page, stop.path))
    page.wait_for_load_state("networkidle")
    path = out / f"tour-{stop.role}-{'zh' if language == 'zh-hans' else 'en'}.png"
    page.screenshot(path=path, full_page=stop.phone)
    context.close()
    return path


def markdown(shots: dict[tuple[str, str], Path], md: Path) -> str:
    rel = lambda p: Path("screenshots") / p.name  # noqa: E731 - the tour sits in docs/, beside screenshots/
    lines = [
        "# A tour of creditplan: each role's main page, in Chinese and in English",
        "",
        "What each role sees first, from the demo data set (`make demo`; every user's password is "
        "`creditplan-demo`). The pages are the same in both languages: each shot is shown in Chinese (the "
        "default) and in English. The customer's page is taken on a 390 px phone. The images are made by "
        "`scripts/tour.py` against a running demo; every page of every role in both languages is checked by "
        "`tests/e2e/test_page_walk.py`.",
        "",
        "每个角色登录后首先看到的页面（演示数据，`make demo`，所有用户密码 `creditplan-demo`），中英文各一张；客户页面为 "
        "390 px 手机截图。",
        "",
    ]
    for stop in TOUR:
        lines += [f"## {stop.title_en} · {stop.title_zh}", "",
                  f"Log in as `{stop.username}`. {stop.what_en}", "", stop.what_zh, ""]
        zh, en = rel(shots[(stop.role, "zh-hans")]), rel(shots[(stop.role, "en")])
        if stop.phone:
            lines += ["| 中文 | English |", "|---|---|",
                      f"| ![{stop.title_zh}]({zh}) | ![{stop.title_en}]({en}) |", ""]
        else:
            lines += [f"![{stop.title_zh}]({zh})", "", f"![{stop.title_en}]({en})", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", default="http://127.0.0.1:8000")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--markdown", type=Path, default=ROOT / "docs" / "tour.md")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    shots: dict[tuple[str, str], Path] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)
        for stop in TOUR:
            for language in LANGUAGES:
                shots[(stop.role, language)] = shoot(browser, args.base_url, stop, language, args.out)
                print(shots[(stop.role, language)].relative_to(ROOT) if ROOT in shots[(stop.role, language)].parents
                      else shots[(stop.role, language)])
        browser.close()
    args.markdown.write_text(markdown(shots, args.markdown) + "\n", encoding="utf-8")
    print(args.markdown)


if __name__ == "__main__":
    main()
