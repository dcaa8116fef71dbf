"""Running ``outbound`` as a user does: a subprocess of the venv's console script, on temporary workspaces."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import pytest

# The console script next to the running interpreter, so CI's own virtualenv is the one exercised.
OUTBOUND = Path(sys.executable).parent / "outbound"
SECRET = "acceptance-signing-secret-9f2c"


@dataclass
class Result:
    args: tuple[str, ...]
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err

    def ok(self) -> Result:
        assert self.code == 0, f"outbound {' '.join(self.args)} exited {self.code}:\n{self.text}"
        assert "Traceback" not in self.text, self.text
        return self

    def failed(self, code: int = 1) -> Result:
        """A user mistake: the given exit code and a message, never a traceback."""
        assert self.code == code, f"outbound {' '.join(self.args)} exited {self.code}, expected {code}:\n{self.text}"
        assert "Traceback" not in self.text, self.text
        return self


@dataclass
class Cli:
    """``cli("validate")`` runs ``outbound --config <config> validate`` with a clean environment."""

    config: Path | None = None
    cwd: Path | None = None
    env: dict[str, str] = field(default_factory=dict)

    def __call__(self, *args: str, config: Path | bool | None = True, env: dict[str, str] | None = None,
                 timeout: float = 180) -> Result:
        command = [str(OUTBOUND)]
        chosen = self.config if config is True else (config or None)
        if chosen is not None:
            command += ["--config", str(chosen)]
        base = {k: v for k, v in os.environ.items() if not k.startswith("OUTBOUND_")}
        full_env = {**base, "OUTBOUND_SECRET": SECRET, "NO_COLOR": "1", **self.env, **(env or {})}
        proc = subprocess.run([*command, *args], cwd=self.cwd, env=full_env, capture_output=True, text=True,
                              timeout=timeout, check=False)
        return Result(tuple(args), proc.returncode, proc.stdout, proc.stderr)

    def many(self, *calls: tuple[str, ...]) -> list[Result]:
        """Independent commands run side by side (each start costs about a second of CPU); results in order."""
        return parallel(*(partial(self, *args) for args in calls))


def parallel(*thunks: Callable[[], Result]) -> list[Result]:
    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(lambda thunk: thunk(), thunks))


def init_workspace(folder: Path) -> Path:
    """``outbound init folder``; returns its config.toml."""
    Cli(cwd=folder.parent)("init", str(folder), config=False).ok()
    return folder / "config.toml"


@pytest.fixture(scope="session")
def initialised(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One ``outbound init`` per session; tests get copies (each CLI start costs about a second)."""
    return init_workspace(tmp_path_factory.mktemp("init") / "ws").parent


def copy_workspace(initialised: Path, target: Path) -> Path:
    shutil.copytree(initialised, target)
    return target / "config.toml"


@pytest.fixture
def workspace(initialised: Path, tmp_path: Path) -> Cli:
    """A fresh workspace made by ``outbound init`` (SQLite database inside it)."""
    return Cli(config=copy_workspace(initialised, tmp_path / "ws"), cwd=tmp_path)


def sqlite_rows(config: Path, query: str, *params: Any) -> list[tuple[Any, ...]]:
    """Rows of the workspace's default SQLite database (outbound.db beside config.toml)."""
    with sqlite3.connect(config.parent / "outbound.db") as conn:
        return list(conn.execute(query, params))


def write_csv(path: Path, header: str, rows: list[str]) -> Path:
    path.write_text(header + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def spawn(cli: Cli, *args: str, log: Path) -> subprocess.Popen[bytes]:
    """A long-running command (``run``, ``serve``) started as ``cli(...)`` would run it; output to ``log``."""
    command = [str(OUTBOUND), *(["--config", str(cli.config)] if cli.config else []), *args]
    base = {k: v for k, v in os.environ.items() if not k.startswith("OUTBOUND_")}
    with log.open("ab") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(command, cwd=cli.cwd, stdout=out, stderr=subprocess.STDOUT,
                                env={**base, "OUTBOUND_SECRET": SECRET, "NO_COLOR": "1", **cli.env})


def stop(proc: subprocess.Popen[bytes], timeout: float = 30) -> int:
    """SIGTERM, as a service manager stops it; the exit code (killed and -9 if it does not stop in time)."""
    proc.terminate()
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return -9


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """Runs a module's tests once per database: ``None`` for the workspace's own SQLite file, else
    the URL of a fresh PostgreSQL database (for ``$OUTBOUND_DATABASE_URL``), shared by the module."""
    if request.param == "sqlite":
        yield None
        return
    from tests.fixtures.postgres import fresh_database

    with fresh_database(request.getfixturevalue("postgres_server"), prefix="cli_") as url:
        yield url
