"""Review of the draft competence plan by union representatives (tillitsvalgte).

The plan is discussed with the employees' organisations before it is settled, so HR invites reviewers
by name and email (they need not be in the organisation file). Each gets an emailed link, good for
``REVIEW_LINK_LIFETIME`` unless HR removes them first, to a read-only view of the plan as it stands
and a comment form. Opening the link changes nothing; a comment is a POST and is appended, never
changed. The reviewer's view carries the plan's areas and approved measures only: no needs roll-up,
no evaluations (free text that may name participants), no talk data, no names beyond units.

HR sees every comment, newest first, on the plan page and in ``/api/plan``. Inviting and removing a
reviewer are audited.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select
from sqlalchemy.orm import Session

from aarshjul.db.engine import unit_of_work
from aarshjul.db.models import CompetenceArea, Cycle, Measure, PlanComment, PlanReviewer
from aarshjul.domain.addresses import is_deliverable, normalise_email
from aarshjul.domain.enums import Language
from aarshjul.domain.errors import Conflict, DomainError, InvalidInput, NotFound
from aarshjul.runtime import Runtime
from aarshjul.signing import BadToken, ReviewClaims, read_review_token
from aarshjul.usecases.reporting.plan import PLANNED_STATES, CompetencePlan, competence_plan
from aarshjul.usecases.shared.writes import audit
from notifications.outbox import OutgoingMessage, enqueue

REVIEW_LINK_LIFETIME = dt.timedelta(days=60)
INVITATION_TEMPLATE = "plan_review_invitation"
COMMENT_MAX_CHARS = 4000
NAME_MAX_CHARS = 200
INVITE_ACTION = "plan_review.invite"
REMOVE_ACTION = "plan_review.remove"
AUDIT_OBJECT = "plan_reviewer"

_Model = ConfigDict(frozen=True)


class ReviewLinkProblem(StrEnum):
    """Why a review link opens no plan."""

    INVALID = "invalid"  #: not a link we made (tampered, incomplete), or its reviewer is unknown
    EXPIRED = "expired"  #: past the reviewer's expiry
    REVOKED = "revoked"  #: HR removed the reviewer


class ReviewLinkRefused(DomainError):
    def __init__(self, problem: ReviewLinkProblem) -> None:
        self.problem = problem
        super().__init__(f"the review link cannot be used: {problem.value}")


class PlanReviewerView(BaseModel):
    model_config = _Model
    id: int
    name: str
    email: str
    language: str
    invited_at: dt.datetime
    expires_at: dt.datetime


class PlanCommentView(BaseModel):
    model_config = _Model
    id: int
    created_at: dt.datetime
    reviewer_id: int
    reviewer_name: str
    body: str
    competence_area_id: int | None
    measure_id: int | None
    target_title: str


class PlanWithComments(CompetencePlan):
    """The plan as HR reads it, with the reviewers' comments, newest first."""

    comments: list[PlanCommentView]


@dataclass(frozen=True)
class ReviewPage:
    """What the page behind a valid review link shows."""

    reviewer_name: str
    expires_at: dt.datetime
    plan: CompetencePlan
    comments: list[PlanCommentView]


# --- HR -----------------------------------------------------------------------------------------


