"""Decayed scores, pure: ``score(t) = sum(weight * 0.5 ** ((t - at) / half_life))``.

A score is kept as ``(value, ref)``: its value as of the reference time ``ref``. Adding an event
moves ``ref`` forward to the event (never back) and decays the value on the way, so replaying the
same events in the same order gives the same floats, whatever the batch boundaries.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, NamedTuple

from outbound.core import events as ev
from outbound.scoring.spec import Weights


class Decayed(NamedTuple):  # a tuple: cheap to make a million of
    value: float
    ref: datetime

    def at(self, when: datetime, half_life_s: float) -> float:
        """The value as of ``when`` (a time before ``ref`` is read as ``ref``: scores never grow back)."""
        if when <= self.ref:
            return self.value
        return float(self.value * 0.5 ** ((when - self.ref).total_seconds() / half_life_s))

    def add(self, weight: float, at: datetime, half_life_s: float) -> Decayed:
        if at > self.ref:
            return Decayed(self.at(at, half_life_s) + weight, at)
        return Decayed(float(self.value + weight * 0.5 ** ((self.ref - at).total_seconds() / half_life_s)), self.ref)


def start(weight: float, at: datetime) -> Decayed:
    return Decayed(weight, at)


def weight_of(kind: str, data: Mapping[str, Any] | None, weights: Weights) -> float:
    """Points for one event; 0 for types that are not scored and for machine opens."""
    data = data or {}
    if kind == ev.REPLIED:
        positive = data.get("positive")
        if positive is True:
            return weights.replied_positive
        if positive is False:
            return weights.replied_negative
        return weights.replied
    if kind == ev.OPENED and data.get("machine") is True:
        return 0.0
    value = getattr(weights, kind, None) if kind in type(weights).model_fields else None
    return float(value) if value is not None else 0.0
