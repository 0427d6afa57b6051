"""The ledger's hand-written SQL: every statement the ORM cannot express, or expresses too slowly for the
measured figure named in its docstring (benchmarks/bench_ledger.py, bench_decision_http.py, profile_submission.py;
results in benchmarks/results/). Each function returns the statement's text for one connection (table names
quoted by its backend); the modules that run them say why and when.

Nothing else in the ledger writes SQL by hand: what is not here goes through the models.
"""

from __future__ import annotations

from typing import Any

from creditplan.ledger.models import Event, MerkleTile, Sequencer

#: The columns of an event row, in the order the inserts below write them.
EVENT_COLUMNS = "seq, occurred_at, actor_id, actor_name, kind, subject_type, subject_id, entry, leaf_hash"


def _tables(conn: Any) -> tuple[str, str]:
    qn = conn.ops.quote_name
    return qn(Sequencer._meta.db_table), qn(Event._meta.db_table)


def take_numbers(conn: Any) -> str:
    """Take `%s` consecutive event numbers: UPDATE … RETURNING on the sequencer row, whose lock is held to the
    commit (gapless numbers, commit order = seq order: ledger/append.py). The ORM has no UPDATE … RETURNING: its
    SELECT FOR UPDATE then UPDATE is a second round trip inside the span every appender queues for —
    bench_ledger.py `append` (single events and batches: >= 20,000 events/s) measures that span."""
    sequencer, _events = _tables(conn)
    return f"UPDATE {sequencer} SET next_seq = next_seq + %s WHERE id = 1 RETURNING next_seq"


def create_sequencer(conn: Any) -> str:
    """First append of a new (or flushed) database: create the sequencer row, continuing any existing numbering,
    without failing when a concurrent first append created it (ON CONFLICT DO NOTHING: the ORM's get_or_create
    would raise and retry in a savepoint). Runs once per database, so it is not timed; it is raw because
    `take_numbers` reads the row it makes."""
    sequencer, events = _tables(conn)
    return (f"INSERT INTO {sequencer} (id, next_seq) SELECT 1, COALESCE(MAX(seq), 0) + 1 FROM {events} WHERE 1 = 1 "
            "ON CONFLICT (id) DO NOTHING")


def insert_numbered(conn: Any, n: int) -> str:
    """PostgreSQL: number and insert `n` events in ONE statement — the sequencer's UPDATE … RETURNING in a CTE,
    one VALUES row per event (plain parameters, nothing to escape). Parameters: n, n, occurred_at, actor_id,
    actor_name, then kind, subject_type, subject_id, entry, leaf_hash per event. A use case's events (a
    submission: two) cost one round trip instead of three: bench_decision_http.py (statements per submission,
    the p99 of `POST /api/v1/applications`) and profile_submission.py (stage `ledger: append_many`)."""
    sequencer, events = _tables(conn)
    rows = ", ".join(f"({i}, %s, %s, %s, %s, %s)" for i in range(n))
    return (f"WITH s AS (UPDATE {sequencer} SET next_seq = next_seq + %s WHERE id = 1 RETURNING next_seq) "
            f"INSERT INTO {events} ({EVENT_COLUMNS}) SELECT s.next_seq - %s + v.i, %s::timestamptz, %s::bigint, %s, "
            f"v.kind, v.subject_type, v.subject_id, v.entry, v.leaf_hash FROM s, (VALUES {rows}) AS v(i, kind, "
            "subject_type, subject_id, entry, leaf_hash) RETURNING (SELECT next_seq FROM s)")


def copy_events(conn: Any) -> str:
    """PostgreSQL: stream a batch of numbered events with COPY while the next ones are built, so the server
    indexes them while Python serialises and hashes (Django's bulk insert escaped every quote of every JSON entry
    through a regular expression, and was the bottleneck): bench_ledger.py `append` (batched, >= 20,000
    events/s), bench_bankfile.py and bench_close.py (a file of payments, the daily close: events by the
    hundred thousand)."""
    _sequencer, events = _tables(conn)
    return f"COPY {events} ({EVENT_COLUMNS}) FROM STDIN"


def fetch_tiles(conn: Any, count: int) -> str:
    """The stored tiles among `count` packed keys, in one query: the ORM's overhead (model instances, a query per
    call site) was most of a proof's time — bench_ledger.py `proof_10m` (an inclusion proof of a 10,000,000-event
    log in <= 5 ms) and `real_ledger` (proofs, integration)."""
    qn = conn.ops.quote_name
    return (f"SELECT {qn('level')}, {qn('index')}, {qn('hashes')} FROM {qn(MerkleTile._meta.db_table)} "
            f"WHERE {qn('key')} IN ({', '.join(['%s'] * count)})")


def verification_chunk(conn: Any) -> str:
    """Events after seq `%s`, at most `%s` of them, in seq order, with the timestamp as ISO text on PostgreSQL
    (parsing a million timestamps into datetimes took a fifth of the verification time, and model instances
    most of the rest): bench_ledger.py `real_ledger` (verification of 1,000,000 events in <= 30 s)."""
    qn = conn.ops.quote_name
    at = "occurred_at"
    if conn.vendor == "postgresql":
        at = "to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US')"
    return (f"SELECT seq, entry, leaf_hash, kind, subject_type, subject_id, actor_name, {at} "
            f"FROM {qn(Event._meta.db_table)} WHERE seq > %s ORDER BY seq LIMIT %s")
