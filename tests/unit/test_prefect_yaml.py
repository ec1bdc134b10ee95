"""prefect.yaml and the embedded runner's deployments describe the same three deployments, and no
secret travels in a job variable (they are shown to everyone who can read a deployment)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from prefect.flows import load_flow_from_entrypoint

from aarshjul.orchestration import (
    ADVANCE_DEPLOYMENT,
    DISPATCH_DEPLOYMENT,
    DISPATCH_SAFETY_MINUTES,
    SWEEP_DEPLOYMENT,
    WORK_POOL,
)
from aarshjul.settings import Settings
from flows.serve import deployments

ROOT = Path(__file__).resolve().parents[2]
SECRET_WORDS = ("SECRET", "PASSWORD", "API_KEY", "DATABASE_URL")


def _declared() -> dict[str, dict[str, Any]]:
    document = yaml.safe_load((ROOT / "prefect.yaml").read_text(encoding="utf-8"))
    found = {}
    for deployment in document["deployments"]:
        flow = load_flow_from_entrypoint(deployment["entrypoint"])
        found[f"{flow.name}/{deployment['name']}"] = deployment
    return found


def test_the_three_deployments_are_declared_for_the_work_pool() -> None:
    declared = _declared()
    assert set(declared) == {ADVANCE_DEPLOYMENT, SWEEP_DEPLOYMENT, DISPATCH_DEPLOYMENT}
    assert {d["work_pool"]["name"] for d in declared.values()} == {WORK_POOL}
    assert declared[SWEEP_DEPLOYMENT]["concurrency_limit"] == {"limit": 1, "collision_strategy": "CANCEL_NEW"}
    assert declared[DISPATCH_DEPLOYMENT]["schedules"][0]["interval"] == DISPATCH_SAFETY_MINUTES * 60
    assert "schedules" not in declared[ADVANCE_DEPLOYMENT]  # started by the web tier only


def test_the_runner_serves_the_same_deployments() -> None:
    served = {f"{d.flow_name}/{d.name}": d for d in deployments(Settings(secret_key="x" * 40))}
    declared = _declared()
    assert set(served) == set(declared)
    for name, deployment in served.items():
        assert deployment.entrypoint == declared[name]["entrypoint"]
        assert set(deployment.tags) == set(declared[name]["tags"])


def test_no_secret_is_a_job_variable() -> None:
    for deployment in _declared().values():
        variables = deployment["work_pool"]["job_variables"]["env"]
        assert variables and not [name for name in variables if any(word in name for word in SECRET_WORDS)]
