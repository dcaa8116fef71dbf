"""The whole workspace check (``outbound validate`` and every command's start): the files, their
templates and scoring.yaml, each checked by the layer that knows it."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from outbound.config import load_config
from outbound.errors import Problem, WorkspaceError
from outbound.render.checks import check_templates as check_sequence_templates
from outbound.render.templates import TemplateSource
from outbound.scoring.spec import ScoringSpec, check_scoring_file
from outbound.spec.workspace import LoadedSequence, Workspace, read_workspace
from outbound.spec.yamlfile import YamlDocument, read_yaml, validate_document

SCORING_FILE = "scoring.yaml"


def inspect_workspace(config_path: Path | None = None, *, check_templates: bool = True) -> Workspace:
    """Loads everything it can and collects every problem (for ``outbound validate``)."""
    ws = read_workspace(load_config(config_path), sequence_checks=[_templates] if check_templates else [])
    ws.problems.extend(check_scoring_file(ws.config.root / SCORING_FILE, set(ws.sequences)))
    ws.problems.extend(secret_problems(ws))
    ws.problems.extend(referral_problems(ws))
    return ws


def referral_problems(ws: Workspace) -> list[Problem]:
    """A sequence's ``referral_sequence`` must name a sequence of the workspace."""
    out: list[Problem] = []
    for name, loaded in ws.sequences.items():
        target = loaded.sequence.referral_sequence
        if target is None or target in ws.sequences:
            continue
        doc = read_yaml(loaded.path)
        where = doc.position(("referral_sequence",)) if isinstance(doc, YamlDocument) else (None, None)
        known = ", ".join(sorted(ws.sequences))
        out.append(Problem(loaded.path, f"sequence {name!r}: referral_sequence {target!r} is not a sequence "
                           f"(known: {known})", *where))
    return out


def secret_problems(ws: Workspace, secrets: Callable[[str], str | None] = os.environ.get) -> list[Problem]:
    """Warnings: each password_env of a mailbox and secret_env of a webhook that names a variable
    not set in this environment (the send tick pauses such a mailbox before claiming for it), and an
    enabled dashboard none of whose users has a password."""
    out: list[Problem] = []
    for name, domain in ws.domains.items():
        doc: YamlDocument | Problem | None = None
        for i, mailbox in enumerate(domain.mailboxes):
            for kind, env in domain.password_envs(mailbox):
                if secrets(env):
                    continue
                if doc is None:
                    doc = read_yaml(ws.domain_paths[name])
                own = isinstance(doc, YamlDocument) and kind in doc.data["mailboxes"][i]
                loc = ("mailboxes", i, kind, "password_env") if own else (kind, "password_env")
                where = doc.position(loc) if isinstance(doc, YamlDocument) else (None, None)
                then = ("the send tick pauses it until the variable is set" if kind == "smtp"
                        else "its replies are not read")
                out.append(Problem(ws.domain_paths[name], f"mailbox {mailbox.address}: {kind}.password_env names "
                                   f"{env}, which is not set: {then}", *where, severity="warning"))
            auth = domain.auth_for(mailbox)
            named = ([("client_id_env", auth.client_id_env), ("client_secret_env", auth.client_secret_env),
                      ("service_account_key_env", auth.service_account_key_env)] if auth else [])
            for field, auth_env in named:
                if not auth_env or secrets(auth_env):
                    continue
                if doc is None:
                    doc = read_yaml(ws.domain_paths[name])
                own = isinstance(doc, YamlDocument) and "auth" in doc.data["mailboxes"][i]
                loc = ("mailboxes", i, "auth", field) if own else ("auth", field)
                where = doc.position(loc) if isinstance(doc, YamlDocument) else (None, None)
                out.append(Problem(ws.domain_paths[name], f"mailbox {mailbox.address}: auth.{field} names {auth_env}, "
                                   "which is not set: it gets no OAuth2 access token", *where, severity="warning"))
    key_env = ws.config.settings.sending.token_key_env
    if not secrets(key_env) and any(d.auth_for(m) for d, m in ws.mailboxes().values()):
        out.append(Problem(ws.config.path or ws.config.root, f"{key_env} is not set: it encrypts the OAuth2 tokens, "
                           "and send, run and mailboxes connect refuse to start without it", severity="warning"))
    board = ws.config.settings.dashboard
    if board.enabled and not any(secrets(env) for env in board.users.values()):
        names = ", ".join(sorted(set(board.users.values()))) or "a variable in [dashboard] users"
        out.append(Problem(ws.config.path or ws.config.root, f"[dashboard] is enabled but no user's password is set "
                           f"({names}): `outbound run` refuses to start", severity="warning"))
    path = ws.config.root / SCORING_FILE
    scoring = read_yaml(path) if path.exists() else None
    spec = validate_document(scoring, ScoringSpec) if isinstance(scoring, YamlDocument) else None
    if isinstance(spec, ScoringSpec) and isinstance(scoring, YamlDocument):
        for hook_name, hook in spec.webhooks.items():
            if hook.secret_env and not secrets(hook.secret_env):
                out.append(Problem(path, f"webhook {hook_name!r}: secret_env names {hook.secret_env}, which is not set: "
                                         "every post to it fails until the variable is set", *scoring.position(
                                             ("webhooks", hook_name, "secret_env")), severity="warning"))
    return out


def load_workspace(config_path: Path | None = None) -> Workspace:
    """The workspace, or WorkspaceError listing every error (warnings are kept in ``problems``)."""
    ws = inspect_workspace(config_path)
    if ws.errors:
        raise WorkspaceError(ws.errors)
    return ws


def _templates(loaded: LoadedSequence, doc: YamlDocument) -> list[Problem]:
    return check_sequence_templates(loaded.sequence, TemplateSource(loaded.folder), sequence_path=loaded.path,
                                    position=doc.position, text_position=doc.text_position)
