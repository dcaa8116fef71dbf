"""The whole workspace check (``outbound validate`` and every command's start): the files, their
templates and scoring.yaml, each checked by the layer that knows it."""

from __future__ import annotations

from pathlib import Path

from outbound.config import load_config
from outbound.errors import Problem, WorkspaceError
from outbound.render.checks import check_templates as check_sequence_templates
from outbound.render.templates import TemplateSource
from outbound.scoring.spec import check_scoring_file
from outbound.spec.workspace import LoadedSequence, Workspace, read_workspace
from outbound.spec.yamlfile import YamlDocument

SCORING_FILE = "scoring.yaml"


def inspect_workspace(config_path: Path | None = None, *, check_templates: bool = True) -> Workspace:
    """Loads everything it can and collects every problem (for ``outbound validate``)."""
    ws = read_workspace(load_config(config_path), sequence_checks=[_templates] if check_templates else [])
    ws.problems.extend(check_scoring_file(ws.config.root / SCORING_FILE, set(ws.sequences)))
    return ws


def load_workspace(config_path: Path | None = None) -> Workspace:
    """The workspace, or WorkspaceError listing every error (warnings are kept in ``problems``)."""
    ws = inspect_workspace(config_path)
    if ws.errors:
        raise WorkspaceError(ws.errors)
    return ws


def _templates(loaded: LoadedSequence, doc: YamlDocument) -> list[Problem]:
    return check_sequence_templates(loaded.sequence, TemplateSource(loaded.folder), sequence_path=loaded.path,
                                    position=doc.position, text_position=doc.text_position)
