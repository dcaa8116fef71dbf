"""Before a send tick claims: each mailbox whose SMTP password variable is not set is paused (every
send would fail at AUTH), and resumed once it is set again. The rulebook decides; the store applies."""

from __future__ import annotations

from datetime import datetime

from outbound.engine.context import EngineContext
from outbound.engine.smtp import Secrets
from outbound.rulebook.decide import SECRET_MISSING, decide
from outbound.rulebook.facts import SecretCheck
from outbound.spec.domain import Mailbox, SendingDomain
from outbound.store import mailboxes as mailbox_store
from outbound.store.db import session_scope
from outbound.store.effects import Subject, apply


def missing_passwords(domain: SendingDomain, mailbox: Mailbox, secrets: Secrets) -> tuple[str, ...]:
    """The SMTP password variables of the mailbox that are not set (what sending needs)."""
    return tuple(env for kind, env in domain.password_envs(mailbox) if kind == "smtp" and not secrets(env))


def missing_reason(missing: tuple[str, ...]) -> str:
    return f"{SECRET_MISSING} ({', '.join(missing)} not set)"


def secret_pass(ctx: EngineContext, now: datetime, secrets: Secrets) -> list[str]:
    """Applies the rulebook's answer to each mailbox's secrets; ``address (reason)`` of those paused now."""
    rows = {r.address: r for r in mailbox_store.all_states(ctx.engine)}
    facts = []
    for address, (domain, mailbox) in sorted(ctx.workspace.mailboxes().items()):
        row = rows.get(address)
        paused = row is not None and row.state == "paused" and (row.pause_reason or "").startswith(SECRET_MISSING)
        fact = SecretCheck(address, missing_passwords(domain, mailbox, secrets), paused, now)
        if fact.missing or fact.paused_for_it:
            facts.append(fact)
    paused_now: list[str] = []
    if not facts:
        return paused_now
    with session_scope(ctx.engine) as session:
        for fact in facts:
            effects = decide(fact)
            done = apply(session, effects, Subject(mailbox=fact.mailbox), now)
            if fact.missing and done.actions:
                paused_now.append(f"{fact.mailbox} ({effects.senders[0].reason})")
    return paused_now
