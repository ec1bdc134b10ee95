"""SCIM 2.0 (RFC 7644) at ``/scim/v2``: discovery (ServiceProviderConfig, ResourceTypes, Schemas),
Users and Groups, for Microsoft Entra ID or an HR system to provision the organisation.

Every route needs a SCIM bearer token (``aarshjul scim token``). Bodies are parsed by scim2-models in the
request's SCIM context (read-only attributes dropped, required ones checked); the use cases in
``aarshjul.usecases.admin.provisioning`` apply them in one transaction. Every error, including a refused
token, a malformed body and an unknown address under ``/scim/v2``, is a SCIM Error
(``application/scim+json``). Entra ID's known departures from the RFC are mended on the way in by
``service.scim_compat``.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping
from http import HTTPStatus
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import Field, ValidationError, model_validator
from scim2_models import (
    Context,
    CreationRequestContext,
    Error,
    ListResponse,
    NotFoundException,
    NotImplementedException,
    PatchOp,
    PatchRequestContext,
    ReplacementRequestContext,
    ResourceType,
    ResponseParameters,
    Schema,
    SCIMException,
    SearchRequest,
    ServiceProviderConfig,
    UnauthorizedException,
)
from starlette.convertors import Convertor, register_url_convertor
from starlette.exceptions import HTTPException as StarletteHTTPException

from aarshjul.domain.errors import Conflict, DomainError, Forbidden, NotFound
from aarshjul.usecases.admin import provisioning
from aarshjul.usecases.admin.provisioning import SCIM_PATH, ResourcePage
from aarshjul.usecases.admin.scim_access import scim_actor, scim_token_id
from aarshjul.usecases.admin.scim_schema import (
    RESOURCE_TYPES,
    SCHEMAS,
    SERVICE_PROVIDER_CONFIG,
    GroupModel,
    UserModel,
    resource_type,
    schema,
)
from service.deps import RuntimeDep

SCIM_MEDIA_TYPE = "application/scim+json"


class ScimId(Convertor[str]):
    """A resource's id in a path: never one that starts with a dot, so ``/Users/.search`` is the search
    alone (POST) and not also a user's address (GET, PUT, PATCH, DELETE), and its 405 says so in Allow."""

    regex = r"[^/.][^/]*"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("scim_id", ScimId())


class ScimResponse(JSONResponse):
    media_type = SCIM_MEDIA_TYPE


def error_response(
    status: int, detail: str, scim_type: str | None = None, headers: Mapping[str, str] | None = None
) -> Response:
    error = Error(status=status, scim_type=scim_type, detail=detail)
    return ScimResponse(error.model_dump(), status_code=status, headers=dict(headers or {}))


def scim_error(exc: Exception) -> Response:
    """The SCIM Error for whatever a SCIM route raised (RFC 7644 §3.12)."""
    if isinstance(exc, SCIMException):
        error = exc.to_error()
        headers = {"WWW-Authenticate": 'Bearer realm="scim"'} if error.status == HTTPStatus.UNAUTHORIZED else {}
        return ScimResponse(error.model_dump(), status_code=int(error.status or 400), headers=headers)
    if isinstance(exc, RequestValidationError | ValidationError):
        first = exc.errors()[0]
        try:
            error = Error.from_validation_error(first)
        except (KeyError, TypeError, ValueError):
            error = Error(status=400, scim_type="invalidValue", detail=str(first.get("msg", "invalid request")))
        return ScimResponse(error.model_dump(), status_code=int(error.status or 400))
    if isinstance(exc, StarletteHTTPException):
        return error_response(exc.status_code, str(exc.detail or HTTPStatus(exc.status_code).phrase))
    status = (
        404
        if isinstance(exc, NotFound)
        else 409
        if isinstance(exc, Conflict)
        else 403
        if isinstance(exc, Forbidden)
        else 400
    )
    return error_response(status, str(exc))


