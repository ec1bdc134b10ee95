"""Versions of the competence plan: draft → in consultation → adopted, each step audited.

The live plan is the working version: the newest stored version that is not adopted, or, when there
is none, the next number as a draft (a draft is stored from the moment it goes to consultation).
"In consultation" records the meeting with the union representatives (drøftingsmøte): its date,
who took part, the minutes as text or a PDF, and each union's position; the comments the plan's
reviewers sent through their links are shown beside it. Adoption needs that record and every measure
in a competence area; it records the body, the date of the decision and the case number, and freezes
the version: the plan document as adopted is stored with the hash of its canonical JSON, and nothing
changes it any more. What changes afterwards is the next draft.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass, field

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from aarshjul.db.engine import unit_of_work
from aarshjul.db.models import ConsultationParticipant, PlanConsultation, PlanVersion, UnionStatement
from aarshjul.domain.enums import PlanVersionState, UnionPosition
from aarshjul.domain.errors import Conflict, InvalidInput, NotFound
from aarshjul.domain.planning import (
    VersionFacts,
    check_adoption,
    check_record_consultation,
    check_start_consultation,
    content_hash,
)
from aarshjul.runtime import Runtime
from aarshjul.usecases.planning.plan import (
    CompetencePlan,
    ConsultationParticipantView,
    ConsultationSummary,
    PlanVersionInfo,
    UnionStatementView,
    competence_plan,
    current_period,
)
from aarshjul.usecases.shared.writes import audit

#: The largest minutes PDF taken (the request limit of the upload route is set from it).
MAX_MINUTES_BYTES = 5 * 1024 * 1024
MAX_NAME_CHARS = 200
MAX_MINUTES_CHARS = 20000
MAX_PEOPLE = 60
AUDIT_OBJECT = "plan_version"


@dataclass(frozen=True)
class Participant:
    name: str
    union: str = ""  #: empty: the employer's side
    role: str = ""


@dataclass(frozen=True)
class Statement:
    union: str
    position: UnionPosition
    comment: str = ""


@dataclass(frozen=True)
class ConsultationMeeting:
    """What HR records about the consultation meeting. ``minutes_pdf`` None keeps a PDF sent before."""

    meeting_on: dt.date
    participants: list[Participant] = field(default_factory=list)
    statements: list[Statement] = field(default_factory=list)
    minutes_text: str = ""
    minutes_pdf: bytes | None = None
    minutes_filename: str = ""


@dataclass(frozen=True)
class Adoption:
    adopted_by: str  #: the body: kommunedirektøren, a committee
    adopted_on: dt.date  #: the date of the decision
    case_number: str  #: saksnummer


# --- reading ------------------------------------------------------------------------------------


def _rows(session: Session, period_id: int) -> list[PlanVersion]:
    return list(
        session.scalars(select(PlanVersion).where(PlanVersion.period_id == period_id).order_by(PlanVersion.number))
    )


def _working(rows: list[PlanVersion]) -> PlanVersion | None:
    return rows[-1] if rows and rows[-1].state is not PlanVersionState.ADOPTED else None


def _consultation(session: Session, version: PlanVersion, live_hash: str | None) -> ConsultationSummary | None:
    record = session.scalar(select(PlanConsultation).where(PlanConsultation.version_id == version.id))
    if record is None:
        return None
    participants = session.scalars(
        select(ConsultationParticipant)
        .where(ConsultationParticipant.consultation_id == record.id)
        .order_by(ConsultationParticipant.position)
    )
    statements = session.scalars(
        select(UnionStatement)
        .where(UnionStatement.consultation_id == record.id)
        .order_by(UnionStatement.position_order)
    )
    return ConsultationSummary(
        meeting_on=record.meeting_on,
        participants=[ConsultationParticipantView(name=p.name, union=p.union, role=p.role) for p in participants],
        statements=[UnionStatementView(union=s.union, position=s.position, comment=s.comment) for s in statements],
        minutes_text=record.minutes_text,
        has_minutes_pdf=record.minutes_pdf is not None,
        minutes_filename=record.minutes_filename,
        recorded_at=record.recorded_at,
        plan_changed_since=live_hash is not None and live_hash != record.plan_sha256,
    )


def _info(session: Session, version: PlanVersion, live_hash: str | None = None) -> PlanVersionInfo:
    return PlanVersionInfo(
        number=version.number,
        state=version.state,
        adopted_on=version.adopted_on,
        adopted_by=version.adopted_by,
        case_number=version.case_number,
        consultation_started_at=version.consultation_started_at,
        consultation=_consultation(session, version, live_hash),
        sha256=version.sha256,
    )


def plan_hash(plan: CompetencePlan) -> str:
    """The hash of what the plan says: its measures, costs and chains, not who reads it or when."""
    return content_hash(plan.model_dump(mode="json", include={"period", "years", "areas", "totals"}))


def versions(session: Session, period_id: int | None = None) -> list[PlanVersionInfo]:
    """Every version of the period's plan, newest first; the working draft first if it is not stored."""
    period = current_period(session, period_id)
    rows = _rows(session, period.id)
    listed = [_info(session, row) for row in reversed(rows)]
    if _working(rows) is None:
        listed.insert(0, PlanVersionInfo(number=(rows[-1].number + 1) if rows else 1, state=PlanVersionState.DRAFT))
    return listed


