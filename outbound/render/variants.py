"""A/B/n variants: each prospect gets one variant per step, by weight, the same one on every run."""

from __future__ import annotations

import hashlib

from outbound.spec.sequence import Step, Variant


def variant_fraction(prospect_email: str, sequence_name: str, step_id: str) -> float:
    """A stable number in [0, 1) for this prospect, sequence and step (SHA-256, not the salted hash())."""
    key = f"{prospect_email.strip().lower()}\x00{sequence_name}\x00{step_id}".encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:8], "big") / 2**64


def choose_variant(step: Step, prospect_email: str, sequence_name: str) -> Variant | None:
    """The step's variant for this prospect, drawn by weight; None when the step has no variants."""
    if not step.variants:
        return None
    point = variant_fraction(prospect_email, sequence_name, step.id) * sum(v.weight for v in step.variants)
    upto = 0.0
    for variant in step.variants:
        upto += variant.weight
        if point < upto:
            return variant
    return step.variants[-1]  # float rounding at the very top of the range
