"""Customer use cases: permissions, branch scope, PII protection, duplicates and the audit trail."""

from __future__ import annotations

import json

import pytest

from creditplan.core.errors import Conflict, Forbidden, NotFound, ValidationError
from creditplan.customers import services
from creditplan.customers.models import Customer
from creditplan.ledger.models import Event
from factories import company, individual, resident_id


def test_officer_creates_individual_and_pii_is_encrypted_at_rest(bank):
    view = services.create_customer(bank["officer_bj"], individual(1))
    row = Customer.objects.get(pk=view.id)
    number = resident_id(1)
    # the answer is masked like any other (finding 8: clear PII only when asked for, and then recorded)
    assert view.id_number == "*" * 14 + number[-4:] and not view.pii_visible
    assert number not in row.id_number_enc and "13800138000" not in row.phone_enc
    assert row.id_masked == "*" * 14 + number[-4:]
    assert row.branch.code == "BJ01" and row.birth_date.isoformat() == "1985-06-15" and row.sex == "M"
    assert row.monthly_income_minor == 1_500_000


def test_company_with_uscc_industry_and_region(bank):
    view = services.create_customer(bank["officer_bj"], company(1, industry_code="39"))
    assert view.industry_code == "C39" and view.kind == "company"


def test_duplicate_id_number_is_refused_and_nothing_written(bank):
    services.create_customer(bank["officer_bj"], individual(1))
    before = (Customer.objects.count(), Event.objects.count())
    with pytest.raises(Conflict) as exc:
        services.create_customer(bank["officer_sh"], individual(1, name="李四", branch="SH01"))
    assert exc.value.field == "id_number"
    assert (Customer.objects.count(), Event.objects.count()) == before


def test_every_problem_of_a_form_is_reported_at_once(bank):
    bad = individual(1, id_number=resident_id(1)[:-1] + "0", monthly_income="-5", phone="12345")
    with pytest.raises(ValidationError) as exc:
        services.create_customer(bank["officer_bj"], bad)
    fields = {p.field for p in exc.value.problems}
    assert {"id_number", "monthly_income", "phone"} <= fields
    assert Customer.objects.count() == 0


def test_branch_staff_see_only_their_subtree(bank):
    bj = services.create_customer(bank["officer_bj"], individual(1))
    sh = services.create_customer(bank["officer_sh"], individual(2, branch="SH01"))
    with pytest.raises(NotFound):
        services.get_customer(bank["officer_sh"], bj.id)
    # the Beijing approver sits on BJ, the parent of BJ01: sees BJ01's customers, not Shanghai's
    seen = {c.id for c in services.search_customers(bank["approver_bj"]).items}
    assert seen == {bj.id}
    # head-office roles see everything
    assert {c.id for c in services.search_customers(bank["risk"]).items} == {bj.id, sh.id}


def test_officer_cannot_create_in_another_branch(bank):
    with pytest.raises(ValidationError) as exc:
        services.create_customer(bank["officer_bj"], individual(1, branch="SH01"))
    assert exc.value.field == "branch"


def test_pii_shown_in_clear_only_to_roles_that_may_and_each_reveal_is_recorded(bank):
    v = services.create_customer(bank["officer_bj"], individual(1))
    masked = services.get_customer(bank["risk"], v.id, reveal=True)
    assert not masked.pii_visible and masked.id_number == "*" * 14 + resident_id(1)[-4:]
    assert masked.phone == "*******8000"
    clear = services.get_customer(bank["approver_bj"], v.id, reveal=True)
    assert clear.pii_visible and clear.id_number == resident_id(1)
    assert Event.objects.filter(kind="customer.pii_viewed", actor=bank["approver_bj"]).count() == 1


def test_customer_role_sees_only_their_own_record(bank):
    v1 = services.create_customer(bank["officer_bj"], individual(1))
    services.create_customer(bank["officer_bj"], individual(2))
    services.link_customer_user(v1.id, bank["customer"])
    assert [c.id for c in services.search_customers(bank["customer"]).items] == [v1.id]


def test_update_records_who_what_and_keeps_pii_out_of_the_log(bank):
    v = services.create_customer(bank["officer_bj"], individual(1))
    services.update_customer(bank["officer_bj"], v.id, {"phone": "13912345678", "monthly_income": "18000"},
                             expected_version=1)
    event = Event.objects.filter(kind="customer.updated").get()
    body = json.loads(event.entry)
    assert event.actor == bank["officer_bj"] and body["actor"] == "officer_bj"
    old, new = body["data"]["changed"]["phone"]  # keyed digests: the log tells a change, not the numbers
    assert old.startswith("hmac:") and new.startswith("hmac:") and old != new
    assert body["data"]["changed"]["monthly_income_minor"] == [1_500_000, 1_800_000]
    assert "*" not in event.entry and "13912345678" not in event.entry  # no mask, no number
    assert [h.kind for h in services.customer_history(bank["risk"], v.id)] == ["customer.updated", "customer.created"]


def test_stale_version_is_refused(bank):
    v = services.create_customer(bank["officer_bj"], individual(1))
    services.update_customer(bank["officer_bj"], v.id, {"employer": "比亚迪"}, expected_version=1)
    with pytest.raises(Conflict) as exc:
        services.update_customer(bank["officer_bj"], v.id, {"employer": "美团"}, expected_version=1)
    assert exc.value.code == "stale_version"
    assert Customer.objects.get(pk=v.id).employer == "比亚迪"


def test_permissions_are_checked_in_services(bank):
    v = services.create_customer(bank["officer_bj"], individual(1))
    with pytest.raises(Forbidden):
        services.create_customer(bank["approver_bj"], individual(2))
    with pytest.raises(Forbidden):
        services.archive_customer(bank["officer_bj"], v.id, "closed account")
    with pytest.raises(ValidationError):
        services.archive_customer(bank["ops"], v.id, "  ")
    archived = services.archive_customer(bank["ops"], v.id, "customer asked to close the relationship")
    assert archived.status == "archived"
    assert services.search_customers(bank["risk"]).total == 0


def test_search_by_name_full_id_number_and_uscc(bank):
    a = services.create_customer(bank["officer_bj"], individual(1, name="王小明"))
    b = services.create_customer(bank["officer_bj"], company(1))
    assert [c.id for c in services.search_customers(bank["risk"], "小明").items] == [a.id]
    assert [c.id for c in services.search_customers(bank["risk"], resident_id(1)).items] == [a.id]
    assert [c.id for c in services.search_customers(bank["risk"], b.uscc).items] == [b.id]


def test_import_is_all_or_nothing(bank):
    rows = [dict(individual(i), branch="BJ01") for i in range(1, 4)]
    rows.append(dict(individual(9, id_number="110108198506150000"), branch="BJ01"))
    with pytest.raises(ValidationError) as exc:
        services.import_customers(None, rows)
    assert "row 4" in exc.value.message
    assert Customer.objects.count() == 0
    assert services.import_customers(None, rows[:3]) == 3
    assert Event.objects.filter(kind="customer.created").count() == 3
