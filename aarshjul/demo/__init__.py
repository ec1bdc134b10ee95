"""The demo: Fjordvik kommune (org.csv, strategy.yaml) with one finished earlier year, so that a new
user sees a real competence plan at once.

``seed_demo`` loads the organisation as it was at the start of 2025 and plays 2025 through the real use
cases, on a clock that walks through the year: three units map their critical needs in change
competence; HR makes the lecture's three overarching measures for them (with costs and funding),
discusses the plan with the union representatives, has it adopted by the chief executive; the first
measure is evaluated in November with what it cost; the cycle is closed at the end of the year.
The emails those steps queued are history, not news: they are cancelled, never sent.

This module sits above the use cases (it composes several capabilities, like the command line).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import select, update

from aarshjul.clock import ManualClock
from aarshjul.db.models import CompetenceArea, CriticalNeed, HumanTask, Notification, Person, StrategicGoal, Unit
from aarshjul.domain.enums import (
    AdvanceReason,
    CostKind,
    FormKey,
    FundingSource,
    LearningForm,
    MasteryLevel,
    NotificationState,
    Role,
    TaskState,
    UnionPosition,
)
from aarshjul.domain.planning import CostLine
from aarshjul.runtime import Runtime
from aarshjul.signing import TaskLinkClaims, task_token
from aarshjul.usecases.admin import org_import
from aarshjul.usecases.cycle.advance import advance_cycle
from aarshjul.usecases.cycle.lifecycle import close_cycle
from aarshjul.usecases.cycle.start import start_cycle
from aarshjul.usecases.cycle.sweep import sweep
from aarshjul.usecases.planning import measures, versions
from aarshjul.usecases.work.opening import open_task
from aarshjul.usecases.work.submitting import submit_form
from forms.fields import RefKind

YEAR = 2025
ADOPTED_CASE = "2025/0142"


class _Advance:
    """Each submission advances its cycle at once, as the service's flow would within seconds."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def advance(
        self, cycle_id: int, unit_id: int | None = None, reason: AdvanceReason = AdvanceReason.REQUESTED
    ) -> None:
        advance_cycle(self.runtime, cycle_id, unit_id=unit_id)

    def dispatch(self) -> None:
        return None


def _at(runtime: Runtime, day: dt.date, hour: int = 9) -> None:
    clock = runtime.clock
    if not isinstance(clock, ManualClock):
        raise TypeError("the demo's history runs on a manual clock")
    clock.set(dt.datetime.combine(day, dt.time(hour), tzinfo=runtime.settings.zone))


def seed_demo(runtime: Runtime) -> bool:
    """Load the demo organisation, its strategy and its year 2025, if the database has no organisation."""
    past = dataclasses.replace(runtime, clock=ManualClock(dt.datetime(YEAR, 1, 2, 8, tzinfo=dt.UTC)))
    past.triggers = _Advance(past)
    if not org_import.seed_demo(past):
        return False
    _year_2025(past)
    return True


def _token(runtime: Runtime, task: HumanTask) -> str:
    return task_token(runtime.settings.secret(), TaskLinkClaims(task.id, task.assignee_id, task.link_version))


def _open_tasks(runtime: Runtime, cycle_id: int, form: FormKey, unit_code: str | None = None) -> list[str]:
    with runtime.sessions() as session:
        query = select(HumanTask).where(
            HumanTask.cycle_id == cycle_id, HumanTask.form_key == form, HumanTask.state == TaskState.OPEN
        )
        if unit_code is not None:
            query = query.join(Unit, Unit.id == HumanTask.unit_id).where(Unit.code == unit_code)
        return [_token(runtime, t) for t in session.scalars(query.order_by(HumanTask.id))]


