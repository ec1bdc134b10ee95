"""What the SCIM endpoint serves (RFC 7643), as scim2-models models: Users with the enterprise extension
and Årshjul's own, Groups (units) with Årshjul's unit extension, and the discovery documents.

Årshjul's extensions follow the form Microsoft Entra ID asks of custom attributes
(``urn:ietf:params:scim:schemas:extension:<name>:2.0:<Resource>``):

- ``urn:ietf:params:scim:schemas:extension:aarshjul:2.0:Group`` — ``code`` (the unit's code, unique; the
  file import's ``unit``), ``leader`` (the unit's leader: ``{"value": "<User id>"}``) and ``parent`` (the
  unit above: ``{"value": "<Group id>"}``; none for the top unit).
- ``urn:ietf:params:scim:schemas:extension:aarshjul:2.0:User`` — ``deputy`` (who takes over this person's
  tasks when they leave: ``{"value": "<User id>"}``).

The mobile number is the core ``phoneNumbers`` value whose ``type`` is ``mobile``; the language is the core
``preferredLanguage`` (``nb-NO``, ``en``); an app role (``roles`` value) ``hr`` makes someone HR.
"""

from __future__ import annotations

from typing import Annotated, Any, Union

from pydantic import Field
from scim2_models import (
    URN,
    AuthenticationScheme,
    Bulk,
    CaseExact,
    ChangePassword,
    ComplexAttribute,
    EnterpriseUser,
    ETag,
    Extension,
    Filter,
    Group,
    Mutability,
    Patch,
    Reference,
    ResourceType,
    Schema,
    ServiceProviderConfig,
    Sort,
    Uniqueness,
    User,
)

USER_EXTENSION = "urn:ietf:params:scim:schemas:extension:aarshjul:2.0:User"
GROUP_EXTENSION = "urn:ietf:params:scim:schemas:extension:aarshjul:2.0:Group"
ENTERPRISE_EXTENSION = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
#: One page of a list holds at most this many resources (``count`` above it is lowered to it).
MAX_RESULTS = 200
DEFAULT_COUNT = 100


class UserReference(ComplexAttribute):
    """A reference to a User: its ``id`` in ``value`` (the ``$ref`` URL is optional)."""

    value: Annotated[str | None, CaseExact.true] = None
    # scim2-models takes the referenced resource type by name, as its own models do.
    ref: Reference["User"] | None = Field(  # type: ignore[type-arg]  # noqa: UP037
        None, serialization_alias="$ref", validation_alias="$ref"
    )
    display: Annotated[str | None, Mutability.read_only] = None


class GroupReference(ComplexAttribute):
    """A reference to a Group: its ``id`` in ``value`` (the ``$ref`` URL is optional)."""

    value: Annotated[str | None, CaseExact.true] = None
    # scim2-models takes the referenced resource type by name, as its own models do.
    ref: Reference["Group"] | None = Field(  # type: ignore[type-arg]  # noqa: UP037
        None, serialization_alias="$ref", validation_alias="$ref"
    )
    display: Annotated[str | None, Mutability.read_only] = None


class AarshjulUser(Extension):
    """What Årshjul keeps of a person beyond the core and enterprise schemas."""

    __schema__ = URN(USER_EXTENSION)

    deputy: UserReference | None = None
    """Who takes over this person's open tasks when they leave."""


class AarshjulGroup(Extension):
    """A group is a unit of the organisation: its code, its leader and the unit above it."""

    __schema__ = URN(GROUP_EXTENSION)

    code: Annotated[str | None, Uniqueness.server, CaseExact.true] = None
    """The unit's code (the organisation file's ``unit``); the externalId, or one made up, if not given."""

    leader: UserReference | None = None
    """The unit's leader."""

    parent: GroupReference | None = None
    """The unit above this one; none for the top unit."""


UserModel = User[Union[EnterpriseUser, AarshjulUser]]  # noqa: UP007 (scim2-models reads the Union)
GroupModel = Group[AarshjulGroup]  # type: ignore[type-arg]

SERVICE_PROVIDER_CONFIG = ServiceProviderConfig(
    documentation_uri=None,
    patch=Patch(supported=True),
    bulk=Bulk(supported=False, max_operations=0, max_payload_size=0),
    filter=Filter(supported=True, max_results=MAX_RESULTS),
    change_password=ChangePassword(supported=False),
    sort=Sort(supported=False),
    etag=ETag(supported=True),
    authentication_schemes=[
        AuthenticationScheme(
            type=AuthenticationScheme.Type.oauthbearertoken,
            name="Bearer token",
            description="A token from `aarshjul scim token`, sent as 'Authorization: Bearer <token>'",
            primary=True,
        )
    ],
)
RESOURCE_TYPES: list[ResourceType] = [ResourceType.from_resource(UserModel), ResourceType.from_resource(GroupModel)]
SCHEMAS: list[Schema] = [
    User.to_schema(),
    EnterpriseUser.to_schema(),
    AarshjulUser.to_schema(),
    Group.to_schema(),
    AarshjulGroup.to_schema(),
]


def resource_type(type_id: str) -> ResourceType | None:
    return next((rt for rt in RESOURCE_TYPES if rt.id == type_id), None)


def schema(schema_id: str) -> Schema | None:
    return next((s for s in SCHEMAS if s.id == schema_id), None)


def reference_id(reference: Any) -> str | None:
    """The id a User or Group reference names: its ``value``, else the last segment of its ``$ref``."""
    if reference is None:
        return None
    if reference.value:
        return str(reference.value)
    if reference.ref:
        return str(reference.ref).rstrip("/").rsplit("/", 1)[-1] or None
    return None
