"""The auditor's page (ledger health box) and the `creditplan ledger` commands, end to end with the
standalone verifier run as a separate, standard-library-only process."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction

from creditplan.ledger import services as ledger
from creditplan.ledger import verifier
from factories import PASSWORD


def cli(*args: str) -> str:
    out, err = StringIO(), StringIO()
    call_command("ledger", *args, stdout=out, stderr=err)
    return out.getvalue()


def standalone(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-I", "-S", verifier.__file__, *args], capture_output=True, text=True,
                          timeout=60)


def test_audit_page_shows_the_ledger_health(client, make_ledger):  # type: ignore[no-untyped-def]
    make_ledger(40, head=False)
    client.login(username="auditor", password=PASSWORD)
    page = client.get("/audit/").content.decode()
    assert "账本健康状况" in page and "尚未签发任何树头。" in page and "账本尚未校验。" in page
    head = ledger.issue_tree_head(None)
    ledger.verify_ledger(None)
    page = client.get("/audit/").content.decode()
    assert f"覆盖事件 1–{head.tree_size}" in page and base64.b64encode(head.root_hash).decode() in page
    assert "通过" in page and "下载最新树头" in page and "/api/v1/ledger/verifier.py" in page
    assert "/api/v1/ledger/proofs/inclusion/1\"" in page
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/audit/"}, follow=True)
    assert "Ledger health" in response.content.decode() and "passed" in response.content.decode()


def test_audit_page_buttons_post_through_the_api_with_the_session(make_ledger):  # type: ignore[no-untyped-def]
    from django.test import Client

    make_ledger(20, head=False)
    browser = Client(enforce_csrf_checks=True)
    browser.login(username="ops", password=PASSWORD)
    browser.get("/")  # sets the CSRF cookie like a page does
    token = browser.cookies["csrftoken"].value
    form = "application/x-www-form-urlencoded"  # what the HTMX button sends, with the page's CSRF header
    r = browser.post("/api/v1/ledger/tree-heads", content_type=form, HTTP_X_CSRFTOKEN=token)
    assert r.status_code == 201, r.content
    assert browser.post("/api/v1/ledger/tree-heads", content_type=form).status_code == 403  # no CSRF token


def test_verify_sth_and_proofs_from_the_command_line(make_ledger, tmp_path: Path):  # type: ignore[no-untyped-def]
    make_ledger(120, head=False)
    head = json.loads(cli("sth", "--reason", "close"))
    assert head["tree_size"] == 120 and head["reason"] == "close"
    assert "no problem found" in cli("verify")
    report = json.loads(cli("verify", "--json", "--no-record"))
    assert report["ok"] and report["events_checked"] == 120

    key = tmp_path / "ledger.pub"
    key.write_text(cli("public-key"))
    cli("prove-inclusion", "42", "--out", str(tmp_path / "p42.json"))
    r = standalone("inclusion", str(tmp_path / "p42.json"), "--public-key", str(key))
    assert r.returncode == 0 and "signature valid" in r.stdout, r.stdout + r.stderr

    cli("export-sth", "--out", str(tmp_path / "sth-120.json"))
    call_command("ledger", "sth", stdout=StringIO())  # issuing a head is not itself an event
    with transaction.atomic():
        ledger.append(None, "loan.repaid", "loan", "1", {"n": 1})
    assert json.loads(cli("sth"))["tree_size"] == 121
    cli("prove-consistency", "120", "121", "--out", str(tmp_path / "c.json"))
    r = standalone("consistency", str(tmp_path / "c.json"), "--public-key", str(key),
                   "--tree-head", str(tmp_path / "sth-120.json"))
    assert r.returncode == 0, r.stdout + r.stderr
    cli("export-sth", "--all", "--out", str(tmp_path / "all.json"))
    r = standalone("sth", str(tmp_path / "all.json"), "--public-key", str(key))
    assert r.returncode == 0 and r.stdout.count("signature valid") == 3, r.stdout

    # A proof that does not match the head the auditor kept fails.
    cli("prove-inclusion", "42", "--tree-size", "121", "--out", str(tmp_path / "p42b.json"))
    r = standalone("inclusion", str(tmp_path / "p42b.json"), "--public-key", str(key),
                   "--tree-head", str(tmp_path / "sth-120.json"))
    assert r.returncode == 1

    assert len(base64.b64decode(cli("new-key").strip())) == 32
    assert "121" in cli("integrate")


def test_verify_exits_non_zero_naming_the_first_bad_entry(make_ledger):  # type: ignore[no-untyped-def]
    make_ledger(50)
    with connection.cursor() as cur:
        cur.execute("UPDATE ledger_event SET entry = replace(entry, '\"n\":', '\"m\":') WHERE seq IN (33, 44)")
    with pytest.raises(CommandError, match="first bad entry: event 33"):
        cli("verify")
    assert not ledger.last_verification(None).ok and ledger.last_verification(None).first_bad_seq == 33
    with pytest.raises(CommandError, match="not found"):
        cli("prove-inclusion", "9999")
