"""The guided flow through the service layer: start, status, submit, skip, report, list, delete."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import taskchain
from taskchain.capabilities import CapabilityRegistry
from taskchain.errors import ConflictError, InvalidRequestError, NotFoundError, StoreError
from taskchain.requests import ChainRequest, SkipIn, SubmitIn, parse
from taskchain.responses import Deleted, ReportView, SessionList, SessionView, SubmitView
from taskchain.service import Service
from taskchain.store import SessionStore
from taskchain.store.memory import MemoryStore
from taskchain.store.sqlite import SqliteStore
from taskchain.templates import load_template
from tests.factories import DAY, FakeClock, good_output

TENANT = "tenant-a"
OTHER = "tenant-b"
TARGET = "社区咖啡店是否应该推出会员订阅制"
FOCUS = ["客单价", "复购率"]
# The service takes requests parsed at the edge (as the HTTP routes and the CLI parse them).
START = parse(
    ChainRequest,
    {
        "task_type": "analysis",
        "target": TARGET,
        "config": {"depth": "detailed", "focus_areas": FOCUS},
    },
)
STEPS = load_template("analysis").step_specs("zh")
BAD_OUTPUT = SubmitIn(output="我觉得可以做。")
STANDARD = ("理解分析", "需求提取", "信息检索", "数据整理", "创意生成",
            "逻辑推理", "方案设计", "风险评估", "质量验证", "结果整合")  # fmt: skip


class Ids:
    """Deterministic session ids: sess-0001, sess-0002, ..."""

    def __init__(self) -> None:
        self._n = itertools.count(1)

    def __call__(self) -> str:
        return f"sess-{next(self._n):04d}"


def make_service(store: SessionStore, clock: FakeClock) -> Service:
    return Service(store, clock=clock, new_id=Ids(), ttl_seconds=DAY)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def service(clock: FakeClock) -> Service:
    return make_service(MemoryStore(clock=clock), clock)


View = SessionView | SubmitView


def submit_good(service: Service, view: View, clock: FakeClock) -> SubmitView:
    """Submit a passing output for the first ready step of ``view``; return the answer."""
    clock.advance(60)
    guidance = view.ready_steps[0]
    answer = service.submit(
        TENANT,
        view.session_id,
        guidance.step_id,
        SubmitIn(output=good_output(guidance), expected_version=view.version),
    )
    assert answer.accepted is True, [f for f in answer.feedback if not f.passed]
    return answer


def finish(service: Service, view: View, clock: FakeClock) -> View:
    """Work every remaining step with good outputs."""
    while view.ready_steps:
        view = submit_good(service, view, clock)
    return view


# --- start and status -----------------------------------------------------------------------


def test_start_answers_version_one_and_the_first_steps_guidance(service: Service) -> None:
    view = service.start(START, tenant=TENANT, end_user="u1")

    assert view.session_id == "sess-0001"
    assert view.version == 1
    assert view.status == "active"
    assert view.progress.completed == 0
    assert view.progress.total == len(STEPS)
    [ready] = view.ready_steps
    assert ready.step_id == STEPS[0].id
    assert ready.name == STEPS[0].name
    assert TARGET in ready.instructions
    assert ready.checklist
    assert ready.required_sections
    for title in ready.required_sections:
        assert title in ready.instructions
    for area in FOCUS:
        assert area in ready.instructions
    assert ready.min_length > 0
    # The rules the output will be checked against, each stated in the instructions.
    assert ready.rules
    for rule in ready.rules:
        assert rule.rule
        assert rule.description
        assert f"- [{rule.rule}] {rule.description}" in ready.instructions
    assert [r.area for r in ready.rules if r.kind == "focus_area"] == FOCUS


def test_every_feedback_entry_judges_a_rule_the_step_announced(service: Service) -> None:
    view = service.start(START, tenant=TENANT)
    ready = view.ready_steps[0]

    answer = service.submit(TENANT, view.session_id, ready.step_id, BAD_OUTPUT)

    announced = {r.rule for r in ready.rules}
    assert answer.accepted is False
    assert {f.rule for f in answer.feedback} == announced
    assert any(not f.passed for f in answer.feedback)


def test_status_briefs_goal_finished_steps_and_next_guidance(
    service: Service, clock: FakeClock
) -> None:
    view = service.start(START, tenant=TENANT)
    first = view.ready_steps[0]
    submit_good(service, view, clock)

    status = service.status(TENANT, view.session_id)

    assert status.version == 2
    assert status.progress.completed == 1
    [done] = status.finished_steps
    assert (done.step_id, done.state, done.attempts) == (first.step_id, "completed", 1)
    assert done.summary
    assert "\n" not in done.summary
    assert done.summary in good_output(first)
    briefing = status.briefing
    assert TARGET in briefing
    assert done.summary in briefing
    [ready] = status.ready_steps
    assert ready.step_id == STEPS[1].id
    assert ready.step_id in briefing
    # the next step is told what the step it depends on produced
    assert [c.step_id for c in ready.context] == [first.step_id]
    assert ready.context[0].digest


def test_bad_output_is_refused_with_feedback_and_a_new_version(service: Service) -> None:
    view = service.start(START, tenant=TENANT)
    step_id = view.ready_steps[0].step_id

    answer = service.submit(TENANT, view.session_id, step_id, BAD_OUTPUT)

    assert answer.accepted is False
    assert answer.version == 2
    assert answer.step_state == "ready"
    assert answer.attempts == 1
    assert answer.attempts_left == STEPS[0].max_attempts - 1
    failed = [f for f in answer.feedback if not f.passed]
    assert failed
    for item in failed:
        assert item.message
        assert item.hint
    failed_rules = {f.rule for f in failed}
    assert "min_length" in failed_rules
    assert "focus_area" in failed_rules
    # the same step is still the one to work on, with the attempt counted
    assert [s.step_id for s in answer.ready_steps] == [step_id]
    assert answer.ready_steps[0].attempts == 1


def test_guided_flow_to_a_complete_report(service: Service, clock: FakeClock) -> None:
    view = service.start(START, tenant=TENANT)
    service.submit(TENANT, view.session_id, STEPS[0].id, BAD_OUTPUT)
    view = service.status(TENANT, view.session_id)

    versions = [view.version]
    while view.ready_steps:
        view = submit_good(service, view, clock)
        versions.append(view.version)

    assert versions == list(range(versions[0], versions[0] + len(STEPS) + 1))
    status = service.status(TENANT, view.session_id)
    assert status.status == "completed"
    assert status.progress.completed == len(STEPS)
    assert status.ready_steps == []
    assert [s.step_id for s in status.finished_steps] == [s.id for s in STEPS]

    report = service.report(TENANT, view.session_id)
    assert report.success is True
    assert report.partial is False
    assert report.gaps == []
    assert report.quality_metrics.completion_rate == 1.0
    assert report.quality_metrics.total_attempts == len(STEPS) + 1
    assert report.key_findings
    assert report.recommendations
    step_ids = {s.id for s in STEPS}
    assert {f.step_id for f in report.key_findings} <= step_ids

    markdown = service.report(TENANT, view.session_id, fmt="markdown")
    assert markdown.partial is False
    assert "```mermaid" in markdown.markdown
    for spec in STEPS:
        assert spec.name in markdown.markdown


def test_report_midway_is_partial_and_lists_unfinished_steps(
    service: Service, clock: FakeClock
) -> None:
    view = service.start(START, tenant=TENANT)
    view = submit_good(service, view, clock)

    report = service.report(TENANT, view.session_id)

    assert report.partial is True
    unfinished = {g.step_id for g in report.gaps if g.kind == "step_not_reached"}
    assert unfinished == {s.id for s in STEPS[1:]}
    markdown = service.report(TENANT, view.session_id, fmt="markdown")
    assert markdown.partial is True
    assert "部分报告" in markdown.markdown


def test_skip_records_the_reason_as_a_gap(service: Service, clock: FakeClock) -> None:
    view = service.start(START, tenant=TENANT)
    reason = "没有可用的会员数据"

    view = service.skip(TENANT, view.session_id, STEPS[0].id, SkipIn(reason=reason))

    assert view.version == 2
    assert view.progress.skipped == 1
    assert view.finished_steps[0].state == "skipped"
    assert view.finished_steps[0].summary == reason
    assert [s.step_id for s in view.ready_steps] == [STEPS[1].id]
    view = finish(service, view, clock)
    report = service.report(TENANT, view.session_id)
    [gap] = [g for g in report.gaps if g.kind == "step_skipped"]
    assert gap.step_id == STEPS[0].id
    assert reason in gap.reason
    # the chain ended with a gap: finished, not partial, and its status says so
    assert view.status == report.status == "completed_with_gaps"
    assert report.partial is False
    assert report.content == "answers"


def test_a_pending_step_cannot_be_skipped(service: Service) -> None:
    view = service.start(START, tenant=TENANT)

    with pytest.raises(ConflictError) as caught:
        service.skip(TENANT, view.session_id, STEPS[1].id, SkipIn(reason="以后再说"))

    assert caught.value.code == "STEP_NOT_READY"
    assert caught.value.details["ready_steps"] == [STEPS[0].id]
    assert service.status(TENANT, view.session_id).version == 1  # nothing changed


def test_a_chain_that_ended_with_gaps_is_closed_and_briefed_as_such(
    service: Service, clock: FakeClock
) -> None:
    view = service.start(START, tenant=TENANT)
    view = service.skip(TENANT, view.session_id, STEPS[0].id, SkipIn(reason="没有数据"))
    finish(service, view, clock)

    status = service.status(TENANT, view.session_id)

    assert status.status == "completed_with_gaps"
    assert status.ready_steps == []
    assert "跳过或失败" in status.briefing
    with pytest.raises(ConflictError) as caught:
        service.submit(TENANT, view.session_id, STEPS[0].id, BAD_OUTPUT)
    assert caught.value.code == "SESSION_CLOSED"
    assert "已已" not in caught.value.message("zh")
    [listed] = service.list_sessions(TENANT).sessions
    assert listed.status == "completed_with_gaps"


# --- concurrency and isolation --------------------------------------------------------------


def test_stale_expected_version_is_refused(service: Service, clock: FakeClock) -> None:
    view = service.start(START, tenant=TENANT)
    stale = view.version
    view = submit_good(service, view, clock)
    guidance = view.ready_steps[0]

    with pytest.raises(ConflictError) as caught:
        service.submit(
            TENANT,
            view.session_id,
            guidance.step_id,
            SubmitIn(output=good_output(guidance), expected_version=stale),
        )

    assert caught.value.code == "STALE_VERSION"
    assert caught.value.details["current_version"] == view.version
    # nothing changed
    assert service.status(TENANT, view.session_id).version == view.version


@pytest.mark.parametrize("operation", ["status", "submit", "skip", "report", "delete"])
def test_another_tenants_session_is_not_found(service: Service, operation: str) -> None:
    view = service.start(START, tenant=TENANT)
    sid, step_id = view.session_id, view.ready_steps[0].step_id
    calls = {
        "status": lambda: service.status(OTHER, sid),
        "submit": lambda: service.submit(OTHER, sid, step_id, BAD_OUTPUT),
        "skip": lambda: service.skip(OTHER, sid, step_id, SkipIn(reason="x")),
        "report": lambda: service.report(OTHER, sid),
        "delete": lambda: service.delete(OTHER, sid),
    }

    with pytest.raises(NotFoundError) as caught:
        calls[operation]()

    assert caught.value.code == "SESSION_NOT_FOUND"
    # the owner's session is untouched
    assert service.status(TENANT, sid).version == 1


# --- end users inside a tenant --------------------------------------------------------------


def one_session_call(
    service: Service, operation: str, sid: str, step_id: str, end_user: str | None
) -> SessionView | SubmitView | ReportView | Deleted:
    """Run one single-session use case on ``sid`` as ``end_user`` (``None``: no identity)."""
    calls = {
        "status": lambda: service.status(TENANT, sid, end_user=end_user),
        "submit": lambda: service.submit(TENANT, sid, step_id, BAD_OUTPUT, end_user=end_user),
        "skip": lambda: service.skip(TENANT, sid, step_id, SkipIn(reason="x"), end_user=end_user),
        "report": lambda: service.report(TENANT, sid, end_user=end_user),
        "delete": lambda: service.delete(TENANT, sid, end_user=end_user),
    }
    return calls[operation]()


SINGLE_SESSION_USE_CASES = ["status", "submit", "skip", "report", "delete"]


@pytest.mark.parametrize("operation", SINGLE_SESSION_USE_CASES)
def test_another_end_users_session_is_not_found_like_an_unknown_one(
    service: Service, operation: str
) -> None:
    # GIVEN alice's session
    view = service.start(START, tenant=TENANT, end_user="alice")
    sid, step_id = view.session_id, view.ready_steps[0].step_id

    # WHEN bob, of the same tenant, uses its id
    with pytest.raises(NotFoundError) as foreign:
        one_session_call(service, operation, sid, step_id, "bob")

    # THEN alice's session is untouched
    assert service.status(TENANT, sid, end_user="alice").version == 1
    # AND bob got exactly what an unknown id gets: same code, message and details
    service.delete(TENANT, sid)
    with pytest.raises(NotFoundError) as unknown:
        one_session_call(service, operation, sid, step_id, "bob")
    assert foreign.value.code == "SESSION_NOT_FOUND"
    for language in ("zh", "en"):
        assert foreign.value.to_body(language) == unknown.value.to_body(language)


@pytest.mark.parametrize("operation", SINGLE_SESSION_USE_CASES)
@pytest.mark.parametrize(
    ("owner", "caller"),
    [
        ("alice", "alice"),  # the owner herself
        ("alice", None),  # a caller without an end-user identity: tenant-wide access
        (None, "bob"),  # a session nobody owns is the tenant's
        (None, None),
    ],
)
def test_the_owner_and_callers_without_identity_reach_the_session(
    service: Service, operation: str, owner: str | None, caller: str | None
) -> None:
    view = service.start(START, tenant=TENANT, end_user=owner)
    sid, step_id = view.session_id, view.ready_steps[0].step_id

    answer = one_session_call(service, operation, sid, step_id, caller)

    assert answer.success is True
    assert answer.session_id == sid


def test_one_shot_sessions_belong_to_their_end_user_too(service: Service) -> None:
    sid = service.run(START, tenant=TENANT, end_user="alice").session_id

    with pytest.raises(NotFoundError):
        service.report(TENANT, sid, end_user="bob")
    assert service.report(TENANT, sid, end_user="alice").success is True


def test_a_listing_that_requires_an_identity_lists_nothing_without_one(
    service: Service,
) -> None:
    # GIVEN sessions of alice, bob and one with no end user
    alice = service.start(START, tenant=TENANT, end_user="alice").session_id
    service.start(START, tenant=TENANT, end_user="bob")
    service.start(START, tenant=TENANT)

    # WHEN the Coze listing is asked without a caller identity THEN it lists nothing
    nothing = service.list_sessions(TENANT, require_user=True)
    assert nothing == SessionList(sessions=[], next_cursor=None)
    # AND with one it lists that caller's own
    own = service.list_sessions(TENANT, end_user="alice", require_user=True)
    assert [s.session_id for s in own.sessions] == [alice]
    # AND the REST listing without a user filter keeps listing the whole tenant
    assert len(service.list_sessions(TENANT).sessions) == 3


# --- listing, deleting, expiry --------------------------------------------------------------


def test_list_sessions_newest_first_filtered_and_paged(service: Service, clock: FakeClock) -> None:
    users = ["alice", "bob", "alice", "carol", "alice"]
    created = []
    for user in users:
        clock.advance(10)
        created.append(service.start(START, tenant=TENANT, end_user=user).session_id)
    service.start(START, tenant=OTHER, end_user="alice")
    newest_first = created[::-1]

    everything = service.list_sessions(TENANT)
    assert [s.session_id for s in everything.sessions] == newest_first
    assert everything.next_cursor is None

    alices = service.list_sessions(TENANT, end_user="alice")
    expected_alice = [sid for sid, u in zip(created, users, strict=True) if u == "alice"][::-1]
    assert [s.session_id for s in alices.sessions] == expected_alice

    pages: list[list[str]] = []
    cursor = None
    while True:
        page = service.list_sessions(TENANT, limit=2, cursor=cursor)
        pages.append([s.session_id for s in page.sessions])
        cursor = page.next_cursor
        if cursor is None:
            break
    assert all(len(p) <= 2 for p in pages)
    assert [sid for p in pages for sid in p] == newest_first


def test_list_sessions_rejects_a_bad_limit(service: Service) -> None:
    with pytest.raises(InvalidRequestError):
        service.list_sessions(TENANT, limit=0)


@pytest.mark.parametrize(
    ("page", "field"), [({"cursor": "not-a-cursor"}, "cursor"), ({"limit": 0}, "limit")]
)
@pytest.mark.parametrize(
    "who",
    [
        {"require_user": True},  # the Coze listing with no caller identity
        {"end_user": "bob", "caller": "alice"},  # an end user asking for another's sessions
    ],
)
def test_a_bad_page_is_refused_even_when_the_listing_would_be_empty(
    service: Service, page: dict[str, Any], field: str, who: dict[str, Any]
) -> None:
    # An empty answer must not hide a malformed request: the same call with a caller that can
    # see sessions would be refused, and a client learns of its bug on the first call.
    with pytest.raises(InvalidRequestError) as refused:
        service.list_sessions(TENANT, **page, **who)
    assert refused.value.details["field"] == field


def test_delete_then_status_is_not_found(service: Service) -> None:
    sid = service.start(START, tenant=TENANT).session_id

    assert service.delete(TENANT, sid) == Deleted(session_id=sid, deleted=True)

    with pytest.raises(NotFoundError):
        service.status(TENANT, sid)
    with pytest.raises(NotFoundError):
        service.delete(TENANT, sid)
    assert service.list_sessions(TENANT).sessions == []


def test_expired_session_is_gone(service: Service, clock: FakeClock) -> None:
    view = service.start(START, tenant=TENANT)
    sid = view.session_id
    clock.advance(service.ttl_seconds - 1)
    assert service.status(TENANT, sid).session_id == sid

    clock.advance(2)

    with pytest.raises(NotFoundError):
        service.status(TENANT, sid)
    with pytest.raises(NotFoundError):
        service.submit(TENANT, sid, view.ready_steps[0].step_id, BAD_OUTPUT)
    assert service.list_sessions(TENANT).sessions == []


# --- catalogue and health -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "search"),
    [("zh", "分析"), ("zh", "analysis"), ("en", "analysis"), ("en", "分析")],
)
def test_templates_are_searchable_in_both_languages(
    service: Service, language: str, search: str
) -> None:
    found = service.templates(language=language, search=search)

    assert found.count == len(found.templates)
    entry = next(t for t in found.templates if t.key == "analysis")
    assert entry.name == load_template("analysis").name.get(language)


def test_templates_search_without_match_is_empty(service: Service) -> None:
    assert service.templates(search="不存在的模板 zzz").count == 0
    assert service.templates().count == 4


@pytest.mark.parametrize("language", ["zh", "en"])
def test_capabilities_lists_the_ten_standard_ones(service: Service, language: str) -> None:
    answer = service.capabilities(language=language)
    registry = CapabilityRegistry.builtin()

    assert answer.count == len(registry) == len(answer.capabilities)
    names = [capability.name for capability in answer.capabilities]
    assert names == list(registry.names())
    assert names[: len(STANDARD)] == list(STANDARD)
    for capability in answer.capabilities:
        assert capability.checklist
        assert capability.sections
    risk = next(c for c in answer.capabilities if c.name == "风险评估")
    assert risk.title == ("Risk assessment" if language == "en" else "风险评估")


def test_health(service: Service) -> None:
    shallow = service.health()
    deep = service.health(deep=True)

    assert shallow.status == "healthy"
    assert shallow.version == taskchain.__version__
    assert shallow.capabilities >= 10
    assert "checks" not in shallow.model_dump(mode="json")
    assert deep.status == "healthy"
    assert deep.checks == {"store": "ok"}


def test_deep_health_reports_an_unusable_store(clock: FakeClock) -> None:
    class BrokenStore(MemoryStore):
        def ping(self) -> None:
            raise StoreError("存储不可用", "store unavailable")

    service = make_service(BrokenStore(clock=clock), clock)

    assert service.health().status == "healthy"
    deep = service.health(deep=True)
    assert deep.status == "unhealthy"
    assert deep.checks == {"store": "unavailable"}


# --- the same flow on SQLite ------------------------------------------------------------------


@pytest.fixture
def sqlite_stores(tmp_path: Path, clock: FakeClock) -> Iterator[tuple[SqliteStore, SqliteStore]]:
    path = tmp_path / "sessions.db"
    with SqliteStore(path, clock=clock) as first, SqliteStore(path, clock=clock) as second:
        yield first, second


def test_guided_flow_on_sqlite_persists_across_service_instances(
    sqlite_stores: tuple[SqliteStore, SqliteStore], clock: FakeClock
) -> None:
    first = make_service(sqlite_stores[0], clock)
    second = make_service(sqlite_stores[1], clock)
    view = first.start(START, tenant=TENANT, end_user="u1")
    sid = view.session_id

    # a refused attempt through one instance is seen by the other
    first.submit(TENANT, sid, STEPS[0].id, BAD_OUTPUT)
    view = second.status(TENANT, sid)
    assert view.version == 2
    assert view.ready_steps[0].attempts == 1
    with pytest.raises(ConflictError) as caught:
        second.submit(
            TENANT, sid, STEPS[0].id, BAD_OUTPUT.model_copy(update={"expected_version": 1})
        )
    assert caught.value.code == "STALE_VERSION"

    # the two instances take turns through the chain
    services = itertools.cycle([first, second])
    while view.ready_steps:
        view = submit_good(next(services), view, clock)

    for svc in (first, second):
        status = svc.status(TENANT, sid)
        assert status.status == "completed"
        assert status.version == view.version
        assert [s.session_id for s in svc.list_sessions(TENANT).sessions] == [sid]
    report = first.report(TENANT, sid)
    assert report.partial is False
    assert report.quality_metrics.total_attempts == len(STEPS) + 1
    assert "```mermaid" in second.report(TENANT, sid, fmt="markdown").markdown

    # another tenant cannot see it; a delete through one instance removes it for both
    with pytest.raises(NotFoundError):
        second.status(OTHER, sid)
    assert second.delete(TENANT, sid).deleted is True
    with pytest.raises(NotFoundError):
        first.status(TENANT, sid)


def test_a_guided_submission_is_labelled_with_the_documented_executor_guided(
    service: Service, clock: FakeClock
) -> None:
    view = service.start(START, tenant=TENANT)
    first = view.ready_steps[0].step_id
    submit_good(service, view, clock)

    report = service.report(TENANT, view.session_id)

    # a guided step is submitted by the caller (a model or a person): not "model", nor "llm"
    assert report.detailed_results[first].executor == "guided"


def test_a_record_stored_with_the_old_executor_name_reads_as_guided() -> None:
    from taskchain.models import StepRecord

    stored = StepRecord(step_id="a", executor="model").model_dump(mode="json")

    assert StepRecord.model_validate(stored).executor == "guided"


def test_an_outline_run_refuses_a_guided_submit_and_a_sessions_stored_before_the_rule_do_not(
    service: Service, clock: FakeClock
) -> None:
    # GIVEN a builtin run that has written its steps, and a guided session stored the old way
    # (config.executor "builtin", its first step submitted by a caller)
    run_id = service.run(START, tenant=TENANT).run_id
    assert run_id is not None
    view = service.start(START, tenant=TENANT)
    stored = service.store.get(TENANT, view.session_id)
    assert stored is not None
    config = stored.definition.config.model_copy(update={"executor": "builtin"})
    legacy = stored.model_copy(
        update={"definition": stored.definition.model_copy(update={"config": config})}
    )
    service.store.save(legacy.model_copy(update={"version": 2}), expected_version=1)
    # WHEN a caller submits to each
    with pytest.raises(ConflictError) as refused:
        service.submit(TENANT, run_id, "understand_goal", BAD_OUTPUT)
    # THEN the run refuses (its executor writes its steps); the old guided session still takes it
    assert refused.value.code == "SESSION_IS_A_RUN"
    step = view.ready_steps[0]
    answer = SubmitIn(output=good_output(step), expected_version=2)
    assert service.submit(TENANT, view.session_id, step.step_id, answer).accepted
