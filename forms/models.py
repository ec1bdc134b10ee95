"""The forms of the cycle, one Pydantic model each: the single source of truth for fields and rules.

The web form and the JSON API are both built from these models: labels are the field titles
(English message ids, translated through the gettext catalogues), limits come from the field
constraints, and rules over several fields live in ``problems``. Rows that carry an ``id`` point at
an item an earlier version of the same form created, so ids stay stable across amendments.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import Field

from aarshjul.domain.enums import CompetenceKind, CompetenceStrategy, CostKind, FundingSource, LearningForm
from forms.fields import (
    HIDDEN,
    MAX_ITEMS,
    AreaRef,
    FormModel,
    FormProblem,
    FormRules,
    Level,
    MainGoalRef,
    MeasureRef,
    Money,
    NeedRef,
    OptionalText,
    OptionalTitle,
    PeriodDate,
    PeriodYear,
    RefKind,
    Text,
    Title,
    UnitGoalRef,
    UpcomingDate,
    duplicates,
)


class MeasureDecision(StrEnum):
    """HR's answer to a measure proposal."""

    APPROVE = "approve"  #: the measure goes into the competence plan
    RETURN = "return"  #: back to the unit leader with a comment, to amend


class Agreement(StrEnum):
    """The employee's answer to the leader's record of the talk."""

    AGREE = "agree"
    COMMENT = "comment"  #: the employee adds a comment (disagrees or adds something)


class CriteriaMet(StrEnum):
    """Whether a measure met its success criteria."""

    YES = "yes"
    PARTLY = "partly"
    NO = "no"


class NextStep(StrEnum):
    """What happens to a measure after its evaluation."""

    CONTINUE = "continue"
    ADJUST = "adjust"
    STOP = "stop"


def _rows(kind: str, key: str) -> dict[str, Any]:
    """A list with exactly one row per valid item of ``kind``, the row's ``key`` field naming it."""
    return {"x-rows": kind, "x-row-key": key}


def _every_choice(rows: list[Any], key: str, kind: str, rules: FormRules, list_name: str) -> list[FormProblem]:
    keys = [getattr(r, key) for r in rows]
    problems = [FormProblem((list_name, i, key), "duplicate_choice") for i in duplicates(keys)]
    missing = rules.choices.get(kind, frozenset()) - {getattr(r, key) for r in rows}
    if missing:
        problems.append(FormProblem((list_name,), "every_choice_needed", {"missing": len(missing)}))
    return problems


# --- 1. strategy review -------------------------------------------------------------------------


class GoalReview(FormModel):
    strategic_goal_id: MainGoalRef = Field(title="Strategic main goal")
    meaning: Text = Field(title="What the goal means for the unit")
    relevance: Level = Field(title="How strongly it bears on the unit", description="1 = hardly, 5 = very strongly")
    comment: OptionalText = Field(default="", title="Comments on the strategy")


class StrategyReviewForm(FormModel):
    """Step 1: how each strategic main goal bears on the unit."""

    goals: list[GoalReview] = Field(
        title="The strategic main goals",
        min_length=1,
        max_length=MAX_ITEMS,
        json_schema_extra=_rows(RefKind.MAIN_GOAL, "strategic_goal_id"),
    )
    overall_comment: OptionalText = Field(default="", title="Other comments on the strategy")

    def problems(self, rules: FormRules) -> list[FormProblem]:
        return _every_choice(self.goals, "strategic_goal_id", RefKind.MAIN_GOAL, rules, "goals")


# --- 2. unit goals ------------------------------------------------------------------------------


class UnitGoalItem(FormModel):
    id: UnitGoalRef | None = Field(default=None, json_schema_extra=HIDDEN)
    strategic_goal_id: MainGoalRef = Field(title="Strategic main goal it serves")
    title: Title = Field(title="The unit's goal")
    priority: int = Field(title="Priority", description="1 is the most important", ge=1, le=MAX_ITEMS)
    indicator: Text = Field(title="Indicator of success")
    target: Text = Field(title="Target")


class UnitGoalsForm(FormModel):
    """Step 2: the unit's own goals, each tied to a main goal, prioritised, with indicator and target."""

    goals: list[UnitGoalItem] = Field(title="The unit's goals", min_length=1, max_length=MAX_ITEMS)

    def problems(self, rules: FormRules) -> list[FormProblem]:
        found = [FormProblem(("goals", i, "id"), "duplicate_choice") for i in duplicates([g.id for g in self.goals])]
        found += [
            FormProblem(("goals", i, "priority"), "duplicate_priority")
            for i in duplicates([g.priority for g in self.goals])
        ]
        return found


# --- 3. action plan -----------------------------------------------------------------------------


