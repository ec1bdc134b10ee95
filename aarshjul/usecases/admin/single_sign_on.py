"""Single sign-on: who a checked ID token from the organisation's OpenID Provider is, and their session.

The web edge (``service/oidc.py``) runs the authorization code flow and checks the ID token (issuer,
audience, expiry, nonce, signature); what reaches this module is a ``ProviderIdentity`` it trusts.

Matching: first by the provider's immutable subject id (``iss`` + ``sub``), stored at the person's
first sign-in; the first time by email (the ``email`` claim, normalised as everywhere else), and then
the subject is stored. An email that is not verified (``email_verified`` false) never matches, and a
person already linked to another account at the same provider is not taken over by a new account that
carries their address (a reused or renamed address): HR removes the old link first.

HR: with ``AARSHJUL_OIDC_HR_GROUP`` set, the provider decides: members of that group (in the groups
claim when signing in) may use HR's pages, whatever the organisation's data says, and nobody else
through single sign-on. Unset, the organisation's data decides (role HR). Everyone else signs in to
their own tasks only. The decision is kept with the session (``HrGrant``) for its life (eight hours at
most); a person who leaves the organisation loses the session at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from aarshjul.clock import local_date
from aarshjul.db.engine import unit_of_work
from aarshjul.db.models import Organisation, Person, PersonIdentity
from aarshjul.domain.addresses import normalise_email
from aarshjul.domain.enums import HrGrant, Role, SignedInVia
from aarshjul.domain.errors import Conflict, DomainError, NotFound
from aarshjul.runtime import Runtime
from aarshjul.usecases.admin.hr_access import HrPrincipal, SignInOutcome, SignInResult, open_session
from aarshjul.usecases.shared.writes import audit


@dataclass(frozen=True)
class ProviderIdentity:
    """The claims of a checked ID token that matter here."""

    issuer: str
    subject: str
    email: str | None
    email_verified: bool | None  #: None when the provider does not say (Entra ID does not)
    groups: frozenset[str]


class SsoRefusal(StrEnum):
    UNKNOWN_PERSON = "unknown_person"  #: no active person has this account or address
    EMAIL_NOT_VERIFIED = "email_not_verified"
    LINKED_TO_ANOTHER_ACCOUNT = "linked_to_another_account"


class SsoRefused(DomainError):
    def __init__(self, reason: SsoRefusal) -> None:
        self.reason = reason
        super().__init__(f"single sign-on refused: {reason.value}")


def hr_grant(person: Person, groups: frozenset[str], hr_group: str | None) -> HrGrant:
    if hr_group:
        return HrGrant.GROUP if hr_group in groups else HrGrant.NONE
    return HrGrant.ROLE if person.role == Role.HR else HrGrant.NONE


def _match(session: Session, identity: ProviderIdentity) -> tuple[Person, PersonIdentity | None]:
    """The person, and their stored link if they were matched by it (None: matched by email now)."""
    linked = session.execute(
        select(Person, PersonIdentity)
        .join(PersonIdentity, PersonIdentity.person_id == Person.id)
        .where(PersonIdentity.issuer == identity.issuer, PersonIdentity.subject == identity.subject)
    ).first()
    if linked is not None:
        return linked[0], linked[1]
    if not identity.email:
        raise SsoRefused(SsoRefusal.UNKNOWN_PERSON)
    if identity.email_verified is False:
        raise SsoRefused(SsoRefusal.EMAIL_NOT_VERIFIED)
    person = session.scalars(
        select(Person).where(Person.email == normalise_email(identity.email)).order_by(Person.id)
    ).first()
    if person is None:
        raise SsoRefused(SsoRefusal.UNKNOWN_PERSON)
    other = session.scalars(
        select(PersonIdentity.id).where(PersonIdentity.person_id == person.id, PersonIdentity.issuer == identity.issuer)
    ).first()
    if other is not None:
        raise SsoRefused(SsoRefusal.LINKED_TO_ANOTHER_ACCOUNT)
    return person, None


def sign_in_with_provider(runtime: Runtime, identity: ProviderIdentity) -> SignInResult:
    """Match the person, link their account on the first sign-in, and open a session. Raises
    SsoRefused; an inactive person is unknown here, as to the password sign-in."""
    now = runtime.clock()
    today = local_date(now, runtime.settings.zone)
    try:
        with unit_of_work(runtime.sessions) as session:
            person, link = _match(session, identity)
            if not person.is_active_on(today):
                raise SsoRefused(SsoRefusal.UNKNOWN_PERSON)
            if link is None:
                session.add(
                    PersonIdentity(
                        person_id=person.id,
                        issuer=identity.issuer,
                        subject=identity.subject,
                        linked_at=now,
                        last_sign_in_at=now,
                    )
                )
                audit(session, now, f"person:{person.id}", "sso.linked", "person", person.id)
            else:
                link.last_sign_in_at = now
            grant = hr_grant(person, identity.groups, runtime.settings.oidc_hr_group)
            session_id = open_session(session, person.id, now, SignedInVia.OIDC, grant)
            principal = HrPrincipal(
                person.id, person.email, person.name, SignedInVia.OIDC.value, grant is not HrGrant.NONE
            )
            audit(session, now, principal.actor, "sso.sign_in", "person", person.id, after={"hr": grant.value})
    except IntegrityError as exc:  # the same account's first sign-in twice at once: the other one linked it
        raise SsoRefused(SsoRefusal.LINKED_TO_ANOTHER_ACCOUNT) from exc
    return SignInResult(SignInOutcome.OK, principal, session_id)


def set_talk_forms_sign_in(runtime: Runtime, required: bool, actor: str) -> int:
    """Whether the organisation's private talk forms open only for their assignee signed in (as well
    as holding the link). Turning it on needs single sign-on: nobody could open those forms otherwise.
    Returns how many organisations it was set for (there is one)."""
    if required and not runtime.settings.oidc_enabled:
        raise Conflict("set up single sign-on (AARSHJUL_OIDC_ISSUER and the rest) before requiring it")
    now = runtime.clock()
    with unit_of_work(runtime.sessions) as session:
        organisations = session.scalars(select(Organisation)).all()
        if not organisations:
            raise NotFound("import the organisation first")
        for organisation in organisations:
            before = {"talk_forms_need_sign_in": organisation.talk_forms_need_sign_in}
            organisation.talk_forms_need_sign_in = required
            audit(
                session,
                now,
                actor,
                "organisation.talk_forms_sign_in",
                "organisation",
                organisation.id,
                before=before,
                after={"talk_forms_need_sign_in": required},
            )
    return len(organisations)
