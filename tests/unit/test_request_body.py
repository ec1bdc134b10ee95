"""The middlewares' shared reading of a request body: the whole body in chunks, None when the client
goes away halfway, and the body handed on once, then whatever the client sends after it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

from starlette.types import Message

from service.request_body import read_body, replaying


def _receiver(messages: list[Message]):  # type: ignore[no-untyped-def]
    pending: Iterator[Message] = iter(messages)

    async def receive() -> Message:
        return next(pending)

    return receive


def test_a_body_in_chunks_is_read_whole() -> None:
    receive = _receiver(
        [
            {"type": "http.request", "body": b'{"name": "Bj', "more_body": True},
            {"type": "http.request", "body": 'ørn Ås"}'.encode(), "more_body": False},
        ]
    )
    assert asyncio.run(read_body(receive)) == '{"name": "Bjørn Ås"}'.encode()


def test_a_client_that_goes_away_halfway_gives_no_body() -> None:
    receive = _receiver([{"type": "http.request", "body": b"{", "more_body": True}, {"type": "http.disconnect"}])
    assert asyncio.run(read_body(receive)) is None


def test_the_body_is_handed_on_once_then_what_follows() -> None:
    replay = replaying(b"{}", _receiver([{"type": "http.disconnect"}]))

    async def twice() -> tuple[Message, Message]:
        return await replay(), await replay()

    first, second = asyncio.run(twice())
    assert first == {"type": "http.request", "body": b"{}", "more_body": False}
    assert second == {"type": "http.disconnect"}
