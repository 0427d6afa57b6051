"""Decision-engine pages in a real browser (issue 4): a risk manager's policy upload with an invalid expression
is refused with the reason; a valid edit in the grid is validated, submitted and published by a second risk
manager (four eyes), and the next decision names the new version; an approver may read the authority matrix
but the server refuses their change, while a risk manager's change is saved."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
from playwright.sync_api import expect

from creditplan.decisions import services as decisions
from creditplan.decisions.domain import defaults
from creditplan.decisions.models import AuthorityRule, PolicyVersion

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "origination"))
from application_data import GOOD, make_world  # noqa: E402

pytestmark = pytest.mark.e2e


def test_a_bad_policy_is_refused_with_its_reason_and_a_good_edit_is_published_by_a_second_person(  # type: ignore[no-untyped-def]
        new_page, log_in, bank):
    world = make_world(bank)
    risk = new_page()
    log_in(risk, "risk")
    risk.get_by_role("navigation").get_by_role("link", name="审批策略", exact=True).click()
    bad = defaults.default_policy("consumer")
    bad["nodes"][1]["content"]["rules"][0]["in_age"] = "<< 18"
    risk.locator("#jdm_text").fill(json.dumps(bad, ensure_ascii=False))
    risk.get_by_role("button", name="上传").click()
    expect(risk.locator(".msg.error")).to_contain_text("'<< 18' is not a valid expression")
    assert not PolicyVersion.objects.filter(number=2).exists()

    risk.locator("#policies").get_by_role("link", name="v1").first.click()
    risk.get_by_role("button", name="以此版本新建草稿").click()
    expect(risk.locator("h1")).to_contain_text("2")
    draft = PolicyVersion.objects.get(policy__product="consumer", number=2)
    risk.get_by_role("link", name=re.compile("表格编辑|Edit in grid")).first.click()
    risk.get_by_label("in 0 0").fill("< 20")  # the first knock-out: under 20 instead of under 18
    risk.get_by_role("button", name="保存决策表").click()
    risk.get_by_role("button", name="校验").click()
    expect(risk.locator("body")).to_contain_text("KO_AGE_MIN")
    risk.goto(f"/decisions/versions/{draft.id}/")
    risk.get_by_role("button", name="提交审批").click()
    expect(risk.get_by_role("button", name="审批并发布")).to_have_count(0)  # the author may not approve

    checker = new_page()
    log_in(checker, "risk2")
    checker.goto(f"/decisions/versions/{draft.id}/")
    checker.get_by_role("button", name="审批并发布").click()
    expect(checker.locator("h1 .badge")).to_have_text("已发布")

    d = decisions.decide(world["officer_bj"], application_ref="E2E-V2", customer_id=world["customers"][0],
                         product="consumer", branch="BJ01", amount_minor=5_000_000, term=12, inputs=dict(GOOD, age=19))
    checker.goto(f"/decisions/{d.id}/")
    expect(checker.locator("body")).to_contain_text("个人消费贷 v2")  # the policy by its product's name
    expect(checker.locator("#outcome")).to_have_text("拒绝")  # 19 is under the new minimum age


def test_an_approver_is_refused_changing_the_authority_matrix_and_a_risk_manager_changes_it(  # type: ignore[no-untyped-def]
        new_page, log_in, bank):
    make_world(bank)
    before = AuthorityRule.objects.count()
    approver = new_page()
    log_in(approver, "approver_bj")
    approver.goto("/decisions/authority/")
    expect(approver.locator("#read-only")).to_be_visible()
    expect(approver.get_by_role("button", name="保存矩阵")).to_have_count(0)
    approver.evaluate("document.getElementById('matrix').submit()")  # post it anyway: the server refuses
    expect(approver.locator(".msg.error")).to_be_visible()
    expect(approver.locator("h1")).to_have_text("无权访问")
    assert AuthorityRule.objects.count() == before

    risk = new_page()
    log_in(risk, "risk")
    risk.goto("/decisions/authority/")
    spare = AuthorityRule.objects.count()  # the first blank row
    risk.get_by_label(f"角色 {spare + 1}", exact=True).select_option("approver")
    risk.get_by_label(f"机构层级 {spare + 1}", exact=True).select_option("branch")
    risk.get_by_label(f"最高金额（元） {spare + 1}", exact=True).fill("9x")
    risk.get_by_label(f"可审批的最低等级 {spare + 1}", exact=True).select_option("E")
    risk.get_by_role("button", name="保存矩阵").click()
    expect(risk.locator(f"#rule-{spare} .cellerr")).to_have_text("金额格式不正确，例如 12345.67。")
    expect(risk.get_by_label(f"最高金额（元） {spare + 1}", exact=True)).to_have_value("9x")
    risk.get_by_label(f"最高金额（元） {spare + 1}", exact=True).fill("300000")
    risk.get_by_role("button", name="保存矩阵").click()
    expect(risk.locator(".msg.success")).to_contain_text(f"{before + 1} 条规则")
    assert AuthorityRule.objects.filter(branch_level="branch", worst_grade="E", max_amount_minor=30_000_000).exists()
