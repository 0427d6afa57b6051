"""Integration fixtures: a loopback HTTP receiver (127.0.0.1, a thread) that answers as told and records what it
got, and the origination world (applications) for the notification tests."""

from __future__ import annotations

import http.server
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "origination"))  # application_data (make_world)


class Receiver:
    """Answers each POST with the next status in `script` (the last one repeats); "hang" answers nothing until the
    test ends (to exercise the client's timeout)."""

    def __init__(self) -> None:
        self.script: list[Any] = [200]
        self.requests: list[dict[str, Any]] = []
        self.release = threading.Event()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                outer.requests.append({"path": self.path, "headers": dict(self.headers.items()), "body": body})
                answer = outer.script.pop(0) if len(outer.script) > 1 else outer.script[0]
                if answer == "hang":
                    outer.release.wait(30)
                    return
                self.send_response(int(answer))
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(f"answer {answer}".encode())

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02},
                                       daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def memory_sender(settings: Any) -> Iterator[Any]:
    from creditplan.integration import senders

    settings.CREDITPLAN_NOTIFICATION_SENDER = "creditplan.integration.senders.memory"
    senders.memory.clear()
    yield senders.memory
    senders.memory.clear()


@pytest.fixture
def world(bank: dict[str, Any]) -> dict[str, Any]:
    from application_data import make_world

    return make_world(bank)


@pytest.fixture
def submit(world: dict[str, Any]) -> Any:
    """submit(inputs=GOOD, amount="30000.00", customer=0) → ApplicationView, entered by officer_bj at the branch."""
    from application_data import GOOD

    from creditplan.origination import services as origination

    def run(inputs: dict[str, Any] | None = None, amount: str = "30000.00", customer: int = 0) -> Any:
        return origination.submit_application(world["officer_bj"], customer_id=world["customers"][customer],
                                              product="consumer", amount=amount, term=12,
                                              inputs=dict(GOOD if inputs is None else inputs), channel="branch")

    return run
