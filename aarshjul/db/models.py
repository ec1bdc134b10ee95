"""The storage model (SQLAlchemy 2, typed). States and kinds are the domain's StrEnums, stored as their text
value (``TextEnum``): a row read back carries the enum member.

ORM objects stay inside use cases and queries; templates and API answers get view models.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from aarshjul.db.types import TextEnum, UTCDateTime
from aarshjul.domain.enums import (
    CompetenceKind,
    CompetenceStrategy,
    CompetenceType,
    CostKind,
    CycleState,
    FormKey,
    FundingSource,
    HrGrant,
    Language,
    LearningForm,
    MasteryLevel,
    MeasureScope,
    MeasureState,
    NotificationChannel,
    NotificationState,
    PlanVersionState,
    Role,
    SignedInVia,
    SmsMode,
    TaskState,
    UnionPosition,
    UnitStepState,
)

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

Json = JSON().with_variant(JSON(none_as_null=True), "postgresql")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


# --- organisation -------------------------------------------------------------------------------


class Organisation(Base):
    __tablename__ = "organisation"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    #: The private talk forms open only for their assignee signed in through single sign-on (as well
    #: as holding the link). ``aarshjul org talk-sign-in``.
    talk_forms_need_sign_in: Mapped[bool] = mapped_column(Boolean, default=False)


class Unit(Base):
    """A unit of the organisation tree. Its leader's manager is the leader of the parent unit."""

    __tablename__ = "unit"
    __table_args__ = (UniqueConstraint("organisation_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id"), index=True)
    leader_id: Mapped[int | None] = mapped_column(
        ForeignKey("person.id", use_alter=True, name="fk_unit_leader_id_person")
    )
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Person(Base):
    __tablename__ = "person"
    __table_args__ = (
        UniqueConstraint("organisation_id", "email"),
        UniqueConstraint("organisation_id", "employee_no"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    employee_no: Mapped[str | None] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254))  #: stored lower-case
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), index=True)
    role: Mapped[Role] = mapped_column(TextEnum(Role, 16), index=True)  #: HR is looked up by role on every advance
    language: Mapped[Language] = mapped_column(TextEnum(Language, 8), default=Language.NB)
    active_from: Mapped[dt.date | None] = mapped_column(Date)
    active_to: Mapped[dt.date | None] = mapped_column(Date)  #: set when an import finds them gone
    deputy_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    mobile: Mapped[str | None] = mapped_column(String(20))  #: E.164 (+4791234567): SMS goes here
    #: Part of the signed calendar-feed address; raising it kills every earlier address of the feed.
    calendar_version: Mapped[int] = mapped_column(Integer, default=1)

    unit: Mapped[Unit] = relationship(foreign_keys=[unit_id], lazy="raise")

    def is_active_on(self, day: dt.date) -> bool:
        return (self.active_from is None or self.active_from <= day) and (
            self.active_to is None or day <= self.active_to
        )


# --- strategy -----------------------------------------------------------------------------------


class StrategyPeriod(Base):
    __tablename__ = "strategy_period"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    name: Mapped[str] = mapped_column(String(200))
    first_year: Mapped[int] = mapped_column(Integer)
    last_year: Mapped[int] = mapped_column(Integer)