#: What three unit leaders wrote in 2025: their goals and the critical needs behind the plan's measures.
UNITS: dict[str, dict[str, Any]] = {
    "HEL": {
        "goals": [
            (
                "SM1",
                "Sammenhengende pasientforløp mellom sykehjem og hjemmetjeneste",
                "Avvik ved overganger",
                "Halvert",
            ),
            ("SM3", "Flere ansatte blir i tjenesten", "Turnover blant fagarbeidere", "Under 12 %"),
        ],
        "needs": [
            ("Å lede omstilling i turnusbaserte tjenester", 4, 2, "develop", ""),
            (
                "Medvirkning fra tillitsvalgte i endringsprosesser",
                4,
                3,
                "mobilise",
                "To plasstillitsvalgte har kurs fra KS",
            ),
        ],
    },
    "OPP": {
        "goals": [
            (
                "SM3",
                "Et lærende arbeidsmiljø i alle barnehager og skoler",
                "Medarbeiderundersøkelsen, læring",
                "4,5 av 5",
            ),
            ("SM2", "Digitale verktøy i bruk i all undervisning", "Andel klasser med digital plattform", "100 %"),
        ],
        "needs": [
            ("Medarbeiderskap og eget ansvar for læring", 4, 2, "develop", ""),
        ],
    },
    "TEK": {
        "goals": [
            ("SM4", "Energiforbruket i kommunale bygg ned", "kWh per kvadratmeter", "15 % lavere innen 2028"),
            ("SM1", "Prosjekter leveres til avtalt tid", "Andel prosjekter i rute", "90 %"),
        ],
        "needs": [
            ("Prosjektledelse og metoder for endringsprosesser", 4, 1, "develop", ""),
        ],
    },
}


def _unit_forms(runtime: Runtime, cycle_id: int, code: str) -> None:
    data = UNITS[code]
    (review,) = _open_tasks(runtime, cycle_id, FormKey.STRATEGY_REVIEW, code)
    opened = open_task(runtime, review)
    submit_form(
        runtime,
        review,
        {
            "goals": [
                {"strategic_goal_id": g, "meaning": f"Viktig for oss: {title[:80]}", "relevance": 4}
                for g, title in opened.choices[RefKind.MAIN_GOAL]
            ]
        },
    )
    (goals_task,) = _open_tasks(runtime, cycle_id, FormKey.UNIT_GOALS, code)
    mains = _main_goal_ids(runtime)
    submit_form(
        runtime,
        goals_task,
        {
            "goals": [
                {"strategic_goal_id": mains[sm], "title": t, "priority": i + 1, "indicator": ind, "target": target}
                for i, (sm, t, ind, target) in enumerate(data["goals"])
            ]
        },
    )
    # Each employee's self-assessment comes before the leader maps the unit's needs.
    levels = list(MasteryLevel)
    for token in _open_tasks(runtime, cycle_id, FormKey.COMPETENCE_MAPPING, code):
        called_for = open_task(runtime, token).choices[RefKind.UNIT_COMPETENCE]
        mastery = [{"competence_id": c, "level": levels[(i + 2) % len(levels)]} for i, (c, _) in enumerate(called_for)]
        submit_form(runtime, token, {"mastery": mastery})
    (mapping,) = _open_tasks(runtime, cycle_id, FormKey.NEEDS_MAPPING, code)
    opened = open_task(runtime, mapping)
    first_goal = opened.choices[RefKind.UNIT_GOAL][0][0]
    change_area = next(i for i, name in opened.choices[RefKind.COMPETENCE_AREA] if name.startswith("Endrings"))
    submit_form(
        runtime,
        mapping,
        {
            "needs": [
                {
                    "unit_goal_id": first_goal,
                    "title": title,
                    "kind": "skills",
                    "competence_area_id": change_area,
                    "level_needed": needed,
                    "level_today": today,
                    "passive_competence": passive,
                    "strategy": strategy,
                }
                for title, needed, today, strategy, passive in data["needs"]
            ],
            "notes": "Drøftet på personalmøte.",
        },
    )


def _main_goal_ids(runtime: Runtime) -> dict[str, int]:
    with runtime.sessions() as session:
        return {g.code: g.id for g in session.scalars(select(StrategicGoal))}