class ScimRoute(APIRoute):
    """Route class of the SCIM router: everything a route raises becomes a SCIM Error."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                return await original(request)
            except (SCIMException, RequestValidationError, ValidationError, StarletteHTTPException, DomainError) as exc:
                return scim_error(exc)

        return handler


#: Declares the scheme in the OpenAPI document; the header is read below, so any refusal is a SCIM Error.
SCIM_BEARER = HTTPBearer(
    auto_error=False, scheme_name="ScimToken", description="A SCIM token from `aarshjul scim token`"
)


def scim_client(
    request: Request,
    runtime: RuntimeDep,
    declared: Annotated[HTTPAuthorizationCredentials | None, Depends(SCIM_BEARER)],
) -> str:
    """The audit actor of the calling SCIM client; 401 without a live SCIM token."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip() or len(token) > 512:
        raise UnauthorizedException(detail="send a SCIM token: Authorization: Bearer <token>")
    with runtime.sessions() as session:
        try:
            return scim_actor(scim_token_id(session, token))
        except NotFound as exc:
            raise UnauthorizedException(detail="unknown or revoked SCIM token") from exc


Client = Annotated[str, Depends(scim_client)]
IfMatch = Annotated[str | None, Header(alias="If-Match")]

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": Error, "description": "A SCIM Error: the request breaks the schema or a rule of the organisation"},
    401: {"model": Error, "description": "No SCIM token, or one that is unknown or revoked"},
    404: {"model": Error, "description": "No such resource"},
    409: {"model": Error, "description": "A unique value (userName, email, unit code) is taken"},
    412: {"model": Error, "description": "If-Match names an older version"},
}

# Every answer, errors included, is application/scim+json, and the document says so.
router = APIRouter(
    prefix=SCIM_PATH,
    tags=["scim"],
    route_class=ScimRoute,
    default_response_class=ScimResponse,
    responses={401: ERRORS[401]},
)


def _resource(resource: Any, context: Context, parameters: ResponseParameters | None, status: int = 200) -> Response:
    body = resource.model_dump(scim_ctx=context, response_parameters=parameters)
    headers = {"ETag": resource.meta.version}
    if status == HTTPStatus.CREATED:
        headers["Location"] = str(resource.meta.location)
    return ScimResponse(body, status_code=status, headers=headers)


def _list(model: Any, page: ResourcePage, parameters: ResponseParameters | None) -> Response:
    listed = ListResponse[model](
        total_results=page.total,
        start_index=page.start_index,
        items_per_page=len(page.resources),
        resources=page.resources,
    )
    return ScimResponse(listed.model_dump(scim_ctx=Context.SEARCH_RESPONSE, response_parameters=parameters))


# --- discovery ------------------------------------------------------------------------------------------


@router.get(
    "/ServiceProviderConfig",
    summary="What this SCIM service supports",
    responses={200: {"model": ServiceProviderConfig}},
)
def service_provider_config(client: Client) -> Response:
    return ScimResponse(SERVICE_PROVIDER_CONFIG.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE))


@router.get(
    "/ResourceTypes",
    summary="The resource types: User and Group",
    responses={200: {"model": ListResponse[ResourceType]}},
)
def resource_types(client: Client) -> Response:
    listed = ListResponse[ResourceType](
        total_results=len(RESOURCE_TYPES), start_index=1, items_per_page=len(RESOURCE_TYPES), resources=RESOURCE_TYPES
    )
    return ScimResponse(listed.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE))


@router.get(
    "/ResourceTypes/{type_id}", summary="One resource type", responses={200: {"model": ResourceType}, 404: ERRORS[404]}
)
def one_resource_type(type_id: str, client: Client) -> Response:
    found = resource_type(type_id)
    if found is None:
        raise NotFoundException(detail=f"no resource type {type_id}")
    return ScimResponse(found.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE))


@router.get(
    "/Schemas", summary="The schemas, Årshjul's extensions included", responses={200: {"model": ListResponse[Schema]}}
)
def schemas(client: Client) -> Response:
    listed = ListResponse[Schema](
        total_results=len(SCHEMAS), start_index=1, items_per_page=len(SCHEMAS), resources=SCHEMAS
    )
    return ScimResponse(listed.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE))


@router.get("/Schemas/{schema_id:path}", summary="One schema", responses={200: {"model": Schema}, 404: ERRORS[404]})
def one_schema(schema_id: str, client: Client) -> Response:
    found = schema(schema_id)
    if found is None:
        raise NotFoundException(detail=f"no schema {schema_id}")
    return ScimResponse(found.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE))


# Out of the OpenAPI document, whose contract is "never a 5xx": RFC 7644 §3.12's answer for an operation a
# service does not offer is 501, and SCIM clients (scim2-tester among them) read it so.
@router.post("/.search", include_in_schema=False)
def search_everything(client: Client) -> Response:
    # RFC 7644 §3.4.3 lets a service search one resource type at a time; /Users/.search and /Groups/.search do.
    raise NotImplementedException(detail="search one resource type at a time: POST /Users/.search or /Groups/.search")


