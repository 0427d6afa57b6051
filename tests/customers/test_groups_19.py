"""Issue 19 §2: the customer group registry (关联集团 / 关联方). Every change is proposed by one user and applied only
when another approves it (maker-checker), is checked again at approval, writes the registry and the ledger in one
transaction; bad input is refused naming the field; the tree's top (`root`) follows every move."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from openpyxl import Workbook

from creditplan.core.errors import Conflict, CreditplanError, Forbidden, NotFound, ValidationError
from creditplan.customers import groups
from creditplan.customers import services as customers
from creditplan.customers.models import CustomerGroup, GroupChange, GroupMember, GroupRelation
from creditplan.ledger.models import Event
from creditplan.org import services as org
from creditplan.plans.services import exposure
from factories import company, individual, resident_id

TODAY = dt.date(2026, 3, 1)


@pytest.fixture
def world(bank):
    """Two users who manage groups (risk, and a second risk manager), three companies and two individuals in
    Beijing, one company in Shanghai."""
    bank["risk2"] = org.create_user(None, username="risk2", password="x-pass-123", role="risk_manager",
                                    branch_code="HO", display_name="risk2")
    officer = bank["officer_bj"]
    made = {
        "parent_co": customers.create_customer(officer, company(1, name="华信控股集团有限公司")),
        "sub_a": customers.create_customer(officer, company(2, name="华信科技有限公司")),
        "sub_b": customers.create_customer(officer, company(3, name="华信物流有限公司")),
        "wang": customers.create_customer(officer, individual(1, name="王大明")),
        "wang_son": customers.create_customer(officer, individual(2, name="王小明")),
        "sh_co": customers.create_customer(bank["officer_sh"], company(4, name="上海鼎盛商贸有限公司",
                                                                       region_code="310115")),
    }
    return {**bank, **made}


def approve(world, change, note=""):  # type: ignore[no-untyped-def]
    return groups.decide_change(world["risk2"], change.id, approve=True, note=note)


def make_group(world, code="HX", name="华信集团", **extra):  # type: ignore[no-untyped-def]
    change = groups.propose_change(world["risk"], "create_group", {"code": code, "name": name, **extra})
    approve(world, change)
    return CustomerGroup.objects.get(code=code)


def add(world, group, customer, relation="control", start="2026-01-01", end=None):  # type: ignore[no-untyped-def]
    change = groups.propose_change(world["risk"], "add_member", {
        "customer": customer, "relation": relation, "effective_from": start, "effective_to": end}, group_id=group.pk)
    return approve(world, change)


def test_relation_types_are_the_models(db):
    assert tuple(r.value for r in GroupRelation) == groups.RELATIONS


# --- maker-checker and the ledger ------------------------------------------------------------------------------

def test_a_change_waits_for_a_second_user_and_the_proposer_cannot_decide(world):
    change = groups.propose_change(world["risk"], "create_group", {"code": "HX", "name": "华信集团"})
    assert change.status == "pending" and not CustomerGroup.objects.exists()  # nothing written yet
    with pytest.raises(Forbidden) as exc:
        groups.decide_change(world["risk"], change.id, approve=True)
    assert exc.value.code == "maker_checker"
    with pytest.raises(Forbidden):  # a loan officer does not manage groups
        groups.decide_change(world["officer_bj"], change.id, approve=True)
    with pytest.raises(Forbidden):
        groups.propose_change(world["officer_bj"], "create_group", {"code": "X", "name": "x"})
    assert GroupChange.objects.get(pk=change.id).status == "pending" and not CustomerGroup.objects.exists()

    done = approve(world, change, note="已核对工商登记")
    g = CustomerGroup.objects.get(code="HX")
    assert (done.status, done.decided_by, done.group.id, g.name, g.root_id) == ("approved", "risk2", g.pk, "华信集团",
                                                                                None)
    with pytest.raises(Conflict) as again:
        groups.decide_change(world["admin"], change.id, approve=False, note="晚了")
    assert again.value.code == "change_decided"
    events = list(Event.objects.filter(kind__startswith="customer_group.").order_by("seq"))
    assert [(e.kind, e.actor_name) for e in events] == [("customer_group.change_proposed", "risk"),
                                                        ("customer_group.created", "risk2")]
    assert events[1].subject_type == "customer_group" and events[1].subject_id == str(g.pk)


def test_a_rejection_needs_a_reason_and_changes_nothing(world):
    g = make_group(world)
    change = groups.propose_change(world["risk"], "add_member", {
        "customer": world["sub_a"].id, "relation": "control", "effective_from": "2026-01-01"}, group_id=g.pk)
    with pytest.raises(ValidationError) as exc:
        groups.decide_change(world["risk2"], change.id, approve=False)
    assert exc.value.field == "note"
    done = groups.decide_change(world["risk2"], change.id, approve=False, note="持股比例不足50%")
    assert done.status == "rejected" and not GroupMember.objects.exists()
    assert Event.objects.filter(kind="customer_group.change_rejected", subject_id=str(change.id)).exists()


def test_a_member_is_named_by_number_id_or_uscc_and_the_identity_stays_out_of_the_record(world):
    g = make_group(world)
    by_id = groups.propose_change(world["risk"], "add_member", {
        "customer": resident_id(1), "relation": "family", "effective_from": "2026-01-01"}, group_id=g.pk)
    by_uscc = groups.propose_change(world["risk"], "add_member", {
        "customer": company(2)["uscc"], "relation": "control", "effective_from": "2026-01-01"}, group_id=g.pk)
    by_number = groups.propose_change(world["risk"], "add_member", {
        "customer": str(world["sub_b"].id), "relation": "control", "effective_from": "2026-01-01"}, group_id=g.pk)
    assert [c.customer_id for c in (by_id, by_uscc, by_number)] == [world["wang"].id, world["sub_a"].id,
                                                                     world["sub_b"].id]
    # the page sees the ID masked (last 4) and the company's credit code
    assert by_id.customer_identity == "*" * 14 + resident_id(1)[-4:] and by_uscc.customer_identity == company(2)["uscc"]
    stored = GroupChange.objects.get(pk=by_id.id).payload
    assert stored["customer"] == world["wang"].id and resident_id(1) not in str(stored)
    for c in (by_id, by_uscc, by_number):
        approve(world, c)
    assert sorted(GroupMember.objects.values_list("customer_id", flat=True)) == sorted(
        [world["wang"].id, world["sub_a"].id, world["sub_b"].id])
    ledger_text = " ".join(e.entry for e in Event.objects.filter(kind__startswith="customer_group."))
    assert resident_id(1) not in ledger_text and resident_id(1)[-8:] not in ledger_text


# --- bad input, each naming its field --------------------------------------------------------------------------

@pytest.mark.parametrize(("data", "field", "code"), [
    ({"customer": "999999"}, "customer", "unknown_customer"),
    ({"customer": resident_id(9)}, "customer", "unknown_customer"),  # a valid number nobody has
    ({"customer": resident_id(1)[:17] + ("0" if resident_id(1)[17] != "0" else "1")}, "customer",
     "resident_id_check"),
    ({"customer": "91110108MA00000099"}, "customer", "uscc_check"),
    ({"customer": "华信"}, "customer", "customer_identifier"),
    ({"relation": "friend"}, "relation", "unknown_relation"),
    ({"relation": ""}, "relation", "required"),
    ({"effective_from": ""}, "effective_from", "required"),
    ({"effective_from": "2026-13-01"}, "effective_from", "date_format"),
    ({"effective_to": "2025-12-31"}, "effective_to", "effective_to_before_from"),
])
def test_bad_membership_input_is_refused_naming_the_field(world, data, field, code):
    g = make_group(world)
    base = {"customer": str(world["sub_a"].id), "relation": "control", "effective_from": "2026-01-01"}
    with pytest.raises(ValidationError) as exc:
        groups.propose_change(world["risk"], "add_member", {**base, **data}, group_id=g.pk)
    assert (exc.value.field, exc.value.code) == (field, code)
    assert not GroupChange.objects.filter(kind="add_member").exists()


def test_a_customer_is_in_one_group_per_relation_type(world):
    hx, ds = make_group(world, "HX", "华信集团"), make_group(world, "DS", "鼎盛集团")
    add(world, hx, world["sub_a"].id, "control")
    with pytest.raises(ValidationError) as exc:
        groups.propose_change(world["risk"], "add_member", {
            "customer": world["sub_a"].id, "relation": "control", "effective_from": "2026-02-01"}, group_id=ds.pk)
    assert (exc.value.field, exc.value.code) == ("customer", "member_same_relation")
    assert "HX" in exc.value.message
    # another relation type is another matter: a guarantee circle may hold a controlled company
    add(world, ds, world["sub_a"].id, "guarantee")
    with pytest.raises(Conflict) as twice:  # but not twice in the same group
        groups.propose_change(world["risk"], "add_member", {
            "customer": world["sub_a"].id, "relation": "family", "effective_from": "2026-02-01"}, group_id=hx.pk)
    assert (twice.value.field, twice.value.code) == ("customer", "already_member")


def test_a_duplicate_group_code_is_refused_even_while_it_waits(world):
    make_group(world, "HX")
    with pytest.raises(Conflict) as exc:
        groups.propose_change(world["risk"], "create_group", {"code": "hx", "name": "另一个"})
    assert (exc.value.field, exc.value.code) == ("code", "duplicate_group")
    groups.propose_change(world["risk"], "create_group", {"code": "DS", "name": "鼎盛集团"})
    with pytest.raises(Conflict) as pending:
        groups.propose_change(world["risk2"], "create_group", {"code": "DS", "name": "鼎盛"})
    assert (pending.value.field, pending.value.code) == ("code", "duplicate_group")
    for code in ("", "a b", "集团", "-x"):
        with pytest.raises(ValidationError) as bad:
            groups.propose_change(world["risk"], "create_group", {"code": code, "name": "x"})
        assert bad.value.field == "code"


def test_a_group_cannot_contain_itself(world):
    top = make_group(world, "HX", "华信集团")
    mid = make_group(world, "HX-TECH", "华信科技板块", parent=top.pk)
    low = make_group(world, "HX-TECH-1", "华信科技一部", parent=mid.pk)
    for parent in (top, mid, low):  # itself, or any group below it
        with pytest.raises(ValidationError) as exc:
            groups.propose_change(world["risk"], "set_parent", {"parent": parent.pk}, group_id=top.pk)
        assert (exc.value.field, exc.value.code) == ("parent", "group_cycle")
    with pytest.raises(ValidationError) as same:
        groups.propose_change(world["risk"], "set_parent", {"parent": top.pk}, group_id=mid.pk)
    assert (same.value.field, same.value.code) == ("parent", "no_change")
    with pytest.raises(ValidationError) as unknown:
        groups.propose_change(world["risk"], "create_group", {"code": "X", "name": "x", "parent": 98765})
    assert (unknown.value.field, unknown.value.code) == ("parent", "unknown_group")
    assert not GroupChange.objects.filter(kind="set_parent").exists()


def test_a_move_that_became_a_loop_meanwhile_is_refused_at_approval(world):
    """A under B and B under A, each fine when proposed; the second approval sees the first and refuses."""
    a, b = make_group(world, "A", "甲"), make_group(world, "B", "乙")
    a_under_b = groups.propose_change(world["risk"], "set_parent", {"parent": b.pk}, group_id=a.pk)
    b_under_a = groups.propose_change(world["risk"], "set_parent", {"parent": a.pk}, group_id=b.pk)
    approve(world, a_under_b)
    with pytest.raises(ValidationError) as exc:
        approve(world, b_under_a)
    assert (exc.value.field, exc.value.code) == ("parent", "group_cycle")
    b.refresh_from_db()
    assert b.parent_id is None and GroupChange.objects.get(pk=b_under_a.id).status == "pending"


# --- the tree's top -----------------------------------------------------------------------------------------------

def test_root_follows_creation_and_every_move_of_a_subtree(world):
    top = make_group(world, "HX", "华信集团")
    mid = make_group(world, "HX-TECH", "华信科技板块", parent=top.pk)
    low = make_group(world, "HX-TECH-1", "华信科技一部", parent=mid.pk)
    other = make_group(world, "DS", "鼎盛集团")

    def roots():  # type: ignore[no-untyped-def]
        return {g.code: (g.parent.code if g.parent else None, g.root.code if g.root else None)
                for g in CustomerGroup.objects.select_related("parent", "root")}

    assert roots() == {"HX": (None, None), "HX-TECH": ("HX", "HX"), "HX-TECH-1": ("HX-TECH", "HX"),
                       "DS": (None, None)}
    approve(world, groups.propose_change(world["risk"], "set_parent", {"parent": other.pk}, group_id=mid.pk))
    assert roots() == {"HX": (None, None), "HX-TECH": ("DS", "DS"), "HX-TECH-1": ("HX-TECH", "DS"),
                       "DS": (None, None)}
    approve(world, groups.propose_change(world["risk"], "set_parent", {"parent": None}, group_id=mid.pk))
    assert roots() == {"HX": (None, None), "HX-TECH": (None, None), "HX-TECH-1": ("HX-TECH", "HX-TECH"),
                       "DS": (None, None)}
    # a move under a group that is itself below a top: the top of that tree
    approve(world, groups.propose_change(world["risk"], "set_parent", {"parent": low.pk}, group_id=other.pk))
    assert roots()["DS"] == ("HX-TECH-1", "HX-TECH")
    moved = Event.objects.filter(kind="customer_group.parent_set").order_by("-seq").first()
    assert moved is not None and moved.subject_id == str(other.pk)


def test_exposure_counts_the_members_of_the_whole_tree(world):
    top = make_group(world, "HX", "华信集团", head=str(world["parent_co"].id))
    sub = make_group(world, "HX-LOG", "华信物流板块", parent=top.pk)
    add(world, top, world["parent_co"].id)
    add(world, sub, world["sub_b"].id)
    assert exposure.group_members(top, TODAY) == exposure.group_members(sub, TODAY) == sorted(
        [world["parent_co"].id, world["sub_b"].id])


# --- effective dates ------------------------------------------------------------------------------------------

def test_memberships_count_between_their_dates_and_an_ended_one_frees_the_relation(world):
    hx, ds = make_group(world, "HX"), make_group(world, "DS", "鼎盛集团")
    add(world, hx, world["sub_a"].id, "control", start="2026-01-01")
    add(world, hx, world["sub_b"].id, "control", start="2026-06-01")  # not yet
    assert exposure.group_members(hx, TODAY) == [world["sub_a"].id]
    assert exposure.group_members(hx, dt.date(2026, 6, 1)) == sorted([world["sub_a"].id, world["sub_b"].id])
    member = GroupMember.objects.get(customer_id=world["sub_a"].id)
    with pytest.raises(ValidationError) as early:
        groups.propose_change(world["risk"], "end_member", {"member": member.pk, "effective_to": "2025-12-31"},
                              group_id=hx.pk)
    assert (early.value.field, early.value.code) == ("effective_to", "effective_to_before_from")
    approve(world, groups.propose_change(world["risk"], "end_member",
                                         {"member": member.pk, "effective_to": "2026-03-31"}, group_id=hx.pk))
    assert exposure.group_members(hx, dt.date(2026, 3, 31)) == [world["sub_a"].id]  # the last day counts
    assert exposure.group_members(hx, dt.date(2026, 4, 1)) == []
    with pytest.raises(Conflict) as ended:
        groups.propose_change(world["risk"], "end_member", {"member": member.pk, "effective_to": "2026-04-30"},
                              group_id=hx.pk)
    assert ended.value.code == "member_ended"
    # control of the company passed to another group: from the day after, not a day before
    with pytest.raises(ValidationError):
        groups.propose_change(world["risk"], "add_member", {
            "customer": world["sub_a"].id, "relation": "control", "effective_from": "2026-03-31"}, group_id=ds.pk)
    add(world, ds, world["sub_a"].id, "control", start="2026-04-01")
    assert exposure.group_members(ds, dt.date(2026, 4, 1)) == [world["sub_a"].id]
    detail = groups.get_group(world["risk"], hx.pk, on=dt.date(2026, 4, 1))
    assert [(m.customer_id, m.current, m.effective_to) for m in detail.members][-1] == (
        world["sub_a"].id, False, dt.date(2026, 3, 31))


def test_an_approval_checks_again_what_changed_since_the_proposal(world):
    hx, ds = make_group(world, "HX"), make_group(world, "DS", "鼎盛集团")
    first = groups.propose_change(world["risk"], "add_member", {
        "customer": world["sub_a"].id, "relation": "control", "effective_from": "2026-01-01"}, group_id=hx.pk)
    second = groups.propose_change(world["risk"], "add_member", {
        "customer": world["sub_a"].id, "relation": "control", "effective_from": "2026-01-01"}, group_id=ds.pk)
    approve(world, first)
    events = Event.objects.count()
    with pytest.raises(ValidationError) as exc:
        approve(world, second)
    assert (exc.value.field, exc.value.code) == ("customer", "member_same_relation")
    assert GroupMember.objects.filter(group=ds).count() == 0 and Event.objects.count() == events
    assert GroupChange.objects.get(pk=second.id).status == "pending"


def test_dissolving_ends_every_membership_and_waits_for_the_groups_below(world):
    top = make_group(world, "HX")
    sub = make_group(world, "HX-LOG", "华信物流板块", parent=top.pk)
    add(world, top, world["parent_co"].id)
    with pytest.raises(Conflict) as exc:
        groups.propose_change(world["risk"], "dissolve", {"effective_to": "2026-02-28"}, group_id=top.pk)
    assert (exc.value.field, exc.value.code) == ("group", "group_has_children")
    approve(world, groups.propose_change(world["risk"], "dissolve", {"effective_to": "2026-02-28"}, group_id=sub.pk))
    approve(world, groups.propose_change(world["risk"], "dissolve", {"effective_to": "2026-02-28"}, group_id=top.pk))
    top.refresh_from_db()
    assert top.status == "dissolved"
    assert GroupMember.objects.get(group=top).effective_to == dt.date(2026, 2, 28)
    assert [g.code for g in groups.list_groups(world["risk"])] == []
    with pytest.raises(Conflict) as closed:
        groups.propose_change(world["risk"], "add_member", {
            "customer": world["sub_a"].id, "relation": "control", "effective_from": "2026-03-01"}, group_id=top.pk)
    assert closed.value.code == "group_dissolved"


# --- who sees what --------------------------------------------------------------------------------------------

def test_branch_staff_see_only_their_branch_customers_of_a_group(world):
    g = make_group(world, "HX")
    add(world, g, world["sub_a"].id, "control")
    add(world, g, world["sh_co"].id, "guarantee")
    head_office = groups.get_group(world["planner"], g.pk)
    assert {m.customer_id for m in head_office.members} == {world["sub_a"].id, world["sh_co"].id}
    beijing = groups.get_group(world["officer_bj"], g.pk)
    assert [m.customer_id for m in beijing.members] == [world["sub_a"].id] and beijing.hidden_members == 1
    assert [v.code for v in groups.list_groups(world["officer_bj"])] == ["HX"]
    other = make_group(world, "DS", "鼎盛集团")
    add(world, other, world["sh_co"].id, "control")
    assert [v.code for v in groups.list_groups(world["officer_bj"])] == ["HX"]
    with pytest.raises(NotFound):
        groups.get_group(world["officer_bj"], other.pk)
    with pytest.raises(Forbidden):  # the queue of changes is head-office data
        groups.list_changes(world["officer_bj"])
    with pytest.raises(Forbidden):
        groups.list_groups(world["customer"])


# --- importing a file -------------------------------------------------------------------------------------------

def _csv(rows: list[str]) -> bytes:
    return ("\n".join(["group_code,group_name,parent_group,customer,relation,effective_from,effective_to", *rows])
            + "\n").encode()


def test_an_import_proposes_every_row_and_a_second_user_approves_the_file(world):
    data = _csv([
        f"HX,华信集团,,{world['parent_co'].id},control,2026-01-01,",
        f"HX-LOG,华信物流板块,HX,{company(3)['uscc']},控制,2026-01-01,",
        f"WANG,王氏家族,,{resident_id(1)},family,2026-01-01,",
        f"WANG,,,{resident_id(2)},亲属,2026-01-01,2026-12-31",
    ])
    result = groups.import_file(world["risk"], "groups.csv", data)
    assert (result.new_groups, result.members, result.changes) == (3, 4, 7)
    pending = groups.list_changes(world["risk"])
    assert [c.kind for c in pending] == ["create_group"] * 3 + ["add_member"] * 4
    assert [c.source for c in pending] == ["groups.csv:2", "groups.csv:3", "groups.csv:4"] + [
        f"groups.csv:{n}" for n in (2, 3, 4, 5)]
    assert not CustomerGroup.objects.exists()
    with pytest.raises(Forbidden):
        groups.decide_batch(world["risk"], result.batch, approve=True)
    assert groups.decide_batch(world["risk2"], result.batch, approve=True) == 7
    log = CustomerGroup.objects.get(code="HX-LOG")
    assert log.parent.code == "HX" and log.root.code == "HX"
    wang = CustomerGroup.objects.get(code="WANG")
    assert sorted(wang.members.values_list("customer_id", "relation", "effective_to")) == sorted([
        (world["wang"].id, "family", None), (world["wang_son"].id, "family", dt.date(2026, 12, 31))])
    assert Event.objects.filter(kind="customer_group.change_proposed").count() == 7
    assert Event.objects.filter(kind="customer_group.member_added").count() == 4


def test_a_file_with_bad_rows_is_refused_whole_with_every_line_and_reason(world):
    existing = make_group(world, "HX")
    add(world, existing, world["sub_a"].id, "control")
    data = _csv([
        f"DS,鼎盛集团,,{world['sub_b'].id},control,2026-01-01,",  # good
        f"DS,,,{resident_id(9)},control,2026-01-01,",  # nobody has this ID number
        f"DS,,,{world['sub_a'].id},control,2026-01-01,",  # already in HX by control
        f"DS,,,{world['wang'].id},friend,2026-01-01,",  # not a relation
        f"DS,,,{world['wang_son'].id},family,2026-05-01,2026-04-01",  # ends before it starts
        f"NEW,新集团,NOPE,{world['parent_co'].id},control,2026-01-01,",  # no such parent
        f"LOOP1,环一,LOOP2,{world['sh_co'].id},guarantee,2026-01-01,",
        f"LOOP2,环二,LOOP1,{world['sh_co'].id},family,2026-01-01,",  # a group that would contain itself
    ])
    before = (GroupChange.objects.count(), Event.objects.count())
    with pytest.raises(ValidationError) as exc:
        groups.import_file(world["risk"], "bad.csv", data)
    lines = [(p["line"], p["column"], p["code"]) for p in exc.value.extra["lines"]]
    assert lines == [(3, "customer", "unknown_customer"), (4, "customer", "member_same_relation"),
                     (5, "relation", "unknown_relation"), (6, "effective_to", "effective_to_before_from"),
                     (7, "parent_group", "unknown_group"), (8, "parent_group", "group_cycle"),
                     (9, "parent_group", "group_cycle")]
    assert exc.value.code == "import_rejected" and "line 3" in exc.value.message
    assert (GroupChange.objects.count(), Event.objects.count()) == before  # nothing written


def test_an_excel_file_reads_like_a_csv_and_an_id_typed_as_a_number_is_caught(world):
    wb = Workbook()
    ws = wb.active
    ws.append(["集团编号", "集团名称", "上级集团", "客户", "关系", "生效日期", "终止日期"])
    ws.append(["HX", "华信集团", None, world["parent_co"].id, "控制", dt.datetime(2026, 1, 1), None])
    ws.append(["HX", None, None, 110108198506150012, "亲属", "2026-01-01", None])  # Excel made the ID a number
    buf = io.BytesIO()
    wb.save(buf)
    with pytest.raises(ValidationError) as exc:
        groups.import_file(world["risk"], "groups.xlsx", buf.getvalue())
    assert [(p["line"], p["code"]) for p in exc.value.extra["lines"]] == [(3, "customer_number_cell")]
    ws.delete_rows(3)
    buf = io.BytesIO()
    wb.save(buf)
    result = groups.import_file(world["risk"], "groups.xlsx", buf.getvalue())
    assert (result.new_groups, result.members) == (1, 1)


@pytest.mark.parametrize(("data", "code"), [
    (b"", "import_layout"),
    (b"group_code,customer\nHX,1\n", "import_layout"),  # relation and effective_from columns missing
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1rest", "import_format"),
    (b"PK\x03\x04 not really", "import_format"),
])
def test_a_file_that_is_not_a_group_list_is_refused(world, data, code):
    with pytest.raises(CreditplanError) as exc:
        groups.import_file(world["risk"], "x.csv", data)
    assert (exc.value.field, exc.value.code) == ("file", code)


# --- the demo ---------------------------------------------------------------------------------------------------

def test_the_demo_builds_three_groups_through_the_maker_checker(bank):
    from creditplan.customers import demo
    from creditplan.customers.demo_groups import seed_demo

    customers.import_customers(None, demo.customer_rows(200, seed=7, today=TODAY, branch_codes=["BJ01", "SH01"]))
    risk2 = org.create_user(None, username="risk2", password="x-pass-123", role="risk_manager", branch_code="HO")
    made = seed_demo(bank["risk"], risk2)
    assert made == {"G001": 3, "G001-01": 1, "G002": 3, "G003": 3}
    sub = CustomerGroup.objects.get(code="G001-01")
    assert (sub.parent.code, sub.root.code) == ("G001", "G001")
    assert set(GroupMember.objects.filter(group__code="G002").values_list("relation", flat=True)) == {"guarantee"}
    assert set(GroupMember.objects.filter(group__code="G003").values_list("relation", flat=True)) == {
        "family", "controller"}
    assert len(exposure.group_members(sub)) == 4  # the whole tree: holding, two subsidiaries, the sub-holding's
    assert [c.kind for c in groups.list_changes(risk2)] == ["add_member"]  # one left for the checker
    assert GroupChange.objects.filter(status="approved", decided_by=risk2).exclude(proposed_by=risk2).count() == \
        GroupChange.objects.filter(status="approved").count()
    assert seed_demo(bank["risk"], risk2) == {}  # again: nothing