class StrategicGoal(Base):
    """A strategic main goal of the organisation (strategisk hovedmål)."""

    __tablename__ = "strategic_goal"
    __table_args__ = (UniqueConstraint("period_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    period_id: Mapped[int] = mapped_column(ForeignKey("strategy_period.id"))
    code: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    position: Mapped[int] = mapped_column(Integer, default=0)


class CompetenceArea(Base):
    """A competence area (kompetanseområde) of the plan, with its main goal (hovedmål)."""

    __tablename__ = "competence_area"
    __table_args__ = (UniqueConstraint("period_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    period_id: Mapped[int] = mapped_column(ForeignKey("strategy_period.id"))
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(300))
    main_goal: Mapped[str] = mapped_column(Text)
    position: Mapped[int] = mapped_column(Integer, default=0)


class Competence(Base):
    """A competence of the organisation's catalogue (kompetansekatalog), under one of the strategy's
    competence areas. Needs, self-assessments and talks point at it, so they roll up across units by
    competence rather than by the words a leader used. A competence dropped from the catalogue file is
    retired: kept for what points at it, no longer offered."""

    __tablename__ = "competence"
    __table_args__ = (UniqueConstraint("period_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    period_id: Mapped[int] = mapped_column(ForeignKey("strategy_period.id"))
    area_id: Mapped[int] = mapped_column(ForeignKey("competence_area.id"), index=True)
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(300))
    kind: Mapped[CompetenceType] = mapped_column(TextEnum(CompetenceType, 32))
    description: Mapped[str] = mapped_column(Text, default="")
    position: Mapped[int] = mapped_column(Integer, default=0)
    retired: Mapped[bool] = mapped_column(Boolean, default=False)


# --- cycles -------------------------------------------------------------------------------------


class CycleDefinitionRecord(Base):
    """A cycle definition as loaded; a cycle points to the exact content it started with."""

    __tablename__ = "cycle_definition"
    __table_args__ = (UniqueConstraint("key", "version", "sha256"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[dict[str, Any]] = mapped_column(Json)
    loaded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class Cycle(Base):
    __tablename__ = "cycle"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    period_id: Mapped[int] = mapped_column(ForeignKey("strategy_period.id"))
    definition_id: Mapped[int] = mapped_column(ForeignKey("cycle_definition.id"))
    year: Mapped[int] = mapped_column(Integer, index=True)
    starts_on: Mapped[dt.date] = mapped_column(Date)
    state: Mapped[CycleState] = mapped_column(TextEnum(CycleState, 16))
    step_due: Mapped[dict[str, str]] = mapped_column(Json)  #: step key -> ISO date, fixed at start
    cloned_from_id: Mapped[int | None] = mapped_column(ForeignKey("cycle.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(200), default="")
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: The local day of the last full reconcile; None asks the next sweep for one (an org import did).
    reconciled_on: Mapped[dt.date | None] = mapped_column(Date)


class AdvanceRequest(Base):
    """A unit whose advance is owed: written in the same transaction as the change that calls for it
    (a submission, a decision), and removed by the advance that does it, only if nothing asked again
    meanwhile (``requested`` counts the asks). The sweep advances the units still listed: a trigger
    lost on the way costs one sweep interval, not a day."""

    __tablename__ = "advance_request"

    cycle_id: Mapped[int] = mapped_column(ForeignKey("cycle.id"), primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), primary_key=True)
    requested: Mapped[int] = mapped_column(Integer, default=1)


class UnitStep(Base):
    """One unit's state on one step of a cycle."""

    __tablename__ = "unit_step"
    __table_args__ = (UniqueConstraint("cycle_id", "unit_id", "step_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    cycle_id: Mapped[int] = mapped_column(ForeignKey("cycle.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"))
    step_key: Mapped[str] = mapped_column(String(64))
    state: Mapped[UnitStepState] = mapped_column(TextEnum(UnitStepState, 16))
    due_on: Mapped[dt.date] = mapped_column(Date)
    opened_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    done_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class HumanTask(Base):
    """One task for one person: one part of one step for one unit (or one employee, or one measure).

    ``natural_key`` makes opening a step idempotent: the same task can never exist twice.
    ``link_version`` is part of the signed link; raising it kills every earlier link.
    """

    __tablename__ = "human_task"
    __table_args__ = (
        UniqueConstraint("natural_key"),
        Index("ix_human_task_assignee_state", "assignee_id", "state"),
        Index("ix_human_task_cycle_step", "cycle_id", "step_key", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    natural_key: Mapped[str] = mapped_column(String(200))
    cycle_id: Mapped[int] = mapped_column(ForeignKey("cycle.id"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), index=True)
    step_key: Mapped[str] = mapped_column(String(64))
    part_key: Mapped[str] = mapped_column(String(64))
    form_key: Mapped[FormKey] = mapped_column(TextEnum(FormKey, 64))
    subject_person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"), index=True)
    measure_id: Mapped[int | None] = mapped_column(ForeignKey("measure.id"))
    assignee_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    state: Mapped[TaskState] = mapped_column(TextEnum(TaskState, 16))
    due_on: Mapped[dt.date] = mapped_column(Date)
    reminders_sent: Mapped[int] = mapped_column(Integer, default=0)  #: rungs of the reminder ladder sent
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)  #: rungs of the escalation ladder sent
    link_version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    submitted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)  #: when it stopped accepting input
    #: For a measure's evaluation and its participants' survey: the year of the measure they are about.
    evaluation_year: Mapped[int | None] = mapped_column(Integer)


class Submission(Base):
    """Append-only: every save of a form is a new version; drafts are versions too."""

    __tablename__ = "submission"
    __table_args__ = (UniqueConstraint("task_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("human_task.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    is_draft: Mapped[bool] = mapped_column(Boolean, default=False)
    data: Mapped[dict[str, Any]] = mapped_column(Json)
    submitted_by_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


# --- what the forms produce, kept as rows so later steps can point at them ----------------------


class UnitGoal(Base):
    __tablename__ = "unit_goal"

    id: Mapped[int] = mapped_column(primary_key=True)
    cycle_id: Mapped[int] = mapped_column(ForeignKey("cycle.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), index=True)
    strategic_goal_id: Mapped[int] = mapped_column(ForeignKey("strategic_goal.id"))
    title: Mapped[str] = mapped_column(Text)
    priority: Mapped[int] = mapped_column(Integer)
    indicator: Mapped[str] = mapped_column(Text, default="")
    target: Mapped[str] = mapped_column(Text, default="")
    retired: Mapped[bool] = mapped_column(Boolean, default=False)  #: dropped in a later version
    #: The parent unit's goal this goal serves (a sector goal): the cascade main goal → sector goal → unit goal.
    parent_goal_id: Mapped[int | None] = mapped_column(ForeignKey("unit_goal.id"))


class UnitGoalCompetence(Base):
    """A competence of the catalogue that a unit goal calls for; the unit's competence mapping asks
    about exactly these (a survey detached from the goals only produces data)."""

    __tablename__ = "unit_goal_competence"

    unit_goal_id: Mapped[int] = mapped_column(ForeignKey("unit_goal.id"), primary_key=True)
    competence_id: Mapped[int] = mapped_column(ForeignKey("competence.id"), primary_key=True, index=True)


class CriticalNeed(Base):
    __tablename__ = "critical_need"

    id: Mapped[int] = mapped_column(primary_key=True)
    cycle_id: Mapped[int] = mapped_column(ForeignKey("cycle.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), index=True)
    unit_goal_id: Mapped[int] = mapped_column(ForeignKey("unit_goal.id"))
    competence_area_id: Mapped[int | None] = mapped_column(ForeignKey("competence_area.id"))
    competence_id: Mapped[int | None] = mapped_column(ForeignKey("competence.id"), index=True)
    title: Mapped[str] = mapped_column(Text)
    kind: Mapped[CompetenceKind] = mapped_column(TextEnum(CompetenceKind, 32))
    level_needed: Mapped[int] = mapped_column(Integer)
    level_today: Mapped[int] = mapped_column(Integer)
    passive_competence: Mapped[str] = mapped_column(Text, default="")  #: where it exists unused
    strategy: Mapped[CompetenceStrategy] = mapped_column(TextEnum(CompetenceStrategy, 32))
    retired: Mapped[bool] = mapped_column(Boolean, default=False)


class Measure(Base):
    """A competence measure, described by the lecture's template, tied to a critical need.

    A unit's measure (``scope`` UNIT) answers ``critical_need_id``, a need of its unit. HR's
    organisation-wide measure (ORGANISATION) answers every need in ``measure_need`` (the first of
    them is ``critical_need_id``, so the chain of either kind can be read the same way); its unit is
    the unit of the HR person who owns it, who also evaluates it. ``measure_area`` places a measure
    in competence areas; without a row there a unit's measure is in its need's area."""

    __tablename__ = "measure"

    id: Mapped[int] = mapped_column(primary_key=True)
    cycle_id: Mapped[int] = mapped_column(ForeignKey("cycle.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), index=True)
    scope: Mapped[MeasureScope] = mapped_column(TextEnum(MeasureScope, 16), default=MeasureScope.UNIT)
    critical_need_id: Mapped[int] = mapped_column(ForeignKey("critical_need.id"))
    owner_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    title: Mapped[str] = mapped_column(Text)
    desired_effect: Mapped[str] = mapped_column(Text)
    success_criteria: Mapped[str] = mapped_column(Text)
    learning_goals: Mapped[str] = mapped_column(Text)
    learning_form: Mapped[LearningForm] = mapped_column(TextEnum(LearningForm, 32))
    form_and_content: Mapped[str] = mapped_column(Text)
    evaluation_method: Mapped[str] = mapped_column(Text)
    starts_on: Mapped[dt.date | None] = mapped_column(Date)
    evaluate_on: Mapped[dt.date | None] = mapped_column(Date)
    first_year: Mapped[int] = mapped_column(Integer)
    last_year: Mapped[int] = mapped_column(Integer)
    target_group: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[MeasureState] = mapped_column(TextEnum(MeasureState, 16))
    revision: Mapped[int] = mapped_column(Integer, default=1)  #: raised when the leader amends it after a return
    hr_comment: Mapped[str] = mapped_column(Text, default="")
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: the organisation-wide measure HR merged this proposal into (state MERGED)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("measure.id"))


class MeasureArea(Base):
    """A competence area a measure belongs to; the lowest ``position`` is its main area, where the plan
    counts its money."""

    __tablename__ = "measure_area"

    measure_id: Mapped[int] = mapped_column(ForeignKey("measure.id"), primary_key=True)
    competence_area_id: Mapped[int] = mapped_column(ForeignKey("competence_area.id"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, default=0)


class MeasureNeed(Base):
    """A critical need an organisation-wide measure answers (the chain: need → unit goal → main goal)."""

    __tablename__ = "measure_need"

    measure_id: Mapped[int] = mapped_column(ForeignKey("measure.id"), primary_key=True)
    critical_need_id: Mapped[int] = mapped_column(ForeignKey("critical_need.id"), primary_key=True, index=True)


class MeasureCost(Base):
    """One estimated cost line of a measure, in NOK with two decimals (never a float)."""

    __tablename__ = "measure_cost"
    __table_args__ = (CheckConstraint("amount >= 0", name="amount_not_negative"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    measure_id: Mapped[int] = mapped_column(ForeignKey("measure.id"), index=True)
    year: Mapped[int] = mapped_column(Integer)
    kind: Mapped[CostKind] = mapped_column(TextEnum(CostKind, 32))
    amount: Mapped[Decimal] = mapped_column(Numeric(12, 2, asdecimal=True))
    funding: Mapped[FundingSource] = mapped_column(TextEnum(FundingSource, 32))
    scheme: Mapped[str] = mapped_column(String(200), default="")  #: the grant scheme, when funding is a grant


# --- the competence picture: personal data, read by others only as aggregates ---------------------


class CompetenceAssessment(Base):
    """One employee's mastery of one competence, from their newest submitted competence mapping.
    Personal data: only aggregates of at least five people are shown to anyone else."""

    __tablename__ = "competence_assessment"
    __table_args__ = (
        UniqueConstraint("task_id", "competence_id"),
        Index("ix_competence_assessment_cycle_unit", "cycle_id", "unit_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("human_task.id"))
    cycle_id: Mapped[int] = mapped_column(ForeignKey("cycle.id"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"))
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    competence_id: Mapped[int] = mapped_column(ForeignKey("competence.id"))
    level: Mapped[MasteryLevel] = mapped_column(TextEnum(MasteryLevel, 16))


class SharedCompetence(Base):
    """Competence an employee has that is not in use in their unit, which they chose to share with
    their leader (with their name) so that it can be mobilised. Kept only while they share it."""

    __tablename__ = "shared_competence"

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("human_task.id"), index=True)
    cycle_id: Mapped[int] = mapped_column(ForeignKey("cycle.id"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    competence_id: Mapped[int | None] = mapped_column(ForeignKey("competence.id"))  #: None for the free text
    text: Mapped[str] = mapped_column(Text, default="")


class MeasureParticipant(Base):
    """An employee who takes part in a measure: the development plan of their newest talk record
    names it. Participants get the measure's short survey when its year's evaluation comes."""

    __tablename__ = "measure_participant"
    __table_args__ = (UniqueConstraint("talk_task_id", "measure_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    talk_task_id: Mapped[int] = mapped_column(ForeignKey("human_task.id"))
    measure_id: Mapped[int] = mapped_column(ForeignKey("measure.id"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)


# --- review of the plan by union representatives --------------------------------------------------


class PlanReviewer(Base):
    """Someone HR invited to read the draft competence plan and comment on it, typically a union
    representative (tillitsvalgt); not necessarily in the organisation file. Removing them sets
    ``removed_at``, which kills their link; their comments stay."""

    __tablename__ = "plan_reviewer"

    id: Mapped[int] = mapped_column(primary_key=True)
    period_id: Mapped[int] = mapped_column(ForeignKey("strategy_period.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254))
    language: Mapped[Language] = mapped_column(TextEnum(Language, 8))
    invited_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    invited_by: Mapped[str] = mapped_column(String(254))  #: the audit actor, "person:12"
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    removed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class PlanComment(Base):
    """A reviewer's comment on the plan, appended and never changed. It may name a competence area or
    a measure; the name is kept as it was when the comment was written."""

    __tablename__ = "plan_comment"

    id: Mapped[int] = mapped_column(primary_key=True)
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("plan_reviewer.id"), index=True)
    period_id: Mapped[int] = mapped_column(ForeignKey("strategy_period.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    body: Mapped[str] = mapped_column(Text)
    competence_area_id: Mapped[int | None] = mapped_column(ForeignKey("competence_area.id", ondelete="SET NULL"))
    measure_id: Mapped[int | None] = mapped_column(ForeignKey("measure.id", ondelete="SET NULL"))
    target_title: Mapped[str] = mapped_column(Text, default="")


# --- versions of the plan: consultation and adoption --------------------------------------------


class PlanVersion(Base):
    """A version of the competence plan of a strategy period, stored from the moment it goes to
    consultation. Adoption freezes it: ``content`` is then the plan document as adopted and
    ``sha256`` the hash of its canonical JSON (like a cycle definition record)."""

    __tablename__ = "plan_version"
    __table_args__ = (UniqueConstraint("period_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    period_id: Mapped[int] = mapped_column(ForeignKey("strategy_period.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    state: Mapped[PlanVersionState] = mapped_column(TextEnum(PlanVersionState, 32))
    consultation_started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    consultation_started_by: Mapped[str] = mapped_column(String(254))  #: the audit actor
    adopted_on: Mapped[dt.date | None] = mapped_column(Date)  #: the date of the decision
    adopted_by: Mapped[str] = mapped_column(String(300), default="")  #: the body: kommunedirektøren, a committee
    case_number: Mapped[str] = mapped_column(String(64), default="")  #: saksnummer
    adopted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)  #: when HR recorded the adoption
    adopted_recorded_by: Mapped[str] = mapped_column(String(254), default="")
    content: Mapped[dict[str, Any] | None] = mapped_column(Json)
    sha256: Mapped[str | None] = mapped_column(String(64))


class PlanConsultation(Base):
    """The consultation meeting (drøftingsmøte) on a version: when, the minutes (protokoll) as text or
    a PDF, and the hash of the plan as it was discussed."""

    __tablename__ = "plan_consultation"
    __table_args__ = (UniqueConstraint("version_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("plan_version.id"))
    meeting_on: Mapped[dt.date] = mapped_column(Date)
    minutes_text: Mapped[str] = mapped_column(Text, default="")
    #: in the database, so every web process serves the same file
    minutes_pdf: Mapped[bytes | None] = mapped_column(LargeBinary)
    minutes_filename: Mapped[str] = mapped_column(String(200), default="")
    plan_sha256: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    recorded_by: Mapped[str] = mapped_column(String(254))


class ConsultationParticipant(Base):
    """Someone at the consultation meeting: a union representative (``union`` names the union) or one
    of the employer's side (``union`` empty)."""

    __tablename__ = "consultation_participant"

    id: Mapped[int] = mapped_column(primary_key=True)
    consultation_id: Mapped[int] = mapped_column(ForeignKey("plan_consultation.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    union: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(200), default="")


class UnionStatement(Base):
    """A union's position on the plan as the minutes record it."""

    __tablename__ = "union_statement"

    id: Mapped[int] = mapped_column(primary_key=True)
    consultation_id: Mapped[int] = mapped_column(ForeignKey("plan_consultation.id"), index=True)
    position_order: Mapped[int] = mapped_column(Integer)
    union: Mapped[str] = mapped_column(String(200))
    position: Mapped[UnionPosition] = mapped_column(TextEnum(UnionPosition, 16))
    comment: Mapped[str] = mapped_column(Text, default="")


# --- notifications ------------------------------------------------------------------------------


class Notification(Base):
    """An outbox row: template + context, rendered when sent. The idempotency key is unique.

    An email and an SMS of the same event are two rows (the SMS key ends in ``:sms``), so each has its
    own attempts, retries and failure."""

    __tablename__ = "notification"
    __table_args__ = (
        UniqueConstraint("idempotency_key"),
        Index("ix_notification_due", "state", "not_before"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(200))
    recipient_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"), index=True)
    to_email: Mapped[str] = mapped_column(String(254))  #: for an SMS: the recipient's email, to tell who it was
    channel: Mapped[NotificationChannel] = mapped_column(
        TextEnum(NotificationChannel, 8), default=NotificationChannel.EMAIL
    )
    to_phone: Mapped[str | None] = mapped_column(String(20))  #: an SMS's number (E.164), as queued
    language: Mapped[Language] = mapped_column(TextEnum(Language, 8))
    template: Mapped[str] = mapped_column(String(64))
    context: Mapped[dict[str, Any]] = mapped_column(Json)
    state: Mapped[NotificationState] = mapped_column(TextEnum(NotificationState, 16))
    not_before: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    claim_token: Mapped[str | None] = mapped_column(String(64))
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    provider_message_id: Mapped[str | None] = mapped_column(String(200))
    last_error: Mapped[str | None] = mapped_column(Text)
    subject: Mapped[str | None] = mapped_column(Text)  #: as rendered, kept for the local outbox
    body_text: Mapped[str | None] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text)
    #: as sent, for the local outbox: [{"filename", "content_type", "content_base64"}]
    attachments: Mapped[list[dict[str, str]] | None] = mapped_column(Json)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class NotificationAttempt(Base):
    __tablename__ = "notification_attempt"

    id: Mapped[int] = mapped_column(primary_key=True)
    notification_id: Mapped[int] = mapped_column(ForeignKey("notification.id"), index=True)
    attempted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    outcome: Mapped[str] = mapped_column(String(32))  #: sent / retry / failed
    status_code: Mapped[int | None] = mapped_column(Integer)
    detail: Mapped[str] = mapped_column(Text, default="")


# --- audit and HR access ------------------------------------------------------------------------


class AuditEvent(Base):
    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    occurred_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    actor: Mapped[str] = mapped_column(String(254))  #: "person:12", "system", "cli"
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str] = mapped_column(String(64))
    object_id: Mapped[str] = mapped_column(String(64))
    before: Mapped[dict[str, Any] | None] = mapped_column(Json)
    after: Mapped[dict[str, Any] | None] = mapped_column(Json)


class HrCredential(Base):
    __tablename__ = "hr_credential"

    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), primary_key=True)
    password_hash: Mapped[str] = mapped_column(String(200))


class ApiToken(Base):
    __tablename__ = "api_token"
    __table_args__ = (UniqueConstraint("token_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    token_hash: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)  #: None only for tokens made before expiry
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)  #: to the minute


class HrSession(Base):
    """A signed-in browser: HR's (password or single sign-on), or anyone's through single sign-on. The
    cookie carries the random id; only its SHA-256 is kept here, so signing out (``ended_at``) or
    idling ends the cookie on the server, whatever the browser keeps. ``hr_grant`` says whether, and
    why, it may use HR's pages."""

    __tablename__ = "hr_session"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    last_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)  #: to the minute
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    via: Mapped[SignedInVia] = mapped_column(TextEnum(SignedInVia, 16), default=SignedInVia.PASSWORD)
    hr_grant: Mapped[HrGrant] = mapped_column(TextEnum(HrGrant, 16), default=HrGrant.ROLE)


class PersonIdentity(Base):
    """A person's account at the identity provider: the provider's immutable subject id, stored at
    their first single sign-on (matched by email then), so later sign-ins match by it alone."""

    __tablename__ = "person_identity"
    __table_args__ = (UniqueConstraint("issuer", "subject"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    issuer: Mapped[str] = mapped_column(String(500))
    subject: Mapped[str] = mapped_column(String(255))
    linked_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    last_sign_in_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class LimitCounter(Base):
    """A fixed-window counter of one limit (``scope``) for one key (an account, a client address),
    shared by every process. Keys are stored as SHA-256, so no address or email is kept in clear;
    rows whose window has passed are deleted as new ones are counted."""

    __tablename__ = "limit_counter"

    scope: Mapped[str] = mapped_column(String(32), primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    window_start: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    hits: Mapped[int] = mapped_column(Integer, default=0)


# --- SMS --------------------------------------------------------------------------------------------


class SmsSetting(Base):
    """The organisation's choice, per message kind (template), of SMS with or instead of the email.
    A kind without a row goes by email only."""

    __tablename__ = "sms_setting"

    template: Mapped[str] = mapped_column(String(64), primary_key=True)
    mode: Mapped[SmsMode] = mapped_column(TextEnum(SmsMode, 16))


class ShortLink(Base):
    """``/s/{code}``: a short address for one task link (the task, its assignee and link version), for
    SMS. It leads where the task link leads, so it dies with that link: on reassignment or revocation
    (a new link version) and when the task's own link stops working."""

    __tablename__ = "short_link"
    __table_args__ = (UniqueConstraint("task_id", "assignee_id", "link_version"),)

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("human_task.id"))
    assignee_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    link_version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


# --- SCIM provisioning --------------------------------------------------------------------------------


class ScimUser(Base):
    """A SCIM User as its client (Entra ID, an HR system) last wrote it, and the person it keeps.

    ``resource`` holds the resource's attributes as written, so the client reads back what it sent; the
    columns beside it are what filters and uniqueness need. ``person_id`` is set once the user has what a
    person needs (an email address and a unit); until then the user exists only here."""

    __tablename__ = "scim_user"
    __table_args__ = (UniqueConstraint("id"), UniqueConstraint("user_name_key"), UniqueConstraint("person_id"))

    seq: Mapped[int] = mapped_column(primary_key=True)  #: creation order: lists page in it
    id: Mapped[str] = mapped_column(String(36))  #: the SCIM id (a UUID)
    user_name: Mapped[str] = mapped_column(String(254))
    user_name_key: Mapped[str] = mapped_column(String(254))  #: lower-case: userName is unique without case
    external_id: Mapped[str | None] = mapped_column(String(254), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    resource: Mapped[dict[str, Any]] = mapped_column(Json)
    version: Mapped[int] = mapped_column(Integer, default=1)  #: the ETag
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class ScimGroup(Base):
    """A SCIM Group, which is a unit of the organisation; its members are the unit's people."""

    __tablename__ = "scim_group"
    __table_args__ = (UniqueConstraint("id"), UniqueConstraint("unit_id"))

    seq: Mapped[int] = mapped_column(primary_key=True)  #: creation order: lists page in it
    id: Mapped[str] = mapped_column(String(36))  #: the SCIM id (a UUID)
    display_name: Mapped[str] = mapped_column(String(200))
    display_name_key: Mapped[str] = mapped_column(String(200), index=True)
    external_id: Mapped[str | None] = mapped_column(String(254), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"))
    #: the ``leader`` and ``parent`` references of the resource, for lookups
    leader_user_id: Mapped[str | None] = mapped_column(String(36), index=True)
    parent_group_id: Mapped[str | None] = mapped_column(String(36), index=True)
    resource: Mapped[dict[str, Any]] = mapped_column(Json)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class ScimMember(Base):
    """Who is a member of which SCIM group, kept beside the groups' resources for lookups both ways."""

    __tablename__ = "scim_member"

    group_id: Mapped[str] = mapped_column(ForeignKey("scim_group.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("scim_user.id", ondelete="CASCADE"), primary_key=True, index=True)


class ScimToken(Base):
    """A bearer token of a SCIM client, stored as its SHA-256 like HR's API tokens."""

    __tablename__ = "scim_token"
    __table_args__ = (UniqueConstraint("token_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


# --- state shared by every process (web processes, Prefect workers) -----------------------------


class RateLimitBucket(Base):
    """A token bucket of one rate limit for one key (a client address, an email address ...).

    The key is a hash of the limit's name and the value, so no address is stored in clear. Times are
    seconds since the epoch: the arithmetic happens in one UPSERT on both databases. A row whose bucket
    has refilled (``full_at``) holds nothing a new row would not, and is deleted.
    """

    __tablename__ = "rate_limit_bucket"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    tokens: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)
    full_at: Mapped[float] = mapped_column(Float, index=True)
    allowed: Mapped[bool] = mapped_column(Boolean)  #: whether the last request took a token


class TriggerGeneration(Base):
    """How many runs of a kind of work (one cycle's advance, the dispatcher) have begun to read the data.

    A trigger asks Prefect for the run with the idempotency key ``{key}:{entered}:{nonce}``: every trigger
    until the next run begins gets the same pending run, so a burst of submissions makes one run, not one
    each. The nonce is new with every generation, so a database restored from a backup does not ask for
    the runs its counter already had before.
    """

    __tablename__ = "trigger_generation"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    entered: Mapped[int] = mapped_column(Integer, default=0)
    nonce: Mapped[str] = mapped_column(String(32))


class UnassignableTask(Base):
    """A task the last advance of a cycle could not give to anyone (a unit without a leader ...); HR sees
    them on the board and in the advance's Prefect artifact."""

    __tablename__ = "unassignable_task"

    cycle_id: Mapped[int] = mapped_column(ForeignKey("cycle.id"), primary_key=True)
    natural_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"))
    step_key: Mapped[str] = mapped_column(String(64))
    part_key: Mapped[str] = mapped_column(String(64))
    noticed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