# --- Users ------------------------------------------------------------------------------------------------

Search = Annotated[SearchRequest, Query()]


LIST_ATTRIBUTES = ("schemas", "attributes", "excludedAttributes", "excluded_attributes")


class SearchBody(SearchRequest):
    """A search's JSON body: its numbers are JSON numbers (``"count": false`` is refused, not read as 0)."""

    start_index: Annotated[int | None, Field(strict=True)] = None
    count: Annotated[int | None, Field(strict=True)] = None

    @model_validator(mode="before")
    @classmethod
    def _lists_of_strings(cls, value: Any) -> Any:
        # scim2-models also reads these from a query string ("a,b"); a JSON body has lists of strings.
        for name in LIST_ATTRIBUTES:
            listed = value.get(name) if isinstance(value, dict) else None
            if listed is not None and not (isinstance(listed, list) and all(isinstance(s, str) for s in listed)):
                raise ValueError(f"{name} is a list of strings")
        return value


Parameters = Annotated[ResponseParameters, Query()]
READ: dict[int | str, dict[str, Any]] = {200: {"model": UserModel}, 400: ERRORS[400], 404: ERRORS[404]}
WRITE: dict[int | str, dict[str, Any]] = {**READ, 409: ERRORS[409], 412: ERRORS[412]}


@router.get(
    "/Users",
    summary="List or filter users (userName eq, externalId eq, …)",
    responses={200: {"model": ListResponse[UserModel]}, 400: ERRORS[400]},
)
def users(search: Search, client: Client, runtime: RuntimeDep) -> Response:
    page = provisioning.list_users(runtime, search.filter, search.start_index, search.count)
    return _list(UserModel, page, search)


@router.post(
    "/Users/.search", summary="Search users", responses={200: {"model": ListResponse[UserModel]}, 400: ERRORS[400]}
)
def search_users(search: SearchBody, client: Client, runtime: RuntimeDep) -> Response:
    page = provisioning.list_users(runtime, search.filter, search.start_index, search.count)
    return _list(UserModel, page, search)


@router.post(
    "/Users",
    status_code=201,
    summary="Create a user",
    responses={201: {"model": UserModel}, 400: ERRORS[400], 409: ERRORS[409]},
)
def create_user(
    user: CreationRequestContext[UserModel],
    parameters: Parameters,
    client: Client,
    runtime: RuntimeDep,  # type: ignore[valid-type]
) -> Response:
    created = provisioning.create_user(runtime, user, client)
    return _resource(created, Context.RESOURCE_CREATION_RESPONSE, parameters, HTTPStatus.CREATED)


@router.get("/Users/{rid:scim_id}", summary="One user", responses=READ)
def user(rid: str, parameters: Parameters, client: Client, runtime: RuntimeDep) -> Response:
    return _resource(provisioning.get_user(runtime, rid), Context.RESOURCE_QUERY_RESPONSE, parameters)


@router.put("/Users/{rid:scim_id}", summary="Replace a user", responses=WRITE)
def replace_user(
    rid: str,
    user: ReplacementRequestContext[UserModel],  # type: ignore[valid-type]
    parameters: Parameters,
    client: Client,
    runtime: RuntimeDep,
    if_match: IfMatch = None,
) -> Response:
    replaced = provisioning.replace_user(runtime, rid, user, if_match, client)
    return _resource(replaced, Context.RESOURCE_REPLACEMENT_RESPONSE, parameters)


@router.patch("/Users/{rid:scim_id}", summary="Change a user (active: false makes a leaver)", responses=WRITE)
def patch_user(
    rid: str,
    patch: PatchRequestContext[PatchOp[UserModel]],  # type: ignore[valid-type]
    parameters: Parameters,
    client: Client,
    runtime: RuntimeDep,
    if_match: IfMatch = None,
) -> Response:
    patched = provisioning.patch_user(runtime, rid, patch, if_match, client)
    return _resource(patched, Context.RESOURCE_PATCH_RESPONSE, parameters)


