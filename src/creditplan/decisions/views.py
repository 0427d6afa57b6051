"""Decision-engine pages: policies and their versions (upload, grid editor, validation report, example tests,
four-eyes publishing), the simulation with its chart, and one decision explained in plain words. Views only
call services; amounts arrive in fen and go to the templates in fen, shown with the `money` filter (the plain
"12345.67" of core.money.format_minor in the boxes of the forms)."""

from __future__ import annotations

import json
import re
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from creditplan.common.text import problem_text
from creditplan.core.errors import CreditplanError
from creditplan.core.money import format_minor, from_ppm
from creditplan.decisions import labels, services
from creditplan.decisions.domain import configuration as cfg
from creditplan.decisions.domain.authority import GRADES, LEVEL_TEXT, LEVELS
from creditplan.decisions.domain.pricing import pct_text
from creditplan.loans.services import list_products
from creditplan.org import services as org
from creditplan.org.domain import ROLE_LABELS, Perm, Role

STATUS_LABELS = {
    "draft": gettext_lazy("Draft"), "validated": gettext_lazy("Validated"),
    "submitted": gettext_lazy("Awaiting approval"), "published": gettext_lazy("Published"),
    "retired": gettext_lazy("Retired"),
}
OUTCOME_LABELS = {"approve": gettext_lazy("Approve"), "refer": gettext_lazy("Refer to a reviewer"),
                  "decline": gettext_lazy("Decline")}
QUOTA_LABELS = {
    "untracked": gettext_lazy("Quota not tracked"),
    "reserved": gettext_lazy("Quota reserved"), "escalated": gettext_lazy("Soft quota exceeded: escalated"),
    "refused": gettext_lazy("Hard quota refused"), "unavailable": gettext_lazy("No plan quota available"),
    "not_requested": gettext_lazy("Quota not requested"), "not_checked": gettext_lazy("Quota not checked"),
}
EXTRA_ROWS = 3


def _zh() -> bool:
    return not (get_language() or "zh").startswith("en")


def _error(request: HttpRequest, exc: CreditplanError) -> None:
    if exc.http_status in (401, 403, 404):
        raise exc
    messages.error(request, problem_text(exc.code, exc.message))


def _version_ctx(v: services.PolicyVersionView) -> dict[str, Any]:
    ruleset = services.ruleset_of(v.product)
    zh = _zh()
    return {"v": v, "status_label": STATUS_LABELS.get(v.status, v.status), "ruleset": ruleset,
            "author": labels.person(v.author), "approver": labels.person(v.approved_by), "note": labels.note(v.note),
            "title": ruleset.name(zh) if ruleset else labels.product_names(list_products()).get(v.product, v.product),
            "ruleset_about": {
                "explain": ruleset.explain_zh if zh else ruleset.explain_en,
                "inputs": [(f.name, f.zh if zh else f.en) for f in ruleset.inputs],
                "outcomes": [(o, ruleset.outcome_label(o, zh)) for o in ruleset.scale.outcomes],
                "fallback": ruleset.outcome_label(ruleset.scale.fallback, zh)} if ruleset else None}


def _ruleset_title(key: str) -> str:
    ruleset = services.ruleset_of(key)
    return ruleset.name(_zh()) if ruleset else key


def _outcome_label(product: str, outcome: str) -> str:
    """An outcome as a page shows it: a ruleset's own words (its level names), a credit outcome's label."""
    ruleset = services.ruleset_of(product)
    if ruleset is not None:
        return ruleset.outcome_label(outcome, _zh())
    return str(OUTCOME_LABELS.get(outcome, outcome))


@login_required
def policy_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    policies = services.list_policies(user)
    names = labels.product_names(list_products())
    rows: list[dict[str, Any]] = []
    for p in policies:
        ruleset = services.ruleset_of(p.product)
        rows.append({"p": p, "published": _version_ctx(p.published) if p.published else None,
                     "versions": [_version_ctx(v) for v in p.versions[:6]], "ruleset": ruleset,
                     "title": ruleset.name(_zh()) if ruleset else names.get(p.product, p.product)})
    matrix = [{"r": r, "amount": r.max_amount_minor, "role": labels.label("role", r.role),
               "product": names.get(r.product, r.product) if r.product else "",
               "level": LEVEL_TEXT.get(r.branch_level, (r.branch_level, r.branch_level))[1 if _zh() else 0]}
              for r in services.authority_matrix(user)]
    return render(request, "decisions/policy_list.html", {
        "rows": rows, "matrix": matrix, "may_edit": org.may(user, Perm.POLICY_EDIT),
        "products": list(names.items()),
        "rulesets": [(r.key, r.name(_zh())) for r in services.registered_rulesets()],
    })


