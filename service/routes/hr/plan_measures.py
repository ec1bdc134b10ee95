"""HR's own measures on the plan: a new organisation-wide measure, one merged from units' proposals,
changing one, and placing a unit's measure in competence areas with its costs. The forms are parsed
into ``PlanMeasure`` and ``PlaceMeasure``, the API's commands."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from aarshjul.db.models import CompetenceArea
from aarshjul.domain.enums import LearningForm, MeasureScope, MeasureState
from aarshjul.domain.errors import DomainError, NotFound
from aarshjul.domain.planning import merged_costs
from aarshjul.runtime import Runtime
from aarshjul.usecases.planning import measures as plan_measures
from aarshjul.usecases.planning.plan import PlanMeasure as PlanMeasureView
from aarshjul.usecases.planning.plan import current_period, live_needs
from aarshjul.usecases.planning.proposals import MeasureProposal, measure_proposals
from aarshjul.usecases.planning.versions import plan_document
from service.auth import HrAccess, HrPageRoute, PageHr
from service.commands import PlaceMeasure, PlanMeasure, lines
from service.deps import LanguageDep, PostedForm, RuntimeDep
from service.html_forms import NOTHING_FAILED, FailedForm, RefusedForm, carry_out
from service.pages import page
from service.params import IdPath
from service.queries import MergeQuery
from service.routes.hr.common import hr_context, redirect, refused

router = APIRouter(route_class=HrPageRoute, include_in_schema=False)

BLANK_COST_ROWS = 3
TEXT_FIELDS = (
    "title",
    "target_group",
    "desired_effect",
    "success_criteria",
    "learning_goals",
    "form_and_content",
    "evaluation_method",
)


def measure_input(command: PlanMeasure) -> plan_measures.PlanMeasureInput:
    text = plan_measures.MeasureText(
        title=command.title,
        learning_form=command.learning_form,
        first_year=command.first_year,
        last_year=command.last_year,
        target_group=command.target_group,
        desired_effect=command.desired_effect,
        success_criteria=command.success_criteria,
        learning_goals=command.learning_goals,
        form_and_content=command.form_and_content,
        evaluation_method=command.evaluation_method,
        starts_on=command.starts_on,
        evaluate_on=command.evaluate_on,
    )
    return plan_measures.PlanMeasureInput(
        text, command.need_ids, command.area_ids, lines(command.costs), command.merge_ids
    )


def _values(source: PlanMeasureView | MeasureProposal | None, period_first: int) -> dict[str, Any]:
    """What the form shows first: an existing measure (or the first proposal to merge), else blanks."""
    if source is None:
        return {name: "" for name in TEXT_FIELDS} | {
            "learning_form": "",
            "first_year": str(period_first),
            "last_year": str(period_first),
            "starts_on": "",
            "evaluate_on": "",
        }
    values = {name: getattr(source, name) for name in TEXT_FIELDS}
    return values | {
        "learning_form": source.learning_form,
        "first_year": str(source.first_year),
        "last_year": str(source.last_year),
        "starts_on": source.starts_on.isoformat() if source.starts_on else "",
        "evaluate_on": source.evaluate_on.isoformat() if source.evaluate_on else "",
    }


def _areas(session: Session, period_id: int) -> list[tuple[int, str]]:
    rows = session.execute(
        select(CompetenceArea.id, CompetenceArea.name)
        .where(CompetenceArea.period_id == period_id)
        .order_by(CompetenceArea.position)
    )
    return [(r.id, r.name) for r in rows]


def _find(session: Session, measure_id: int) -> PlanMeasureView:
    plan = plan_document(session)
    found = next((m for a in plan.areas for m in a.measures if m.id == measure_id), None)
    if found is None:
        raise NotFound(f"measure {measure_id} is not in the plan")
    return found


def _measure_page(
    request: Request,
    access: HrAccess,
    runtime: Runtime,
    language: str,
    *,
    measure_id: int | None = None,
    merge_ids: list[int] | None = None,
    failed: FailedForm = NOTHING_FAILED,
) -> Response:
    with runtime.sessions() as session:
        period = current_period(session)
        years = list(range(period.first_year, period.last_year + 1))
        existing = _find(session, measure_id) if measure_id is not None else None
        merging: list[MeasureProposal] = []
        if merge_ids:
            wanted = set(merge_ids)
            states = (MeasureState.PROPOSED, MeasureState.APPROVED)
            merging = [p for p in measure_proposals(session, states=states) if p.id in wanted]
        needs = live_needs(session, period.id)
        areas = _areas(session, period.id)
    mode = (
        "merge" if merge_ids else "new" if existing is None else "edit" if existing.scope == "organisation" else "place"
    )
    values = _values(existing or (merging[0] if merging else None), period.first_year)
    if existing is not None:
        chosen_needs = [n.need_id for n in existing.needs]
        chosen_areas = existing.area_ids
        costs: list[Any] = list(existing.costs)
    else:
        chosen_needs = [p.need_id for p in merging]
        chosen_areas = []
        costs = merged_costs(c for p in merging for c in p.cost_lines())
    if failed:
        values |= {k: v for k, v in failed.values.items() if isinstance(v, str)}
        chosen_needs = [int(v) for v in failed.chosen(failed.form, "need_ids") if v.isdigit()]
        chosen_areas = [int(v) for v in failed.chosen(failed.form, "area_ids") if v.isdigit()]
        costs = failed.rows(failed.form, "costs")
    blank = {"year": "", "kind": "", "amount": "", "funding": "", "scheme": ""}
    context = {
        "hr": hr_context(access),
        "mode": mode,
        "form_id": "measure",
        "measure": existing,
        "merging": merging,
        "values": values,
        "learning_forms": [f.value for f in LearningForm],
        "years": years,
        "needs": needs,
        "chosen_needs": chosen_needs,
        "areas": areas,
        "main_area": chosen_areas[0] if chosen_areas else None,
        "also_areas": chosen_areas[1:],
        "costs": [*costs, *([blank] * BLANK_COST_ROWS)],
        "action": f"/plan/measures/{measure_id}" if measure_id is not None else "/plan/measures",
        "failed": failed,
    }
    address = (
        request.url.path if not failed else (f"/plan/measures/{measure_id}" if measure_id else "/plan/measures/new")
    )
    return page(request, "hr/plan_measure.html", context, language, failed.status if failed else 200, address=address)


@router.get("/plan/measures/new")
def new_measure_page(request: Request, access: PageHr, runtime: RuntimeDep, language: LanguageDep) -> Response:
    return _measure_page(request, access, runtime, language)


@router.get("/plan/merge")
def merge_page(
    request: Request,
    access: PageHr,
    runtime: RuntimeDep,
    language: LanguageDep,
    query: Annotated[MergeQuery, Query()],
) -> Response:
    return _measure_page(request, access, runtime, language, merge_ids=query.measure_id)


@router.get("/plan/measures/{measure_id}")
def measure_page(
    request: Request, measure_id: IdPath, access: PageHr, runtime: RuntimeDep, language: LanguageDep
) -> Response:
    return _measure_page(request, access, runtime, language, measure_id=measure_id)


@router.post("/plan/measures")
def create_measure_page(
    request: Request, access: PageHr, runtime: RuntimeDep, language: LanguageDep, form: PostedForm
) -> Response:
    def create(command: PlanMeasure) -> int:
        return plan_measures.create_plan_measure(runtime, measure_input(command), access.principal.person_id)

    merge_ids = [int(v) for v in form.getlist("merge_id") if isinstance(v, str) and v.isdigit()]
    try:
        carry_out(form, PlanMeasure, "measure", language, create)
    except RefusedForm as exc:
        return _measure_page(request, access, runtime, language, merge_ids=merge_ids or None, failed=exc.failed)
    except DomainError as exc:
        return refused(request, language, exc, "/plan")
    return redirect("/plan", notice="merged" if merge_ids else "measure_created")


@router.post("/plan/measures/{measure_id}")
def change_measure_page(
    request: Request, measure_id: IdPath, access: PageHr, runtime: RuntimeDep, language: LanguageDep, form: PostedForm
) -> Response:
    person = access.principal.person_id
    with runtime.sessions() as session:
        scope = _find(session, measure_id).scope
    try:
        if scope is MeasureScope.ORGANISATION:
            carry_out(
                form,
                PlanMeasure,
                "measure",
                language,
                lambda c: plan_measures.edit_plan_measure(runtime, measure_id, measure_input(c), person),
            )
        else:
            carry_out(
                form,
                PlaceMeasure,
                "measure",
                language,
                lambda c: plan_measures.place_measure(runtime, measure_id, c.area_ids, lines(c.costs), person),
            )
    except RefusedForm as exc:
        return _measure_page(request, access, runtime, language, measure_id=measure_id, failed=exc.failed)
    except DomainError as exc:
        return refused(request, language, exc, "/plan")
    return redirect("/plan", notice="measure_changed")
