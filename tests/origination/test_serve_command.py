"""`creditplan serve`: the gunicorn command line it runs, and its worker hook (the module is gunicorn's config)."""

from __future__ import annotations

import gc
import os

import pytest

from creditplan.web.management.commands import serve


def test_serve_runs_gthread_workers_with_this_module_as_gunicorn_config(monkeypatch: pytest.MonkeyPatch) -> None:
    ran: list[list[str]] = []
    monkeypatch.setattr(os, "execvp", lambda exe, argv: ran.append(argv))
    monkeypatch.delenv("CREDITPLAN_WORKERS", raising=False)
    monkeypatch.delenv("CREDITPLAN_THREADS", raising=False)
    from django.core.management import call_command

    call_command("serve", port=8123)
    argv = ran[0]
    opts = dict(zip(argv, argv[1:], strict=False))  # each flag with the value after it
    assert argv[2:4] == ["gunicorn", "creditplan.wsgi:application"]
    assert opts["--config"] == "python:creditplan.web.management.commands.serve"
    assert opts["--worker-class"] == "gthread" and opts["--threads"] == "1"
    assert opts["--workers"] == str(2 * (os.cpu_count() or 1)) and opts["--bind"] == "127.0.0.1:8123"
    monkeypatch.setenv("CREDITPLAN_WORKERS", "3")
    assert serve.default_workers() == 3


def test_the_worker_hook_loads_the_urlconf_and_freezes_what_it_loaded() -> None:
    from django.urls import get_resolver

    try:
        serve.post_worker_init(None)
        assert gc.get_freeze_count() > 0
        assert "api/v1/" in {str(p.pattern) for p in get_resolver().url_patterns}
    finally:
        gc.unfreeze()
