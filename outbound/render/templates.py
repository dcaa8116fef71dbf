"""Template files named by ``body_file``/``html_file``, read from the sequence's folder and cached."""

from __future__ import annotations

from pathlib import Path

from outbound.render.errors import RenderError


class TemplateSource:
    """Reads template files below ``folder``; a file is re-read only when its size or mtime changes."""

    def __init__(self, folder: Path | str) -> None:
        self.folder = Path(folder)
        self._cache: dict[Path, tuple[int, int, str]] = {}

    def path(self, name: str) -> Path:
        """The file's path; RenderError if the name leaves the sequence folder."""
        if Path(name).is_absolute():
            raise RenderError(f"template file {name!r}: give a path relative to the sequence file")
        path = (self.folder / name).resolve()
        if not path.is_relative_to(self.folder.resolve()):
            raise RenderError(f"template file {name!r} is outside the sequence folder {self.folder}")
        return path

    def load(self, name: str) -> str:
        path = self.path(name)
        try:
            stat = path.stat()
            cached = self._cache.get(path)
            if cached and cached[:2] == (stat.st_mtime_ns, stat.st_size):
                return cached[2]
            text = path.read_bytes().decode("utf-8-sig")
        except FileNotFoundError:
            raise RenderError(f"template file {name!r} not found in {self.folder}") from None
        except UnicodeDecodeError as exc:
            raise RenderError(f"template file {name!r} is not UTF-8 text (byte {exc.start})") from None
        except OSError as exc:
            raise RenderError(f"template file {name!r} cannot be read: {exc.strerror}") from None
        self._cache[path] = (stat.st_mtime_ns, stat.st_size, text)
        return text

    def clear(self) -> None:
        self._cache.clear()
