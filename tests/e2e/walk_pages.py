"""The page walk's parts (tests/e2e/test_page_walk.py, scripts/tour.py): which pages exist, how their addresses
are filled from a seeded world, and what is wrong with the text a user sees.

Pages come from the URL resolver: every route outside api/, admin/, i18n/, the downloads and the POST-only actions
listed in EXCLUDED (each with its reason). A route this module cannot fill fails the walk: a new page cannot escape
it. The checks, per page, on the visible text (the header and <main>, less what is marked as data):
- wrong script: Han characters on an English page, Latin words on a Chinese page (ALLOWED_LATIN aside);
- raw codes: snake_case words, dotted permission codes, Python's True/False/None, data-set codes (A14);
- a page wider than its viewport.
Data a user reads as data (customer and staff names, usernames, references, codes) is skipped: elements marked
`class="data"` or `translate="no"`, and the world's own names (DATA_QUERIES).
"""

from __future__ import annotations

import enum
import importlib
import pkgutil
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LANGUAGES = ("zh-hans", "en")
# The demo's users, one per role (customers/demo.py STAFF); None: not logged in.
ROLES: dict[str, str | None] = {
    "admin": "admin", "planner": "planner", "risk_manager": "risk", "loan_officer": "officer_bj",
    "approver": "approver_bj", "operations": "ops", "auditor": "auditor", "customer": "customer",
    "anonymous": None,
}
SKIPPED_PREFIXES = ("api/", "admin/", "i18n/")
LOGIN = 302  # the status recorded for a page that sent the user to the log-in page

# Routes that are no page: POST-only actions (a GET is refused with 405), downloads (a file, not a page), the log-out.
EXCLUDED: dict[str, str] = {
    "web:logout": "POST action: logs out",
    "web:healthz": "JSON for load balancers, not a page",
    "org:user_status": "POST action: activate/deactivate a user (the user page holds its form)",
    "org:user_password": "POST action: reset a password (the user page holds its form)",
    "org:branch_move": "POST action: move a branch (the branch page holds its form)",
    "org:branch_close": "POST action: close a branch (the branch page holds its form)",
    "org:branch_reopen": "POST action: reopen a branch (the branch page holds its form)",
    "scoring:artifact": "download: the model's artifact file",
    "scoring:act": "POST action: validate/approve/deploy/retire a model version",
    "plans:group_change_decide": "POST action: decide a group change",
    "plans:group_batch_decide": "POST action: decide a file of group changes",
    "plans:group_propose": "POST action: propose a group change",
    "plans:capital_base_decide": "POST action: decide a capital base",
    "plans:activate": "POST action: activate a plan (the plan page holds its form)",
    "plans:export": "download: the plan as Excel",
    "plans:dashboard_export": "download: the dashboard as Excel",
    "plans:decide": "POST action: decide an adjustment",
    "plans:transfer_rule": "POST action: set the transfer rule",
    "plans:transfer_decide": "POST action: decide a transfer",
    "plans:freeze": "POST action: freeze a quota",
    "plans:target_template": "download: the targets' Excel template",
    "plans:target_remove": "POST action: remove a target",
    "lines:decide": "POST action: decide a line change",
    "loans:decide_change": "POST action: decide a loan change request",
    "loans:statement_pdf": "download: the loan statement (PDF)",
    "loans:action": "POST action on a loan (payment, prepayment, …)",
    "decisions:action": "POST action: validate/approve/activate a policy version",
    "origination:approve": "POST action: approve an application",
    "origination:decline": "POST action: decline an application",
    "origination:request_info": "POST action: ask the applicant for information",
    "origination:provide_info": "POST action: the applicant's answer",
    "origination:withdraw": "POST action: withdraw an application",
    "integration:deactivate": "POST action: deactivate a webhook endpoint",
    "integration:redeliver": "POST action: deliver a webhook again",
    "documents:view": "download: a stored document version (PDF, image)",
    "documents:upload": "POST action: upload a document",
    "documents:offer": "POST action: offer the contract",
    "documents:sign": "POST action: sign the contract",
    "documents:disburse": "POST action: disburse the loan",
    "risk_reviews:decide": "POST action: decide a limit proposal",
    "risk_reviews:assign": "POST action: assign a review task",
    "risk_monitoring:report": "download: the model monitoring report (PDF)",
    "risk:alert_action": "POST action: acknowledge/close an alert",
    "plans:group_create": "POST action: create a customer group (the groups page holds its form)",
    "plans:group_import": "POST action: import groups from a file (the groups page holds its form)",
    "plans:import": "POST action: import a plan from Excel (the plan list holds its form)",
    "plans:split": "POST action: split a plan into periods (the periods page holds its form)",
    "lines:risk": "POST action: freeze or reduce a line for risk (the line page holds its form)",
    "loans:close_start": "POST action: run the daily close (the close page holds its button)",
    "loans:close_progress": "HTMX fragment: the close's progress, polled by the close page (walked inside it)",
    "decisions:upload": "POST action: upload a policy (the policies page holds its form)",
}

