"""The competence catalogue and the cycle's competence picture across units, as HR reads them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from aarshjul.domain.enums import MasteryLevel
from aarshjul.domain.errors import NotFound
from aarshjul.usecases.reporting.competences import competence_catalogue, competence_roll_up
from forms.messages import CHOICE_LABELS, MASTERY_SHORT
from service.auth import HrPageRoute, PageHr
from service.deps import LanguageDep, SessionDep
from service.pages import page
from service.queries import CycleQuery
from service.routes.hr.common import cycle_or_latest, hr_context

router = APIRouter(route_class=HrPageRoute, include_in_schema=False)


@router.get("/hr/competences")
def competences_page(
    request: Request,
    access: PageHr,
    session: SessionDep,
    language: LanguageDep,
    query: Annotated[CycleQuery, Query()],
) -> Response:
    try:
        catalogue = competence_catalogue(session)
    except NotFound:
        return page(request, "hr/no_cycle.html", {"hr": hr_context(access)}, language)
    cycle_id = cycle_or_latest(session, query.cycle)
    picture = competence_roll_up(session, cycle_id) if cycle_id is not None else None
    context = {
        "hr": hr_context(access),
        "catalogue": catalogue,
        "picture": picture,
        "levels": list(MasteryLevel),
        "level_names": MASTERY_SHORT,
        "kind_names": CHOICE_LABELS,
    }
    return page(request, "hr/competences.html", context, language)
