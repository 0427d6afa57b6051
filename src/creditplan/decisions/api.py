"""Decisions API: dry evaluation, stored decisions, policies (upload, validate, test, submit, approve/publish),
example applications, simulation and the authority check. Amounts are yuan as decimal strings; errors are
problem+json (creditplan.api)."""

from __future__ import annotations

from typing import Any, Literal, cast

from django.http import HttpRequest
from ninja import Router, Schema
from ninja.responses import Status
from pydantic import Field

from creditplan.core.money import format_minor, from_ppm, parse_minor
from creditplan.decisions import services
from creditplan.decisions.services import DecisionView, ExampleResult, ExampleView, PolicyVersionView

router = Router(tags=["decisions"])

Amount = str | int
Outcome = Literal["approve", "refer", "decline"]  # decisions.services.OUTCOMES


def _actor(request: HttpRequest) -> Any:
    return request.auth


class DecisionRead(Schema):
    id: int | None
    application_ref: str
    outcome: Outcome
    reasons: list[str]
    reasons_zh: list[str]
    reason_codes: list[str]
    score: int | None
    pd: float | None
    grade: str
    requested_amount: str
    approved_amount: str
    rate: str = Field(description="annual rate, decimal fraction (0.044500)")
    apr: str = Field(description="annual percentage rate (IRR of the cash flows), decimal fraction")
    installment: str = Field(description="repayment per period (the first one for non-level methods), yuan")
    term: int
    required_level: str
    required_approvals: int
    quota_status: str
    policy_version: int | None
    policy_label: str
    model_version: int | None
    rules_fired: list[dict[str, Any]]
    limit_steps: list[dict[str, Any]]
    price_steps: list[dict[str, Any]]
    timings_us: dict[str, int]


def _plain(minor: int) -> str:
    return format_minor(minor, grouping=False)  # "12345.67": what an API answer carries


def _decision(d: DecisionView) -> DecisionRead:
    return DecisionRead(
        id=d.id, application_ref=d.application_ref, outcome=cast(Outcome, d.outcome), reasons=d.reasons,
        reasons_zh=d.reasons_zh, reason_codes=d.reason_codes, score=d.score, pd=d.pd, grade=d.grade,
        requested_amount=_plain(d.requested_minor), approved_amount=_plain(d.approved_amount_minor),
        rate=str(from_ppm(d.rate_ppm)), apr=f"{d.apr:.6f}", installment=_plain(d.installment_minor),
        term=d.term, required_level=d.required_level, required_approvals=d.required_approvals,
        quota_status=d.quota_status, policy_version=d.policy_version, policy_label=d.policy_label,
        model_version=d.model_version, rules_fired=d.rules_fired, limit_steps=d.limit_steps,
        price_steps=d.price_steps, timings_us=d.timings_us)


class EvaluateRequest(Schema):
    product: str
    branch: str
    amount: Amount = Field(description="yuan, decimal string")
    term: int = Field(ge=1, le=600)
    inputs: dict[str, Any] = Field(default_factory=dict, description="applicant data (docs/decisions.md)")
    application_ref: str = "DRY-RUN"
    channel: Literal["web", "app", "api", "branch", "batch"] = "api"
    version_id: int | None = Field(None, description="evaluate a draft version instead of the published one")


@router.post("/evaluate", response=DecisionRead,
             summary="Dry evaluation: the full decision with nothing stored and no quota reserved")
def evaluate(request: HttpRequest, payload: EvaluateRequest) -> DecisionRead:
    return _decision(services.evaluate(
        _actor(request), product=payload.product, branch=payload.branch,
        amount_minor=parse_minor(payload.amount, "amount", allow_zero=False), term=payload.term,
        inputs=payload.inputs,
        application_ref=payload.application_ref, channel=payload.channel, version_id=payload.version_id))


# --- policies -------------------------------------------------------------------------------------------

class VersionRead(Schema):
    id: int
    product: str
    number: int
    status: str
    sha256: str
    note: str
    author: str
    approved_by: str
    validation: dict[str, Any]
    test_summary: dict[str, Any]


def _v(v: PolicyVersionView) -> VersionRead:
    return VersionRead(id=v.id, product=v.product, number=v.number, status=v.status, sha256=v.sha256, note=v.note,
                       author=v.author, approved_by=v.approved_by, validation=v.validation,
                       test_summary=v.test_summary)


class PolicyRead(Schema):
    product: str
    name: str
    published: VersionRead | None
    versions: list[VersionRead]


class PolicyUpload(Schema):
    product: str
    jdm: dict[str, Any] | str = Field(description="the GoRules JDM document (an object, or its JSON text)")
    note: str = ""


class DraftUpdate(Schema):
    jdm: dict[str, Any] | str
    note: str | None = None


class ReturnRequest(Schema):
    note: str


class ExampleCreate(Schema):
    name: str
    expected_outcome: Literal["approve", "refer", "decline"]
    application: dict[str, Any] = Field(description="amount_minor, term, inputs; optionally score/pd/grade")


class ExampleRead(Schema):
    id: int
    name: str
    expected_outcome: str
    application: dict[str, Any]


def _ex(e: ExampleView) -> ExampleRead:
    return ExampleRead(id=e.id, name=e.name, expected_outcome=e.expected_outcome, application=e.application)


class ExampleResultRead(Schema):
    name: str
    expected: str
    outcome: str
    passed: bool
    reasons: list[str]


