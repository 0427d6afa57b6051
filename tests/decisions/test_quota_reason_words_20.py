"""Issue 20: a decision the credit plan refuses says, in Chinese, which quota refused and how much is left — not the
plan service's English sentence inside a Chinese one ("信贷计划额度不足：quota … has …")."""

from __future__ import annotations

import re

from creditplan.plans import services as plans


def test_a_refused_quota_is_said_in_chinese_with_the_quota_and_what_is_left(world, decide):
    plans.reserve_quota(world["approver_bj"], application_ref="FILL-BJ", amount="980000", branch="BJ01")
    d = decide("APP-HARD-ZH")
    assert d.quota_status == "refused" and "QUOTA_REFUSED" in d.reason_codes
    zh = d.reasons_zh[d.reason_codes.index("QUOTA_REFUSED")]
    assert zh.startswith("信贷计划额度不足：")
    assert "元" in zh and re.search(r"\d", zh), zh  # what is left and what was asked, in yuan
    assert not re.search(r"[A-Za-z]{4,}", zh.replace("BJ01", "")), zh  # no English words in the Chinese reason
