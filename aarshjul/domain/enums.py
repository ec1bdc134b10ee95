"""The states and kinds the product talks about, as documented string enums.

They are stored as text in the database, so renaming a member is a data migration.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """What a person does in the competence cycle."""

    HR = "hr"  #: owns the cycle, approves measures, receives the last escalation
    LEADER = "leader"  #: leads a unit; fills its forms and holds the talks
    EMPLOYEE = "employee"  #: prepares and confirms their own talk, acknowledges goals


class HrGrant(StrEnum):
    """Why a signed-in browser may use HR's pages; fixed when the session starts."""

    NONE = "none"  #: signed in through the identity provider but not HR: their own tasks only
    ROLE = "role"  #: HR in the organisation's data (a password, or single sign-on with no HR group set)
    GROUP = "group"  #: in the identity provider's HR group (AARSHJUL_OIDC_HR_GROUP) when signing in


class SignedInVia(StrEnum):
    PASSWORD = "password"
    OIDC = "oidc"


class Language(StrEnum):
    """The languages the product speaks, bokmål first: the one list that language negotiation, the
    language links, the organisation file and the plan's reviewers all follow. A language is added here
    and as a folder of catalogues under aarshjul/presentation/locale/."""

    NB = "nb"
    NN = "nn"
    EN = "en"


class CycleState(StrEnum):
    """Where one year's cycle stands."""

    RUNNING = "running"  #: started; the advance flow opens steps as inputs complete
    CLOSED = "closed"  #: HR closed it; no new step tasks, evaluations live on
    CANCELLED = "cancelled"  #: stopped before completion; its year may be started again


class UnitStepState(StrEnum):
    """Where one unit stands on one step of a cycle."""

    WAITING = "waiting"  #: an input step is not done yet for this unit
    OPEN = "open"  #: tasks are out; not all are done
    DONE = "done"  #: every task of the step is submitted (and approved, for measures)
    SKIPPED = "skipped"  #: nothing to do here (for example talks in a unit without staff)


class TaskState(StrEnum):
    """Where one human task stands. A task belongs to one person and one step of one unit."""

    OPEN = "open"  #: waiting for its assignee; the link works and the form accepts input
    SUBMITTED = "submitted"  #: the assignee submitted; may still amend until the step closes
    RETURNED = "returned"  #: sent back (a measure proposal returned by HR); open for changes again
    CANCELLED = "cancelled"  #: no longer needed (reassigned away, cycle cancelled, person left)

    @property
    def is_actionable(self) -> bool:
        """True while the assignee is expected to act on the task."""
        return self in ACTIONABLE_TASK_STATES


class FormKey(StrEnum):
    """The forms of the product, as a cycle definition names them. Each has one model in ``forms/``."""

    STRATEGY_REVIEW = "strategy_review"  #: step 1: how each strategic main goal bears on the unit
    UNIT_GOALS = "unit_goals"  #: step 2: the unit's own goals
    ACTION_PLAN = "action_plan"  #: step 3: actions per goal
    NEEDS_MAPPING = "needs_mapping"  #: step 4: critical competence needs
    MEASURE_PROPOSAL = "measure_proposal"  #: step 5: the leader proposes measures
    MEASURE_APPROVAL = "measure_approval"  #: step 5: HR approves or returns one measure
    TALK_PREPARATION = "talk_preparation"  #: step 6: the employee prepares
    TALK_RECORD = "talk_record"  #: step 6: the leader records the talk
    TALK_CONFIRMATION = "talk_confirmation"  #: step 6: the employee confirms the record
    GOAL_BREAKDOWN = "goal_breakdown"  #: step 7: individual goals
    GOAL_ACKNOWLEDGEMENT = "goal_acknowledgement"  #: step 7: the employee acknowledges them
    MEASURE_EVALUATION = "measure_evaluation"  #: when an approved measure's evaluation date comes
    TALK_FOLLOW_UP = "talk_follow_up"  #: when a follow-up date agreed in the talk comes
    COMPETENCE_MAPPING = "competence_mapping"  #: before step 4: the employee's self-assessment of competence
    MEASURE_FEEDBACK = "measure_feedback"  #: a participant's reaction and learning when a measure's year ends


