"""Engagement scoring, rules and escalation, outcomes in, and mailbox health from the events table."""

from __future__ import annotations

import outbound.scoring.tables  # noqa: F401  (registers the tables on SQLModel.metadata)