class ActionItem(FormModel):
    unit_goal_id: UnitGoalRef = Field(title="Unit goal")
    action: Text = Field(title="Action")
    owner: Title = Field(title="Who is responsible")
    starts_on: PeriodDate = Field(title="Starts")
    ends_on: PeriodDate = Field(title="Done by")


class ActionPlanForm(FormModel):
    """Step 3: the unit's chosen actions per goal, with owner and timing."""

    actions: list[ActionItem] = Field(title="Actions", min_length=1, max_length=MAX_ITEMS)

    def problems(self, rules: FormRules) -> list[FormProblem]:
        return [
            FormProblem(("actions", i, "ends_on"), "end_before_start")
            for i, a in enumerate(self.actions)
            if a.ends_on < a.starts_on
        ]


# --- 4. critical-needs mapping -----------------------------------------------------------------


class NeedItem(FormModel):
    id: NeedRef | None = Field(default=None, json_schema_extra=HIDDEN)
    unit_goal_id: UnitGoalRef = Field(title="Unit goal it serves")
    title: Title = Field(title="Critical competence")
    kind: CompetenceKind = Field(title="Kind of competence")
    competence_area_id: AreaRef | None = Field(default=None, title="Competence area")
    level_needed: Level = Field(title="Level needed", description="1 = basic, 5 = expert")
    level_today: int = Field(title="Level today", description="0 = not there at all, 5 = expert", ge=0, le=5)
    passive_competence: OptionalText = Field(
        default="",
        title="Where it exists but is not in use",
        description="Passive competence in the unit or elsewhere in the organisation",
    )
    strategy: CompetenceStrategy = Field(title="Strategy", description="Mobilise first: use what exists")


class NeedsMappingForm(FormModel):
    """Step 4: the competence discussion with the team, from the unit's goals to critical needs."""

    needs: list[NeedItem] = Field(title="Critical competence needs", min_length=1, max_length=MAX_ITEMS)
    notes: OptionalText = Field(default="", title="Notes from the discussion with the team")

    def problems(self, rules: FormRules) -> list[FormProblem]:
        found = [FormProblem(("needs", i, "id"), "duplicate_choice") for i in duplicates([n.id for n in self.needs])]
        for i, need in enumerate(self.needs):
            # Mobilising means putting competence that exists to use, so say where it exists.
            if need.strategy is CompetenceStrategy.MOBILISE and not need.passive_competence:
                found.append(FormProblem(("needs", i, "passive_competence"), "passive_needed"))
        return found


# --- 5. measure proposal and HR approval --------------------------------------------------------


class MeasureItem(FormModel):
    id: MeasureRef | None = Field(default=None, json_schema_extra=HIDDEN)
    critical_need_id: NeedRef = Field(title="Critical need it answers")
    title: Title = Field(title="Measure")
    target_group: Text = Field(title="Who it is for")
    desired_effect: Text = Field(title="Desired effect", description="What should be different when it has worked?")
    success_criteria: Text = Field(title="Success criteria")
    learning_goals: Text = Field(title="Concrete learning goals")
    learning_form: LearningForm = Field(title="Learning form")
    form_and_content: Text = Field(title="Form and content")
    evaluation_method: Text = Field(title="How it will be evaluated")
    starts_on: PeriodDate = Field(title="Starts")
    evaluate_on: PeriodDate = Field(title="Evaluation date", description="After the start, within the period")
    first_year: PeriodYear = Field(title="First year")
    last_year: PeriodYear = Field(title="Last year")
    cost_course_fees: Money | None = Field(default=None, title="Course fees per year (NOK)")
    cost_travel: Money | None = Field(default=None, title="Travel per year (NOK)")
    cost_substitute_cover: Money | None = Field(
        default=None, title="Substitute cover per year (NOK)", description="Vikarutgifter while people take part"
    )
    cost_internal_hours: Money | None = Field(
        default=None, title="Internal hours per year (NOK)", description="What the time of your own people costs"
    )
    funding: FundingSource | None = Field(
        default=None, title="Funding", description="Leave it empty if the measure has no funding yet"
    )
    funding_scheme: OptionalTitle = Field(
        default="", title="Grant scheme", description="When it is a grant: for example Kompetanseløftet"
    )

    def yearly_amounts(self) -> dict[CostKind, Decimal]:
        """The estimate per year, by kind of cost."""
        given = {
            CostKind.COURSE_FEES: self.cost_course_fees,
            CostKind.TRAVEL: self.cost_travel,
            CostKind.SUBSTITUTE_COVER: self.cost_substitute_cover,
            CostKind.INTERNAL_HOURS: self.cost_internal_hours,
        }
        return {kind: amount for kind, amount in given.items() if amount}


