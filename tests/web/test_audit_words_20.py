"""Issue 20 (page walk): the audit trail names events, records and the system in words, in both languages — it
showed codes (credit_line, stress_scenario, risk.alert_raised), "system", and scenario codes (mild-downturn)."""

from __future__ import annotations

import re
from typing import Any

from django.db import transaction
from django.test import Client

from creditplan.ledger import services as ledger

_HAN = re.compile(r"[\u3400-\u9fff]")


def _client(user: Any, lang: str) -> Client:
    c = Client(HTTP_ACCEPT_LANGUAGE=lang)
    c.force_login(user)
    return c


def _seen(html: str) -> str:
    """The trail's rows as a user reads them: tags gone, and what the page marks as data (<code>, class="data")."""
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    body = re.sub(r"<code[^>]*>.*?</code>|<span class=\"data\">.*?</span>", " ", body, flags=re.S)
    return re.sub(r"<[^>]+>", " ", body)


def _world(bank: Any) -> None:
    from creditplan.risk.services import stress

    stress.install_standard(None)  # appends risk.stress_scenario_defined for mild-downturn… as the system
    with transaction.atomic():
        ledger.append(None, "risk.ecl_scenarios_set", "risk", "ecl", {"n": 1})
        ledger.append(bank["risk"], "line.frozen", "credit_line", "7", {"n": 2})
        ledger.append(None, "risk.alert_raised", "alert", "3", {"n": 3})


def test_the_chinese_audit_trail_shows_words_not_codes(bank) -> None:
    _world(bank)
    html = _client(bank["auditor"], "zh-hans").get("/audit/?per_page=100").content.decode()
    seen = _seen(html)
    for words in ("系统", "授信额度已冻结", "授信额度", "风险预警已触发", "压力情景已定义", "温和下行", "ECL 参数"):
        assert words in seen, words
    for code in ("system", "credit_line", "stress_scenario", "mild-downturn", "ecl", "alert_raised"):
        assert not re.search(rf"(?<![\w-]){re.escape(code)}(?![\w-])", seen), code
    assert "<code class=\"event-code\">line.frozen</code>" in html  # the code beside, for filtering
    assert "Python" not in html.split("<main", 1)[1].replace("verifier.py", "")


def test_the_english_audit_trail_has_no_chinese_and_names_the_scenario(bank) -> None:
    _world(bank)
    html = _client(bank["auditor"], "en").get("/audit/?per_page=100").content.decode()
    seen = _seen(html)
    assert not _HAN.search(seen), _HAN.findall(seen)[:5]
    for words in ("System", "Credit line frozen", "Risk alert raised", "Mild downturn", "ECL settings"):
        assert words in seen, words


def test_the_audit_export_names_events_and_records_in_words(bank) -> None:
    import csv
    import io

    _world(bank)
    response = _client(bank["auditor"], "zh-hans").get("/audit/?family=line&export=csv")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[1][2:7] == [bank["risk"].username, "授信额度", "授信额度已冻结", "line.frozen", "授信额度 7"]
