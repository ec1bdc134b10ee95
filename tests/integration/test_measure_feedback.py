"""Evaluation by those who took part: the employees whose talk record's development plan names a
measure are its participants; when its year's evaluation date comes they get a short survey
(Kirkpatrick levels 1 and 2), which closes after two weeks; the owner's evaluation shows their answers
added up once it has closed, and nothing below five people (tested at four and five). A measure that
runs for several years is evaluated, with its survey, each year until its owner stops it."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from aarshjul.db.models import HumanTask, MeasureParticipant, Notification
from aarshjul.domain.enums import TaskState
from aarshjul.runtime import Runtime
from aarshjul.usecases.cycle.sweep import sweep
from aarshjul.usecases.work.links import LinkRefused
from aarshjul.usecases.work.opening import open_task
from aarshjul.usecases.work.submitting import submit_form
from tests.builders import TaskRef, demo_cycle, drive_unit, find_tasks, submit_valid, unit_id, valid_input

ANSWERS = [
    {"usefulness": "useful", "learning": "a_lot", "learnt": "Malene", "better": "Mer tid"},
    {"usefulness": "very_useful", "learning": "a_lot", "learnt": "Søk i arkivet", "better": ""},
    {"usefulness": "useful", "learning": "a_little", "learnt": "", "better": "Kortere økter"},
    {"usefulness": "somewhat_useful", "learning": "quite_a_lot", "learnt": "malene", "better": ""},
    {"usefulness": "not_useful", "learning": "nothing_new", "learnt": "", "better": "Annet tidspunkt"},
]


def at(day: str) -> dt.datetime:
    return dt.datetime.combine(dt.date.fromisoformat(day), dt.time(8), tzinfo=dt.UTC)


def surveyed(runtime: Runtime, code: str) -> tuple[int, int, list[TaskRef], TaskRef]:
    """The unit's talks name its measure; the sweep on the evaluation date opens the round."""
    cycle = demo_cycle(runtime)
    unit = unit_id(runtime, code)
    drive_unit(runtime, cycle, unit, "talk_confirmation")
    runtime.clock.set(at("2027-11-02"))  # type: ignore[attr-defined]
    sweep(runtime)
    surveys = find_tasks(runtime, cycle, "measure_feedback", unit)
    (evaluation,) = find_tasks(runtime, cycle, "measure_evaluation", unit)
    return cycle, unit, surveys, evaluation


def test_participants_are_those_the_talks_name(runtime: Runtime) -> None:
    cycle, unit, surveys, evaluation = surveyed(runtime, "HEL")
    with runtime.sessions() as session:
        participants = set(session.scalars(select(MeasureParticipant.person_id)))
        rounds = {
            t.evaluation_year for t in session.scalars(select(HumanTask).where(HumanTask.measure_id.is_not(None)))
        }
        invited = {
            n.recipient_id
            for n in session.scalars(select(Notification).where(Notification.template == "task_invitation"))
            if set(n.context["task_ids"]) & {s.id for s in surveys}
        }
    assert len(participants) == 5 and {s.subject_id for s in surveys} == participants == invited
    assert all(s.assignee_id == s.subject_id for s in surveys)
    assert rounds == {None, 2027}  # the approval has no round; the evaluation and the surveys are 2027's
    opened = open_task(runtime, surveys[0].token)
    assert opened.task.step_name.nb == "Din vurdering av et kompetansetiltak"
    assert opened.context.measure is not None and opened.context.measure.title == "Kollegaveiledning i digitale verktøy"


@pytest.mark.parametrize("answering", [4, 5])
def test_the_owner_sees_the_answers_added_up_once_the_survey_has_closed(runtime: Runtime, answering: int) -> None:
    cycle, unit, surveys, evaluation = surveyed(runtime, "HEL")
    for task, answer in zip(surveys[:answering], ANSWERS, strict=False):
        submit_form(runtime, task.token, answer)
    summary = open_task(runtime, evaluation.token).context.participant_feedback
    assert summary is not None and (summary.invited, summary.answered) == (5, answering)
    if answering < 5:
        # Still open: nothing is shown before it closes, whatever the count.
        assert not summary.closed and summary.usefulness == []
        runtime.clock.set(at("2027-11-17"))  # type: ignore[attr-defined]
        report = sweep(runtime)
        assert report.surveys_closed == 1
        with pytest.raises(LinkRefused):
            submit_form(runtime, surveys[-1].token, ANSWERS[-1])  # a late answer would tell who it was
        summary = open_task(runtime, evaluation.token).context.participant_feedback
        assert summary is not None and summary.closed and summary.hidden
        assert summary.usefulness == [] and summary.learnt == [] and summary.better == []
        return
    assert summary.closed and not summary.hidden  # everyone answered: no need to wait
    assert [(c.value, c.count) for c in summary.usefulness] == [
        ("not_useful", 1),
        ("somewhat_useful", 1),
        ("useful", 2),
        ("very_useful", 1),
    ]
    assert [(c.value, c.count) for c in summary.learning] == [
        ("nothing_new", 1),
        ("a_little", 1),
        ("quite_a_lot", 1),
        ("a_lot", 2),
    ]
    # Free text sorted, not in the order (or with the names) of those who wrote it.
    assert summary.learnt == ["Malene", "malene", "Søk i arkivet"]
    assert summary.better == ["Annet tidspunkt", "Kortere økter", "Mer tid"]


def test_a_measure_over_two_years_is_evaluated_each_year_until_it_stops(runtime: Runtime) -> None:
    cycle, unit, surveys, evaluation = surveyed(runtime, "HR")
    for task in surveys:
        submit_valid(runtime, task)
    # No escalation for a survey: answering is voluntary.
    runtime.clock.set(at("2027-12-20"))  # type: ignore[attr-defined]
    sweep(runtime)
    with runtime.sessions() as session:
        late = [
            i["task_id"]
            for n in session.scalars(select(Notification).where(Notification.template.like("escalation%")))
            for i in n.context["late"]
        ]
    assert not set(late) & {s.id for s in surveys}
    submit_form(runtime, evaluation.token, valid_input(open_task(runtime, evaluation.token)))
    # The measure runs 2027–2028: a year on, its second round opens, with the same participants asked again.
    runtime.clock.set(at("2028-11-01"))  # type: ignore[attr-defined]
    report = sweep(runtime)
    assert (report.evaluations_opened, report.surveys_opened) == (1, len(surveys))
    second = [t for t in find_tasks(runtime, cycle, "measure_evaluation", unit) if t.id != evaluation.id]
    assert len(second) == 1
    with runtime.sessions() as session:
        task = session.get(HumanTask, second[0].id)
        assert task is not None and task.evaluation_year == 2028 and task.state == TaskState.OPEN
    submit_valid(runtime, second[0])
    runtime.clock.set(at("2029-11-02"))  # type: ignore[attr-defined]
    assert sweep(runtime).evaluations_opened == 0  # it ended in 2028


def test_a_measure_its_owner_stops_is_not_evaluated_again(runtime: Runtime) -> None:
    cycle, unit, surveys, evaluation = surveyed(runtime, "HR")
    data = valid_input(open_task(runtime, evaluation.token))
    submit_form(runtime, evaluation.token, {**data, "next_step": "stop"})
    runtime.clock.set(at("2028-11-01"))  # type: ignore[attr-defined]
    assert (sweep(runtime).evaluations_opened, len(find_tasks(runtime, cycle, "measure_evaluation", unit))) == (0, 1)