def _res(r: ExampleResult) -> ExampleResultRead:
    return ExampleResultRead(name=r.example.name, expected=r.example.expected_outcome, outcome=r.outcome,
                             passed=r.passed, reasons=r.reasons)


@router.get("/policies", response=list[PolicyRead], summary="Policies by product, with their versions")
def list_policies(request: HttpRequest) -> list[PolicyRead]:
    return [PolicyRead(product=p.product, name=p.name, published=_v(p.published) if p.published else None,
                       versions=[_v(v) for v in p.versions]) for p in services.list_policies(_actor(request))]


@router.post("/policies", response={201: VersionRead},
             summary="Upload a JDM policy as a new draft (refused with the reason if not JSON or an expression is invalid)")
def upload_policy(request: HttpRequest, payload: PolicyUpload) -> Status:
    return Status(201, _v(services.upload_policy(_actor(request), product=payload.product, jdm=payload.jdm,
                                                 note=payload.note)))


@router.get("/policies/versions/{version_id}", response=VersionRead)
def get_version(request: HttpRequest, version_id: int) -> VersionRead:
    return _v(services.get_version(_actor(request), version_id))


@router.get("/policies/versions/{version_id}/jdm", summary="The version's JDM document as authored")
def get_document(request: HttpRequest, version_id: int) -> dict[str, Any]:
    return services.version_document(_actor(request), version_id)


@router.put("/policies/versions/{version_id}", response=VersionRead, summary="Replace a draft's document")
def update_draft(request: HttpRequest, version_id: int, payload: DraftUpdate) -> VersionRead:
    return _v(services.update_draft(_actor(request), version_id, jdm=payload.jdm, note=payload.note))


@router.post("/policies/versions/{version_id}/draft", response={201: VersionRead},
             summary="Start a new draft from any version")
def new_draft(request: HttpRequest, version_id: int) -> Status:
    return Status(201, _v(services.new_draft_from(_actor(request), version_id)))


@router.post("/policies/versions/{version_id}/validate", response=VersionRead,
             summary="Validate: schema, expressions, dry run, unreachable and overlapping rules")
def validate_version(request: HttpRequest, version_id: int) -> VersionRead:
    return _v(services.validate_version(_actor(request), version_id))


@router.post("/policies/versions/{version_id}/test", response=list[ExampleResultRead],
             summary="Run the saved example applications through the version")
def test_version(request: HttpRequest, version_id: int) -> list[ExampleResultRead]:
    return [_res(r) for r in services.run_examples(_actor(request), version_id)]


@router.post("/policies/versions/{version_id}/submit", response=VersionRead, summary="Submit for approval")
def submit_version(request: HttpRequest, version_id: int) -> VersionRead:
    return _v(services.submit_version(_actor(request), version_id))


@router.post("/policies/versions/{version_id}/approve", response=VersionRead,
             summary="Approve and publish (four eyes: not the author or submitter)")
def approve_version(request: HttpRequest, version_id: int) -> VersionRead:
    return _v(services.approve_version(_actor(request), version_id))


@router.post("/policies/versions/{version_id}/return", response=VersionRead, summary="Send back to draft")
def return_version(request: HttpRequest, version_id: int, payload: ReturnRequest) -> VersionRead:
    return _v(services.return_to_draft(_actor(request), version_id, note=payload.note))


@router.get("/policies/{product}/examples", response=list[ExampleRead])
def list_examples(request: HttpRequest, product: str) -> list[ExampleRead]:
    return [_ex(e) for e in services.list_examples(_actor(request), product)]


@router.post("/policies/{product}/examples", response={201: ExampleRead}, summary="Save an example application")
def add_example(request: HttpRequest, product: str, payload: ExampleCreate) -> Status:
    return Status(201, _ex(services.add_example(_actor(request), product=product, name=payload.name,
                                                application=payload.application,
                                                expected_outcome=payload.expected_outcome)))


class SimulationRequest(Schema):
    product: str
    version_id: int | None = None
    cutoff_shift: int = Field(0, ge=-300, le=300, description="points added to every score cut-off")
    limit: int = Field(5000, ge=1, le=50_000)


@router.post("/simulate", summary="Replay a policy (or a moved cut-off) over past decisions: before vs after")
def simulate(request: HttpRequest, payload: SimulationRequest) -> dict[str, Any]:
    s = services.simulate(_actor(request), product=payload.product, version_id=payload.version_id,
                          cutoff_shift=payload.cutoff_shift, limit=payload.limit)
    return {"product": s.product, "version": s.version.id if s.version else None, "cutoff_shift": s.cutoff_shift,
            "cases": s.cases, **s.comparison, "changed_examples": s.changed_examples}


class AuthorityCheck(Schema):
    product: str
    branch: str
    amount: Amount
    grade: str


@router.post("/authority/check", summary="May I approve this? (the authority matrix for the current user)")
def authority_check(request: HttpRequest, payload: AuthorityCheck) -> dict[str, Any]:
    amount_minor = parse_minor(payload.amount, "amount", allow_zero=False)
    ok, why = services.may_approve(_actor(request), product=payload.product, branch_code=payload.branch,
                                   amount_minor=amount_minor, grade=payload.grade)
    return {"may_approve": ok, "reason": why,
            "required_approvals": services.required_approvals(amount_minor, payload.product)}


@router.get("/{decision_id}", response=DecisionRead, summary="A stored decision, explained")
def get_decision(request: HttpRequest, decision_id: int) -> DecisionRead:
    return _decision(services.get_decision(_actor(request), decision_id))