#: Forms whose content is personal to the employee of the talk and their leader.
TALK_FORMS = frozenset(
    {FormKey.TALK_PREPARATION, FormKey.TALK_RECORD, FormKey.TALK_CONFIRMATION, FormKey.TALK_FOLLOW_UP}
)


#: Forms whose content is personal to one employee: only the employee (and, for the talk, their leader)
#: opens them; everyone else sees that they were filled in, or an aggregate of at least five people.
PERSONAL_FORMS = TALK_FORMS | {FormKey.COMPETENCE_MAPPING, FormKey.MEASURE_FEEDBACK}


#: Forms whose input belongs to the person who wrote it: the employee decides what of their talk
#: preparation the leader sees, so a reassigned task's new assignee never sees its earlier versions.
PRIVATE_FORMS = frozenset({FormKey.TALK_PREPARATION, FormKey.COMPETENCE_MAPPING, FormKey.MEASURE_FEEDBACK})


#: The states in which a task waits for its assignee: reminded, escalated, reassignable.
ACTIONABLE_TASK_STATES = frozenset({TaskState.OPEN, TaskState.RETURNED})


class AssigneeRule(StrEnum):
    """Who a step part is given to, as written in the cycle definition."""

    UNIT_LEADER = "unit_leader"  #: one task per unit, to the unit's leader
    EACH_EMPLOYEE = "each_employee"  #: one task per direct report of the unit's leader
    LEADER_PER_EMPLOYEE = "leader_per_employee"  #: one task per direct report, to the leader
    HR = "hr"  #: one task to HR (per measure for approvals)


class PartScope(StrEnum):
    """What one task of a step part is about."""

    UNIT = "unit"  #: the unit as a whole
    EMPLOYEE = "employee"  #: one employee (talks, goal breakdown)
    MEASURE = "measure"  #: one proposed or approved measure


class MeasureState(StrEnum):
    """A competence measure's life from proposal to evaluation."""

    PROPOSED = "proposed"  #: submitted by the unit leader, waiting for HR
    APPROVED = "approved"  #: HR approved; appears in the competence plan
    RETURNED = "returned"  #: HR returned it with a comment; the leader amends it
    WITHDRAWN = "withdrawn"  #: removed by the leader in a later version of the proposal
    EVALUATED = "evaluated"  #: its evaluation has been submitted
    MERGED = "merged"  #: HR merged it with similar proposals into one organisation-wide measure


class MeasureScope(StrEnum):
    """Whose measure it is: a unit's answer to its own need, or HR's for the whole organisation."""

    UNIT = "unit"  #: proposed by a unit leader for a critical need of the unit; HR approves it
    ORGANISATION = "organisation"  #: HR's overarching measure (overordnet tiltak) for needs of one or more units


class PlanVersionState(StrEnum):
    """A version of the competence plan of a strategy period: draft → in consultation → adopted.

    The live plan is always the newest version that is not adopted; it is stored as a row from the
    moment it goes to consultation. An adopted version is a frozen snapshot; later changes make the
    next version, a draft."""

    DRAFT = "draft"  #: being worked on: the live plan
    IN_CONSULTATION = "in_consultation"  #: discussed (drøftet) with the union representatives
    ADOPTED = "adopted"  #: decided by the body named, with its case number; frozen


class CostKind(StrEnum):
    """What a measure's money goes to."""

    COURSE_FEES = "course_fees"  #: kursavgifter, fees to providers
    TRAVEL = "travel"  #: reise og opphold
    SUBSTITUTE_COVER = "substitute_cover"  #: vikarutgifter, often the largest part in health and care
    INTERNAL_HOURS = "internal_hours"  #: interne timer, the organisation's own people's time


