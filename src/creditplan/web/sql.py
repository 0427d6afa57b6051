"""The shell's one raw statement: the health check's round trip to the database."""

from __future__ import annotations

from django.db import connection


def ping() -> str:
    """Ask the database for nothing (SELECT 1) and say which one answered: a load balancer's health probe must
    fail when the database is unreachable, not only when the process is."""
    with connection.cursor() as cur:
        cur.execute("SELECT 1")
    return str(connection.vendor)
