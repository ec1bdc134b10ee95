"""The OpenAPI document as a contract, checked by schemathesis in process against the real app.

Every operation is called with an HR token on the demo organisation with a running cycle; each
answer must pass every check schemathesis has: no 5xx, only documented status codes, content types
and headers, bodies that match their schema, schema-violating input refused and valid input
accepted, missing required headers refused, 405 with a correct ``Allow``, authentication not
ignored, deleted resources gone. The stateful test follows the links between operations. Examples
are bounded and derandomised, so a run takes about a minute and finds the same cases every time.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test
from schemathesis import checks as core_checks
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi import checks as openapi_checks

from tests.fuzz.support import CurrentApp, FuzzWorld, openapi_document

ALL_CHECKS = [
    core_checks.not_a_server_error,
    openapi_checks.status_code_conformance,
    openapi_checks.content_type_conformance,
    openapi_checks.response_headers_conformance,
    openapi_checks.response_schema_conformance,
    openapi_checks.negative_data_rejection,
    openapi_checks.positive_data_acceptance,
    openapi_checks.missing_required_header,
    openapi_checks.unsupported_method,
    openapi_checks.allow_header_conformance,
    openapi_checks.ignored_auth,
    openapi_checks.use_after_free,
    openapi_checks.ensure_resource_availability,
]
EXAMPLES_PER_OPERATION = 15
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

#: A schema-valid request may still be refused by a rule the schema cannot hold (a year outside the
#: strategy period, a step the running cycle does not have): the use case answers 422 with the
#: field it refuses, as documented. Every other status stays as schemathesis expects.
CONFIG = SchemathesisConfig.from_dict(
    {"checks": {"positive_data_acceptance": {"expected-statuses": ["2xx", "3xx", 401, 403, 404, 409, 422, 429]}}}
)

#: The document HR fetches from /api/openapi.json, read once; each test points it at its own app.
APP = CurrentApp()
schema = schemathesis.openapi.from_dict(openapi_document(), config=CONFIG)
schema.app = APP


@schema.auth()
class HrToken:
    """The current world's HR token, where the document asks for the bearer scheme (schemathesis
    leaves it out itself when it checks that calls without it are refused)."""

    def get(self, case: schemathesis.Case, context: Any) -> str:
        return APP.token

    def set(self, case: schemathesis.Case, data: str, context: Any) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


@pytest.fixture(scope="module", autouse=True)
def figures() -> Iterator[None]:
    """Writes the run's figures (operations, requests by status) to test-artifacts/ for the notes."""
    yield
    ARTIFACTS.mkdir(exist_ok=True)
    operations = sum(1 for result in schema.get_all_operations() if result.ok())
    document = {"operations": operations, "requests": sum(APP.statuses.values()), "statuses": dict(APP.statuses)}
    (ARTIFACTS / "fuzz-openapi.json").write_text(json.dumps(document, indent=2, sort_keys=True))


@schema.parametrize()
@settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_every_operation_keeps_its_contract(case: schemathesis.Case, fuzz_world: FuzzWorld) -> None:
    APP.use(fuzz_world)
    case.call_and_validate(checks=ALL_CHECKS)


def test_sequences_of_calls_keep_the_contract(fuzz_world: FuzzWorld) -> None:
    APP.use(fuzz_world)

    class Workflow(schema.as_state_machine()):  # type: ignore[misc]
        def validate_response(self, response: Any, case: schemathesis.Case, **kwargs: Any) -> None:
            case.validate_response(response, checks=ALL_CHECKS)

    run_state_machine_as_test(
        Workflow,
        settings=settings(
            max_examples=10,
            stateful_step_count=6,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
        ),
    )