# Latin words a Chinese page may show: the brand, units, standard abbreviations, file formats.
ALLOWED_LATIN = {
    "creditplan", "CNY", "RMB", "LPR", "PDF", "CSV", "Excel", "xlsx", "API", "KS", "AUC", "PSI", "IRR", "ECL",
    "PD", "LGD", "EAD", "SHA", "HTMX", "ECharts", "JSON", "URL", "HTTP", "HTTPS", "HMAC", "ID", "IFRS", "ROC",
    "Gini", "IV", "WOE", "DMN", "JDM", "FEEL", "SLA", "GB", "NPL", "BP", "bp", "Webhook", "webhook", "OK", "IP",
    "ONNX", "PMML", "SQL", "XGBoost", "LightGBM", "EIR", "APR", "KYC", "CSRF", "Merkle", "RFC", "UCI",
    "csv", "json", "pdf",  # file extensions
}
# Data-set codes of the German credit data (A11…A202) and Python's words shown as values.
_DATASET_CODE = re.compile(r"\bA(?:1[1-9]|[2-9]\d|1\d\d|20[0-2])\b")  # A11 … A202
_PYTHON_WORDS = re.compile(r"\b(True|False|None|nan|NaN)\b")
_SNAKE = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")
_DOTTED = re.compile(r"\b[a-z]+\.[a-z_]+\b")
_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")
_LATIN_WORD = re.compile(r"(?<![A-Za-z0-9_])[A-Za-z][A-Za-z0-9_'’\-]*")  # not a unit after a number (3y)


def _has_digit(word: str) -> bool:
    return any(ch.isdigit() for ch in word)


# ---------------------------------------------------------------------------------------------------- the routes
@dataclass
class Route:
    name: str  # namespace:name
    pattern: str  # "loans/<str:ref>/"
    params: list[str]


def routes() -> list[Route]:
    """Every route of creditplan's URLconf outside api/, admin/, i18n/ (EXCLUDED ones included: the caller
    drops them, so an exclusion of a route that is gone is noticed)."""
    from django.urls import URLPattern, URLResolver, get_resolver

    out: list[Route] = []

    def walk(patterns: Iterable[Any], prefix: str, ns: str | None) -> None:
        for p in patterns:
            if isinstance(p, URLResolver):
                sub = p.namespace if p.namespace else None
                walk(p.url_patterns, prefix + str(p.pattern), f"{ns}:{sub}" if ns and sub else (sub or ns))
            elif isinstance(p, URLPattern):
                route = prefix + str(p.pattern)
                if route.startswith(SKIPPED_PREFIXES):
                    continue
                name = f"{ns}:{p.name}" if ns else (p.name or route)
                out.append(Route(name, route, re.findall(r"<(?:\w+:)?(\w+)>", route)))

    walk(get_resolver().url_patterns, "", None)
    return out


