from __future__ import annotations

from service.rate_limit import LinkRequestLimiter, TokenBucket


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_bucket_allows_its_capacity_then_refills_over_the_period() -> None:
    time = FakeTime()
    bucket = TokenBucket(capacity=3, period=3600, clock=time)
    assert [bucket.allow("a") for _ in range(4)] == [True, True, True, False]
    assert bucket.allow("b")  # keys are separate
    time.now += 1199
    assert not bucket.allow("a")
    time.now += 2
    assert bucket.allow("a") and not bucket.allow("a")
    time.now += 10 * 3600
    assert [bucket.allow("a") for _ in range(4)] == [True, True, True, False]  # never more than capacity


def test_bucket_memory_is_bounded() -> None:
    time = FakeTime()
    bucket = TokenBucket(capacity=1, period=60, clock=time, max_keys=10)
    for index in range(50):
        bucket.allow(str(index))
        time.now += 61
    assert len(bucket._buckets) <= 10


def test_limiter_needs_both_client_and_address_to_allow() -> None:
    time = FakeTime()
    limiter = LinkRequestLimiter(clock=time)
    assert [limiter.allow("1.2.3.4", "a@x.no") for _ in range(4)] == [True, True, True, False]
    assert limiter.allow("5.6.7.8", "b@x.no")
    results = [limiter.allow("1.2.3.4", f"{i}@x.no") for i in range(10)]
    assert results.count(True) == 6  # 10 per client per hour, 4 used already
