"""Mailbox health thresholds: the ``[health]`` section of config.toml."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from outbound.spec.durations import parse_duration


class HealthSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    bounce_window: timedelta = Field(timedelta(days=7), description="rolling window for the bounce rate")
    max_bounce_rate: Annotated[float, Field(ge=0, le=1)] = 0.02
    min_sends: Annotated[int, Field(ge=1)] = 20
    pause_on_complaint: bool = True
    auth_failures: Annotated[int, Field(ge=1)] = 3          # per mailbox, within the window
    auth_failure_mailboxes: Annotated[int, Field(ge=1)] = 2  # mailboxes of one domain: pause the whole domain
    resume_after: timedelta | None = Field(None, description="resume a health pause by itself after this long")

    @field_validator("bounce_window", "resume_after", mode="before")
    @classmethod
    def _durations(cls, v: Any) -> Any:
        return parse_duration(v) if isinstance(v, (str, int, float)) and not isinstance(v, bool) else v