def in_force(session: Session, period_id: int | None = None) -> PlanVersionInfo | None:
    """The adopted version in force: the newest adopted one."""
    period = current_period(session, period_id)
    adopted = [r for r in _rows(session, period.id) if r.state is PlanVersionState.ADOPTED]
    return _info(session, adopted[-1]) if adopted else None


@dataclass(frozen=True)
class PlanGlance:
    """At a glance: the version being worked on and the version in force."""

    current: PlanVersionInfo
    in_force: PlanVersionInfo | None


def glance(session: Session) -> PlanGlance | None:
    """None when no strategy period is loaded."""
    try:
        listed = versions(session)
    except NotFound:
        return None
    adopted = [v for v in listed if v.state is PlanVersionState.ADOPTED]
    return PlanGlance(current=listed[0], in_force=adopted[0] if adopted else None)


def plan_document(
    session: Session, period_id: int | None = None, version: int | None = None, needs_year: int | None = None
) -> CompetencePlan:
    """The plan as of one version: an adopted version as frozen, the working version live (default)."""
    period = current_period(session, period_id)
    rows = _rows(session, period.id)
    working = _working(rows)
    if version is not None:
        stored = next((r for r in rows if r.number == version), None)
        if stored is not None and stored.state is PlanVersionState.ADOPTED and stored.content is not None:
            frozen = CompetencePlan.model_validate(stored.content)
            return frozen.model_copy(update={"version": frozen.version.model_copy(update={"sha256": stored.sha256})})
        live_number = working.number if working is not None else (rows[-1].number + 1 if rows else 1)
        if version != live_number and (stored is None or stored.state is not PlanVersionState.ADOPTED):
            raise NotFound(f"the plan has no version {version}")
    live = competence_plan(session, period.id, needs_year)
    if working is None:
        info = PlanVersionInfo(number=(rows[-1].number + 1) if rows else 1, state=PlanVersionState.DRAFT)
    else:
        info = _info(session, working, plan_hash(live))
    return live.model_copy(update={"version": info})


def minutes_pdf(session: Session, number: int, period_id: int | None = None) -> tuple[str, bytes]:
    period = current_period(session, period_id)
    found = session.execute(
        select(PlanConsultation.minutes_filename, PlanConsultation.minutes_pdf)
        .join(PlanVersion, PlanVersion.id == PlanConsultation.version_id)
        .where(PlanVersion.period_id == period.id, PlanVersion.number == number)
    ).first()
    if found is None or found.minutes_pdf is None:
        raise NotFound(f"version {number} has no minutes as PDF")
    return found.minutes_filename or f"protokoll-{number}.pdf", found.minutes_pdf


# --- changing -----------------------------------------------------------------------------------


def _facts(session: Session, version: PlanVersion, plan: CompetencePlan | None = None) -> VersionFacts:
    recorded = session.scalar(select(PlanConsultation.id).where(PlanConsultation.version_id == version.id))
    unplaced = [m.title for a in plan.areas if a.id is None for m in a.measures] if plan is not None else []
    return VersionFacts(version.state, recorded is not None, unplaced)


def _version(session: Session, period_id: int, number: int) -> PlanVersion:
    row = session.scalars(
        select(PlanVersion).where(PlanVersion.period_id == period_id, PlanVersion.number == number).with_for_update()
    ).first()
    if row is None:
        raise NotFound(f"the plan has no stored version {number}; send the draft to consultation first")
    return row


