"""Customer group pages (issue 19 §2): the groups with their whole-book exposure against the group limit, a
group's members and sub-groups, the queue of proposed changes (maker-checker: the proposer sees them but cannot
decide), the forms to propose each change, and the import of group relations from a CSV or Excel file. Views only
call services (creditplan.customers.groups for the registry, plans.services.groups for the figures); amounts are
shown in yuan by the `money` template filter; relation types and change kinds in words."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from creditplan.common.text import problem_text
from creditplan.core.errors import CreditplanError, FieldProblem
from creditplan.customers import groups as registry
from creditplan.customers.services import looks_like_identifier
from creditplan.org import services as org
from creditplan.org.domain import Perm
from creditplan.plans.services import groups as figures

RELATION_LABELS = {
    "control": gettext_lazy("Control (parent and subsidiaries)"),
    "guarantee": gettext_lazy("Mutual guarantee"),
    "controller": gettext_lazy("Same actual controller"),
    "family": gettext_lazy("Family"),
}
KIND_LABELS = {
    "create_group": gettext_lazy("New group"), "add_member": gettext_lazy("New member"),
    "end_member": gettext_lazy("End of a membership"), "set_parent": gettext_lazy("Move"),
    "dissolve": gettext_lazy("Dissolution"),
}
STATUS_LABELS = {"pending": gettext_lazy("Pending"), "approved": gettext_lazy("Approved"),
                 "rejected": gettext_lazy("Rejected"), "dissolved": gettext_lazy("Dissolved")}
SOURCE_LABELS = {
    "capital_base": gettext_lazy("of the approved capital base"),
    "plan": gettext_lazy("of the active plan's net capital (no capital base approved yet)"),
    "none": gettext_lazy("no capital base approved and no active plan: no limit"),
}
COLUMN_LABELS = {
    "group_code": gettext_lazy("group code"), "group_name": gettext_lazy("group name"),
    "parent_group": gettext_lazy("parent group"), "customer": gettext_lazy("customer"),
    "relation": gettext_lazy("relation"), "effective_from": gettext_lazy("effective from"),
    "effective_to": gettext_lazy("effective to"),
}
# Group problems in the user's language (the services speak English with a stable code; a few carry the group).
_GROUP_TEXT = {
    "maker_checker": gettext_lazy("Maker-checker: whoever proposed a change cannot decide it."),
    "change_decided": gettext_lazy("This change has already been decided."),
    "change_not_found": gettext_lazy("No such change waiting for a decision."),
    "group_not_found": gettext_lazy("No such group, or it has none of your branch's customers."),
    "group_code_format": gettext_lazy("A group code has letters, digits, - and _ only (at most 40)."),
    "duplicate_group": gettext_lazy("A group with this code already exists or is waiting to be created."),
    "unknown_group": gettext_lazy("No group with this code."),
    "group_not_created": gettext_lazy("This group is not created yet: approve its creation first."),
    "group_dissolved": gettext_lazy("This group is dissolved: nothing can change in it."),
    "group_cycle": gettext_lazy("A group cannot contain itself: choose a parent that is not the group or one of "
                                "the groups under it."),
    "group_has_children": gettext_lazy("Groups still sit under this one: move or dissolve them first."),
    "no_change": gettext_lazy("The group already sits there: nothing to change."),
    "unknown_relation": gettext_lazy("Not a relation type: control, mutual guarantee, same actual controller or "
                                     "family."),
    "effective_to_before_from": gettext_lazy("The membership cannot end before it starts."),
    "unknown_customer": gettext_lazy("No customer with this number, resident ID number or credit code."),
    "customer_identifier": gettext_lazy("Enter a customer number, an 18-character resident ID number or a unified "
                                        "social credit code."),
    "customer_number_cell": gettext_lazy("An identity number stored as a number in Excel has lost digits: format the "
                                         "column as text and type it again."),
    "member_same_relation": gettext_lazy("This customer is already in group %(group)s by the same relation type: a "
                                         "customer belongs to one group per relation type."),
    "already_member": gettext_lazy("This customer is already a member of group %(group)s for these dates."),
    "member_not_found": gettext_lazy("No such membership in this group."),
    "member_ended": gettext_lazy("This membership has already ended."),
    "parent_differs": gettext_lazy("Another line puts this group under another parent."),
    "group_name_differs": gettext_lazy("Another line gives this group another name."),
    "import_format": gettext_lazy("Not a CSV or Excel (.xlsx) file."),
    "import_layout": gettext_lazy("The first row must name the columns group_code, group_name, parent_group, "
                                  "customer, relation, effective_from and effective_to."),
    "import_too_large": gettext_lazy("The file is too large (at most 5 MB and 20,000 rows)."),
    "required": gettext_lazy("This field is required."),
    "too_long": gettext_lazy("At most 100 characters."),
}


def group_problem(code: str, message: str, extra: dict[str, Any] | None = None) -> str:
    """A group problem in words, in every language (the services' English names relation types by their codes)."""
    text = _GROUP_TEXT.get(code)
    if text is None:
        return problem_text(code, message)
    try:
        return str(text) % {"group": (extra or {}).get("group", "")} if "%(" in str(text) else str(text)
    except (KeyError, ValueError):
        return str(text)


def _reraise_access(exc: CreditplanError) -> None:
    """Not logged in, a role without the permission, a group or change not found: the error page. The proposer who
    tries to decide their own change is told on the page (maker_checker)."""
    if exc.code != "maker_checker" and (exc.http_status in (401, 403)
                                         or exc.code in ("group_not_found", "change_not_found")):
        raise exc


# --- forms ------------------------------------------------------------------------------------------------------

class IdentifierInput(forms.TextInput):
    """A customer number, resident ID number or credit code: an identity number typed in is never sent back in the
    page (a refused form shows the field empty)."""

    def format_value(self, value: Any) -> str | None:
        return None if looks_like_identifier(str(value or "")) else super().format_value(value)


_DATE = {"type": "date"}
_WHO = {"placeholder": gettext_lazy("customer number, resident ID number or credit code"), "autocomplete": "off"}


def _relation_choices() -> list[tuple[str, Any]]:
    return list(RELATION_LABELS.items())


class GroupForm(forms.Form):
    code = forms.CharField(label=gettext_lazy("Group code"), max_length=40, required=False,
                           widget=forms.TextInput(attrs={"placeholder": "HX-GROUP"}))
    name = forms.CharField(label=gettext_lazy("Group name"), max_length=100, required=False)
    name_en = forms.CharField(label=gettext_lazy("English name (optional)"), max_length=100, required=False)
    parent = forms.ChoiceField(label=gettext_lazy("Inside group"), required=False, choices=[])
    head = forms.CharField(label=gettext_lazy("Head customer (optional)"), max_length=40, required=False,
                           widget=IdentifierInput(attrs=_WHO))

    def __init__(self, *args: Any, parents: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["parent"].choices = [("", _("none: a top group")), *parents]


class MemberForm(forms.Form):
    customer = forms.CharField(label=gettext_lazy("Customer"), max_length=40, required=False,
                               widget=IdentifierInput(attrs=_WHO))
    relation = forms.ChoiceField(label=gettext_lazy("Relation"), choices=_relation_choices)
    effective_from = forms.CharField(label=gettext_lazy("Effective from"), max_length=10, required=False,
                                     widget=forms.TextInput(attrs=_DATE))
    effective_to = forms.CharField(label=gettext_lazy("Effective to (optional)"), max_length=10, required=False,
                                   widget=forms.TextInput(attrs=_DATE))


class ParentForm(forms.Form):
    parent = forms.ChoiceField(label=gettext_lazy("Move inside"), required=False, choices=[])

    def __init__(self, *args: Any, parents: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["parent"].choices = [("", _("none: a top group")), *parents]


class DissolveForm(forms.Form):
    effective_to = forms.CharField(label=gettext_lazy("Last day"), max_length=10, required=False,
                                   widget=forms.TextInput(attrs=_DATE))


class ImportForm(forms.Form):
    file = forms.FileField(label=gettext_lazy("File (CSV or Excel)"))


# --- helpers ----------------------------------------------------------------------------------------------------

def _parents(user: Any, exclude: int | None = None) -> list[tuple[str, str]]:
    return [(str(g.id), f"{'· ' * g.depth}{g.code} {g.shown_name}") for g in registry.list_groups(user) if g.id != exclude]


def _add_errors(form: forms.Form, exc: CreditplanError, fields: dict[str, str] | None = None) -> None:
    for p in exc.problems or [FieldProblem("", exc.message, exc.code)]:
        field = (fields or {}).get(p.field, p.field)
        form.add_error(field if field in form.fields else None, group_problem(p.code, p.message, exc.extra))


def _limit_words(limit: figures.GroupLimit) -> str:
    if limit.source == "none":
        return str(SOURCE_LABELS["none"])
    return _("%(share)s %% %(source)s") % {"share": f"{limit.group_bp / 100:g}", "source": SOURCE_LABELS[limit.source]}


def _pct(exposure: int | None, limit: int) -> float | None:
    return None if exposure is None or limit <= 0 else exposure * 100 / limit  # display only


def describe(c: registry.ChangeView) -> str:
    """A proposed change in a sentence of the page's language."""
    group = c.group.code if c.group else c.group_code
    relation = RELATION_LABELS.get(c.relation, "")
    if c.kind == "create_group":
        parent = c.parent.code if c.parent else c.parent_code
        text = _("Create group %(code)s %(name)s") % {"code": c.group_code, "name": c.shown_name}
        if parent:
            text += _(", inside group %(parent)s") % {"parent": parent}
        if c.head_name:
            text += _(", headed by %(head)s") % {"head": c.head_name}
        return text
    if c.kind == "add_member":
        text = _("%(customer)s (%(identity)s) joins group %(group)s by %(relation)s from %(start)s") % {
            "customer": c.customer_name, "identity": c.customer_identity or "-", "group": group,
            "relation": relation, "start": c.effective_from}
        if c.effective_to:
            text += _(" to %(end)s") % {"end": c.effective_to}
        return text
    if c.kind == "end_member":
        return _("%(customer)s leaves group %(group)s: last day %(end)s") % {
            "customer": c.customer_name, "group": group, "end": c.effective_to}
    if c.kind == "set_parent":
        parent = c.parent.code if c.parent else c.parent_code
        if parent:
            return _("Group %(group)s moves inside group %(parent)s") % {"group": group, "parent": parent}
        return _("Group %(group)s becomes a top group") % {"group": group}
    return _("Group %(group)s is dissolved: last day %(end)s") % {"group": group, "end": c.effective_to}


def _change_rows(user: Any, changes: list[registry.ChangeView]) -> list[dict[str, Any]]:
    may_decide = org.may(user, Perm.GROUP_MANAGE)
    return [{"c": c, "kind_label": KIND_LABELS.get(c.kind, ""), "text": describe(c),
             "status_label": STATUS_LABELS.get(c.status, ""),
             "may_decide": may_decide and c.status == "pending" and c.proposed_by != user.username,
             "own": c.proposed_by == user.username} for c in changes]


def _batches(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The imported files among pending changes, for deciding a file at once."""
    out: dict[str, dict[str, Any]] = {}
    for r in rows:
        c = r["c"]
        if c.batch and c.status == "pending":
            b = out.setdefault(c.batch, {"batch": c.batch, "file": c.source.rsplit(":", 1)[0], "count": 0,
                                         "may_decide": r["may_decide"]})
            b["count"] += 1
    return list(out.values())


def _back(request: HttpRequest, default: str) -> HttpResponse:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return redirect(target)
    return redirect(default)


# --- pages ------------------------------------------------------------------------------------------------------

@login_required
def group_list(request: HttpRequest, *, form: GroupForm | None = None, import_form: ImportForm | None = None,
               import_lines: list[dict[str, Any]] | None = None, status: int = 200) -> HttpResponse:
    user = request.user
    rows = figures.group_overview(user)
    may_manage = org.may(user, Perm.GROUP_MANAGE)
    limit = figures.group_limit()
    table = [{"r": r, "pct": _pct(r.exposure_minor, r.limit.limit_minor), "indent": 8 + 22 * r.group.depth}
             for r in rows]
    pending = len(registry.list_changes(user)) if may_manage else 0
    return render(request, "plans/groups.html", {
        "rows": table, "limit": limit, "limit_words": _limit_words(limit), "may_manage": may_manage,
        "pending": pending,
        "form": form or (GroupForm(parents=_parents(user)) if may_manage else None),
        "import_form": import_form or (ImportForm() if may_manage else None), "import_lines": import_lines or [],
    }, status=status)


@login_required
@require_POST
def group_create(request: HttpRequest) -> HttpResponse:
    user = request.user
    org.require(user, Perm.GROUP_MANAGE)
    form = GroupForm(request.POST, parents=_parents(user))
    if form.is_valid():
        data = dict(form.cleaned_data)
        try:
            registry.propose_change(user, "create_group", data)
        except CreditplanError as exc:
            _reraise_access(exc)
            _add_errors(form, exc)
        else:
            messages.success(request, _("Group %(code)s proposed: another user must approve it.") % {
                "code": data["code"]})
            return redirect("plans:groups")
    return group_list(request, form=form, status=422)


@login_required
@require_POST
def group_import(request: HttpRequest) -> HttpResponse:
    user = request.user
    org.require(user, Perm.GROUP_MANAGE)
    form = ImportForm(request.POST, request.FILES)
    lines: list[dict[str, Any]] = []
    if form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            result = registry.import_file(user, upload.name, upload.read())
        except CreditplanError as exc:
            _reraise_access(exc)
            if exc.code == "import_rejected":
                form.add_error("file", _("%(file)s: %(n)s bad row(s); nothing was imported.") % {
                    "file": exc.extra.get("file", upload.name), "n": len({p["line"] for p in exc.extra["lines"]})})
                lines = [{"line": p["line"], "column": COLUMN_LABELS.get(p["column"], p["column"]),
                          "problem": group_problem(p["code"], p["message"], p)} for p in exc.extra["lines"]]
            else:
                form.add_error("file", group_problem(exc.code, exc.message, exc.extra))
        else:
            messages.success(request, _(
                "%(file)s: %(n)s change(s) proposed (%(groups)s new group(s), %(members)s member(s)); another user "
                "approves them in the queue.") % {"file": result.file, "n": result.changes,
                                                  "groups": result.new_groups, "members": result.members})
            return redirect("plans:group_changes")
    return group_list(request, import_form=form, import_lines=lines, status=422)


def _detail(request: HttpRequest, group_id: int, *, forms_in: dict[str, forms.Form] | None = None,
            status: int = 200) -> HttpResponse:
    user = request.user
    page = figures.group_page(user, group_id)
    g = page.detail.group
    may_manage = org.may(user, Perm.GROUP_MANAGE) and g.status == "active"
    made = dict(forms_in or {})
    if may_manage:
        made.setdefault("member", MemberForm())
        made.setdefault("parent", ParentForm(parents=_parents(user, exclude=g.id),
                                             initial={"parent": str(g.parent.id) if g.parent else ""}))
        made.setdefault("dissolve", DissolveForm())
    members = [{"m": r.member, "exposure": r.exposure_minor,
                "relation_label": RELATION_LABELS.get(r.member.relation, "")} for r in page.members]
    changes = _change_rows(user, registry.list_changes(user, status=None, group_id=group_id, limit=50)) \
        if org.may(user, Perm.GROUP_MANAGE) or org.sees_all_branches(user.role) else []
    return render(request, "plans/group_detail.html", {
        "page": page, "g": g, "members": members, "changes": changes, "may_manage": may_manage,
        "forms": made, "limit_words": _limit_words(page.limit),
        "pct": _pct(page.tree_exposure_minor, page.limit.limit_minor),
        "status_label": STATUS_LABELS.get(g.status, ""),
    }, status=status)


@login_required
def group_detail(request: HttpRequest, group_id: int) -> HttpResponse:
    return _detail(request, group_id)


_FORMS = {"add_member": "member", "set_parent": "parent", "dissolve": "dissolve"}


@login_required
@require_POST
def group_propose(request: HttpRequest, group_id: int, kind: str) -> HttpResponse:
    """Propose a change of the group: a member (add_member), the end of a membership (end_member, from the member's
    row), a move (set_parent), the dissolution."""
    user = request.user
    if kind not in (*_FORMS, "end_member"):
        raise Http404(kind)
    org.require(user, Perm.GROUP_MANAGE)
    if kind == "end_member":
        data = {"member": request.POST.get("member", ""), "effective_to": request.POST.get("effective_to", "")}
        try:
            registry.propose_change(user, kind, data, group_id=group_id)
        except CreditplanError as exc:
            _reraise_access(exc)
            messages.error(request, group_problem(exc.code, exc.message, exc.extra))
            return _detail(request, group_id, status=422)
        messages.success(request, _("The end of the membership was proposed: another user must approve it."))
        return redirect("plans:group", group_id=group_id)
    form: forms.Form
    if kind == "add_member":
        form = MemberForm(request.POST)
    elif kind == "set_parent":
        form = ParentForm(request.POST, parents=_parents(user, exclude=group_id))
    else:
        form = DissolveForm(request.POST)
    if form.is_valid():
        try:
            registry.propose_change(user, kind, dict(form.cleaned_data), group_id=group_id)
        except CreditplanError as exc:
            _reraise_access(exc)
            _add_errors(form, exc, {"group": "parent" if kind == "set_parent" else "effective_to"})
        else:
            messages.success(request, _("%(kind)s proposed: another user must approve it.") % {
                "kind": KIND_LABELS[kind]})
            return redirect("plans:group", group_id=group_id)
    return _detail(request, group_id, forms_in={_FORMS[kind]: form}, status=422)


@login_required
def group_changes(request: HttpRequest) -> HttpResponse:
    user = request.user
    pending = _change_rows(user, registry.list_changes(user))
    decided = [r for r in _change_rows(user, registry.list_changes(user, status=None, limit=100))
               if r["c"].status != "pending"][:50]
    return render(request, "plans/group_changes.html", {
        "pending": pending, "decided": decided, "batches": _batches(pending),
        "may_manage": org.may(user, Perm.GROUP_MANAGE),
    })


@login_required
@require_POST
def group_change_decide(request: HttpRequest, change_id: int, decision: str) -> HttpResponse:
    if decision not in ("approve", "reject"):
        raise Http404(decision)
    try:
        c = registry.decide_change(request.user, change_id, approve=decision == "approve",
                                   note=request.POST.get("note", ""))
    except CreditplanError as exc:
        _reraise_access(exc)
        messages.error(request, group_problem(exc.code, exc.message, exc.extra))
    else:
        messages.success(request, _("%(text)s: %(status)s.") % {"text": describe(c),
                                                                "status": STATUS_LABELS.get(c.status, "")})
    return _back(request, "plans:group_changes")


@login_required
@require_POST
def group_batch_decide(request: HttpRequest, decision: str) -> HttpResponse:
    if decision not in ("approve", "reject"):
        raise Http404(decision)
    try:
        n = registry.decide_batch(request.user, request.POST.get("batch", ""), approve=decision == "approve",
                                  note=request.POST.get("note", ""))
    except CreditplanError as exc:
        _reraise_access(exc)
        problem = group_problem(exc.code, exc.message, exc.extra)
        source = exc.extra.get("source")
        if source and not (get_language() or "en").startswith("en"):
            problem = _("%(source)s: %(problem)s") % {"source": source, "problem": problem}
        messages.error(request, problem)
    else:
        messages.success(request, (_("%(n)s change(s) of the file approved and applied.") if decision == "approve"
                                   else _("%(n)s change(s) of the file rejected.")) % {"n": n})
    return redirect("plans:group_changes")
