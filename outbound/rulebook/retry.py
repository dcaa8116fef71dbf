"""When to try a send again: a pure decision the engine turns into a scheduled retry.

Only ``temporary`` outcomes are retried. Everything else, above all ``ambiguous`` (the server may
already hold the message), is final: resending could deliver twice.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field

from outbound.core.outcome import SendOutcome


@dataclass(frozen=True)
class Retry:
    delay: float  # seconds from now
    reason: str


@dataclass(frozen=True)
class GiveUp:
    reason: str


RetryDecision = Retry | GiveUp


def _default_floors() -> dict[str, float]:
    # Greylisting servers (postgrey: 300 s) refuse anything earlier; rate limits need a real pause.
    return {"greylisted": 300.0, "rate_limited": 900.0}


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5  # attempts in total, the first one included
    base_delay: float = 60.0
    factor: float = 2.0
    max_delay: float = 3600.0
    jitter: float = 0.25  # the delay is scaled by a uniform factor in [1 - jitter, 1 + jitter]
    base_by_reason: Mapping[str, float] = field(default_factory=_default_floors)

    def __post_init__(self) -> None:
        if self.max_attempts < 1 or self.base_delay <= 0 or self.factor < 1 or not 0 <= self.jitter < 1:
            raise ValueError("retry policy needs max_attempts >= 1, base_delay > 0, factor >= 1, 0 <= jitter < 1")


DEFAULT_POLICY = RetryPolicy()


def retry_decision(attempt: int, outcome: SendOutcome, rng: random.Random,
                   policy: RetryPolicy = DEFAULT_POLICY) -> RetryDecision:
    """Decide after ``attempt`` attempts (1 = the first one just failed) what to do next."""
    if outcome.kind == "ambiguous":
        return GiveUp("ambiguous: the server may have accepted the message; never resend it")
    if outcome.kind != "temporary":
        return GiveUp(f"{outcome.kind} ({outcome.reason}) is final, not retried")
    if attempt >= policy.max_attempts:
        return GiveUp(f"gave up after {attempt} attempts, last: {outcome.reason}")
    base = max(policy.base_delay, policy.base_by_reason.get(outcome.reason, 0.0))
    delay = min(policy.max_delay, base * policy.factor ** (max(1, attempt) - 1))
    # Jitter spreads retries from many sends hitting one server at the same moment.
    delay *= 1 - policy.jitter + 2 * policy.jitter * rng.random()
    return Retry(delay, f"attempt {attempt + 1} of {policy.max_attempts} after {outcome.reason}")