def _lecture_measures(hr: int, needs: list[int], change_area: int) -> list[measures.PlanMeasureInput]:
    """The lecture's three examples of overarching measures in change competence (Leksjon 5)."""
    leaders_and_reps = measures.MeasureText(
        title="Felles opplæring i endringsledelse og endringsprosesser for ledere og tillitsvalgte",
        learning_form=LearningForm.PROGRAMME,
        first_year=2025,
        last_year=2025,
        target_group="Alle ledere og hovedtillitsvalgte",
        desired_effect="Endringer planlegges og gjennomføres med reell medvirkning, og færre prosesser stopper opp",
        success_criteria="Alle ledere og hovedtillitsvalgte har deltatt; medvirkning scorer minst 4 av 5",
        learning_goals="Kjenne fasene i en endringsprosess, drøftingsplikten og verktøy for involvering",
        form_and_content="Fire felles samlinger for ledere og tillitsvalgte, med oppgaver i egen enhet mellom dem",
        evaluation_method="Deltakerevaluering etter siste samling og medvirkning i medarbeiderundersøkelsen",
        starts_on=dt.date(2025, 3, 10),
        evaluate_on=dt.date(2025, 11, 14),
    )
    followership = measures.MeasureText(
        title="Opplæring i medarbeiderskap og livslang læring for alle medarbeidere (avdelingsvis)",
        learning_form=LearningForm.ON_THE_JOB,
        first_year=2026,
        last_year=2027,
        target_group="Alle medarbeidere, avdeling for avdeling",
        desired_effect="Medarbeiderne tar ansvar for egen læring og deler kompetanse",
        success_criteria="Alle avdelinger har gjennomført; flere deler kompetanse i medarbeiderundersøkelsen",
        learning_goals="Forstå medarbeiderskap, mestringsklima og egen rolle i læring på arbeidsplassen",
        form_and_content="To halvdager per avdeling med refleksjon og smålæring i etterkant",
        evaluation_method="Kort spørreundersøkelse per avdeling og oppfølging i medarbeidersamtalen",
        starts_on=dt.date(2026, 2, 2),
        evaluate_on=dt.date(2027, 11, 15),
    )
    key_people = measures.MeasureText(
        title="Utviklingsprogram for 15 nøkkelpersoner og prosjektledere i metoder og verktøy for endringsprosesser",
        learning_form=LearningForm.PROGRAMME,
        first_year=2027,
        last_year=2028,
        target_group="15 nøkkelpersoner og prosjektledere fra alle sektorer",
        desired_effect="Kommunen har egne folk som kan lede og støtte endringsprosesser",
        success_criteria="15 har fullført og leder minst ett endringsprosjekt hver",
        learning_goals="Metoder for prosjekt- og endringsledelse, gevinstrealisering og involvering",
        form_and_content="Seks samlinger over to år med veiledning i eget prosjekt",
        evaluation_method="Prosjektrapporter og intervju med deltakerne",
        starts_on=dt.date(2027, 1, 15),
        evaluate_on=dt.date(2028, 11, 15),
    )
    d = Decimal
    return [
        measures.PlanMeasureInput(
            leaders_and_reps,
            needs[:2],
            [change_area],
            [
                CostLine(2025, CostKind.COURSE_FEES, d("180000"), FundingSource.CENTRAL_BUDGET),
                CostLine(2025, CostKind.TRAVEL, d("22500"), FundingSource.CENTRAL_BUDGET),
                CostLine(2025, CostKind.SUBSTITUTE_COVER, d("64000"), FundingSource.OWN_BUDGET),
            ],
        ),
        measures.PlanMeasureInput(
            followership,
            needs[1:3],
            [change_area],
            [
                line
                for year in (2026, 2027)
                for line in (
                    CostLine(year, CostKind.INTERNAL_HOURS, d("150000"), FundingSource.OWN_BUDGET),
                    CostLine(year, CostKind.SUBSTITUTE_COVER, d("120000"), FundingSource.GRANT, "Kompetanseløftet"),
                )
            ],
        ),
        measures.PlanMeasureInput(
            key_people,
            needs[2:],
            [change_area],
            [
                CostLine(2027, CostKind.COURSE_FEES, d("225000"), FundingSource.GRANT, "Kompetansemidler"),
                CostLine(2028, CostKind.COURSE_FEES, d("225000"), FundingSource.GRANT, "Kompetansemidler"),
                CostLine(2028, CostKind.TRAVEL, d("30000"), FundingSource.UNFUNDED),
            ],
        ),
    ]