# ----------------------------------------------------------------------------------------------------- the world
def world_values() -> dict[str, Any]:
    """The objects whose ids fill the addresses: in the Beijing sub-branch BJ01 where one exists (the loan officer
    and the approver see it), else the first of their kind."""
    from creditplan.customers.models import Customer, CustomerGroup
    from creditplan.decisions.models import Decision, PolicyVersion
    from creditplan.integration.models import WebhookDelivery
    from creditplan.lines.models import CreditLine
    from creditplan.loans.models import CloseRun, Loan, Product
    from creditplan.org.models import Branch, User
    from creditplan.origination.models import Application, ApplicationDraft
    from creditplan.plans.models import Adjustment, Plan, Quota
    from creditplan.risk.models import Alert, Indicator, ModelMonitor, ReviewTask, WatchEntry
    from creditplan.scoring.models import ModelVersion

    def first(qs: Any, column: str = "pk", **bj: Any) -> Any:
        """The first object's `column` (in BJ01 where `bj` says how), None when there is none."""
        return (qs.filter(**bj).order_by("pk").values_list(column, flat=True).first()
                or qs.order_by("pk").values_list(column, flat=True).first())

    loan = first(Loan.objects.all(), "ref", branch__code="BJ01")
    plan = first(Plan.objects.all(), status="active")
    policy = first(PolicyVersion.objects.all())
    table_id = None
    if policy is not None:
        from creditplan.decisions import services as decisions

        admin = User.objects.get(username="admin")
        grids = decisions.grid_of(admin, policy)
        table_id = grids[0]["id"] if grids else None
    close = CloseRun.objects.order_by("-business_date").values_list("business_date", flat=True).first()
    return {
        "user_id": first(User.objects.filter(username="officer_bj")),
        "branch_code": first(Branch.objects.all(), "code", code="BJ01"),
        "customer_id": first(Loan.objects.filter(ref=loan), "customer_id") or first(Customer.objects.all()),
        "model_version_id": first(ModelVersion.objects.all()),
        "plan_id": plan,
        "quota_id": first(Quota.objects.filter(plan_id=plan)),
        "group_id": first(CustomerGroup.objects.all()),
        "adjustment_id": first(Adjustment.objects.all()),
        "line_id": first(CreditLine.objects.all(), branch__code="BJ01"),
        "loan_ref": loan,
        "close_date": close.isoformat() if close else None,
        "policy_version_id": policy,
        "table_id": table_id,
        "product": first(Product.objects.all(), "code"),
        "decision_id": first(Decision.objects.all()),
        "application_ref": first(Application.objects.all(), "ref", branch__code="BJ01"),
        "draft_token": first(ApplicationDraft.objects.all(), "token"),
        "delivery_id": first(WebhookDelivery.objects.all()),
        "task_id": first(ReviewTask.objects.all()),
        "entry_id": first(WatchEntry.objects.all()),
        "monitor_version_id": first(ModelMonitor.objects.all(), "version_id"),
        "indicator_code": first(Indicator.objects.all(), "code"),
        "alert_id": first(Alert.objects.all()),
    }


# (route name, parameter) → the world's key; a parameter alone where every route means the same.
FILL: dict[str, str] = {
    "user_id": "user_id", "customer_id": "customer_id", "plan_id": "plan_id", "quota_id": "quota_id",
    "group_id": "group_id", "adjustment_id": "adjustment_id", "line_id": "line_id", "decision_id": "decision_id",
    "table_id": "table_id", "product": "product", "token": "draft_token", "delivery_id": "delivery_id",
    "task_id": "task_id", "entry_id": "entry_id", "alert_id": "alert_id",
    "org:code": "branch_code", "risk:code": "indicator_code",
    "scoring:version_id": "model_version_id", "decisions:version_id": "policy_version_id",
    "risk_monitoring:version_id": "monitor_version_id",
    "loans:ref": "loan_ref", "origination:ref": "application_ref", "loans:date": "close_date",
}


def fill(route: Route, world: dict[str, Any]) -> tuple[str | None, str]:
    """The address of `route` in `world`, or (None, why not)."""
    from django.urls import reverse

    kwargs = {}
    ns = route.name.split(":")[0]
    for param in route.params:
        key = FILL.get(f"{ns}:{param}") or FILL.get(param)
        if key is None:
            return None, f"no filler for <{param}> (add one to walk_pages.FILL, or exclude the route with a reason)"
        value = world.get(key)
        if value is None:
            return None, f"the world has no {key} for <{param}> (seed one)"
        kwargs[param] = value
    return reverse(route.name, kwargs=kwargs), ""


def pages(world: dict[str, Any]) -> tuple[list[tuple[str, str]], list[str]]:
    """[(route name, address)] to walk, and the problems: routes that cannot be filled, stale exclusions."""
    found = routes()
    problems = [f"EXCLUDED names {name!r}, which is no route any more" for name in EXCLUDED
                if name not in {r.name for r in found}]
    out = []
    for route in found:
        if route.name in EXCLUDED:
            continue
        url, why = fill(route, world)
        if url is None:
            problems.append(f"{route.name} ({route.pattern}): {why}")
        else:
            out.append((route.name, url))
    return out, problems