@login_required
@require_POST
def upload(request: HttpRequest) -> HttpResponse:
    product = request.POST.get("product", "")
    text = request.POST.get("jdm_text", "")
    file = request.FILES.get("jdm_file")
    if file is not None:
        text = file.read(2_000_000)
    try:
        v = services.upload_policy(request.user, product=product, jdm=text or "", note=request.POST.get("note", ""))
    except CreditplanError as exc:
        _error(request, exc)
        return redirect("decisions:policies")
    ruleset = services.ruleset_of(v.product)
    label = f"{ruleset.name(_zh())} v{v.number}" if ruleset else v.label
    messages.success(request, _("Draft %(label)s stored. Validate it next.") % {"label": label})
    return redirect("decisions:version", version_id=v.id)


def _literal_text(expression: str) -> str | None:
    """The text a quoted output cell holds ('"decline"' → decline); None for any other expression."""
    try:
        value = json.loads(expression)
    except ValueError:
        return None
    return value if isinstance(value, str) else None


def _shown_tables(tables: list[dict[str, Any]], product: str) -> list[dict[str, Any]]:
    """A version's decision tables as its page shows them: names and column headings in the page's language,
    the message column of the page's language only (where the table has one), outcomes as words, the rest of
    the cells (tests, expressions, reason codes) as the code they are."""
    zh = _zh()
    page_message = "message_zh" if zh else "message_en"
    other = "message_en" if zh else "message_zh"
    ruleset = services.ruleset_of(product)
    fields_read = {f.name: (f.zh if zh else f.en) for f in ruleset.inputs} if ruleset else {}
    out = []
    for t in tables:
        fields = [c["field"] for c in t["outputs"]]
        keep = [j for j, f in enumerate(fields) if not (f == other and page_message in fields)]
        rows = []
        for r in t["rows"]:
            cells = []
            for j in keep:
                field, expression = fields[j], r["outputs"][j]
                text = _literal_text(expression)
                if field == "outcome" and ruleset is not None and text in ruleset.scale.outcomes:
                    cells.append({"outcome": f"lvl-{text}", "text": ruleset.outcome_label(text, zh)})
                elif field == "outcome" and ruleset is None and text in OUTCOME_LABELS:
                    cells.append({"outcome": text, "text": labels.label("outcome", text)})
                elif field.startswith("message") and text is not None:
                    cells.append({"text": text})
                elif field == "reason" and text:
                    cells.append({"code": text})
                else:
                    cells.append({"code": expression})
            rows.append({"id": r["id"], "inputs": r["inputs"], "outputs": cells})
        own = t.get("name_zh" if zh else "name_en")
        name = ruleset.name(zh) if ruleset is not None and len(tables) == 1 and not own else labels.jdm_name(t)
        out.append({"id": t["id"], "name": name, "hit_policy": t["hit_policy"],
                    "inputs": [{"label": fields_read.get(c["field"]) or labels.jdm_name(c, "input"),
                                "field": c["field"]} for c in t["inputs"]],
                    "outputs": [labels.jdm_name(t["outputs"][j], "output") for j in keep], "rows": rows})
    return out


@login_required
def version_detail(request: HttpRequest, version_id: int) -> HttpResponse:
    user = request.user
    v = services.get_version(user, version_id)
    tables = _shown_tables(services.grid_of(user, version_id), v.product)
    return render(request, "decisions/version_detail.html", {
        **_version_ctx(v), "tables": tables, "may_edit": org.may(user, Perm.POLICY_EDIT),
        "may_approve": org.may(user, Perm.POLICY_APPROVE) and user.username not in (v.author,),
        "editable": v.status in ("draft", "validated"),
        "jdm": json.dumps(services.version_document(user, version_id), ensure_ascii=False, indent=1),
    })


_RULE_LABEL = re.compile(r"^(?P<table>.*) #(?P<row>\d+) \((?P<reason>[^()]*)\)$")


