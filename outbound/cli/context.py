"""What every command needs: the chosen config file, and a way to exit with a clear message."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import NoReturn

from rich.console import Console
from rich.markup import escape

_config_path: Path | None = None
# soft_wrap: never insert line breaks into output (headers, paths and `file:line` must stay whole when piped).
# emoji=False: ':smile:' in a prospect's data or a template is printed as written, not replaced.
console = Console(soft_wrap=True, emoji=False)
err_console = Console(stderr=True, soft_wrap=True, emoji=False)


def set_config_path(path: Path | None) -> None:
    global _config_path
    _config_path = path


def config_path() -> Path | None:
    return _config_path


def fail(message: str, code: int = 1) -> NoReturn:
    # The message is plain text: "[daemon.lease]" in it must not be taken for rich markup.
    err_console.print("[bold red]error:[/] " + escape(message), highlight=False)
    sys.exit(code)