# --------------------------------------------------------------------------------------------- codes and data
def enum_values() -> set[str]:
    """Every value of creditplan's enums (StrEnum, TextChoices) and of its models' choices."""
    import creditplan

    values: set[str] = set()
    for info in pkgutil.walk_packages(creditplan.__path__, "creditplan."):
        if any(part in info.name for part in (".migrations", ".management", "tests", ".wsgi", ".batch.spark")):
            continue
        try:
            module = importlib.import_module(info.name)
        except Exception:  # noqa: BLE001 - an optional dependency (Spark) missing: its enums are not on pages
            continue
        for obj in vars(module).values():
            if isinstance(obj, type) and issubclass(obj, enum.Enum) and obj.__module__.startswith("creditplan"):
                values.update(str(m.value) for m in obj if isinstance(m.value, str))
    from django.apps import apps

    for model in apps.get_models():
        for f in model._meta.get_fields():
            for choice in getattr(f, "choices", None) or ():
                if isinstance(choice[0], str):
                    values.add(choice[0])
    return {v for v in values if v}


def data_strings() -> list[str]:
    """What a user reads as data: customer and staff names, usernames, branch codes, references."""
    from creditplan.customers.models import Customer, CustomerGroup
    from creditplan.org.models import Branch, User

    out: set[str] = set()
    for name, employer in Customer.objects.values_list("name", "employer"):
        out.update(v for v in (name, employer) if isinstance(v, str))
    for username, display in User.objects.values_list("username", "display_name"):
        out.update((username, display or ""))
    out.update(Branch.objects.values_list("code", flat=True))
    out.update(CustomerGroup.objects.values_list("name", flat=True))
    from creditplan.decisions.models import Policy
    from creditplan.scoring.models import ScoringModel

    out.update(ScoringModel.objects.values_list("name", flat=True))  # model and policy names: identifiers
    out.update(Policy.objects.values_list("name", flat=True))
    from creditplan.plans.models import Plan

    out.update(Plan.objects.values_list("name", flat=True))  # a plan's name is what its planner typed
    from creditplan.integration.models import WebhookEndpoint

    for name, url in WebhookEndpoint.objects.values_list("name", "url"):  # a receiver's name and address
        out.update((name, url))
    return sorted((s for s in out if len(s) >= 2), key=len, reverse=True)  # longest first: names in names


def untranslated_catalogue() -> list[str]:
    """The Chinese catalogue's entries with no translation or marked fuzzy."""
    import polib
    from django.conf import settings

    out = []
    for root in settings.LOCALE_PATHS:
        for po in sorted(Path(root).glob("zh_Hans/LC_MESSAGES/*.po")):
            catalogue = polib.pofile(str(po))
            for e in catalogue:
                if e.obsolete:
                    continue
                if "fuzzy" in e.flags:
                    out.append(f"{po.name}: fuzzy: {e.msgid!r}")
                elif not e.translated():
                    out.append(f"{po.name}: no translation: {e.msgid!r}")
    return out


# -------------------------------------------------------------------------------------------------- the checks
# Text the user sees: the header (brand, menu, who) and <main>, without elements marked as data, the language
# menu (language names are written in their own language), scripts, and what is hidden.
EXTRACT_JS = """() => {
  const skip = 'script, style, template, code, kbd, samp, .data, [translate="no"], #lang-form, [hidden]';
  const parts = [];
  for (const root of document.querySelectorAll('header, main')) {
    let text = root.innerText || '';
    // the longest first: a code that also occurs inside a data block (a JSON body) must not break the block's text
    const cut = [...root.querySelectorAll(skip)].map(el => (el.innerText || '').trim()).filter(t => t);
    cut.sort((a, b) => b.length - a.length);
    for (const t of cut) text = text.split(t).join(' ');
    parts.push(text);
  }
  if (!parts.length) parts.push(document.body ? document.body.innerText : '');
  return {text: parts.join('\\n'), width: document.documentElement.scrollWidth,
          viewport: window.innerWidth, lang: document.documentElement.lang,
          title: document.title};
}"""


@dataclass
class Finding:
    page: str  # route name
    url: str
    role: str
    language: str
    what: str

    def line(self) -> str:
        return f"{self.page} | {self.role} | {self.language} | {self.url} | {self.what}"