def _rule_ref(text: str) -> dict[str, str]:
    """A rule as the validation report names it ("Score cut-offs #1 (CUT_APPROVE_STD)"): its table in the page's
    words, its row, and its reason code (shown as the code it is)."""
    m = _RULE_LABEL.match(str(text))
    if m is None:
        return {"reason": str(text)}
    return {"table": labels.jdm_name({"name": m["table"]}), "row": m["row"], "reason": m["reason"]}


@login_required
def validation_report(request: HttpRequest, version_id: int) -> HttpResponse:
    v = services.get_version(request.user, version_id)
    report = v.validation or {}
    fields = report.get("fields") or {}
    return render(request, "decisions/validation.html", {
        **_version_ctx(v), "report": report, "may_edit": org.may(request.user, Perm.POLICY_EDIT),
        "overlaps": [{**o, "table_label": labels.jdm_name({"name": o.get("table")})}
                     for o in report.get("overlaps") or []],
        "fields": [{"field": f, "label": str(labels.FACT_LABELS.get(f, "")), "rules": [_rule_ref(x) for x in rules]}
                   for f, rules in fields.items()],
    })


_ACTIONS = {
    "validate": (services.validate_version, gettext_lazy("Validation finished.")),
    "submit": (services.submit_version, gettext_lazy("Submitted: a second risk manager must approve it.")),
    "approve": (services.approve_version, gettext_lazy("Approved and published: new decisions use this version.")),
    "draft": (services.new_draft_from, gettext_lazy("New draft created.")),
}


@login_required
@require_POST
def version_action(request: HttpRequest, version_id: int, action: str) -> HttpResponse:
    try:
        if action == "return":
            v = services.return_to_draft(request.user, version_id, note=request.POST.get("note", ""))
            messages.success(request, _("Sent back to draft."))
        elif action in _ACTIONS:
            fn, text = _ACTIONS[action]
            v = fn(request.user, version_id)
            messages.success(request, str(text))
            if action == "validate":
                return redirect("decisions:validation", version_id=version_id)
        else:
            messages.error(request, _("Unknown action."))
            return redirect("decisions:version", version_id=version_id)
    except CreditplanError as exc:
        _error(request, exc)
        return redirect("decisions:version", version_id=version_id)
    return redirect("decisions:version", version_id=v.id)


@login_required
def grid(request: HttpRequest, version_id: int, table_id: str) -> HttpResponse:
    """Edit one decision table as a grid: a row per rule, a text box per column (ZEN unary tests for inputs,
    expressions for outputs); blank rows are dropped, a few empty rows are offered for new rules."""
    user = request.user
    v = services.get_version(user, version_id)
    table = next((t for t in services.grid_of(user, version_id) if t["id"] == table_id), None)
    if table is None:
        messages.error(request, _("No such table."))
        return redirect("decisions:version", version_id=version_id)
    rows = table["rows"]
    error = ""
    if request.method == "POST":
        try:  # a row count the page sent; anything else is no rows (issue 20: int("1e400") was a 500)
            count = int(str(request.POST.get("rows", "0") or 0)[:6])
        except ValueError:
            count = 0
        rows = []
        for i in range(min(count, 2000)):
            rows.append({"id": request.POST.get(f"id-{i}", ""), "description": request.POST.get(f"desc-{i}", ""),
                         "inputs": [request.POST.get(f"in-{i}-{j}", "") for j in range(len(table["inputs"]))],
                         "outputs": [request.POST.get(f"out-{i}-{j}", "") for j in range(len(table["outputs"]))]})
        hit = request.POST.get("hit_policy") or table["hit_policy"]
        try:
            services.save_grid(user, version_id, table_id=table_id, rows=rows,
                               hit_policy=hit if hit in ("first", "collect") else None)
        except CreditplanError as exc:
            if exc.http_status in (401, 403, 404):
                raise
            error = problem_text(exc.code, exc.message)
            table["hit_policy"] = hit
        else:
            messages.success(request, _("Table saved; the version is a draft again: validate it."))
            return redirect("decisions:version", version_id=version_id)
    table = {**table, "name": labels.jdm_name(table),
             "inputs": [{**c, "label": labels.jdm_name(c, "input")} for c in table["inputs"]],
             "outputs": [{**c, "label": labels.jdm_name(c, "output")} for c in table["outputs"]]}
    blank = {"id": "", "description": "", "inputs": [""] * len(table["inputs"]), "outputs": [""] * len(table["outputs"])}
    shown = [*rows, *[dict(blank) for _ in range(EXTRA_ROWS)]]
    return render(request, "decisions/grid.html", {
        **_version_ctx(v), "table": table, "rows": shown, "count": len(shown), "error": error,
        "editable": v.status in ("draft", "validated") and org.may(user, Perm.POLICY_EDIT),
    }, status=422 if error else 200)