def invite_reviewer(runtime: Runtime, name: str, email: str, language: str, actor: str) -> int:
    """Invite a reviewer to the current plan's period and queue their link. Returns the reviewer's id."""
    name = " ".join(name.split())
    address = normalise_email(email)
    if not name or len(name) > NAME_MAX_CHARS:
        raise InvalidInput("name", f"write the reviewer's name (at most {NAME_MAX_CHARS} characters)")
    if not is_deliverable(address):  # the same rule as the organisation import and the dispatcher
        raise InvalidInput("email", "write a valid email address")
    if language not in tuple(Language):
        raise InvalidInput("language", f"choose {' or '.join(Language)}")
    now = runtime.clock().replace(microsecond=0)
    with unit_of_work(runtime.sessions) as session:
        period_id = competence_plan(session).period.id
        active = session.scalar(
            select(PlanReviewer.id).where(
                PlanReviewer.period_id == period_id,
                PlanReviewer.email == address,
                PlanReviewer.removed_at.is_(None),
                PlanReviewer.expires_at > now,
            )
        )
        if active is not None:
            raise Conflict("this address is already invited; remove the reviewer first to send a new link")
        reviewer = PlanReviewer(
            period_id=period_id,
            name=name,
            email=address,
            language=language,
            invited_at=now,
            invited_by=actor,
            expires_at=now + REVIEW_LINK_LIFETIME,
        )
        session.add(reviewer)
        session.flush()
        enqueue(
            session,
            OutgoingMessage(
                idempotency_key=f"{INVITATION_TEMPLATE}:{reviewer.id}",
                to_email=address,
                language=language,
                template=INVITATION_TEMPLATE,
                context={"reviewer_id": reviewer.id},
                not_before=now,
                recipient_id=None,
                expires_at=reviewer.expires_at,
            ),
            now,
        )
        after = {"name": name, "email": address, "language": language, "period_id": period_id}
        audit(session, now, actor, INVITE_ACTION, AUDIT_OBJECT, reviewer.id, None, after)
        return reviewer.id


def remove_reviewer(runtime: Runtime, reviewer_id: int, actor: str) -> None:
    """Kill the reviewer's link. Their comments stay: the record of the consultation is kept."""
    now = runtime.clock()
    with unit_of_work(runtime.sessions) as session:
        reviewer = session.get(PlanReviewer, reviewer_id)
        if reviewer is None or reviewer.removed_at is not None:
            raise NotFound(f"reviewer {reviewer_id} does not exist or was already removed")
        reviewer.removed_at = now
        before = {"name": reviewer.name, "email": reviewer.email}
        audit(session, now, actor, REMOVE_ACTION, AUDIT_OBJECT, reviewer.id, before, {"removed_at": now.isoformat()})


def active_reviewers(session: Session, period_id: int, now: dt.datetime) -> list[PlanReviewerView]:
    rows = session.scalars(
        select(PlanReviewer)
        .where(PlanReviewer.period_id == period_id, PlanReviewer.removed_at.is_(None), PlanReviewer.expires_at > now)
        .order_by(PlanReviewer.name, PlanReviewer.id)
    )
    return [
        PlanReviewerView(
            id=r.id, name=r.name, email=r.email, language=r.language, invited_at=r.invited_at, expires_at=r.expires_at
        )
        for r in rows
    ]


def plan_comments(session: Session, period_id: int, reviewer_id: int | None = None) -> list[PlanCommentView]:
    """Newest first; only one reviewer's when ``reviewer_id`` is given."""
    query = (
        select(PlanComment, PlanReviewer.name)
        .join(PlanReviewer, PlanReviewer.id == PlanComment.reviewer_id)
        .where(PlanComment.period_id == period_id)
        .order_by(PlanComment.created_at.desc(), PlanComment.id.desc())
    )
    if reviewer_id is not None:
        query = query.where(PlanComment.reviewer_id == reviewer_id)
    return [
        PlanCommentView(
            id=c.id,
            created_at=c.created_at,
            reviewer_id=c.reviewer_id,
            reviewer_name=name,
            body=c.body,
            competence_area_id=c.competence_area_id,
            measure_id=c.measure_id,
            target_title=c.target_title,
        )
        for c, name in session.execute(query)
    ]


def plan_with_comments(
    session: Session, period_id: int | None = None, needs_year: int | None = None
) -> PlanWithComments:
    plan = competence_plan(session, period_id, needs_year)
    return PlanWithComments(**dict(plan), comments=plan_comments(session, plan.period.id))


# --- the reviewer -------------------------------------------------------------------------------


