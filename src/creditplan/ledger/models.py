from __future__ import annotations

from typing import Any, NoReturn

from django.conf import settings
from django.db import models


class AppendOnlyError(Exception):
    pass


class Event(models.Model):
    """One business event: who did what to which record, when, and what changed.

    Append-only: saving an existing row or deleting one raises. `entry` holds the canonical JSON bytes
    (as text) whose RFC 9162 leaf hash is `leaf_hash`, so the log can be put in a Merkle tree.

    `seq` is not a database sequence: it is handed out by `Sequencer` (1, 2, 3 … without gaps, in commit
    order), so event number `seq` is leaf `seq - 1` of the Merkle tree and a missing number means a deleted
    event. See ledger/append.py for why.
    """

    seq = models.BigIntegerField(primary_key=True)
    occurred_at = models.DateTimeField(db_index=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    actor_name = models.CharField(max_length=150)
    kind = models.CharField(max_length=60, db_index=True)
    subject_type = models.CharField(max_length=40)
    subject_id = models.CharField(max_length=40)
    entry = models.TextField()
    leaf_hash = models.CharField(max_length=64)

    class Meta:
        indexes = [models.Index(fields=["subject_type", "subject_id", "seq"])]
        ordering = ["seq"]

    def __str__(self) -> str:
        return f"#{self.seq} {self.kind} {self.subject_type}:{self.subject_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyError("ledger events cannot be changed")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError("ledger events cannot be deleted")


class AppendOnlyModel(models.Model):
    """Rows that are written once: signed tree heads are evidence, like the events."""

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyError(f"{type(self).__name__} rows cannot be changed")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError(f"{type(self).__name__} rows cannot be deleted")


class Sequencer(models.Model):
    """The one row that numbers events. Appending takes its row lock (UPDATE … RETURNING) until commit, so
    numbers are gapless (a rolled-back append gives its numbers back) and commit in order."""

    id = models.SmallIntegerField(primary_key=True, default=1)
    next_seq = models.BigIntegerField(default=1)

    def __str__(self) -> str:
        return f"next event number {self.next_seq}"


class TreeState(models.Model):
    """How many events (a prefix in seq order) the tile store covers. Its row lock serialises integration."""

    id = models.SmallIntegerField(primary_key=True, default=1)
    size = models.BigIntegerField(default=0)
    tile_height = models.SmallIntegerField(default=4)
    updated_at = models.DateTimeField(null=True)

    def __str__(self) -> str:
        return f"tree of {self.size} events"


class MerkleTile(models.Model):
    """Up to 2**h consecutive node hashes of one tree level (see ledger/merkle.py): level-0 tiles hold leaf
    hashes, a level-L tile the roots of full level-(L-1) tiles. `key` packs (level, index) for one-index
    look-ups: level · 2**48 + index."""

    key = models.BigIntegerField(primary_key=True)
    level = models.SmallIntegerField()
    index = models.BigIntegerField()
    hashes = models.BinaryField()

    KEY_SHIFT = 48

    def __str__(self) -> str:
        return f"tile {self.level}/{self.index}"

    @classmethod
    def pack(cls, level: int, index: int) -> int:
        return (level << cls.KEY_SHIFT) | index


class SignedTreeHead(AppendOnlyModel):
    """A signed statement "the ledger's first `tree_size` events have root `root_hash`" (RFC 9162 §4.10).

    The signature covers the TLS encoding of TreeHeadDataV2 (timestamp ms ‖ tree_size ‖ root) — see
    verifier.tree_head_message. The public key is kept beside it so old heads stay checkable after a key
    rotation; trust in that key comes from outside the database (the auditor's copy).
    """

    tree_size = models.BigIntegerField()
    root_hash = models.BinaryField(max_length=32)
    timestamp_ms = models.BigIntegerField()
    issued_at = models.DateTimeField(db_index=True)
    signature = models.BinaryField(max_length=64)
    key_id = models.CharField(max_length=16)
    public_key = models.BinaryField(max_length=32)
    issued_by = models.CharField(max_length=150)
    reason = models.CharField(max_length=40, default="manual")

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"tree head #{self.pk} size {self.tree_size}"


class VerificationRun(models.Model):
    """One run of `verify_ledger`: when, by whom, what was covered and the first problem found."""

    started_at = models.DateTimeField(db_index=True)
    finished_at = models.DateTimeField()
    actor_name = models.CharField(max_length=150)
    ok = models.BooleanField()
    events_checked = models.BigIntegerField()
    tree_size = models.BigIntegerField()
    heads_checked = models.IntegerField()
    records_checked = models.IntegerField()
    first_bad_seq = models.BigIntegerField(null=True)
    first_problem = models.TextField(blank=True)
    findings = models.JSONField(default=list)
    duration_ms = models.IntegerField()

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"verification #{self.pk} {'ok' if self.ok else 'FAILED'}"
