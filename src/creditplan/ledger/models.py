from __future__ import annotations

from django.conf import settings
from django.db import models


class AppendOnlyError(Exception):
    pass


class Event(models.Model):
    """One business event: who did what to which record, when, and what changed.

    Append-only: saving an existing row or deleting one raises. `entry` holds the canonical JSON bytes
    (as text) whose RFC 9162 leaf hash is `leaf_hash`, so the log can be put in a Merkle tree.
    """

    seq = models.BigAutoField(primary_key=True)
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

    def save(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        if not self._state.adding:
            raise AppendOnlyError("ledger events cannot be changed")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        raise AppendOnlyError("ledger events cannot be deleted")
