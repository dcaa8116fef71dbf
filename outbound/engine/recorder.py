"""Group commit of the per-send writes: what concurrent deliveries record at about the same moment
goes into one transaction, written by one thread.

A caller's write returns only after the commit that holds it, so a send marked ``sending`` is
durable before its SMTP session starts, exactly as with a transaction per write. One writer per
process also means the deliveries of one daemon never wait on each other for SQLite's write lock
(whose busy handler sleeps in steps of milliseconds). Deliveries, the bulk of the writes, are
applied with a few executemany statements per batch (``outcomes.record_delivered_many``); while
``sending`` marks keep coming they are held back up to ``RECORDS_WAIT`` (or ``RECORDS_BATCH`` of
them), so the marks, which a mailbox waits for, do not wait for their statements. A delivered
send is therefore ``sending`` in the database for at most that long: a crash then leaves it
``unknown`` (reconciled against the Sent folder), never sent twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Engine
from sqlmodel import Session

from outbound.store import outcomes
from outbound.store.db import session_scope

T = TypeVar("T")
Write = Callable[[Session], Any]
log = logging.getLogger("outbound.send")
RECORDS_BATCH = 64    # delivery records written together at the latest once this many are pending...
RECORDS_WAIT = 0.05   # ...or once the oldest has waited this many seconds


@dataclass
class _Item:
    fn: Write                                  # the write on its own (also the fallback of a bulk write)
    send_id: int | None                        # the send ``fn`` loads: read for the whole batch at once
    future: asyncio.Future[Any]
    delivered: tuple[int, outcomes.Delivered, datetime] | None = None  # applied in bulk when set
    sent: outcomes.SentSend | None = None      # the same, with the claim's facts: nothing to read back
    marking: outcomes.Marking | None = None    # a ``sending`` mark: the batch's marks go in one statement
    queued_at: float = 0.0                     # loop time it was queued (how long a record has waited)


class Recorder:
    def __init__(self, engine: Engine, *, max_batch: int = 256, records_batch: int = RECORDS_BATCH,
                 records_wait: float = RECORDS_WAIT) -> None:
        self.engine = engine
        self.max_batch = max_batch
        self.records_batch = records_batch
        self.records_wait = records_wait
        self.batches = 0  # transactions committed (fewer than writes when batching works)
        self._pending: list[_Item] = []
        self._drainer: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def write(self, fn: Callable[[Session], T], *, send_id: int | None = None) -> T:
        """Runs ``fn(session)`` in a shared transaction; returns its result once committed."""
        return await self._submit(lambda fut: _Item(fn, send_id, fut))  # type: ignore[no-any-return]

    async def mark_sending(self, mark: outcomes.Marking) -> bool:
        """``outcomes.mark_sending_in``, in one UPDATE with the other marks of the moment; False when
        this worker no longer holds the send's lease."""
        def alone(session: Session) -> bool:
            return outcomes.mark_sending_in(session, mark.send_id, mark.worker, mark.at, subject=mark.subject,
                                            variant_id=mark.variant_id)
        return bool(await self._submit(lambda fut: _Item(alone, None, fut, marking=mark)))

    async def delivered(self, send_id: int, delivered: outcomes.Delivered, now: datetime, *,
                        known: outcomes.SentSend | None = None) -> None:
        """``outcomes.record_delivered_in``, batched with the other deliveries of the moment
        (``known``: the claim's facts, so the batch reads nothing back)."""
        if known is not None:
            await self.delivered_soon(send_id, delivered, now, known=known)
            return

        def alone(session: Session) -> None:
            outcomes.record_delivered_in(session, send_id, delivered, now)
        await self._submit(lambda fut: _Item(alone, send_id, fut, (send_id, delivered, now)))

    def delivered_soon(self, send_id: int, delivered: outcomes.Delivered, now: datetime, *,
                       known: outcomes.SentSend) -> asyncio.Future[Any]:
        """``delivered`` without waiting: the future is done once the record is committed. The send
        is durably ``sending`` already, so the mailbox may go on while the record commits; the
        caller awaits the futures before it reports the batch done."""
        def alone(session: Session) -> None:
            outcomes.record_delivered_in(session, send_id, delivered, now)
        return self._enqueue(lambda fut: _Item(alone, send_id, fut, sent=known))

    async def _submit(self, make: Callable[[asyncio.Future[Any]], _Item]) -> Any:
        return await self._enqueue(make)

    def _enqueue(self, make: Callable[[asyncio.Future[Any]], _Item]) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # a new event loop (tests, one asyncio.run per CLI command)
            self._loop, self._pending, self._drainer = loop, [], None
        future: asyncio.Future[Any] = loop.create_future()
        item = make(future)
        item.queued_at = loop.time()
        self._pending.append(item)
        if self._drainer is None or self._drainer.done():
            self._drainer = loop.create_task(self._drain())
        return future

    def _next_batch(self) -> list[_Item]:
        """Urgent writes first: a mailbox waits on its ``sending`` mark before DATA, so marks never
        queue behind delivery records, which nobody waits on but the end of the tick. Records ride
        along with the marks once ``records_batch`` of them are pending or the oldest has waited
        ``records_wait`` seconds: a few large executemany rows instead of a few statements with
        every mark (on PostgreSQL each statement is a round trip that the marks would wait for).
        The wait bounds how long a delivered send stays ``sending`` (``unknown`` after a crash)."""
        urgent = [i for i in self._pending if i.delivered is None and i.sent is None]
        if urgent:
            records = [i for i in self._pending if i.sent is not None]
            waited = self._loop.time() - records[0].queued_at if records and self._loop is not None else float("inf")
            if records and len(records) < self.records_batch and waited < self.records_wait:
                records = []
            batch = (urgent + records)[:self.max_batch]
        else:
            batch = self._pending[:self.max_batch]
        taken = {id(i) for i in batch}
        self._pending = [i for i in self._pending if id(i) not in taken]
        return batch

    async def _drain(self) -> None:
        while self._pending:
            batch = self._next_batch()
            try:
                results = await asyncio.to_thread(self._apply, batch)
            except BaseException as exc:  # cancelled while the thread runs: the callers learn it
                for item in batch:
                    if not item.future.done():
                        item.future.set_exception(exc if isinstance(exc, Exception) else RuntimeError("recorder stopped"))
                raise
            if len(results) != len(batch):  # never hand one write's result to another caller
                mismatch = RuntimeError("recorder: the results do not match the writes; nothing is assumed done")
                for item in batch:
                    if not item.future.done():
                        item.future.set_exception(mismatch)
                continue
            for item, (ok, value) in zip(batch, results, strict=True):
                if item.future.done():
                    continue
                if ok:
                    item.future.set_result(value)
                else:
                    item.future.set_exception(value)

    def _apply(self, batch: list[_Item]) -> list[tuple[bool, Any]]:
        if all(i.marking is not None or i.sent is not None for i in batch):
            try:  # the hot path: core statements on a plain connection, no ORM session
                with self.engine.begin() as conn:
                    marked = outcomes.mark_sending_many(conn, [i.marking for i in batch if i.marking is not None])
                    outcomes.record_sent_many(conn, [i.sent for i in batch if i.sent is not None])
                self.batches += 1
                return [(True, i.marking.send_id in marked if i.marking is not None else None) for i in batch]
            except Exception:
                log.debug("batched write failed; applying it with the general path", exc_info=True)
        try:
            with session_scope(self.engine) as session:
                marked = outcomes.mark_sending_many(session, [i.marking for i in batch if i.marking is not None])
                outcomes.record_sent_many(session, [i.sent for i in batch if i.sent is not None])
                outcomes.record_delivered_many(session, [i.delivered for i in batch if i.delivered is not None])
                single = [i for i in batch if i.delivered is None and i.sent is None and i.marking is None]
                held = outcomes.prefetch(session, [i.send_id for i in single if i.send_id is not None])
                results = {id(i): i.fn(session) for i in single}
                results.update((id(i), i.marking.send_id in marked) for i in batch if i.marking is not None)
                del held
            self.batches += 1
            return [(True, results.get(id(i))) for i in batch]
        except Exception as exc:
            if len(batch) == 1:
                return [(False, exc)]
            log.debug("batched write failed; applying its %d writes one by one", len(batch), exc_info=True)
        out: list[tuple[bool, Any]] = []
        for item in batch:  # one bad write must not lose the others
            try:
                with session_scope(self.engine) as session:
                    value = item.fn(session)
                # only after the commit: a write whose commit failed must never be reported done
                out.append((True, value))
                self.batches += 1
            except Exception as exc:
                out.append((False, exc))
        return out