class FundingSource(StrEnum):
    """Who pays for a cost line. Lines with no source yet are the plan's unfunded part."""

    OWN_BUDGET = "own_budget"  #: the unit's own budget
    CENTRAL_BUDGET = "central_budget"  #: the organisation's central competence budget
    GRANT = "grant"  #: a named grant scheme (Kompetanseløftet, Kompetansemidler, a county fund)
    OTHER = "other"
    UNFUNDED = "unfunded"  #: no source found yet


class UnionPosition(StrEnum):
    """A union's position on the plan in the consultation meeting, as the minutes record it."""

    AGREES = "agrees"
    DISAGREES = "disagrees"


class CompetenceStrategy(StrEnum):
    """The four Norwegian competence strategies (BUMA). Mobilisation comes first."""

    MOBILISE = "mobilise"  #: mobilisere: put existing (also passive) competence to use
    DEVELOP = "develop"  #: utvikle
    ACQUIRE = "acquire"  #: beskaffe: recruit or hire in
    PHASE_OUT = "phase_out"  #: avvikle: competence no longer needed


class CompetenceKind(StrEnum):
    """Parts of competence as the lecture defines it."""

    KNOWLEDGE = "knowledge"  #: kunnskaper
    SKILLS = "skills"  #: ferdigheter
    ABILITIES = "abilities"  #: evner
    ATTITUDES = "attitudes"  #: holdninger, interesser, verdier og motivasjon


class CompetenceType(StrEnum):
    """What a competence of the catalogue rests on (formal + informal = realkompetanse)."""

    FORMAL = "formal"  #: education, certificates, authorisation
    REAL = "realkompetanse"  #: informal competence from work and life, as it is recognised
    PERSONAL = "personal"  #: personal qualities: attitudes, ways of working with others


class MasteryLevel(StrEnum):
    """A described scale of how well someone masters a competence, lowest first. It describes what a
    person can do, for learning and planning; it is never a grade, and no page ranks people by it."""

    NEW = "new"  #: new to me: I need training before I can do it
    BASIC = "basic"  #: I can do it with guidance
    INDEPENDENT = "independent"  #: I do it on my own in everyday work
    PROFICIENT = "proficient"  #: I do it well, also in demanding situations
    TEACHES = "teaches"  #: I can guide others and teach it


class LearningForm(StrEnum):
    """How a measure makes people learn; on-the-job forms stand beside courses."""

    ON_THE_JOB = "on_the_job"  #: læring i arbeidet
    SMALL_LEARNING = "small_learning"  #: smålæring
    MENTORING = "mentoring"
    ROTATION = "rotation"
    SHARING = "sharing"  #: erfaringsdeling
    COURSE = "course"
    PROGRAMME = "programme"  #: utviklingsprogram
    EDUCATION = "education"  #: formell utdanning


class NotificationState(StrEnum):
    """An outbox row's life. Only PENDING rows are claimed by the dispatcher."""

    PENDING = "pending"  #: waiting for its time (or its next retry)
    SENDING = "sending"  #: claimed by a dispatcher; reclaimed if its claim runs out
    SENT = "sent"  #: the provider accepted it (or it was kept in the local outbox)
    FAILED = "failed"  #: permanently refused (for example a rejected address); shown to HR
    CANCELLED = "cancelled"  #: no longer relevant (the task it was about was reassigned)


class NotificationChannel(StrEnum):
    """How an outbox row reaches its recipient."""

    EMAIL = "email"
    SMS = "sms"


class SmsMode(StrEnum):
    """What an organisation chose for one kind of message; a kind not chosen goes by email only."""

    WITH_EMAIL = "with_email"  #: an SMS as well as the email
    INSTEAD_OF_EMAIL = "instead_of_email"  #: an SMS, and the email only to people without a mobile number


class AdvanceReason(StrEnum):
    """Why a cycle's advance was asked for; it names the Prefect run (``cycle-2027/after-submission``)."""

    AFTER_SUBMISSION = "after-submission"  #: a form was submitted
    AFTER_DECISION = "after-decision"  #: HR approved or returned a measure
    REQUESTED = "requested"  #: started by hand (the Prefect UI, ``prefect deployment run``, a test)