@login_required
def tests_page(request: HttpRequest, version_id: int) -> HttpResponse:
    """Example applications of the policy and their results against this version (POST runs them)."""
    user = request.user
    v = services.get_version(user, version_id)
    results = None
    if request.method == "POST" and request.POST.get("run"):
        try:
            results = services.run_examples(user, version_id)
        except CreditplanError as exc:
            _error(request, exc)
    elif request.method == "POST":
        try:
            application = json.loads(request.POST.get("application") or "{}")
        except ValueError:
            messages.error(request, _("The example application is not valid JSON."))
        else:
            try:
                services.add_example(user, product=v.product, name=request.POST.get("name", ""),
                                     application=application, expected_outcome=request.POST.get("expected", ""))
            except CreditplanError as exc:
                _error(request, exc)
            else:
                messages.success(request, _("Example saved."))
                return redirect("decisions:tests", version_id=version_id)
        v = services.get_version(user, version_id)
    examples = services.list_examples(user, v.product)
    summary = v.test_summary if results is None else None
    ruleset = services.ruleset_of(v.product)
    sample: dict[str, Any] = ({"inputs": ruleset.sample()} if ruleset else
                              {"amount_minor": 5_000_000, "term": 12, "score": 560, "grade": "C", "pd": 0.07,
                               "inputs": {"age": 35, "monthly_income_minor": 3_000_000,
                                          "existing_debt_service_minor": 200_000, "residency": "resident",
                                          "blacklist": False, "bureau_flags": [], "existing_overdue": False}})
    outcomes = ruleset.scale.outcomes if ruleset else services.OUTCOMES
    return render(request, "decisions/tests.html", {
        **_version_ctx(v), "examples": examples, "results": results, "summary": summary,
        "may_edit": org.may(user, Perm.POLICY_EDIT),
        "sample": json.dumps(sample, ensure_ascii=False),
        "outcomes": [(o, _outcome_label(v.product, o)) for o in outcomes],
        "example_rows": [{"e": e, "expected": _outcome_label(v.product, e.expected_outcome)} for e in examples],
        "result_rows": None if results is None else [
            {"r": r, "expected": _outcome_label(v.product, r.example.expected_outcome),
             "outcome": _outcome_label(v.product, r.outcome)} for r in results],
        "summary_rows": [{"r": r, "expected": _outcome_label(v.product, r.get("expected", "")),
                          "outcome": _outcome_label(v.product, r.get("outcome", ""))}
                         for r in (summary or {}).get("results", [])],
    })


@login_required
def simulation(request: HttpRequest) -> HttpResponse:
    user = request.user
    org.require(user, Perm.POLICY_VIEW)
    policies = services.list_policies(user)
    product = request.GET.get("product") or (policies[0].product if policies else "")
    version_id = request.GET.get("version") or ""
    shift = request.GET.get("shift") or "0"
    result, chart = None, None
    if product and request.GET.get("run"):
        try:
            result = services.simulate(user, product=product, version_id=int(version_id) if version_id else None,
                                       cutoff_shift=int(shift))
        except ValueError:
            messages.error(request, _("The cut-off shift is a whole number of points."))
        except CreditplanError as exc:
            _error(request, exc)
    if result is not None:
        b, a = result.comparison["before"], result.comparison["after"]
        grades = sorted(set(b["by_grade"]) | set(a["by_grade"]))
        chart = {
            "labels": {"before": _("Before"), "after": _("After"), "approval": _("Approval rate (%)"),
                       "bad": _("Expected bad rate (%)"), "volume": _("Volume (10k yuan)"),
                       "grade": _("Approved by grade")},
            "before": [round(b["approval_rate"] * 100, 2), round((b["expected_bad_rate"] or 0) * 100, 2),
                       round(b["volume_minor"] / 1_000_000, 2)],
            "after": [round(a["approval_rate"] * 100, 2), round((a["expected_bad_rate"] or 0) * 100, 2),
                      round(a["volume_minor"] / 1_000_000, 2)],
            "grades": grades,
            "grade_before": [b["by_grade"].get(g, {}).get("approved", 0) for g in grades],
            "grade_after": [a["by_grade"].get(g, {}).get("approved", 0) for g in grades],
        }
    versions = next((p.versions for p in policies if p.product == product), [])
    names = labels.product_names(list_products())
    return render(request, "decisions/simulation.html", {
        "policies": policies, "product": product, "version_id": version_id, "shift": shift, "versions": versions,
        "product_choices": [(p.product, names.get(p.product) or _ruleset_title(p.product)) for p in policies],
        "version_choices": [(x.id, x.number, labels.label("status", x.status)) for x in versions],
        "product_name": names.get(product, product),
        "result": result, "chart": chart,
        "before_volume": result.comparison["before"]["volume_minor"] if result else None,
        "after_volume": result.comparison["after"]["volume_minor"] if result else None,
    })


