"""What each form says before its fields: what the step is for and what a good answer looks like, and
for the leader's talk forms a talk guide (the lecture's leader as competence developer).

English message ids, translated through the forms catalogue; drawn from the lecture and the domain
notes (docs/architecture.md names them)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from aarshjul.domain.enums import FormKey


@dataclass(frozen=True)
class Guidance:
    purpose: str  #: what the step is for
    good_answer: str  #: what a good answer looks like


GUIDANCE: Mapping[FormKey, Guidance] = {
    FormKey.STRATEGY_REVIEW: Guidance(
        "The strategy is where the year starts. Read each strategic main goal and say what it means for your "
        "unit: what it asks of you, and how strongly it bears on your work.",
        "A good answer is concrete: it names the services, tasks or people the goal touches in your unit "
        "instead of repeating the goal. Questions and disagreement belong in the comments; they go back to "
        "the strategy work.",
    ),
    FormKey.UNIT_GOALS: Guidance(
        "Here the unit turns the strategy into goals of its own: a few, in order of priority, each serving a "
        "main goal (and, under a sector, a goal of the unit above). The competences each goal calls for "
        "decide what the employees' competence mapping asks about.",
        "A good goal says what will be different for the people you serve, with an indicator you can "
        "actually follow and a target. Three to five goals are usually enough; priority 1 is the one you "
        "would keep if you could keep only one.",
    ),
    FormKey.ACTION_PLAN: Guidance(
        "The actions the unit chooses to reach its goals, each with someone responsible and a time.",
        "A good action is something someone can start on: one person responsible, a start and a done-by "
        "date, tied to the goal it serves.",
    ),
    FormKey.COMPETENCE_MAPPING: Guidance(
        "Before the unit decides what competence it needs, everyone describes what they can do. Assess how "
        "well you master the competence the unit's goals call for, and tell what you know that is not in "
        "use here. Your leader sees how many people are at each level, never your answers, and nothing at "
        "all when fewer than five people have answered.",
        "Answer as you see yourself today: the scale describes what you can do, it is not a grade. Mention "
        "competence from earlier jobs, education or life outside work; competence that is not in use is the "
        "first place the unit looks before it develops or buys new.",
    ),
    FormKey.NEEDS_MAPPING: Guidance(
        "The competence discussion: from the unit's goals to the competence that is critical for reaching "
        "them. For each need, give the level needed and the level today, say where the competence already "
        "exists, and which strategy answers it: mobilise, develop, acquire or phase out.",
        "Start from the employees' own mapping and the competence they have shared, shown above. Mobilise "
        "first: if the competence exists in the unit or elsewhere, put it to use before buying a course. "
        "Choose the competence from the catalogue so that needs add up across units.",
    ),
    FormKey.MEASURE_PROPOSAL: Guidance(
        "The unit's proposals for competence measures. Each answers one critical need and is described as "
        "the competence plan describes it: desired effect, success criteria, learning goals, form and "
        "content, and how it will be evaluated. HR approves or returns each one.",
        "A good proposal says what should be different when it has worked and how you will know. The "
        "workplace is the main learning arena: mentoring, sharing and everyday learning stand beside "
        "courses.",
    ),
    FormKey.MEASURE_APPROVAL: Guidance(
        "HR's decision on a proposed measure: approve it into the competence plan, or return it to the unit "
        "leader with a comment.",
        "Check the chain: the measure answers a critical need, which serves a unit goal and a main goal. "
        "When you return a measure, say what has to change.",
    ),
    FormKey.TALK_PREPARATION: Guidance(
        "Your preparation for the goal and development talk. Your development is your responsibility too: "
        "think through how well you master what the unit needs, what you can do that is not in use, and "
        "what you want to learn. You choose what your leader sees before the talk.",
        "Be specific: name situations where something goes well or is hard. Wishes that connect to the "
        "unit's needs are the easiest to agree on, but say what you want also when they do not.",
    ),
    FormKey.TALK_RECORD: Guidance(
        "Your record of the goal and development talk: how the employee masters the unit's critical needs "
        "and what would help, your feedback, the development plan you agreed and when you will follow it up.",
        "Describe mastery need by need as what the employee can do today: it is not a grade, and nobody "
        "compares people by it. A good development plan is tied to the unit's needs, uses everyday learning "
        "at work and has follow-up dates you will keep.",
    ),
    FormKey.TALK_CONFIRMATION: Guidance(
        "Read your leader's record of your talk. Confirm it, or add a comment if something is missing or "
        "you see it differently.",
        "If you see it differently, say so in your own words: the comment is kept with the record.",
    ),
    FormKey.GOAL_BREAKDOWN: Guidance(
        "The employee's individual goals for the year, each tied to a goal of the unit.",
        "Good individual goals are few and within the employee's reach, with a way to know they are reached "
        "and a date. They carry the unit's goals into one person's work.",
    ),
    FormKey.GOAL_ACKNOWLEDGEMENT: Guidance(
        "Your individual goals for the year, as your leader wrote them after the talk. Acknowledge that you "
        "have read them.",
        "If a goal is unclear or out of reach, say so in the comment; your leader reads it.",
    ),
    FormKey.MEASURE_EVALUATION: Guidance(
        "The evaluation of a measure against its success criteria. The participants' reaction and learning "
        "(levels 1 and 2) come from the participants themselves; you judge what they do differently at work "
        "and what it did for the unit goal (levels 3 and 4).",
        "Tie your answer to the success criteria, and say what to continue, change or stop. A measure that "
        "runs for several years is evaluated each year.",
    ),
    FormKey.MEASURE_FEEDBACK: Guidance(
        "A short survey about a competence measure you took part in. Your answers help decide whether it "
        "continues, changes or stops.",
        "Answer as it was for you. The owner of the measure sees the answers only added up, with at least "
        "four others and without names, once the survey has closed.",
    ),
    FormKey.TALK_FOLLOW_UP: Guidance(
        "The follow-up of the development plan agreed in the talk. Leaders who cultivate learning follow "
        "the plans up during the year, not only in the yearly talk.",
        "Talk with the employee first. Say what has actually been done and what support they need from "
        "you, and agree the next step with a date.",
    ),
}

#: The leader as competence developer (the lecture), as a guide for the leader's talk forms.
TALK_GUIDE_FORMS = frozenset({FormKey.TALK_RECORD, FormKey.TALK_FOLLOW_UP})
TALK_GUIDE: tuple[str, ...] = (
    "Be a sparring partner: ask more than you tell, and listen to how the employee sees it.",
    "Assess mastery need by need as what the employee can do today, never as a grade or against others.",
    "Give concrete feedback on what goes well and on what can be developed.",
    "Clarify the competence the unit needs, and reconcile it with the employee's own wishes.",
    "Agree a development plan tied to the unit's needs, with dates you will follow up.",
    "Take part in the employee's learning: what can you do, and who can they learn from?",
    "Use the right methods: everyday learning at work, mentoring, sharing and rotation, not only courses.",
    "Ask about competence that is not in use: putting it to use matters as much as developing new.",
    "Build a mastery climate: learning and cooperation, being good on one's own terms, sharing what one knows.",
)