def _reviewer(session: Session, runtime: Runtime, token: str, now: dt.datetime) -> PlanReviewer:
    try:
        claims = read_review_token(runtime.settings.secret(), token)
    except BadToken as exc:
        raise ReviewLinkRefused(ReviewLinkProblem.INVALID) from exc
    reviewer = session.get(PlanReviewer, claims.reviewer_id)
    if reviewer is None or int(reviewer.invited_at.timestamp()) != claims.invited_at:
        raise ReviewLinkRefused(ReviewLinkProblem.INVALID)
    if reviewer.removed_at is not None:
        raise ReviewLinkRefused(ReviewLinkProblem.REVOKED)
    if reviewer.expires_at <= now:
        raise ReviewLinkRefused(ReviewLinkProblem.EXPIRED)
    return reviewer


def review_claims(reviewer: PlanReviewer) -> ReviewClaims:
    return ReviewClaims(reviewer.id, int(reviewer.invited_at.timestamp()))


def reviewer_plan(session: Session, period_id: int) -> CompetencePlan:
    """The plan without what a reviewer is not to see: the needs roll-up and the evaluations."""
    plan = competence_plan(session, period_id)
    areas = [
        area.model_copy(update={"measures": [m.model_copy(update={"evaluation": None}) for m in area.measures]})
        for area in plan.areas
    ]
    return plan.model_copy(update={"areas": areas, "needs_by_area": [], "needs_cycle_year": None})


def open_review(runtime: Runtime, token: str) -> ReviewPage:
    """Read only: what the reviewer's link shows. Raises ReviewLinkRefused."""
    with runtime.sessions() as session:
        reviewer = _reviewer(session, runtime, token, runtime.clock())
        return ReviewPage(
            reviewer_name=reviewer.name,
            expires_at=reviewer.expires_at,
            plan=reviewer_plan(session, reviewer.period_id),
            comments=plan_comments(session, reviewer.period_id, reviewer.id),
        )


def _target(session: Session, period_id: int, target: str) -> tuple[int | None, int | None, str]:
    """``""``, ``"area:{id}"`` or ``"measure:{id}"`` → (area id, measure id, its title now)."""
    if not target:
        return None, None, ""
    kind, _, raw_id = target.partition(":")
    if not raw_id.isdigit():
        raise InvalidInput("target", "choose a competence area or a measure from the list")
    if kind == "area":
        area = session.get(CompetenceArea, int(raw_id))
        if area is not None and area.period_id == period_id:
            return area.id, None, area.name
    if kind == "measure":
        row = session.execute(
            select(Measure.id, Measure.title)
            .join(Cycle, Cycle.id == Measure.cycle_id)
            .where(Measure.id == int(raw_id), Cycle.period_id == period_id, Measure.state.in_(PLANNED_STATES))
        ).first()
        if row is not None:
            return None, row.id, row.title
    raise InvalidInput("target", "choose a competence area or a measure from the list")


def add_comment(runtime: Runtime, token: str, body: str, target: str = "") -> int:
    """Append a reviewer's comment. Raises ReviewLinkRefused or InvalidInput. Returns the comment's id."""
    text = body.strip()
    if not text:
        raise InvalidInput("body", "write a comment")
    if len(text) > COMMENT_MAX_CHARS:
        raise InvalidInput("body", f"at most {COMMENT_MAX_CHARS} characters")
    now = runtime.clock()
    with unit_of_work(runtime.sessions) as session:
        reviewer = _reviewer(session, runtime, token, now)
        area_id, measure_id, title = _target(session, reviewer.period_id, target)
        comment = PlanComment(
            reviewer_id=reviewer.id,
            period_id=reviewer.period_id,
            created_at=now,
            body=text,
            competence_area_id=area_id,
            measure_id=measure_id,
            target_title=title,
        )
        session.add(comment)
        session.flush()
        return comment.id
