"""Shared helpers for the plan's governance tests: HR's id, an area's id, an organisation-wide
measure's input, a consultation meeting."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal

from sqlalchemy import select

from aarshjul.db.models import CompetenceArea
from aarshjul.domain.enums import CostKind, FundingSource, LearningForm, UnionPosition
from aarshjul.domain.planning import CostLine
from aarshjul.runtime import Runtime
from aarshjul.usecases.planning.measures import MeasureText, PlanMeasureInput
from aarshjul.usecases.planning.versions import ConsultationMeeting, Participant, Statement
from tests.builders import person_id
from tests.hr_support import HR_EMAIL


def hr_id(runtime: Runtime) -> int:
    return person_id(runtime, HR_EMAIL)


def area_id(runtime: Runtime, code: str) -> int:
    with runtime.sessions() as session:
        found = session.scalar(select(CompetenceArea.id).where(CompetenceArea.code == code))
    if found is None:
        raise LookupError(code)
    return int(found)


def org_measure(
    *,
    title: str = "Felles opplæring i endringsledelse for ledere og tillitsvalgte",
    need_ids: Sequence[int] = (),
    area_ids: Sequence[int] = (),
    merge_ids: Sequence[int] = (),
    costs: Sequence[CostLine] | None = (
        CostLine(2027, CostKind.COURSE_FEES, Decimal("150000"), FundingSource.GRANT, "Kompetansemidler"),
    ),
) -> PlanMeasureInput:
    text = MeasureText(
        title=title,
        learning_form=LearningForm.PROGRAMME,
        first_year=2027,
        last_year=2028,
        target_group="Alle ledere og hovedtillitsvalgte",
        desired_effect="Endringer gjennomføres med medvirkning",
        success_criteria="Alle ledere har gjennomført",
        learning_goals="Kjenne faser i endringsprosesser",
        form_and_content="Fire samlinger med oppgaver mellom",
        evaluation_method="Spørreundersøkelse etter siste samling",
        starts_on=dt.date(2027, 3, 1),
        evaluate_on=dt.date(2027, 11, 1),
    )
    return PlanMeasureInput(
        text, list(need_ids), list(area_ids), None if costs is None else list(costs), list(merge_ids)
    )


MEETING = ConsultationMeeting(
    meeting_on=dt.date(2027, 2, 15),
    participants=[
        Participant("Tove Tillitsvalgt", "Fagforbundet", "hovedtillitsvalgt"),
        Participant("Per Plassen", "Utdanningsforbundet", "hovedtillitsvalgt"),
        Participant("Sunniva Kvåle", "", "HR-sjef"),
    ],
    statements=[
        Statement("Fagforbundet", UnionPosition.AGREES, "Slutter seg til planen"),
        Statement("Utdanningsforbundet", UnionPosition.DISAGREES, "Savner tiltak for lærere"),
    ],
    minutes_text="Planen ble drøftet. Partene er enige om tiltak 1 og 2.",
)