def _policy_label(d: Any) -> str:
    """The policy a decision used, as "<product name> v<n>" in the page's language ("" where none)."""
    if not d.policy_label:
        return ""
    number = d.policy_label.rsplit(" v", 1)[-1]
    name = labels.product_names(list_products()).get(d.product) or _ruleset_title(d.product)
    return f"{name} v{number}"


@login_required
def decision_detail(request: HttpRequest, decision_id: int) -> HttpResponse:
    """One decision in plain words: outcome, why, the limit and price worked out, the rules that fired."""
    d = services.get_decision(request.user, decision_id)
    zh = _zh()
    level = LEVEL_TEXT.get(d.required_level, (d.required_level, d.required_level))[1 if zh else 0]
    return render(request, "decisions/decision.html", {
        "d": d, "zh": zh, "outcome_label": OUTCOME_LABELS.get(d.outcome, d.outcome),
        "reasons": d.reasons_zh if zh else d.reasons, "level": level,
        "quota_label": QUOTA_LABELS.get(d.quota_status, d.quota_status),
        "approved": d.approved_amount_minor, "requested": d.requested_minor,
        "installment": d.installment_minor, "rate": from_ppm(d.rate_ppm) * 100, "apr": d.apr * 100,
        "limit_steps": [{"text": s["zh" if zh else "en"], "binding": s.get("binding")} for s in d.limit_steps],
        "price_steps": [s["zh" if zh else "en"] for s in d.price_steps],
        "policy_label": _policy_label(d), "actor": labels.person(d.actor_name),
        "rules": [{"table": labels.jdm_name(d.table_names.get(r.get("table_id") or "", {"name": r.get("table")})),
                   "row": r.get("row"), "outcome": r.get("outcome"),
                   "outcome_label": labels.label("outcome", r.get("outcome")),
                   "text": r.get("message_zh" if zh else "message_en"), "set_aside": r.get("set_aside", False)}
                  for r in d.rules_fired],
    })


# --- configuration: the authority matrix, the pricing grid, the LPR table --------------------------------

# What a box's problem says on a Chinese page (the English page shows the service's own, more precise words).
_CELL_TEXT = {
    "unknown_role": gettext_lazy("Unknown role"), "unknown_level": gettext_lazy("Unknown branch level"),
    "unknown_product": gettext_lazy("Unknown product"), "unknown_grade": gettext_lazy("Unknown grade"),
    "required": gettext_lazy("Required"), "invalid_rate": gettext_lazy("Not a percentage"),
    "rate_out_of_range": gettext_lazy("Must be between 0 % and 36 %"),
    "floor_above_cap": gettext_lazy("The cap is below the floor"),
    "not_whole": gettext_lazy("A whole number"), "out_of_range": gettext_lazy("Out of range"),
    "auto_above_limit": gettext_lazy("Above the grade limit"),
    "authority_empty": gettext_lazy("The matrix needs at least one rule"),
    "invalid_date": gettext_lazy("Not a date (YYYY-MM-DD)"),
}
SPARE_AUTHORITY_ROWS = 3


