"""Whether a cycle can run on a definition to the end, and the definition a cycle started with."""

from __future__ import annotations

from aarshjul.db.models import (
    Cycle,
    CycleDefinitionRecord,
)
from aarshjul.domain.cycle_spec import CycleDefinition, parse_definition
from aarshjul.domain.errors import CycleDefinitionError, NotFound
from aarshjul.runtime import Runtime
from forms.registry import FORMS

#: Forms whose rows must point at rows that another form records: an action and a critical need
#: serve a unit goal, a measure answers a critical need, the talk's development plan is tied to a
#: critical need (or to a measure, which answers one), an individual goal serves a unit goal, and the
#: competence mapping asks about the competences the unit goals call for. A
#: definition that drops the step recording them would leave the later step impossible to submit.
FORM_INPUTS: dict[str, frozenset[str]] = {
    "action_plan": frozenset({"unit_goals"}),
    "needs_mapping": frozenset({"unit_goals"}),
    "competence_mapping": frozenset({"unit_goals"}),
    "measure_proposal": frozenset({"needs_mapping"}),
    "talk_record": frozenset({"needs_mapping"}),
    "goal_breakdown": frozenset({"unit_goals"}),
}


def definition_problems(definition: CycleDefinition) -> list[str]:
    """What keeps a definition from running to the end: a form this product does not have, or a step
    whose form needs what a dropped (or later) step records."""
    problems = []
    for form in sorted({definition.evaluation_form} - set(FORMS)):
        problems.append(f"evaluation_form: no form called {form!r}")
    for step in definition.active_steps:
        earlier: set[str] = set()
        stack = list(definition.effective_dependencies(step.key))
        while stack:
            key = stack.pop()
            if key not in earlier:
                earlier.add(key)
                stack.extend(definition.effective_dependencies(key))
        recorded = {part.form for key in earlier for part in definition.step(key).parts}
        for part in step.parts:
            if part.form not in FORMS:
                problems.append(f"step {step.key}, part {part.key}: no form called {part.form!r}")
            for needed in sorted(FORM_INPUTS.get(part.form, frozenset()) - recorded):
                problems.append(
                    f"step {step.key}, part {part.key}: form {part.form!r} needs what form {needed!r} records, "
                    "but no enabled step before it uses that form"
                )
    return problems


def check_definition(definition: CycleDefinition, source: str = "the cycle definition") -> CycleDefinition:
    """The definition, if a cycle can run on it to the end; else a CycleDefinitionError naming each problem."""
    problems = definition_problems(definition)
    if problems:
        raise CycleDefinitionError(f"{source}: " + "; ".join(problems))
    return definition


def definition_of(runtime: Runtime, cycle_id: int) -> CycleDefinition:
    with runtime.sessions() as session:
        cycle = session.get(Cycle, cycle_id)
        if cycle is None:
            raise NotFound(f"cycle {cycle_id} does not exist")
        record = session.get(CycleDefinitionRecord, cycle.definition_id)
        if record is None:
            raise NotFound(f"cycle {cycle_id} has no definition")
        return parse_definition(record.content)
