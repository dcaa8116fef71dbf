"""The one exception the prospect and suppression file readers raise: the file as a whole is unusable."""

from __future__ import annotations

from pathlib import Path


class ImportFileError(Exception):
    """A file-level problem (unreadable, empty, no header, no email column); bad rows never raise.

    ``reason`` is a complete sentence fit to show the user as is; ``path`` names the file.
    """

    def __init__(self, path: Path | str, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")
