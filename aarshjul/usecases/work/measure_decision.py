"""HR approves or returns a proposed measure from the board: the same as answering the approval task
of the measure's current revision."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

from aarshjul.db.engine import unit_of_work
from aarshjul.db.models import (
    HumanTask,
    Measure,
    Person,
)
from aarshjul.domain.enums import AdvanceReason, FormKey, MeasureState, Role, TaskState
from aarshjul.domain.errors import Conflict, Forbidden, NotFound
from aarshjul.domain.planning import CostLine
from aarshjul.runtime import Runtime
from aarshjul.usecases.shared.advances import owe_advance
from aarshjul.usecases.shared.costs import cost_facts, costs_of, replace_costs
from aarshjul.usecases.shared.cycles import today_for
from aarshjul.usecases.shared.writes import audit
from aarshjul.usecases.work.form_context import task_rules
from aarshjul.usecases.work.recording import Receipt, record_version
from forms.registry import validate_form


def decide_measure(
    runtime: Runtime,
    measure_id: int,
    decision: str,
    comment: str,
    actor: int,
    costs: Sequence[CostLine] | None = None,
) -> Receipt:
    """HR approves or returns a proposed measure from the board: the same as answering the
    approval task of the measure's current revision. ``actor`` is the HR person's id. Approving with
    ``costs`` puts HR's adjusted cost lines in place of the proposal's (audited when they differ)."""
    now = runtime.clock()
    with unit_of_work(runtime.sessions) as session:
        person = session.get(Person, actor)
        if person is None or person.role != Role.HR:
            raise Forbidden("only HR decides on measures")
        measure = session.get(Measure, measure_id)
        if measure is None:
            raise NotFound(f"measure {measure_id} does not exist")
        task = session.scalars(
            select(HumanTask)
            .where(
                HumanTask.measure_id == measure_id,
                HumanTask.form_key == FormKey.MEASURE_APPROVAL,
                HumanTask.state.in_([TaskState.OPEN, TaskState.RETURNED]),
                HumanTask.natural_key.endswith(f":r{measure.revision}"),
            )
            .with_for_update()
        ).first()
        if task is None:
            raise Conflict(f"no approval is waiting for measure {measure_id}")
        rules = task_rules(session, task, today_for(now, runtime.settings.zone))
        form = validate_form(FormKey.MEASURE_APPROVAL, {"decision": decision, "comment": comment}, rules)
        receipt = record_version(session, runtime, task, form, actor, now)
        if costs is not None and measure.state == MeasureState.APPROVED:
            before = costs_of(session, [measure.id]).get(measure.id, [])
            if replace_costs(session, measure, costs):
                after = costs_of(session, [measure.id]).get(measure.id, [])
                facts = {"costs": cost_facts(before)}, {"costs": cost_facts(after)}
                audit(session, now, f"person:{actor}", "measure.costs", "measure", measure.id, *facts)
        cycle_id, unit_id = task.cycle_id, task.unit_id
        owe_advance(session, cycle_id, unit_id)
    runtime.triggers.advance(cycle_id, unit_id, AdvanceReason.AFTER_DECISION)
    runtime.triggers.dispatch()
    return receipt
