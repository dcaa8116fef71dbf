"""What every command needs: the chosen config file, and a way to exit with a clear message."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import NoReturn

from rich.console import Console

_config_path: Path | None = None
console = Console()
err_console = Console(stderr=True)


def set_config_path(path: Path | None) -> None:
    global _config_path
    _config_path = path


def config_path() -> Path | None:
    return _config_path


def fail(message: str, code: int = 1) -> NoReturn:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False)
    sys.exit(code)