def _field_errors(exc: CreditplanError) -> dict[str, str]:
    """Box name → what to show next to it, in the page's language."""
    zh = _zh()
    zh_texts = exc.extra.get("zh", {}) if zh else {}
    out = {}
    for p in exc.problems:
        if p.field in zh_texts:
            out[p.field] = zh_texts[p.field]
        elif zh and p.code in _CELL_TEXT:
            out[p.field] = str(_CELL_TEXT[p.code])
        else:  # the money edge's codes (amount_format, too_many_decimals…) are translated in common.text
            out[p.field] = problem_text(p.code, p.message)
    if not out and exc.field:
        out[exc.field] = problem_text(exc.code, exc.message)
    return out


def _plain(minor: int) -> str:
    """An amount as typed in a box: "12345.67" (format_minor's plain form; right for negatives too)."""
    return format_minor(minor, grouping=False)


def _pct(ppm: int) -> str:
    return pct_text(ppm).rstrip("%")


def _level_label(level: str) -> str:
    return LEVEL_TEXT.get(level, (level, level))[1 if _zh() else 0]


def _role_label(role: str) -> str:
    try:
        return ROLE_LABELS[Role(role)][1 if _zh() else 0]
    except ValueError:
        return role


@login_required
def authority(request: HttpRequest) -> HttpResponse:
    """The approval authority matrix as an editable table: a row per rule (remove with the box at its end),
    spare rows to add rules; refused saves keep what was typed, each problem next to its box."""
    user = request.user
    review = services.authority_review(user)
    may_edit = org.may(user, Perm.POLICY_APPROVE)
    errors: dict[str, str] = {}
    if request.method == "POST":
        org.require(user, Perm.POLICY_APPROVE)
        rows_text = request.POST.get("rows", "0")
        count = min(int(rows_text), 500) if rows_text.isdigit() else 0
        typed = []
        for i in range(count):
            row = {f: request.POST.get(f"{f}-{i}", "").strip() for f in cfg.MATRIX_FIELDS}
            row["remove"] = bool(request.POST.get(f"remove-{i}"))
            typed.append(row)
        try:
            review = services.update_authority_matrix(
                user, [{} if r["remove"] else {f: r[f] for f in cfg.MATRIX_FIELDS} for r in typed])
        except CreditplanError as exc:
            if exc.http_status in (401, 403, 404):
                raise
            errors = _field_errors(exc)
            messages.error(request, _("The matrix was not saved: correct the boxes marked below."))
            rows = typed
        else:
            messages.success(request, _("Authority matrix saved (%(n)d rules): the next decision uses it.")
                             % {"n": len(review.rules)})
            return redirect("decisions:authority")
    else:
        rows = [{"role": r.role, "branch_level": r.branch_level, "product": r.product,
                 "max_amount": _plain(r.max_amount_minor), "worst_grade": r.worst_grade, "remove": False}
                for r in review.rules]
    if may_edit:
        rows = [*rows, *({f: "" for f in cfg.MATRIX_FIELDS} for _ in range(SPARE_AUTHORITY_ROWS))]
    shown = []
    for i, r in enumerate(rows):
        shown.append({**r, "i": i, "row_error": errors.get(f"row-{i}", ""),
                      "errors": {f: errors.get(f"{f}-{i}", "") for f in cfg.MATRIX_FIELDS},
                      "level_label": _level_label(r.get("branch_level", "")),
                      "role_label": _role_label(r.get("role", ""))})
    zh = _zh()
    names = labels.product_names(list_products())
    return render(request, "decisions/authority.html", {
        "rows": shown, "count": len(shown), "may_edit": may_edit, "errors": errors,
        "roles": [(r, _role_label(r)) for r in review.roles],
        "levels": [(lv, _level_label(lv)) for lv in LEVELS], "grades": GRADES,
        "products": [(p, names.get(p, p)) for p in review.products], "names": names,
        "gaps": [g.zh if zh else g.en for g in review.gaps],
        "thresholds": [(p, names.get(p, p), v) for p, v in review.thresholds],
    }, status=422 if errors else 200)


@login_required
def pricing_index(request: HttpRequest) -> HttpResponse:
    org.require(request.user, Perm.POLICY_VIEW)
    products = list_products()
    if not products:
        messages.error(request, _("No loan product yet."))
        return redirect("decisions:policies")
    return redirect("decisions:pricing", product=products[0].code)


