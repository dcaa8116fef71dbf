"""Tables of the scoring area (migration 0002): watermarks, action log, webhook deliveries, mailbox health."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index
from sqlmodel import Field, SQLModel


class ScoringWatermark(SQLModel, table=True):
    """The id of the last event a pass has applied; ``name`` is the pass ('scores')."""

    __tablename__ = "scoring_watermarks"
    name: str = Field(primary_key=True)
    last_event_id: int = 0
    updated_at: datetime


class ScoringAction(SQLModel, table=True):
    """One action a rule took, once: ``key`` is rule + subject + triggering event."""

    __tablename__ = "scoring_actions"
    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(unique=True, max_length=400)
    rule: str = Field(index=True)
    kind: str                                   # pause | stop | stop_account | hot | move | webhook
    subject_kind: str                           # prospect | account
    subject: str
    prospect_id: int | None = Field(default=None, index=True)
    event_id: int | None = None
    reason: str
    state: str = "done"                         # done | pending (work left outside the transaction)
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime
    done_at: datetime | None = None


class WebhookDelivery(SQLModel, table=True):
    """A signed POST to a webhook, kept until delivered (or given up after ``max_attempts``)."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_due", "state", "next_attempt_at"),)
    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(unique=True, max_length=400)
    webhook: str                                # its name in scoring.yaml
    body: str                                   # the exact JSON bytes that are signed, as text
    state: str = "pending"                      # pending | delivered | failed
    attempts: int = 0
    next_attempt_at: datetime
    last_error: str | None = None
    created_at: datetime
    delivered_at: datetime | None = None


class MailboxHealth(SQLModel, table=True):
    """What the health pass knows of a mailbox: its own pauses, and evidence forgiven by a resume."""

    __tablename__ = "mailbox_health"
    address: str = Field(primary_key=True)
    seen_paused: bool = False                   # paused at the last pass (a change to active is a resume)
    paused_by_health: bool = False
    pause_kind: str | None = None               # bounce_rate | complaint | auth | domain_auth
    paused_at: datetime | None = None
    resume_at: datetime | None = None           # automatic resume, when configured
    ignore_before: datetime | None = None       # evidence up to here was forgiven by a resume
