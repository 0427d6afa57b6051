"""Concurrent appenders on PostgreSQL: the tree never disagrees with seq order.

Several threads append in their own transactions (some roll back), while another integrates and signs tree
heads. PostgreSQL could commit a sequence's values out of order; the sequencer row lock rules that out, so
every head must equal MTH of events 1 … size, with no gaps.
"""

from __future__ import annotations

import random
import threading
import time

import pytest
from django.db import connection, connections, transaction

from creditplan.ledger import merkle
from creditplan.ledger import services as ledger
from creditplan.ledger.models import Event

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db(transaction=True)]


def _worker(n: int, errors: list, rounds: int = 30) -> None:
    rnd = random.Random(n)
    try:
        for i in range(rounds):
            try:
                with transaction.atomic():
                    if rnd.random() < 0.5:
                        ledger.append(None, "loan.repaid", "loan", f"{n}-{i}", {"i": i})
                    else:
                        ledger.append_many(None, [ledger.EventSpec("loan.accrued", "loan", f"{n}-{i}-{k}", {"k": k})
                                                  for k in range(rnd.randint(1, 4))])
                    time.sleep(rnd.random() / 500)  # hold the transaction open a little
                    if rnd.random() < 0.2:
                        raise RuntimeError("rolled back")
            except RuntimeError:
                pass
    except Exception as exc:  # noqa: BLE001 - reported to the main thread
        errors.append(exc)
    finally:
        connections.close_all()


def _signer(stop: threading.Event, errors: list, heads: list) -> None:
    try:
        while not stop.is_set():
            heads.append(ledger.issue_tree_head(None, reason="schedule"))
            time.sleep(0.005)
    except Exception as exc:  # noqa: BLE001
        errors.append(exc)
    finally:
        connections.close_all()


def test_concurrent_appends_rollbacks_and_tree_heads_agree_with_seq_order() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL row locking (CREDITPLAN_TEST_DB=postgresql)")
    errors: list = []
    heads: list = []
    stop = threading.Event()
    workers = [threading.Thread(target=_worker, args=(n, errors)) for n in range(6)]
    signer = threading.Thread(target=_signer, args=(stop, errors, heads))
    signer.start()
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
    stop.set()
    signer.join(60)
    assert not errors, errors
    final = ledger.issue_tree_head(None)
    seqs = list(Event.objects.order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, len(seqs) + 1)) and final.tree_size == len(seqs)
    leaves = [bytes.fromhex(h) for h in Event.objects.order_by("seq").values_list("leaf_hash", flat=True)]
    assert len(heads) > 3
    for head in [*heads, final]:
        assert head.root_hash == merkle.mth(leaves[: head.tree_size])
    report = ledger.verify_ledger(None, record=False)
    assert report.ok, report.findings
