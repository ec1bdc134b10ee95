"""Rate limits kept in the database: the same counts for every web process, on both databases."""

from __future__ import annotations

import datetime as dt
import threading

from sqlalchemy import func, select

from aarshjul.db.engine import make_engine, make_session_factory
from aarshjul.db.models import RateLimitBucket
from aarshjul.runtime import Runtime
from aarshjul.usecases.shared.rate_limits import RateLimit, allow, forget
from service.rate_limit import RequestLimits


def _later(runtime: Runtime, seconds: float) -> None:
    runtime.clock.set(runtime.clock() + dt.timedelta(seconds=seconds))  # type: ignore[attr-defined]


def _rows(runtime: Runtime) -> int:
    with runtime.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(RateLimitBucket)) or 0)


def test_a_bucket_allows_its_capacity_then_refills_over_the_period(runtime: Runtime) -> None:
    limit = RateLimit("test", capacity=3, period=3600)
    assert [allow(runtime, [(limit, "a")]) for _ in range(4)] == [True, True, True, False]
    assert allow(runtime, [(limit, "b")])  # keys are separate
    _later(runtime, 1199)
    assert not allow(runtime, [(limit, "a")])
    _later(runtime, 2)
    assert allow(runtime, [(limit, "a")]) and not allow(runtime, [(limit, "a")])
    _later(runtime, 10 * 3600)
    assert [allow(runtime, [(limit, "a")]) for _ in range(4)] == [True, True, True, False]  # never more than capacity


def test_refilled_buckets_are_deleted_so_the_table_stays_small(runtime: Runtime) -> None:
    limit = RateLimit("test", capacity=1, period=60)
    for index in range(50):
        assert allow(runtime, [(limit, str(index))])
        _later(runtime, 61)
    assert _rows(runtime) <= 1


def test_both_the_client_and_the_address_must_allow(runtime: Runtime) -> None:
    limits = RequestLimits.hourly("new-link", per_client=10, per_address=3)
    assert [limits.allow(runtime, "1.2.3.4", "a@x.no") for _ in range(4)] == [True, True, True, False]
    assert limits.allow(runtime, "5.6.7.8", "b@x.no")
    results = [limits.allow(runtime, "1.2.3.4", f"{i}@x.no") for i in range(10)]
    assert results.count(True) == 6  # 10 per client per hour, 4 used already


def test_limits_of_the_same_values_under_other_names_are_separate(runtime: Runtime) -> None:
    links = RequestLimits.hourly("new-link", per_client=10, per_address=1)
    data = RequestLimits.hourly("personal-data", per_client=10, per_address=1)
    assert links.allow(runtime, "1.2.3.4", "a@x.no") and not links.allow(runtime, "1.2.3.4", "a@x.no")
    assert data.allow(runtime, "1.2.3.4", "a@x.no")


def test_no_address_is_stored_in_clear(runtime: Runtime) -> None:
    RequestLimits.hourly("new-link", 10, 3).allow(runtime, "192.0.2.7", "kari@example.no")
    with runtime.sessions() as session:
        keys = session.scalars(select(RateLimitBucket.key)).all()
    assert len(keys) == 2 and not any("kari" in key or "192.0.2.7" in key for key in keys)


def test_one_request_may_charge_the_same_bucket_twice(runtime: Runtime) -> None:
    limit = RateLimit("test", capacity=3, period=3600)
    assert allow(runtime, [(limit, "a"), (limit, "a")])
    assert allow(runtime, [(limit, "a")]) and not allow(runtime, [(limit, "a")])


def test_forget_gives_a_key_a_full_bucket_again(runtime: Runtime) -> None:
    limit = RateLimit("sign-in:account", capacity=2, period=900)
    assert [allow(runtime, [(limit, "hr@x.no")]) for _ in range(3)] == [True, True, False]
    forget(runtime, limit, "hr@x.no")
    assert allow(runtime, [(limit, "hr@x.no")])


def test_two_processes_share_the_counts_and_a_race_spends_each_token_once(runtime: Runtime) -> None:
    """Two engines on one database stand for two web processes; 24 threads race for 5 tokens."""
    other_engine = make_engine(runtime.settings.resolved_database_url)
    other = Runtime(
        settings=runtime.settings, engine=other_engine, sessions=make_session_factory(other_engine), clock=runtime.clock
    )
    try:
        limit = RateLimit("race", capacity=5, period=3600)
        results: list[bool] = []
        start = threading.Barrier(24)

        def charge(process: Runtime) -> None:
            start.wait()
            results.append(allow(process, [(limit, "same-client")]))

        threads = [threading.Thread(target=charge, args=(runtime if i % 2 else other,)) for i in range(24)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert results.count(True) == 5 and len(results) == 24
        assert not allow(runtime, [(limit, "same-client")]) and not allow(other, [(limit, "same-client")])
    finally:
        other_engine.dispose()