def _year_2025(runtime: Runtime) -> None:
    _at(runtime, dt.date(YEAR, 1, 6), 7)
    cycle_id = start_cycle(runtime, YEAR, starts_on=dt.date(YEAR, 1, 6), actor="demo")
    advance_cycle(runtime, cycle_id)
    for day, code in ((13, "HEL"), (20, "OPP"), (27, "TEK")):
        _at(runtime, dt.date(YEAR, 1, day))
        _unit_forms(runtime, cycle_id, code)
    with runtime.sessions() as session:
        hr = session.scalar(select(Person.id).where(Person.role == Role.HR).order_by(Person.id))
        needs = list(
            session.scalars(select(CriticalNeed.id).where(CriticalNeed.cycle_id == cycle_id).order_by(CriticalNeed.id))
        )
        change_area = session.scalar(select(CompetenceArea.id).where(CompetenceArea.code == "ENDRING"))
    if hr is None or change_area is None:
        raise LookupError("the demo organisation needs an HR person and the area ENDRING")
    actor = f"person:{hr}"

    _at(runtime, dt.date(YEAR, 2, 3))
    made = [measures.create_plan_measure(runtime, m, hr) for m in _lecture_measures(hr, needs, change_area)]
    versions.start_consultation(runtime, actor)
    _at(runtime, dt.date(YEAR, 2, 24), 14)
    versions.record_consultation(
        runtime,
        1,
        versions.ConsultationMeeting(
            meeting_on=dt.date(YEAR, 2, 24),
            participants=[
                versions.Participant("Tove Lien", "Fagforbundet", "hovedtillitsvalgt"),
                versions.Participant("Per Åsheim", "Utdanningsforbundet", "hovedtillitsvalgt"),
                versions.Participant("Kari Nes", "Delta", "hovedtillitsvalgt"),
                versions.Participant("Ingrid Myrvåg", "", "kommunedirektør"),
                versions.Participant("Sunniva Kvåle", "", "personalsjef"),
            ],
            statements=[
                versions.Statement("Fagforbundet", UnionPosition.AGREES, "Slutter seg til planen."),
                versions.Statement(
                    "Utdanningsforbundet",
                    UnionPosition.AGREES,
                    "Slutter seg til planen, og ber om at tiltak 2 legges utenom undervisningstiden.",
                ),
                versions.Statement(
                    "Delta", UnionPosition.DISAGREES, "Mener vikarutgiftene i 2026–2027 er for lavt beregnet."
                ),
            ],
            minutes_text=(
                "Drøftingsmøte om kompetanseplanen 2025–2028 etter Hovedavtalen og HTA kapittel 3.3.\n"
                "Arbeidsgiver la fram planen med tre overordnede tiltak i endrings- og omstillingskompetanse.\n"
                "Fagforbundet og Utdanningsforbundet slutter seg til planen. Delta tar dissens om vikarutgiftene.\n"
                "Partene er enige om at planen evalueres hvert år i forbindelse med årshjulet."
            ),
        ),
        actor,
    )
    _at(runtime, dt.date(YEAR, 3, 4), 12)
    versions.adopt(runtime, 1, versions.Adoption("Kommunedirektøren", dt.date(YEAR, 3, 4), ADOPTED_CASE), actor)

    # November: the first measure's evaluation date has come; HR (its owner) evaluates it.
    _at(runtime, dt.date(YEAR, 11, 17), 8)
    sweep(runtime)
    with runtime.sessions() as session:
        task = session.scalars(
            select(HumanTask).where(HumanTask.measure_id == made[0], HumanTask.form_key == FormKey.MEASURE_EVALUATION)
        ).first()
        token = _token(runtime, task) if task is not None else None
    if token is not None:
        submit_form(
            runtime,
            token,
            {
                "reaction": "Deltakerne ga samlingene 4,6 av 5; særlig de felles gruppene for ledere og tillitsvalgte.",
                "learning": "Alle kjenner fasene i en endringsprosess og hvordan drøftinger forberedes.",
                "behaviour": "Tre omstillinger i helse og omsorg ble i høst planlagt med tillitsvalgte fra start.",
                "results": "Medvirkning i medarbeiderundersøkelsen gikk fra 3,6 til 4,1.",
                "criteria_met": "partly",
                "next_step": "adjust",
                "next_step_note": "Tillitsvalgte uten lederansvar trenger en egen oppfølgingssamling i 2026.",
                "cost_spent": "238 450",
            },
        )
    _at(runtime, dt.date(YEAR, 12, 31), 16)
    close_cycle(runtime, cycle_id, actor="demo", force=True)
    with runtime.sessions.begin() as session:
        # The year is history: what it queued by email is not news to anyone now.
        session.execute(
            update(Notification)
            .where(Notification.state == NotificationState.PENDING)
            .values(state=NotificationState.CANCELLED, last_error="demo history of 2025, not sent")
        )
