"""The plan as the municipality governs it, through the use cases: money and its totals, HR's
organisation-wide measures and the chain they keep, merging proposals, and the versions' state
machine (consultation, adoption, the frozen snapshot, the next draft)."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest
from pypdf import PdfWriter
from sqlalchemy import select, update

from aarshjul.db.models import AuditEvent, CriticalNeed, HumanTask, Measure, Notification, PlanVersion
from aarshjul.domain.enums import (
    CostKind,
    FundingSource,
    MeasureState,
    PlanVersionState,
    TaskState,
    UnionPosition,
)
from aarshjul.domain.errors import Conflict, InvalidInput, NotFound
from aarshjul.domain.planning import CostLine
from aarshjul.runtime import Runtime
from aarshjul.usecases.planning import measures as plan_measures
from aarshjul.usecases.planning import versions
from aarshjul.usecases.planning.plan import competence_plan
from aarshjul.usecases.planning.proposals import measure_proposals
from aarshjul.usecases.planning.status import yearly_status
from aarshjul.usecases.work.measure_decision import decide_measure
from tests.builders import demo_cycle, drive_unit, find_tasks, person_id, unit_id, valid_measure
from tests.planning_support import MEETING, area_id, hr_id, org_measure

D = Decimal


@pytest.fixture(name="cycle")
def cycle_fixture(runtime: Runtime) -> int:
    """Helse og omsorg and Hjemmetjenesten have each proposed a measure (with costs) for a need in
    «Digital kompetanse»; Oppvekst og kultur has mapped its needs without an area."""
    cycle_id = demo_cycle(runtime)
    for code in ("HEL", "HJE", "OPP"):
        drive_unit(runtime, cycle_id, unit_id(runtime, code), "measure_proposal")
    with runtime.sessions.begin() as session:
        session.execute(
            update(CriticalNeed)
            .where(CriticalNeed.unit_id != unit_id(runtime, "OPP"))
            .values(competence_area_id=area_id(runtime, "DIGITAL"))
        )
    costs = {
        "HEL": {"cost_course_fees": "12 500,50", "cost_substitute_cover": "40000", "funding": "own_budget"},
        "HJE": {"cost_course_fees": "7 499,50", "funding": "grant", "funding_scheme": "Kompetanseløftet"},
    }
    from aarshjul.usecases.work.opening import open_task
    from aarshjul.usecases.work.submitting import submit_form

    for code, extra in costs.items():
        (task,) = find_tasks(runtime, cycle_id, "measure_proposal", unit_id(runtime, code))
        opened = open_task(runtime, task.token)
        need = opened.choices["critical_need"][0][0]
        submit_form(runtime, task.token, {"measures": [valid_measure(need, **extra)]})
    return cycle_id


def _approve_all(runtime: Runtime) -> list[int]:
    hr = hr_id(runtime)
    ids = [p.id for p in measure_proposals_now(runtime)]
    for measure_id in ids:
        decide_measure(runtime, measure_id, "approve", "", hr)
    return ids


def measure_proposals_now(runtime: Runtime):  # type: ignore[no-untyped-def]
    with runtime.sessions() as session:
        return measure_proposals(session)


def test_the_proposal_form_costs_become_lines_and_the_plan_adds_them_up_exactly(runtime: Runtime, cycle: int) -> None:
    proposals = measure_proposals_now(runtime)
    hel = next(p for p in proposals if p.unit_name == "Helse og omsorg")
    # A yearly estimate by kind, for each of the measure's two years, in whole øre.
    assert [(c.year, c.kind, c.amount) for c in hel.costs] == [
        (2027, CostKind.COURSE_FEES, D("12500.50")),
        (2027, CostKind.SUBSTITUTE_COVER, D("40000.00")),
        (2028, CostKind.COURSE_FEES, D("12500.50")),
        (2028, CostKind.SUBSTITUTE_COVER, D("40000.00")),
    ]
    assert hel.cost is not None and hel.cost.total == D("105001.00")
    _approve_all(runtime)

    with runtime.sessions() as session:
        plan = competence_plan(session)
    totals = plan.totals
    assert totals is not None
    # 2 × (12 500,50 + 40 000) own budget + 2 × 7 499,50 Kompetanseløftet = 120 000,00 in all.
    assert totals.all.total == D("120000.00") and totals.all.funded == D("120000.00") and totals.all.unfunded == 0
    assert [(y.year, y.total) for y in totals.by_year] == [
        (2025, D("0.00")),
        (2026, D("0.00")),
        (2027, D("60000.00")),
        (2028, D("60000.00")),
    ]
    digital = next(a for a in totals.by_area if a.area_name == "Digital kompetanse")
    assert digital.total == D("120000.00")
    assert {(u.unit_name, u.total) for u in totals.by_unit} == {
        ("Helse og omsorg", D("105001.00")),
        ("Hjemmetjenesten", D("14999.00")),
    }
    assert {(f.funding, f.scheme, f.amount) for f in totals.by_funding} == {
        (FundingSource.OWN_BUDGET, "", D("105001.00")),
        (FundingSource.GRANT, "Kompetanseløftet", D("14999.00")),
    }
    assert plan.model_dump(mode="json")["totals"]["all"] == {
        "total": "120000.00",
        "funded": "120000.00",
        "unfunded": "0.00",
    }


def test_hr_adjusts_costs_when_approving_and_unfunded_money_is_counted(runtime: Runtime, cycle: int) -> None:
    hel = next(p for p in measure_proposals_now(runtime) if p.unit_name == "Helse og omsorg")
    adjusted = [
        CostLine(2027, CostKind.COURSE_FEES, D("10000"), FundingSource.OWN_BUDGET),
        CostLine(2027, CostKind.TRAVEL, D("2500.25"), FundingSource.UNFUNDED),
    ]
    with pytest.raises(InvalidInput) as outside:
        decide_measure(
            runtime, hel.id, "approve", "", hr_id(runtime), [CostLine(2030, CostKind.TRAVEL, D(1), FundingSource.OTHER)]
        )
    assert outside.value.field == "costs"
    decide_measure(runtime, hel.id, "approve", "", hr_id(runtime), adjusted)
    with runtime.sessions() as session:
        plan = competence_plan(session)
        (audited,) = session.scalars(select(AuditEvent).where(AuditEvent.action == "measure.costs"))
    measure = next(m for a in plan.areas for m in a.measures if m.id == hel.id)
    assert measure.cost is not None
    assert (measure.cost.total, measure.cost.funded, measure.cost.unfunded) == (
        D("12500.25"),
        D("10000.00"),
        D("2500.25"),
    )
    assert audited.after == {
        "costs": [
            {"year": 2027, "kind": "course_fees", "amount": "10000.00", "funding": "own_budget", "scheme": ""},
            {"year": 2027, "kind": "travel", "amount": "2500.25", "funding": "unfunded", "scheme": ""},
        ]
    }


def test_an_amended_proposal_keeps_hrs_cost_adjustment_unless_the_estimate_changes(
    runtime: Runtime, cycle: int
) -> None:
    from aarshjul.usecases.work.opening import open_task
    from aarshjul.usecases.work.submitting import submit_form

    hel = next(p for p in measure_proposals_now(runtime) if p.unit_name == "Helse og omsorg")
    adjusted = [CostLine(2027, CostKind.COURSE_FEES, D("9000"), FundingSource.CENTRAL_BUDGET)]
    decide_measure(runtime, hel.id, "approve", "", hr_id(runtime), adjusted)
    (task,) = find_tasks(runtime, cycle, "measure_proposal", unit_id(runtime, "HEL"))
    earlier = open_task(runtime, task.token).data["measures"]
    need = earlier[0]["critical_need_id"]
    # The leader adds a second measure and leaves the first as it was: HR's adjustment stays.
    submit_form(
        runtime, task.token, {"measures": [earlier[0], valid_measure(need, title="Hospitering i hjemmetjenesten")]}
    )
    with runtime.sessions() as session:
        first = session.get(Measure, hel.id)
        assert first is not None and first.state is MeasureState.APPROVED
    assert [(c.year, c.amount) for c in measure_costs(runtime, hel.id)] == [(2027, D("9000.00"))]
    # A changed estimate is a changed proposal: a new revision for HR, with the leader's lines.
    changed = {**earlier[0], "cost_travel": "1 000"}
    submit_form(runtime, task.token, {"measures": [changed]})
    with runtime.sessions() as session:
        first = session.get(Measure, hel.id)
        assert first is not None and first.state is MeasureState.PROPOSED and first.revision == 2
    assert D("1000.00") in {c.amount for c in measure_costs(runtime, hel.id)}


def measure_costs(runtime: Runtime, measure_id: int) -> list[CostLine]:
    from aarshjul.usecases.shared.costs import costs_of

    with runtime.sessions() as session:
        return costs_of(session, [measure_id]).get(measure_id, [])


def test_hr_measures_keep_the_chain_and_merging_marks_proposals_and_tells_their_units(
    runtime: Runtime, cycle: int
) -> None:
    proposals = measure_proposals_now(runtime)
    hr = hr_id(runtime)
    with pytest.raises(InvalidInput) as no_need:
        plan_measures.create_plan_measure(runtime, org_measure(need_ids=[]), hr)
    assert no_need.value.field == "need_ids"
    with runtime.sessions() as session:
        opp_need = session.scalar(select(CriticalNeed.id).where(CriticalNeed.unit_id == unit_id(runtime, "OPP")))
    assert opp_need is not None
    leader = person_id(runtime, "brit.aasen")
    with pytest.raises(Exception, match="only HR"):
        plan_measures.create_plan_measure(runtime, org_measure(need_ids=[opp_need]), leader)

    merged_id = plan_measures.create_plan_measure(
        runtime,
        org_measure(
            title="Felles digital opplæring",
            need_ids=[opp_need],
            area_ids=[area_id(runtime, "DIGITAL"), area_id(runtime, "ENDRING")],
            merge_ids=[p.id for p in proposals],
            costs=None,
        ),
        hr,
    )
    with runtime.sessions() as session:
        rows = {m.id: m for m in session.scalars(select(Measure))}
        approvals = list(
            session.scalars(
                select(HumanTask).where(
                    HumanTask.form_key == "measure_approval", HumanTask.measure_id.in_([p.id for p in proposals])
                )
            )
        )
        told = list(session.scalars(select(Notification).where(Notification.template == "measure_merged")))
        plan = competence_plan(session)
    assert all(rows[p.id].state is MeasureState.MERGED and rows[p.id].merged_into_id == merged_id for p in proposals)
    # Their approvals are void and both units were told, each once.
    assert approvals and all(t.state is TaskState.CANCELLED for t in approvals)
    assert len(told) == 2 and "brit.aasen@fjordvik.kommune.no" in {n.to_email for n in told}
    assert {n.context["merged_into_id"] for n in told} == {merged_id}
    measure = next(m for a in plan.areas for m in a.measures if m.id == merged_id)
    assert measure.scope == "organisation" and measure.area_ids[0] == area_id(runtime, "DIGITAL")
    # The needs of both proposals and the one HR added: three units in the chain.
    assert {n.unit_name for n in measure.needs} == {"Helse og omsorg", "Hjemmetjenesten", "Oppvekst og kultur"}
    assert all(n.unit_goal and n.strategic_goal for n in measure.needs)
    assert {p.title for p in measure.merged_from} == {p.title for p in proposals} and len(measure.merged_from) == 2
    # The proposals' costs added up, within the shared measure's years (2027–2028 here).
    assert measure.cost is not None and measure.cost.total == D("120000.00")
    assert not any(m.id in {p.id for p in proposals} for a in plan.areas for m in a.measures)

    # A unit may not drop a need an organisation-wide measure answers.
    from aarshjul.usecases.work.opening import open_task
    from aarshjul.usecases.work.submitting import submit_form
    from forms.registry import FormRejected

    (mapping,) = find_tasks(runtime, cycle, "needs_mapping", unit_id(runtime, "OPP"))
    opened = open_task(runtime, mapping.token)
    goal = opened.choices["unit_goal"][0][0]
    replacement = {
        "unit_goal_id": goal,
        "title": "Noe annet",
        "kind": "skills",
        "level_needed": 3,
        "level_today": 1,
        "strategy": "develop",
    }
    with pytest.raises(FormRejected) as refused:
        submit_form(runtime, mapping.token, {"needs": [replacement]})
    assert refused.value.problems[0].type == "need_in_use"


def test_merging_refuses_one_proposal_and_measures_of_another_kind(runtime: Runtime, cycle: int) -> None:
    (first, second) = measure_proposals_now(runtime)
    hr = hr_id(runtime)
    with pytest.raises(InvalidInput):
        plan_measures.create_plan_measure(runtime, org_measure(merge_ids=[first.id], costs=None), hr)
    decide_measure(runtime, second.id, "return", "Beskriv målgruppen", hr)
    with pytest.raises(Conflict):
        plan_measures.create_plan_measure(runtime, org_measure(merge_ids=[first.id, second.id], costs=None), hr)
    with pytest.raises(NotFound):
        plan_measures.create_plan_measure(runtime, org_measure(merge_ids=[first.id, 10**6], costs=None), hr)


def test_the_versions_state_machine(runtime: Runtime, cycle: int) -> None:
    _approve_all(runtime)
    hr = hr_id(runtime)
    actor = f"person:{hr}"
    adoption = versions.Adoption("Kommunedirektøren", dt.date(2027, 3, 1), "2027/118")
    with runtime.sessions() as session:
        assert [(v.number, v.state) for v in versions.versions(session)] == [(1, PlanVersionState.DRAFT)]
    # Nothing to adopt or record before the draft goes to consultation.
    with pytest.raises(NotFound):
        versions.adopt(runtime, 1, adoption, actor)
    assert versions.start_consultation(runtime, actor) == 1
    with pytest.raises(Conflict):
        versions.start_consultation(runtime, actor)
    # No adoption without the consultation recorded.
    with pytest.raises(Conflict, match="consultation"):
        versions.adopt(runtime, 1, adoption, actor)

    with pytest.raises(InvalidInput) as no_position:
        versions.record_consultation(runtime, 1, MEETING.__class__(**{**MEETING.__dict__, "statements": []}), actor)
    assert no_position.value.field == "statements" and "Fagforbundet" in no_position.value.reason
    with pytest.raises(InvalidInput) as not_pdf:
        versions.record_consultation(
            runtime, 1, MEETING.__class__(**{**MEETING.__dict__, "minutes_pdf": b"<html>not a pdf</html>"}), actor
        )
    assert not_pdf.value.field == "minutes_pdf"
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    pdf = io.BytesIO()
    writer.write(pdf)
    versions.record_consultation(
        runtime, 1, MEETING.__class__(**{**MEETING.__dict__, "minutes_pdf": pdf.getvalue()}), actor
    )

    # Every measure must belong to a competence area: one without is named.
    with runtime.sessions.begin() as session:
        session.execute(update(CriticalNeed).values(competence_area_id=None))
    with pytest.raises(Conflict, match="competence area"):
        versions.adopt(runtime, 1, adoption, actor)
    first = measure_proposals_now_approved(runtime)[0]
    plan_measures.place_measure(runtime, first, [area_id(runtime, "DIGITAL")], None, hr)
    second = measure_proposals_now_approved(runtime)[1]
    plan_measures.place_measure(runtime, second, [area_id(runtime, "HELSE")], None, hr)

    sha = versions.adopt(runtime, 1, adoption, actor)
    with runtime.sessions() as session:
        frozen = versions.plan_document(session, version=1)
        listed = versions.versions(session)
        assert versions.frozen_intact(session, 1)
        name, stored_pdf = versions.minutes_pdf(session, 1)
    assert stored_pdf == pdf.getvalue() and name
    assert frozen.version.state is PlanVersionState.ADOPTED and frozen.version.sha256 == sha
    assert frozen.version.case_number == "2027/118" and frozen.version.adopted_by == "Kommunedirektøren"
    assert frozen.version.consultation is not None
    assert {s.union: s.position for s in frozen.version.consultation.statements} == {
        "Fagforbundet": UnionPosition.AGREES,
        "Utdanningsforbundet": UnionPosition.DISAGREES,
    }
    # The adopted version is listed, and the next draft after it.
    assert [(v.number, v.state) for v in listed] == [(2, PlanVersionState.DRAFT), (1, PlanVersionState.ADOPTED)]

    # No edits to an adopted version: neither its record nor its adoption changes again.
    with pytest.raises(Conflict):
        versions.record_consultation(runtime, 1, MEETING, actor)
    with pytest.raises(Conflict):
        versions.adopt(runtime, 1, adoption, actor)
    # Later changes go to the new draft; the adopted document stays as it was.
    plan_measures.place_measure(runtime, first, [area_id(runtime, "KLIMA")], None, hr)
    with runtime.sessions() as session:
        assert versions.plan_document(session, version=1) == frozen
        live = versions.plan_document(session)
        assert versions.frozen_intact(session, 1)
    assert live.version.number == 2 and live.version.state is PlanVersionState.DRAFT
    assert any(a.code == "KLIMA" and a.measures for a in live.areas)
    assert not any(a.code == "KLIMA" and a.measures for a in frozen.areas)
    with runtime.sessions() as session, pytest.raises(NotFound):
        versions.plan_document(session, version=7)
    assert versions.start_consultation(runtime, actor) == 2

    with runtime.sessions() as session:
        actions = [
            e.action
            for e in session.scalars(
                select(AuditEvent).where(AuditEvent.object_type == "plan_version").order_by(AuditEvent.id)
            )
        ]
        stored = session.scalar(select(PlanVersion).where(PlanVersion.number == 1))
    assert actions == ["plan.consultation", "plan.consultation_record", "plan.adopt", "plan.consultation"]
    assert stored is not None and stored.content is not None


def measure_proposals_now_approved(runtime: Runtime) -> list[int]:
    with runtime.sessions() as session:
        return list(
            session.scalars(select(Measure.id).where(Measure.state == MeasureState.APPROVED).order_by(Measure.id))
        )


def test_the_yearly_status_counts_planned_started_done_and_money_spent(runtime: Runtime, cycle: int) -> None:
    _approve_all(runtime)
    hel = unit_id(runtime, "HEL")
    runtime.clock.set(dt.datetime(2027, 11, 2, 8, tzinfo=dt.UTC))  # type: ignore[attr-defined]
    from aarshjul.usecases.cycle.sweep import sweep
    from aarshjul.usecases.work.opening import open_task
    from aarshjul.usecases.work.submitting import submit_form
    from tests.builders import valid_input

    sweep(runtime)
    (evaluation,) = find_tasks(runtime, cycle, "measure_evaluation", hel)
    answers = {**valid_input(open_task(runtime, evaluation.token)), "cost_spent": "98 765,40"}
    submit_form(runtime, evaluation.token, answers)
    with runtime.sessions() as session:
        status = yearly_status(session, 2027, dt.date(2027, 11, 2))
        before = yearly_status(session, 2027, dt.date(2027, 2, 1))
        with pytest.raises(InvalidInput):
            yearly_status(session, 2031, dt.date(2027, 11, 2))
    assert status.totals.measures == 2 and status.totals.started == 2 and status.totals.done == 1
    assert status.totals.evaluations == 1 and status.totals.cost_spent == D("98765.40")
    assert status.totals.cost_planned == D("60000.00")
    done = next(m for m in status.measures if m.done)
    assert done.unit_name == "Helse og omsorg" and done.criteria_met == "yes"
    # Before the measures' start (1 March) nothing had started.
    assert before.totals.started == 0 and before.totals.done == 0