def _pricing_form(view: services.PricingView) -> dict[str, str]:
    form = {"rate_floor": _pct(view.rate_floor_ppm), "rate_cap": _pct(view.rate_cap_ppm),
            "dsr_pct": str(view.dsr_pct), "dual_above": _plain(view.dual_approval_above_minor)}
    for g in view.grades:
        form[f"spread-{g.grade}"] = str(g.spread_bp)
        form[f"limit-{g.grade}"] = _plain(g.limit_minor)
        form[f"auto-{g.grade}"] = _plain(g.auto_approve_max_minor)
    return form


@login_required
def pricing(request: HttpRequest, product: str) -> HttpResponse:
    """A product's pricing grid and decision settings. "Preview" prices each grade at today's LPR from what is
    typed without storing it; "Save" stores it (policy.approve; the floor and cap also need product.manage)."""
    user = request.user
    view = services.pricing_setup(user, product)
    form = _pricing_form(view)
    errors: dict[str, str] = {}
    previewed = False
    if request.method == "POST":
        names = ["rate_floor", "rate_cap", "dsr_pct", "dual_above"]
        names += [f"{k}-{g}" for g in GRADES for k in ("spread", "limit", "auto")]
        form = {n: request.POST.get(n, "").strip() for n in names}
        try:
            if request.POST.get("preview"):
                view, previewed = services.preview_pricing(user, product, form), True
            else:
                view = services.update_pricing(user, product, form)
                messages.success(request, _("Pricing of %(p)s saved: the next decision uses it.") % {"p": view.product})
                for w in view.warnings:
                    messages.warning(request, w)
                return redirect("decisions:pricing", product=view.product)
        except CreditplanError as exc:
            if exc.http_status in (401, 403, 404):
                raise
            errors = _field_errors(exc)
            messages.error(request, _("Nothing was saved: correct the boxes marked below."))
    grades: list[dict[str, Any]] = [{"grade": g, "spread": form.get(f"spread-{g}", ""), "limit": form.get(f"limit-{g}", ""),
               "auto": form.get(f"auto-{g}", ""), "e_spread": errors.get(f"spread-{g}", ""),
               "e_limit": errors.get(f"limit-{g}", ""), "e_auto": errors.get(f"auto-{g}", "")} for g in GRADES]
    preview = {p.grade: p for p in view.preview}
    for row in grades:
        p = preview.get(row["grade"])
        row["rate"] = _pct(p.rate_ppm) if p else ""
        row["bound"] = p.bound if p else ""
        row["lent"] = p.lent if p else False
    return render(request, "decisions/pricing.html", {
        "view": view, "form": form, "errors": errors, "grades": grades, "previewed": previewed,
        "products": list(labels.product_names(list_products()).items()), "benchmark": _pct(view.benchmark_ppm),
        "product_name": labels.product_names(list_products()).get(view.product, view.product),
        "may_edit": org.may(user, Perm.POLICY_APPROVE),
        "may_bounds": org.may(user, Perm.PRODUCT_MANAGE),
        "warnings": view.warnings if previewed else [],
    }, status=422 if errors else 200)


@login_required
def lpr(request: HttpRequest) -> HttpResponse:
    """The LPR table: every publication, the one in force today marked; product managers add publications."""
    user = request.user
    rows = services.lpr_table(user)
    may_edit = org.may(user, Perm.PRODUCT_MANAGE)
    form = {"tenor": "1y", "effective_date": "", "rate": ""}
    errors: dict[str, str] = {}
    if request.method == "POST":
        org.require(user, Perm.PRODUCT_MANAGE)
        form = {k: request.POST.get(k, "").strip() for k in form}
        try:
            row = services.publish_lpr(user, tenor=form["tenor"], effective_date=form["effective_date"],
                                       rate_pct=form["rate"])
        except CreditplanError as exc:
            if exc.http_status in (401, 403, 404):
                raise
            errors = _field_errors(exc)
        else:
            messages.success(request, _("LPR %(tenor)s %(rate)s %% from %(day)s recorded.") % {
                "tenor": row.tenor, "rate": _pct(row.rate_ppm), "day": row.effective_date.isoformat()})
            return redirect("decisions:lpr")
    return render(request, "decisions/lpr.html", {
        "rows": [{"r": r, "rate": _pct(r.rate_ppm)} for r in rows], "may_edit": may_edit, "form": form,
        "errors": errors, "tenors": ("1y", "5y"),
    }, status=422 if errors else 200)