@router.delete(
    "/Users/{rid:scim_id}",
    status_code=204,
    summary="Delete a user (a leaver; history stays)",
    responses={404: ERRORS[404], 412: ERRORS[412]},
)
def delete_user(rid: str, client: Client, runtime: RuntimeDep, if_match: IfMatch = None) -> Response:
    provisioning.delete_user(runtime, rid, if_match, client)
    return Response(status_code=HTTPStatus.NO_CONTENT)


# --- Groups -----------------------------------------------------------------------------------------------

GROUP_READ: dict[int | str, dict[str, Any]] = {200: {"model": GroupModel}, 400: ERRORS[400], 404: ERRORS[404]}
GROUP_WRITE: dict[int | str, dict[str, Any]] = {**GROUP_READ, 409: ERRORS[409], 412: ERRORS[412]}


@router.get(
    "/Groups",
    summary="List or filter groups (units)",
    responses={200: {"model": ListResponse[GroupModel]}, 400: ERRORS[400]},
)
def groups(search: Search, client: Client, runtime: RuntimeDep) -> Response:
    page = provisioning.list_groups(runtime, search.filter, search.start_index, search.count)
    return _list(GroupModel, page, search)


@router.post(
    "/Groups/.search", summary="Search groups", responses={200: {"model": ListResponse[GroupModel]}, 400: ERRORS[400]}
)
def search_groups(search: SearchBody, client: Client, runtime: RuntimeDep) -> Response:
    page = provisioning.list_groups(runtime, search.filter, search.start_index, search.count)
    return _list(GroupModel, page, search)


@router.post(
    "/Groups",
    status_code=201,
    summary="Create a group (a unit)",
    responses={201: {"model": GroupModel}, 400: ERRORS[400], 409: ERRORS[409]},
)
def create_group(
    group: CreationRequestContext[GroupModel],
    parameters: Parameters,
    client: Client,
    runtime: RuntimeDep,  # type: ignore[valid-type]
) -> Response:
    created = provisioning.create_group(runtime, group, client)
    return _resource(created, Context.RESOURCE_CREATION_RESPONSE, parameters, HTTPStatus.CREATED)


@router.get("/Groups/{rid:scim_id}", summary="One group", responses=GROUP_READ)
def group(rid: str, parameters: Parameters, client: Client, runtime: RuntimeDep) -> Response:
    return _resource(provisioning.get_group(runtime, rid), Context.RESOURCE_QUERY_RESPONSE, parameters)


@router.put("/Groups/{rid:scim_id}", summary="Replace a group", responses=GROUP_WRITE)
def replace_group(
    rid: str,
    group: ReplacementRequestContext[GroupModel],  # type: ignore[valid-type]
    parameters: Parameters,
    client: Client,
    runtime: RuntimeDep,
    if_match: IfMatch = None,
) -> Response:
    replaced = provisioning.replace_group(runtime, rid, group, if_match, client)
    return _resource(replaced, Context.RESOURCE_REPLACEMENT_RESPONSE, parameters)


@router.patch(
    "/Groups/{rid:scim_id}",
    summary="Change a group: members, name, leader, parent (204 unless attributes are asked for)",
    responses={**GROUP_WRITE, 204: {"description": "Changed"}},
)
def patch_group(
    rid: str,
    patch: PatchRequestContext[PatchOp[GroupModel]],  # type: ignore[valid-type]
    parameters: Parameters,
    client: Client,
    runtime: RuntimeDep,
    if_match: IfMatch = None,
) -> Response:
    patched = provisioning.patch_group(runtime, rid, patch, if_match, client)
    if not (parameters.attributes or parameters.excluded_attributes):
        # Entra ID expects 204 for a group PATCH; a large group's member list is not worth sending back.
        return Response(status_code=HTTPStatus.NO_CONTENT, headers={"ETag": patched.meta.version})
    return _resource(patched, Context.RESOURCE_PATCH_RESPONSE, parameters)


@router.delete(
    "/Groups/{rid:scim_id}",
    status_code=204,
    summary="Delete a group (its unit is deactivated)",
    responses={404: ERRORS[404], 412: ERRORS[412]},
)
def delete_group(rid: str, client: Client, runtime: RuntimeDep, if_match: IfMatch = None) -> Response:
    provisioning.delete_group(runtime, rid, if_match, client)
    return Response(status_code=HTTPStatus.NO_CONTENT)


def is_scim(path: str) -> bool:
    return path == SCIM_PATH or path.startswith(SCIM_PATH + "/")
