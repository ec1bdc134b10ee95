from __future__ import annotations

import pytest

from aarshjul.runtime import Runtime
from aarshjul.usecases.admin.hr_access import MAX_TOKEN_DAYS, issue_api_token
from service.app import create_app
from tests.builders import demo_cycle
from tests.fuzz.support import FuzzWorld


@pytest.fixture
def fuzz_world(runtime: Runtime) -> FuzzWorld:
    cycle_id = demo_cycle(runtime)
    token = issue_api_token(runtime, label="fuzz", days=MAX_TOKEN_DAYS)
    return FuzzWorld(runtime, create_app(runtime), token, cycle_id)