class MeasureProposalForm(FormModel):
    """Step 5: measures, each described by the lecture's template and tied to a critical need."""

    measures: list[MeasureItem] = Field(title="Proposed measures", min_length=1, max_length=MAX_ITEMS)

    def problems(self, rules: FormRules) -> list[FormProblem]:
        found = [
            FormProblem(("measures", i, "id"), "duplicate_choice") for i in duplicates([m.id for m in self.measures])
        ]
        for i, m in enumerate(self.measures):
            if m.last_year < m.first_year:
                found.append(FormProblem(("measures", i, "last_year"), "end_before_start"))
            elif not m.first_year <= m.starts_on.year <= m.last_year:
                found.append(FormProblem(("measures", i, "starts_on"), "start_outside_years"))
            if m.evaluate_on <= m.starts_on:
                found.append(FormProblem(("measures", i, "evaluate_on"), "evaluation_before_start"))
            if m.funding is FundingSource.GRANT and not m.funding_scheme:
                found.append(FormProblem(("measures", i, "funding_scheme"), "scheme_needed"))
        return found


class MeasureApprovalForm(FormModel):
    """HR's decision on one revision of one proposed measure."""

    decision: MeasureDecision = Field(title="Decision")
    comment: OptionalText = Field(default="", title="Comment to the unit leader", description="Required when returning")

    def problems(self, rules: FormRules) -> list[FormProblem]:
        if self.decision is MeasureDecision.RETURN and not self.comment:
            return [FormProblem(("comment",), "comment_required")]
        return []


# --- 6. the talk: preparation, record, confirmation ----------------------------------------------


class SelfAssessment(FormModel):
    critical_need_id: NeedRef = Field(title="Critical need")
    mastery: Level = Field(title="My mastery today", description="1 = beginner, 5 = can teach others")
    comment: OptionalText = Field(default="", title="Comment")


class TalkPreparationForm(FormModel):
    """The employee's preparation; they choose what of it their leader sees before the talk."""

    self_assessment: list[SelfAssessment] = Field(
        default_factory=list,
        title="My mastery of the unit's critical needs",
        max_length=MAX_ITEMS,
        json_schema_extra=_rows(RefKind.CRITICAL_NEED, "critical_need_id"),
    )
    unused_competence: OptionalText = Field(default="", title="Competence I have that is not in use")
    development_wishes: Text = Field(title="My development wishes")
    share_self_assessment: bool = Field(default=False, title="My leader may see my self-assessment before the talk")
    share_unused_competence: bool = Field(
        default=False, title="My leader may see my competence not in use before the talk"
    )
    share_wishes: bool = Field(default=False, title="My leader may see my development wishes before the talk")

    def problems(self, rules: FormRules) -> list[FormProblem]:
        return _every_choice(self.self_assessment, "critical_need_id", RefKind.CRITICAL_NEED, rules, "self_assessment")

    def shared_with_leader(self) -> dict[str, Any]:
        """The parts the employee chose to show their leader before the talk."""
        shared: dict[str, Any] = {}
        if self.share_self_assessment:
            shared["self_assessment"] = [a.model_dump(mode="json") for a in self.self_assessment]
        if self.share_unused_competence:
            shared["unused_competence"] = self.unused_competence
        if self.share_wishes:
            shared["development_wishes"] = self.development_wishes
        return shared


class PlanItem(FormModel):
    activity: Text = Field(title="Agreed development activity")
    critical_need_id: NeedRef | None = Field(default=None, title="Critical need")
    measure_id: MeasureRef | None = Field(default=None, title="Measure")


class FollowUp(FormModel):
    on: UpcomingDate = Field(title="Follow-up date")
    note: OptionalText = Field(default="", title="What to follow up")


@dataclass(frozen=True)
class TalkSlot:
    """When and where a talk is held, as aware datetimes."""

    starts_at: dt.datetime
    ends_at: dt.datetime
    place: str


_WHEN: dict[str, Any] = {"x-section": "When the talk is held"}
#: The fields of the talk's time, in the order they are shown.
TALK_TIME_FIELDS = ("talk_on", "talk_at", "talk_minutes", "talk_place")