def start_consultation(runtime: Runtime, actor: str, period_id: int | None = None) -> int:
    """The working draft goes to consultation with the union representatives. Returns its number."""
    now = runtime.clock()
    with unit_of_work(runtime.sessions) as session:
        period = current_period(session, period_id)
        rows = _rows(session, period.id)
        working = _working(rows)
        check_start_consultation(_facts(session, working) if working is not None else None)
        number = (
            session.scalar(select(func.max(PlanVersion.number)).where(PlanVersion.period_id == period.id)) or 0
        ) + 1
        version = PlanVersion(
            period_id=period.id,
            number=number,
            state=PlanVersionState.IN_CONSULTATION,
            consultation_started_at=now,
            consultation_started_by=actor,
        )
        session.add(version)
        session.flush()
        after = {"period_id": period.id, "number": number, "state": version.state}
        audit(session, now, actor, "plan.consultation", AUDIT_OBJECT, version.id, {"state": "draft"}, after)
        return number


def _check_meeting(meeting: ConsultationMeeting) -> ConsultationMeeting:
    def tidy(text: str, name: str, limit: int = MAX_NAME_CHARS) -> str:
        cleaned = " ".join(text.split())
        if len(cleaned) > limit:
            raise InvalidInput(name, f"at most {limit} characters")
        return cleaned

    participants = [
        Participant(tidy(p.name, "participants"), tidy(p.union, "participants"), tidy(p.role, "participants"))
        for p in meeting.participants
        if p.name.strip()
    ]
    statements = [
        Statement(tidy(s.union, "statements"), s.position, s.comment.strip()[:MAX_MINUTES_CHARS])
        for s in meeting.statements
        if s.union.strip()
    ]
    if len(participants) > MAX_PEOPLE or len(statements) > MAX_PEOPLE:
        raise InvalidInput("participants", f"at most {MAX_PEOPLE} participants and positions")
    unions = {p.union.lower(): p.union for p in participants if p.union}
    if not unions:
        raise InvalidInput("participants", "name the union representatives who took part, with their union")
    if not any(not p.union for p in participants):
        raise InvalidInput("participants", "name who took part for the employer")
    stated = {s.union.lower() for s in statements}
    if len(stated) != len(statements):
        raise InvalidInput("statements", "record each union's position once")
    missing = [name for key, name in unions.items() if key not in stated]
    if missing:
        raise InvalidInput("statements", "record the position of each union that took part: " + ", ".join(missing))
    text = meeting.minutes_text.strip()
    if len(text) > MAX_MINUTES_CHARS:
        raise InvalidInput("minutes_text", f"at most {MAX_MINUTES_CHARS} characters")
    if meeting.minutes_pdf is not None:
        check_pdf(meeting.minutes_pdf)
    return ConsultationMeeting(
        meeting.meeting_on,
        participants,
        statements,
        text,
        meeting.minutes_pdf,
        tidy(meeting.minutes_filename, "minutes_pdf") or "protokoll.pdf",
    )


def check_pdf(content: bytes) -> None:
    """A PDF of a bounded size that a PDF reader can open; anything else is refused, not stored."""
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    if len(content) > MAX_MINUTES_BYTES:
        raise InvalidInput("minutes_pdf", f"the PDF may be at most {MAX_MINUTES_BYTES // (1024 * 1024)} MB")
    if not content.startswith(b"%PDF-"):
        raise InvalidInput("minutes_pdf", "the minutes must be a PDF file")
    try:
        pages = len(PdfReader(io.BytesIO(content)).pages)
    except (PyPdfError, ValueError, KeyError, TypeError, OSError) as exc:
        raise InvalidInput("minutes_pdf", "the file could not be read as a PDF") from exc
    if pages < 1:
        raise InvalidInput("minutes_pdf", "the PDF has no pages")


