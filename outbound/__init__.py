"""outbound: cold email sequencing and deliverability engine."""

from __future__ import annotations

__version__ = "0.1.0"
