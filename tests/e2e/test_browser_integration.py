"""Webhooks in a real browser: the administrator registers a receiver, copies the secret shown once, and follows an
application event to the receiver in the delivery log."""

from __future__ import annotations

import http.server
import threading
from typing import Any

import pytest
from django.db import transaction
from playwright.sync_api import expect

from creditplan.integration import services as integration
from creditplan.ledger import services as ledger

pytestmark = pytest.mark.e2e


class _Ok(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: Any) -> None:
        pass


def test_admin_registers_a_webhook_and_sees_the_event_delivered(new_page, log_in, bank, settings):  # type: ignore[no-untyped-def]
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1/32"]  # the receiver below is on loopback, plain http
    settings.DEVELOPMENT = True
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    try:
        page = new_page()
        log_in(page, "admin")
        page.get_by_role("navigation").get_by_role("link", name="系统集成").click()
        page.locator("#id_name").fill("CRM")
        page.locator("#id_url").fill(url)
        page.get_by_role("button", name="创建 Webhook").click()
        secret = page.locator("#webhook-secret")
        expect(secret).to_contain_text("whsec_")
        shown = secret.inner_text()
        page.get_by_role("link", name="返回 Webhook 列表").click()
        expect(page.get_by_role("row").filter(has_text=url)).to_contain_text(shown[-4:])
        expect(page.locator("body")).not_to_contain_text(shown)

        with transaction.atomic():
            ledger.append(bank["risk"], "application.approved", "application", "AP-BROWSER-1", {"amount_minor": 1})
        integration.run_once(timeout=5)
        page.get_by_role("link", name="推送日志").click()
        row = page.get_by_role("row").filter(has_text="AP-BROWSER-1")
        expect(row).to_contain_text("已送达")
        expect(row).to_contain_text("HTTP 200")
    finally:
        server.shutdown()
        server.server_close()
