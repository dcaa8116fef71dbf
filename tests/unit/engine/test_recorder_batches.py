"""Which pending writes the recorder commits together: marks first, delivery records held back a
little while marks keep coming (so the marks do not wait for them), but never for long."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from sqlalchemy import create_engine

from outbound.engine.recorder import Recorder, _Item
from outbound.store import outcomes

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def _mark(loop: asyncio.AbstractEventLoop, send_id: int, at: float) -> _Item:
    return _Item(lambda s: None, None, loop.create_future(), marking=outcomes.Marking(send_id, "w", NOW), queued_at=at)


def _record(loop: asyncio.AbstractEventLoop, send_id: int, at: float) -> _Item:
    sent = outcomes.SentSend(send_id, send_id, send_id, "seq", "intro", 0, "a@b.test", f"<{send_id}@b.test>",
                             outcomes.Delivered("Hi", None, ()), NOW)
    return _Item(lambda s: None, send_id, loop.create_future(), sent=sent, queued_at=at)


def _ids(batch: list[_Item]) -> list[tuple[str, int]]:
    return [("mark" if i.marking else "record", (i.marking or i.sent).send_id) for i in batch]  # type: ignore[union-attr]


async def test_records_wait_while_marks_flow_then_ride_along_once_old_or_many() -> None:
    loop = asyncio.get_running_loop()
    recorder = Recorder(create_engine("sqlite://"), records_batch=3, records_wait=0.05)
    recorder._loop = loop
    now = loop.time()
    recorder._pending = [_record(loop, 1, now), _mark(loop, 2, now)]
    assert _ids(recorder._next_batch()) == [("mark", 2)]         # young and few: the mark goes alone
    recorder._pending += [_mark(loop, 3, now)]
    recorder._pending[0].queued_at = now - 0.06                   # the record has now waited too long
    assert _ids(recorder._next_batch()) == [("mark", 3), ("record", 1)]
    recorder._pending = [_record(loop, i, now) for i in (4, 5, 6)] + [_mark(loop, 7, now)]
    assert _ids(recorder._next_batch()) == [("mark", 7), ("record", 4), ("record", 5), ("record", 6)]  # many
    recorder._pending = [_record(loop, 8, now)]
    assert _ids(recorder._next_batch()) == [("record", 8)]       # no mark waiting: written at once
    assert recorder._pending == []


async def test_through_the_drain_a_record_waits_at_most_about_the_wait_while_marks_keep_coming() -> None:
    """The real drain loop, with the database write replaced by a 10 ms stand-in that notes each
    batch: marks arrive without pause, the record is held back from the first batches, and is
    still written within about ``records_wait`` (not at the end of the flow)."""
    import time

    recorder = Recorder(create_engine("sqlite://"), records_batch=1000, records_wait=0.05)
    loop = asyncio.get_running_loop()
    batches: list[tuple[float, list[tuple[str, int]]]] = []

    def apply(batch: list[_Item]) -> list[tuple[bool, object]]:
        time.sleep(0.01)
        batches.append((loop.time(), _ids(batch)))
        return [(True, True if i.marking is not None else None) for i in batch]

    recorder._apply = apply  # type: ignore[method-assign]
    stop = asyncio.Event()

    async def lane(first_id: int) -> None:  # like a mailbox's delivery lane: a mark before every message
        send_id = first_id
        while not stop.is_set():
            send_id += 1
            assert await recorder.mark_sending(outcomes.Marking(send_id, "w", NOW))
            await asyncio.sleep(0.001 * (first_id // 1000))  # its SMTP exchange, shorter than a commit

    lanes = asyncio.gather(*(lane(n * 1000) for n in range(1, 5)))
    while len(batches) < 2:  # the marks are flowing (on a loaded machine the first batches come late)
        await asyncio.sleep(0.005)
    queued, before = loop.time(), len(batches)
    sent = _record(loop, 1, 0.0).sent
    record = recorder._enqueue(lambda fut: _Item(lambda s: None, 1, fut, sent=sent))
    await record  # written while the marks keep coming
    stop.set()
    await lanes
    with_record = next(i for i, (_, ids) in enumerate(batches) if ("record", 1) in ids)
    assert with_record > before + 1                      # held back from the next batches...
    assert 0.04 <= batches[with_record][0] - queued < 0.2  # ...but not much longer than the wait