class TalkTime(FormModel):
    """The agreed time of a talk. It lives on the leader's record because the leader books the talk
    (the record task opens once the employee has prepared): they save it as a draft before the talk,
    both people get a calendar invitation, and they fill in the rest after the talk."""

    talk_on: dt.date | None = Field(default=None, title="Date of the talk", json_schema_extra=_WHEN)
    talk_at: dt.time | None = Field(
        default=None, title="Starts at", description="Norwegian time, for example 09:30", json_schema_extra=_WHEN
    )
    talk_minutes: int | None = Field(default=None, title="Length in minutes", ge=15, le=480, json_schema_extra=_WHEN)
    talk_place: OptionalTitle = Field(
        default="", title="Place", description="A room, an address or a video link", json_schema_extra=_WHEN
    )

    def problems(self, rules: FormRules) -> list[FormProblem]:
        """Date, time and length go together: a time without a date cannot be put in a calendar."""
        given = {"talk_on": self.talk_on, "talk_at": self.talk_at, "talk_minutes": self.talk_minutes}
        if all(v is None for v in given.values()) and not self.talk_place:
            return []
        return [FormProblem((name,), "missing") for name, value in given.items() if value is None]

    def slot(self, zone: ZoneInfo) -> TalkSlot | None:
        if self.talk_on is None or self.talk_at is None or self.talk_minutes is None:
            return None
        starts = dt.datetime.combine(self.talk_on, self.talk_at.replace(tzinfo=None), tzinfo=zone)
        return TalkSlot(starts, starts + dt.timedelta(minutes=self.talk_minutes), self.talk_place)


class TalkRecordForm(TalkTime):
    """The leader's record of the talk: plan tied to the unit's needs and measures, mastery, feedback;
    first, the agreed time of the talk (``TalkTime``)."""

    mastery_level: Level = Field(title="Mastery level", description="1 = beginner, 5 = can teach others")
    feedback: Text = Field(title="Feedback")
    development_plan: list[PlanItem] = Field(title="Agreed development plan", min_length=1, max_length=MAX_ITEMS)
    follow_ups: list[FollowUp] = Field(title="Follow-up dates", min_length=1, max_length=MAX_ITEMS)

    def problems(self, rules: FormRules) -> list[FormProblem]:
        return super().problems(rules) + [
            FormProblem(("development_plan", i, "critical_need_id"), "tie_needed")
            for i, item in enumerate(self.development_plan)
            if item.critical_need_id is None and item.measure_id is None
        ]


class TalkConfirmationForm(FormModel):
    """The employee's confirmation of the leader's record."""

    agreement: Agreement = Field(title="The record of the talk")
    comment: OptionalText = Field(default="", title="My comment", description="Required if you add a comment")

    def problems(self, rules: FormRules) -> list[FormProblem]:
        if self.agreement is Agreement.COMMENT and not self.comment:
            return [FormProblem(("comment",), "comment_required")]
        return []


# --- 7. goal breakdown --------------------------------------------------------------------------


class IndividualGoal(FormModel):
    unit_goal_id: UnitGoalRef = Field(title="Unit goal")
    goal: Title = Field(title="Individual goal")
    success_measure: Text = Field(title="How we will know it is reached")
    due_on: PeriodDate = Field(title="Reached by")


class GoalBreakdownForm(FormModel):
    """The employee's individual goals, each tied to a goal of the unit."""

    goals: list[IndividualGoal] = Field(title="Individual goals", min_length=1, max_length=MAX_ITEMS)


class GoalAcknowledgementForm(FormModel):
    """The employee acknowledges their individual goals."""

    acknowledged: bool = Field(default=False, title="I have read and acknowledge my individual goals")
    comment: OptionalText = Field(default="", title="Comment")

    def problems(self, rules: FormRules) -> list[FormProblem]:
        return [] if self.acknowledged else [FormProblem(("acknowledged",), "must_acknowledge")]


# --- 8. measure evaluation ----------------------------------------------------------------------


class MeasureEvaluationForm(FormModel):
    """An approved measure against its success criteria, on Kirkpatrick's four levels."""

    reaction: Text = Field(title="Reaction", description="Level 1: how did the participants take it?")
    learning: Text = Field(title="Learning", description="Level 2: what did they learn?")
    behaviour: Text = Field(title="Behaviour in work", description="Level 3: what do they do differently at work?")
    results: Text = Field(title="Results for the unit goal", description="Level 4: what did it do for the goal?")
    criteria_met: CriteriaMet = Field(title="Were the success criteria met?")
    next_step: NextStep = Field(title="What next")
    next_step_note: OptionalText = Field(default="", title="What to change", description="Required when adjusting")
    cost_spent: Money | None = Field(
        default=None, title="Cost spent so far (NOK)", description="What the measure has cost, where you know it"
    )

    def problems(self, rules: FormRules) -> list[FormProblem]:
        if self.next_step is NextStep.ADJUST and not self.next_step_note:
            return [FormProblem(("next_step_note",), "comment_required")]
        return []


# --- 9. follow-up of the talk's development plan ------------------------------------------------


class TalkFollowUpForm(FormModel):
    """The leader's follow-up, on a date agreed in the talk, of the development plan agreed there."""

    plan_progress: Text = Field(title="How the agreed development plan is going")
    done_since: Text = Field(title="What has been done since the talk")
    support_needed: OptionalText = Field(
        default="", title="Support the employee needs", description="From you, the unit or others"
    )
    next_step: Text = Field(title="Next step", description="What you agreed to do next, and by when")
