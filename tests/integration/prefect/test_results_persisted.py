"""The suite's flow tests again, with Prefect persisting task results by default.

With Prefect's default cache policy and persisted results, a task called again with the same
arguments in the same flow run is answered from the cache: the dispatcher's batches 2 to 20 came
back as "sent" without sending, and a run reported 40 emails for 5. Every task is declared with
NO_CACHE and no persisted result (tasks/options.py); this runs the flow tests in a fresh process
with persistence switched on and fails if any of them sees a cached answer.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
FLOW_TESTS = ["tests/e2e/test_dispatch_flow.py", "tests/integration/prefect/test_cycle_flows.py"]

pytestmark = [pytest.mark.prefect, pytest.mark.slow]


def test_the_flow_tests_pass_with_results_persisted_by_default(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env |= {"PREFECT_RESULTS_PERSIST_BY_DEFAULT": "true", "PREFECT_HOME": str(tmp_path / "prefect")}
    env.pop("AARSHJUL_TEST_POSTGRES_URL", None)  # SQLite is enough to see a cached answer; half the time
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *FLOW_TESTS],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and "skipped" not in result.stdout.splitlines()[-1]