def record_consultation(
    runtime: Runtime, number: int, meeting: ConsultationMeeting, actor: str, period_id: int | None = None
) -> None:
    """Record (or correct) the consultation meeting on a version in consultation."""
    checked = _check_meeting(meeting)
    now = runtime.clock()
    with unit_of_work(runtime.sessions) as session:
        period = current_period(session, period_id)
        version = _version(session, period.id, number)
        check_record_consultation(_facts(session, version))
        discussed = plan_hash(competence_plan(session, period.id))
        record = session.scalar(select(PlanConsultation).where(PlanConsultation.version_id == version.id))
        before = None
        if record is None:
            record = PlanConsultation(version_id=version.id)
            session.add(record)
        else:
            before = {"meeting_on": record.meeting_on.isoformat(), "plan_sha256": record.plan_sha256}
            session.execute(delete(ConsultationParticipant).where(ConsultationParticipant.consultation_id == record.id))
            session.execute(delete(UnionStatement).where(UnionStatement.consultation_id == record.id))
        if not checked.minutes_text and checked.minutes_pdf is None and record.minutes_pdf is None:
            raise InvalidInput("minutes_text", "write the minutes or add them as a PDF")
        record.meeting_on = checked.meeting_on
        record.minutes_text = checked.minutes_text
        if checked.minutes_pdf is not None:
            record.minutes_pdf, record.minutes_filename = checked.minutes_pdf, checked.minutes_filename
        record.plan_sha256 = discussed
        record.recorded_at, record.recorded_by = now, actor
        session.flush()
        session.add_all(
            ConsultationParticipant(consultation_id=record.id, position=i, name=p.name, union=p.union, role=p.role)
            for i, p in enumerate(checked.participants)
        )
        session.add_all(
            UnionStatement(
                consultation_id=record.id, position_order=i, union=s.union, position=s.position, comment=s.comment
            )
            for i, s in enumerate(checked.statements)
        )
        after = {
            "meeting_on": checked.meeting_on.isoformat(),
            "participants": len(checked.participants),
            "positions": {s.union: s.position.value for s in checked.statements},
            "minutes_pdf": record.minutes_pdf is not None,
            "plan_sha256": record.plan_sha256,
        }
        audit(session, now, actor, "plan.consultation_record", AUDIT_OBJECT, version.id, before, after)


def adopt(runtime: Runtime, number: int, adoption: Adoption, actor: str, period_id: int | None = None) -> str:
    """Adopt a version in consultation and freeze it. Returns the hash of the frozen document."""
    body = " ".join(adoption.adopted_by.split())
    case_number = " ".join(adoption.case_number.split())
    if not body or len(body) > 300:
        raise InvalidInput("adopted_by", "name who adopted the plan (at most 300 characters)")
    if not case_number or len(case_number) > 64:
        raise InvalidInput("case_number", "give the case number (at most 64 characters)")
    now = runtime.clock()
    with unit_of_work(runtime.sessions) as session:
        period = current_period(session, period_id)
        version = _version(session, period.id, number)
        live = competence_plan(session, period.id)
        check_adoption(_facts(session, version, live))
        if not period.first_year - 1 <= adoption.adopted_on.year <= period.last_year:
            raise InvalidInput("adopted_on", "give the date of the decision, within or just before the period")
        version.state = PlanVersionState.ADOPTED
        version.adopted_by, version.adopted_on, version.case_number = body, adoption.adopted_on, case_number
        version.adopted_at, version.adopted_recorded_by = now, actor
        session.flush()
        # The frozen document: what the plan says, which version it is and how it was consulted on;
        # not the needs roll-up of a running year, which keeps changing.
        frozen = live.model_copy(
            update={"version": _info(session, version), "needs_by_area": [], "needs_cycle_year": None}
        )
        content = frozen.model_dump(mode="json")
        version.sha256 = content_hash(content)
        version.content = content
        after = {
            "state": version.state,
            "adopted_by": body,
            "adopted_on": adoption.adopted_on.isoformat(),
            "case_number": case_number,
            "sha256": version.sha256,
        }
        audit(session, now, actor, "plan.adopt", AUDIT_OBJECT, version.id, {"state": "in_consultation"}, after)
        return version.sha256


def frozen_intact(session: Session, number: int, period_id: int | None = None) -> bool:
    """Whether an adopted version's stored document still has the hash it was adopted with."""
    period = current_period(session, period_id)
    row = session.scalar(select(PlanVersion).where(PlanVersion.period_id == period.id, PlanVersion.number == number))
    if row is None or row.content is None or row.sha256 is None:
        raise Conflict(f"version {number} is not adopted")
    return content_hash(row.content) == row.sha256
