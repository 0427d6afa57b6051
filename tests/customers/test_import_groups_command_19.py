"""Issue 19 §2: `creditplan import-groups FILE --user NAME` proposes a file's group relations (all rows or none) and is
listed with one line of help among the product's commands."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from creditplan.cli import product_help
from creditplan.customers import services as customers
from creditplan.customers.models import CustomerGroup, GroupChange
from factories import company, individual, resident_id

HEADER = "group_code,group_name,parent_group,customer,relation,effective_from,effective_to\n"


@pytest.fixture
def people(bank):
    return {"co": customers.create_customer(bank["officer_bj"], company(1, name="华信控股集团有限公司")),
            "wang": customers.create_customer(bank["officer_bj"], individual(1, name="王大明"))}


def test_the_command_proposes_every_row_of_a_good_file(tmp_path, people):
    path = tmp_path / "groups.csv"
    path.write_text(HEADER + f"HX,华信集团,,{company(1)['uscc']},control,2026-01-01,\n"
                    f"WANG,王氏家族,,{resident_id(1)},family,2026-01-01,\n", encoding="utf-8")
    out = io.StringIO()
    call_command("import_groups", str(path), "--user", "risk", "--plain", stdout=out)
    assert "groups.csv: proposed 4 change(s) — 2 new group(s), 0 move(s), 2 member(s)" in out.getvalue()
    assert resident_id(1) not in out.getvalue()
    assert GroupChange.objects.filter(status="pending", proposed_by__username="risk").count() == 4
    assert not CustomerGroup.objects.exists()  # waiting for a second user


def test_a_bad_file_prints_every_bad_line_and_writes_nothing(tmp_path, people):
    path = tmp_path / "bad.csv"
    path.write_text(HEADER + f"HX,华信集团,,{people['co'].id},control,2026-01-01,\n"
                    "HX,,,999999,control,2026-01-01,\n"
                    f"HX,,,{people['wang'].id},cousin,2026-01-01,\n", encoding="utf-8")
    err = io.StringIO()
    with pytest.raises(CommandError) as exc:
        call_command("import_groups", str(path), "--user", "risk", stderr=err)
    assert str(exc.value) == "bad.csv: 2 bad row(s), nothing imported"
    lines = err.getvalue().splitlines()
    assert lines[0].startswith("  line 3 (customer): no customer number 999999")
    assert lines[1].startswith("  line 4 (relation): 'cousin' is not a relation type")
    assert not GroupChange.objects.exists()


def test_a_user_who_does_not_manage_groups_is_refused(tmp_path, people):
    path = tmp_path / "groups.csv"
    path.write_text(HEADER + f"HX,华信集团,,{people['co'].id},control,2026-01-01,\n", encoding="utf-8")
    with pytest.raises(CommandError, match="may not do this"):
        call_command("import_groups", str(path), "--user", "officer_bj", "--plain")
    with pytest.raises(CommandError, match="no active user"):
        call_command("import_groups", str(path), "--user", "nobody")
    assert not GroupChange.objects.exists()


def test_the_command_is_listed_with_one_line_of_help(db):
    assert "  import-groups" in product_help()
