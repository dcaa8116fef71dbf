"""Plain values describing a prospect, passed to rendering and planning (no database types)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Fields every prospect has as columns; anything else lives in ``fields``.
STANDARD_FIELDS = ("email", "first_name", "last_name", "company", "company_domain", "title", "timezone", "source",
                   "vendor")


@dataclass(frozen=True)
class ProspectData:
    email: str
    first_name: str | None = None
    last_name: str | None = None
    company: str | None = None
    company_domain: str | None = None
    title: str | None = None
    timezone: str | None = None
    source: str | None = None
    vendor: str | None = None            # the lead vendor or list the prospect was bought from
    fields: dict[str, Any] = field(default_factory=dict)

    def value(self, name: str) -> Any:
        """A standard field or a custom one; None when the prospect lacks it (or it is blank)."""
        v = getattr(self, name) if name in STANDARD_FIELDS else self.fields.get(name)
        if isinstance(v, str) and not v.strip():
            return None
        return v

    def as_template_vars(self) -> dict[str, Any]:
        """Standard fields plus custom fields, blank values left out so StrictUndefined catches them."""
        out: dict[str, Any] = {k: v for k, v in self.fields.items() if v not in (None, "")}
        for name in STANDARD_FIELDS:
            v = getattr(self, name)
            if v not in (None, ""):
                out[name] = v
        return out
