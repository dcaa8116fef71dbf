"""Our own exceptions, mapped from libraries at the edges. User mistakes never become tracebacks.

    OutboundError
    ├── ConfigError          config.toml unreadable or invalid
    ├── WorkspaceError       sequence/domain files with problems (carries every Problem)
    ├── NotFoundError        a named sequence, prospect or mailbox does not exist
    └── StoreError           the database cannot be reached or migrated
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal


@dataclass(frozen=True)
class Problem:
    """One finding about a user file, printed as ``path:line:column: message``."""

    path: Path | str
    message: str
    line: int | None = None
    column: int | None = None
    severity: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        where = str(self.path)
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        tag = "" if self.severity == "error" else "warning: "
        return f"{where}: {tag}{self.message}"


class OutboundError(Exception):
    """Base of every error we raise on purpose; its message is shown to the user as is."""


class ConfigError(OutboundError):
    pass


class WorkspaceError(OutboundError):
    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class NotFoundError(OutboundError):
    pass


class StoreError(OutboundError):
    pass
