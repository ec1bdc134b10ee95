"""The web process's background queue (service.triggers.Coalescing): every ask is answered by a job
that begins after it, one job per key at a time, on a bounded number of threads."""

from __future__ import annotations

import threading
import time

from service.triggers import Coalescing


class Recorder:
    """A job that records when it began and ended, and can be held running until released."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.events: list[tuple[str, object, float]] = []
        self.running = 0
        self.most_at_once = 0
        self.hold = threading.Event()
        self.hold.set()
        self.began = threading.Event()

    def job(self, key: object) -> None:
        with self.lock:
            self.events.append(("begin", key, time.monotonic()))
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
        self.began.set()
        self.hold.wait(10)
        with self.lock:
            self.running -= 1
            self.events.append(("end", key, time.monotonic()))

    def begins(self, key: object) -> list[float]:
        return [at for kind, k, at in self.events if kind == "begin" and k == key]


def test_asks_while_a_key_runs_make_one_more_run_that_begins_after_the_last_ask() -> None:
    background = Coalescing(threads=2)
    recorder = Recorder()
    recorder.hold.clear()
    assert background.submit("unit-1", lambda: recorder.job("unit-1"))
    assert recorder.began.wait(5)
    asked = []
    for _ in range(20):  # a burst of submissions in the unit while its advance runs
        background.submit("unit-1", lambda: recorder.job("unit-1"))
        asked.append(time.monotonic())
    recorder.hold.set()
    assert background.wait(10)
    begins = recorder.begins("unit-1")
    assert len(begins) == 2  # the running one, and one more for all twenty asks
    assert begins[-1] > asked[-1]  # it began after the last ask: it reads what that one committed
    assert recorder.most_at_once == 1  # never the same key twice at once


def test_an_ask_while_its_key_waits_is_covered_by_the_waiting_job() -> None:
    background = Coalescing(threads=1)
    recorder = Recorder()
    recorder.hold.clear()
    background.submit("first", lambda: recorder.job("first"))
    assert recorder.began.wait(5)
    assert background.submit("second", lambda: recorder.job("second"))
    assert not background.submit("second", lambda: recorder.job("second"))
    recorder.hold.set()
    assert background.wait(10)
    assert len(recorder.begins("second")) == 1


def test_every_key_asked_for_runs_on_no_more_threads_than_allowed() -> None:
    background = Coalescing(threads=2)
    recorder = Recorder()

    def slow(key: int) -> None:
        recorder.job(key)
        time.sleep(0.002)

    for key in range(50):
        background.submit(key, lambda key=key: slow(key))
    assert background.wait(20)
    assert sorted(k for kind, k, _ in recorder.events if kind == "end") == list(range(50))
    assert recorder.most_at_once <= 2
    threads = [t for t in threading.enumerate() if t.name.startswith("background-")]
    deadline = time.monotonic() + 5
    while any(t.is_alive() for t in threads) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not any(t.is_alive() for t in threads)  # idle: no thread stays behind


def test_a_failing_job_neither_stops_the_queue_nor_blocks_its_key() -> None:
    background = Coalescing(threads=1)
    done: list[str] = []

    def fail() -> None:
        raise RuntimeError("the database went away")

    background.submit("unit-1", fail)
    background.submit("unit-2", lambda: done.append("unit-2"))
    assert background.wait(5)
    background.submit("unit-1", lambda: done.append("unit-1"))
    assert background.wait(5)
    assert done == ["unit-2", "unit-1"]


def test_what_a_job_asks_for_is_waited_for_too() -> None:
    background = Coalescing(threads=2)
    done: list[str] = []

    def advance() -> None:
        time.sleep(0.05)
        background.submit("dispatch", lambda: (time.sleep(0.05), done.append("dispatch")))
        done.append("advance")

    background.submit("advance", advance)
    assert background.wait(5)
    assert done == ["advance", "dispatch"]


def test_asks_within_the_gathering_time_share_one_job_that_begins_after_it() -> None:
    background = Coalescing(threads=2)
    recorder = Recorder()
    asked = time.monotonic()
    assert background.submit("unit-1", lambda: recorder.job("unit-1"), gather=0.2)
    assert background.submit("unit-2", lambda: recorder.job("unit-2"))  # not gathered: begins at once
    for _ in range(10):
        assert not background.submit("unit-1", lambda: recorder.job("unit-1"), gather=0.2)
    assert background.wait(5)
    (begun,) = recorder.begins("unit-1")
    assert begun - asked >= 0.2
    (other,) = recorder.begins("unit-2")
    assert other < begun
