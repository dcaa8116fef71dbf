"""The database tables. Times are aware UTC datetimes (sqlmodel's UTCDateTime stores them portably)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel


class EnrollmentState(StrEnum):
    active = "active"          # has a next step to send
    paused = "paused"          # waiting until paused_until (auto-reply) or a manual resume
    blocked = "blocked"        # cannot send (missing variable, no mailbox...): blocked_reason says why
    completed = "completed"    # every step done
    stopped = "stopped"        # ended by a reply, bounce, unsubscribe, rule or suppression


class SendState(StrEnum):
    claimed = "claimed"        # reserved by a worker under a lease; nothing has left yet
    sending = "sending"        # Message-ID fixed, SMTP transaction under way
    sent = "sent"              # accepted by the server
    retry = "retry"            # temporary failure; goes again at not_before
    failed = "failed"          # gave up (retries exhausted, configuration error)
    bounced = "bounced"        # refused with 5xx at RCPT/DATA
    unknown = "unknown"        # the server may have accepted it: never resent, reconciled via Sent
    skipped = "skipped"        # the step's condition was false


class Prospect(SQLModel, table=True):
    __tablename__ = "prospects"
    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(index=True, unique=True, max_length=320)  # stored lower-cased
    first_name: str | None = None
    last_name: str | None = None
    company: str | None = None
    company_domain: str | None = Field(default=None, index=True)
    title: str | None = None
    timezone: str | None = None
    source: str | None = Field(default=None, index=True)
    vendor: str | None = Field(default=None, index=True)   # the lead vendor or list (0007)
    fields: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    hot: bool = False
    # address verification (0006): valid | risky | invalid | unknown, its reasons, when it was checked
    verify_status: str | None = Field(default=None, index=True)
    verify_reasons: list[str] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    verified_at: datetime | None = None
    created_at: datetime
    updated_at: datetime


class Account(SQLModel, table=True):
    __tablename__ = "accounts"
    id: int | None = Field(default=None, primary_key=True)
    domain: str = Field(unique=True, index=True)
    name: str | None = None
    stopped_reason: str | None = None
    created_at: datetime


class SequenceVersion(SQLModel, table=True):
    """Each distinct content of a sequence file gets a version; enrollments remember theirs."""

    __tablename__ = "sequence_versions"
    __table_args__ = (UniqueConstraint("name", "content_hash"),)
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True)
    content_hash: str
    version: int
    created_at: datetime


class Enrollment(SQLModel, table=True):
    __tablename__ = "enrollments"
    __table_args__ = (
        UniqueConstraint("prospect_id", "sequence_name"),
        Index("ix_enrollments_due", "state", "next_due_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    prospect_id: int = Field(foreign_key="prospects.id", index=True)
    sequence_name: str = Field(index=True)
    sequence_version: int = 1
    state: str = Field(default=EnrollmentState.active)
    next_step: int = 0                      # index of the step to send next, in the sequence as last planned
    # steps are followed by id, so a sequence may be edited while enrollments run (0004):
    done_steps: str | None = None           # ids of the steps sent, soft-bounced past or skipped, space-separated
    next_step_id: str | None = None         # the id of next_step when it was last planned (None: not yet)
    next_due_at: datetime | None = None     # when that step may go (None: plan it on the next tick)
    mailbox: str | None = Field(default=None, index=True)  # kept for the whole thread
    anchor_at: datetime | None = None       # the next step's wait counts from here (last send or skip)
    last_sent_at: datetime | None = None
    last_message_id: str | None = None      # for threading the next step
    thread_references: str | None = None    # Message-IDs of the thread so far, space-separated
    last_subject: str | None = None
    started_at: datetime | None = None      # first touch sent (counts against daily_new_limit)
    paused_until: datetime | None = None
    reason: str | None = None               # why blocked, paused or stopped
    created_at: datetime
    updated_at: datetime


class Send(SQLModel, table=True):
    """One step to one prospect. The unique key makes a second send of the same step impossible."""

    __tablename__ = "sends"
    __table_args__ = (
        UniqueConstraint("enrollment_id", "step_id"),
        Index("ix_sends_state_lease", "state", "lease_until"),
        Index("ix_sends_sequence_first", "sequence_name", "step_index", "claimed_at"),
        # a mailbox's last hour (0003: replaces (mailbox, to_domain, claimed_at), which SQLite walked whole)
        Index("ix_sends_mailbox_claimed", "mailbox", "claimed_at"),
        Index("ix_sends_to_address", "to_address"),                  # soft bounces, inbound matching (0003)
    )
    id: int | None = Field(default=None, primary_key=True)
    enrollment_id: int = Field(foreign_key="enrollments.id", index=True)
    prospect_id: int = Field(foreign_key="prospects.id", index=True)
    sequence_name: str
    step_id: str
    step_index: int
    variant_id: str | None = None
    mailbox: str
    to_address: str
    to_domain: str                           # for the hourly per-recipient-domain limit
    state: str = Field(default=SendState.claimed)
    message_id: str | None = Field(default=None, index=True, unique=True)
    subject: str | None = None
    lease_owner: str | None = None
    lease_until: datetime | None = None
    attempts: int = 0
    not_before: datetime | None = None       # retry time
    claimed_at: datetime
    sent_at: datetime | None = None
    last_error: str | None = None


class Event(SQLModel, table=True):
    """Everything that happened, once each: ``dedupe_key`` is a natural key of its source."""

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_prospect_type", "prospect_id", "type"),
        Index("ix_events_type_at", "type", "at"),  # one kind of event within a window (0003)
    )
    id: int | None = Field(default=None, primary_key=True)
    type: str = Field(index=True)
    at: datetime = Field(index=True)
    prospect_id: int | None = Field(default=None, foreign_key="prospects.id")
    enrollment_id: int | None = Field(default=None, foreign_key="enrollments.id")
    send_id: int | None = Field(default=None, foreign_key="sends.id")
    mailbox: str | None = Field(default=None, index=True)
    dedupe_key: str | None = Field(default=None, unique=True)
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class MailboxState(SQLModel, table=True):
    __tablename__ = "mailboxes"
    address: str = Field(primary_key=True)
    domain: str = Field(index=True)
    state: str = "active"                   # active | paused
    pause_reason: str | None = None
    paused_at: datetime | None = None
    send_days: int = 0                      # distinct days with at least one send (warm-up day count)
    last_send_day: str | None = None        # ISO date (UTC) of the latest day it sent
    sent_on_last_day: int = 0               # sends on last_send_day: the cap counter, bumped at claim
    last_send_at: datetime | None = None
    next_allowed_at: datetime | None = None  # last send + random gap
    lease_owner: str | None = None          # the daemon that polls its IMAP folders
    lease_until: datetime | None = None


class Suppression(SQLModel, table=True):
    __tablename__ = "suppressions"
    id: int | None = Field(default=None, primary_key=True)
    value: str = Field(unique=True, index=True)   # an address, or '@domain'
    kind: str                                     # address | domain
    reason: str
    created_at: datetime


class Score(SQLModel, table=True):
    __tablename__ = "scores"
    __table_args__ = (UniqueConstraint("subject_kind", "subject"),)
    id: int | None = Field(default=None, primary_key=True)
    subject_kind: str                              # prospect | account | mailbox
    subject: str
    score: float = 0.0
    updated_at: datetime


class ImapWatermark(SQLModel, table=True):
    __tablename__ = "imap_watermarks"
    mailbox: str = Field(primary_key=True)
    folder: str = Field(primary_key=True)
    uidvalidity: int
    last_uid: int
    updated_at: datetime


class Gate(SQLModel, table=True):
    """Once-per-period jobs shared by several daemons: whoever moves ``last_run`` runs the job."""

    __tablename__ = "gates"
    name: str = Field(primary_key=True)
    last_run: datetime
