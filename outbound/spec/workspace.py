"""The workspace: config.toml, sequences/*.yaml and domains/*.yaml, loaded and cross-checked.

Checks that need more than the files (templates, scoring.yaml) are run by ``outbound.app.workspace``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from outbound.config import LoadedConfig
from outbound.errors import NotFoundError, Problem
from outbound.spec.domain import Mailbox, SendingDomain
from outbound.spec.sequence import Sequence, untracked_conditions
from outbound.spec.yamlfile import YamlDocument, read_yaml, validate_document

M = TypeVar("M", Sequence, SendingDomain)


@dataclass(frozen=True)
class LoadedSequence:
    sequence: Sequence
    path: Path

    @property
    def folder(self) -> Path:
        """Template files named by body_file/html_file are relative to the sequence file."""
        return self.path.parent


@dataclass
class Workspace:
    config: LoadedConfig
    sequences: dict[str, LoadedSequence] = field(default_factory=dict)
    domains: dict[str, SendingDomain] = field(default_factory=dict)
    domain_paths: dict[str, Path] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    def mailboxes(self) -> dict[str, tuple[SendingDomain, Mailbox]]:
        return {mb.address: (d, mb) for d in self.domains.values() for mb in d.mailboxes}

    def sequence(self, name: str) -> LoadedSequence:
        try:
            return self.sequences[name]
        except KeyError:
            known = ", ".join(sorted(self.sequences)) or "none"
            raise NotFoundError(f"no sequence named {name!r} (known: {known})") from None


def yaml_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())


SequenceCheck = Callable[[LoadedSequence, YamlDocument], list[Problem]]
"""A further check of one sequence file (its YAML document gives line numbers)."""


def read_workspace(config: LoadedConfig, *, sequence_checks: Iterable[SequenceCheck] = ()) -> Workspace:
    """Loads everything it can and collects every problem, in file order."""
    ws = Workspace(config=config)
    checks = list(sequence_checks)
    for folder, what in ((ws.config.sequences_dir, "sequences"), (ws.config.domains_dir, "domains")):
        if not folder.is_dir():
            ws.problems.append(Problem(folder, f"the {what} folder does not exist"))
    for path in yaml_files(ws.config.domains_dir):
        domain_doc = read_yaml(path)
        if isinstance(domain_doc, Problem):
            ws.problems.append(domain_doc)
            continue
        domain = _validated(domain_doc, SendingDomain, ws.problems)
        if domain is None:
            continue
        ws.problems.extend(_check_warmup(domain, domain_doc))
        if domain.domain in ws.domains:
            ws.problems.append(Problem(path, f"domain {domain.domain} is also defined in {ws.domain_paths[domain.domain]}"))
            continue
        ws.domains[domain.domain] = domain
        ws.domain_paths[domain.domain] = path
        ws.problems.extend(_check_domain_auth(domain, path))
    for path in yaml_files(ws.config.sequences_dir):
        doc = read_yaml(path)
        if isinstance(doc, Problem):
            ws.problems.append(doc)
            continue
        seq = _validated(doc, Sequence, ws.problems)
        if seq is None:
            continue
        if seq.name in ws.sequences:
            ws.problems.append(Problem(path, f"sequence {seq.name!r} is also defined in {ws.sequences[seq.name].path}",
                                       *doc.position(("name",))))
            continue
        loaded = ws.sequences[seq.name] = LoadedSequence(seq, path)
        ws.problems.extend(_check_senders(seq, doc, ws))
        ws.problems.extend(_check_tracking(seq, doc))
        ws.problems.extend(_check_replies_read(seq, doc, ws))
        for check in checks:
            ws.problems.extend(check(loaded, doc))
    ws.problems.extend(_check_unsubscribe(ws))
    return ws


def _check_unsubscribe(ws: Workspace) -> list[Problem]:
    """Warnings: a domain whose mail can carry only the mailto unsubscribe (no https one-click link)."""
    base = ws.config.settings.sending.tracking_base_url
    out: list[Problem] = []
    for name, domain in ws.domains.items():
        path = ws.domain_paths[name]
        if domain.tracking_host is None and base is None:
            out.append(Problem(path, f"{name} has no tracking_host and config.toml no [sending] tracking_base_url: its "
                                     "mail carries only the mailto unsubscribe; Gmail and Yahoo require one-click "
                                     "(an https link, RFC 8058) from bulk senders", severity="warning"))
        elif domain.tracking_host is None and base is not None and not base.strip().lower().startswith("https://"):
            out.append(Problem(path, f"[sending] tracking_base_url {base!r} is not https: mail from {name} gets no "
                                     "one-click unsubscribe (RFC 8058 needs https)", severity="warning"))
    return out


def _check_domain_auth(domain: SendingDomain, path: Path) -> list[Problem]:
    from outbound.spec.auth_checks import check_auth

    if not any(domain.auth_for(mb) for mb in domain.mailboxes):
        return []
    doc = read_yaml(path)  # read again for line numbers (rare: only domains with OAuth2 mailboxes)
    return [] if isinstance(doc, Problem) else check_auth(domain, doc)


def _check_warmup(domain: SendingDomain, doc: YamlDocument) -> list[Problem]:
    """Warnings: a mailbox without ``warmup`` sends its whole daily cap from its first day."""
    return [Problem(doc.path, f"mailbox {mb.address} has no warmup: it sends its full cap ({mb.daily_cap} a day) "
                              "from day one; give a new mailbox a warmup (start, increase, max) to ramp it up",
                    *doc.position(("mailboxes", i, "address")), severity="warning")
            for i, mb in enumerate(domain.mailboxes) if mb.warmup is None and mb.daily_cap > 0]


def _validated(doc: YamlDocument, model: type[M], problems: list[Problem]) -> M | None:
    result = validate_document(doc, model)
    if isinstance(result, list):
        problems.extend(result)
        return None
    return result


def _check_senders(seq: Sequence, doc: YamlDocument, ws: Workspace) -> list[Problem]:
    out: list[Problem] = []
    mailboxes = ws.mailboxes()
    for i, name in enumerate(seq.senders.domains):
        if name.lower() not in ws.domains:
            out.append(Problem(doc.path, f"senders.domains[{i}]: no sending domain {name!r} in {ws.config.domains_dir.name}/",
                               *doc.position(("senders", "domains", i))))
    for i, address in enumerate(seq.senders.mailboxes):
        if address.lower() not in mailboxes:
            out.append(Problem(doc.path, f"senders.mailboxes[{i}]: no mailbox {address!r} in any domain file",
                               *doc.position(("senders", "mailboxes", i))))
    return out


def _check_replies_read(seq: Sequence, doc: YamlDocument, ws: Workspace) -> list[Problem]:
    """A warning: the sequence stops on a reply, but some of its mailboxes have no IMAP server, so
    the replies to their mail are never read and the follow-ups still go."""
    if "reply" not in {e.value for e in seq.stop_on} or len(seq.steps) < 2:
        return []
    names = {n.strip().lower().rstrip(".") for n in seq.senders.domains}
    wanted = {a.strip().lower() for a in seq.senders.mailboxes}
    unread = [address for address, (domain, mb) in ws.mailboxes().items()
              if (domain.domain in names or address in wanted) and domain.imap_for(mb) is None]
    if not unread:
        return []
    where = doc.position(("stop_on",)) if "stop_on" in doc.data else doc.position(("senders",))
    return [Problem(doc.path, f"stop_on has reply, but {', '.join(sorted(unread))} "
                              f"{'has' if len(unread) == 1 else 'have'} no imap server (on the mailbox or its "
                              "domain): their replies are never read, so follow-ups would go to people who replied",
                    *where, severity="warning")]


def _check_tracking(seq: Sequence, doc: YamlDocument) -> list[Problem]:
    """Warnings (the workspace still loads): open/click conditions that tracking turned off makes constant."""
    return [Problem(doc.path, message, *doc.position(("steps", i, "if")), severity="warning")
            for i, message in untracked_conditions(seq)]