@dataclass
class Checker:
    codes: set[str]
    data: list[str] = field(default_factory=list)

    def strip_data(self, text: str) -> str:
        for s in self.data:
            if s in text:
                text = text.replace(s, " ")
        return text

    def problems(self, text: str, language: str) -> list[str]:
        text = self.strip_data(text)
        out = []
        if language == "en":
            han = sorted(set(_HAN.findall(text)))
            if han:
                out.append("Chinese on the English page: " + ", ".join(han[:8]))
        else:
            latin = sorted({w.strip("'’-") for w in _LATIN_WORD.findall(text)} - ALLOWED_LATIN)
            latin = [w for w in latin if len(w) > 1 and not _has_digit(w) and not _SNAKE.fullmatch(w)
                     and w not in ALLOWED_LATIN and not (w.isupper() and len(w) <= 4)]
            if latin:
                out.append("English on the Chinese page: " + ", ".join(latin[:12]))
        snake = sorted(set(_SNAKE.findall(text)))
        if snake:
            known = [w for w in snake if w in self.codes]
            out.append("raw codes: " + ", ".join(snake[:10]) + (" (enum values)" if known else ""))
        dotted = sorted({w for w in _DOTTED.findall(text) if w in self.codes})
        if dotted:
            out.append("permission codes: " + ", ".join(dotted[:6]))
        py = sorted(set(_PYTHON_WORDS.findall(text)))
        if py:
            out.append("Python values: " + ", ".join(py))
        ds = sorted(set(_DATASET_CODE.findall(text)))
        if ds:
            out.append("data-set codes: " + ", ".join(ds[:8]))
        return out


def walk_context(browser: Any, base_url: str, language: str, username: str | None, password: str,
                 width: int = 1280) -> Any:
    """A browser context in `language`, logged in as `username` (None: anonymous)."""
    context = browser.new_context(base_url=base_url, viewport={"width": width, "height": 900},
                                  locale="zh-CN" if language == "zh-hans" else "en-US")
    context.add_cookies([{"name": "django_language", "value": language, "url": base_url}])
    context.set_default_timeout(20_000)
    # Charts draw on a canvas (no text a user reads in the DOM): the chart library is not loaded, which spares the
    # walk its start-up on every page with a chart. The pages' own scripts (HTMX, creditplan.js) run.
    context.route("**/vendor/echarts*", lambda route: route.abort())
    page = fresh_page(context)
    if username:
        page.goto("/login/")
        page.locator("#id_username").fill(username)
        page.locator("#id_password").fill(password)
        page.locator(".login button[type=submit]").click()
        page.wait_for_url(lambda url: "/login/" not in url)
    return context, page


def fresh_page(context: Any) -> Any:
    """The context's one page: a failed navigation (an error status with no body) leaves the old one navigating
    to Chromium's error page, so it is replaced."""
    for old in context.pages:
        old.close()
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.dismiss())
    return page


def visit(page: Any, url: str, name: str, role: str, language: str, checker: Checker,
          width: int | None = None) -> tuple[int | None, list[Finding], Any]:
    """Open `url` and check what it shows: the status, the findings, and the page to go on with."""
    findings: list[Finding] = []
    if role == "anonymous":  # a visitor is sent to log in from almost every page: ask without drawing it
        answer = page.context.request.get(url, max_redirects=0)
        if answer.status == 302 and "/login/" in answer.headers.get("location", ""):
            return LOGIN, findings, page
    try:
        response = page.goto(url, wait_until="domcontentloaded")
    except Exception as exc:  # noqa: BLE001 - an error status with no body, a download: ask for the status alone
        context = page.context
        page = fresh_page(context)
        try:
            answer = context.request.get(url, max_redirects=0)
            status, content_type = answer.status, answer.headers.get("content-type", "")
        except Exception:  # noqa: BLE001
            status, content_type = None, ""
        if status == 405:
            what = "answers 405 to GET: a POST action? list it in walk_pages.EXCLUDED with its reason"
        else:
            what = f"did not open (status {status}, {content_type or 'no body'}): {str(exc).splitlines()[0][:120]}"
        return status, [Finding(name, url, role, language, what)], page
    status = response.status if response else None
    if "/login/" in page.url and "/login/" not in url:  # sent to log in: the log-in page is walked on its own
        return LOGIN, findings, page
    if status not in (200, 403, 404):
        findings.append(Finding(name, url, role, language, f"status {status}"))
    content_type = (response.headers.get("content-type", "") if response else "")
    if "html" not in content_type:
        findings.append(Finding(name, url, role, language, f"not a page: {content_type}"))
        return status, findings, page
    seen = page.evaluate(EXTRACT_JS)
    if seen["lang"].lower() != language:
        findings.append(Finding(name, url, role, language, f"page language {seen['lang']!r}"))
    for what in checker.problems(seen["text"], language):
        findings.append(Finding(name, url, role, language, what))
    if seen["width"] > seen["viewport"] + 1:
        findings.append(Finding(name, url, role, language,
                                f"wider than the screen: {seen['width']} px in {seen['viewport']} px"))
    return status, findings, page
