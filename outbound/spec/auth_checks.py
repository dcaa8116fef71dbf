"""``outbound validate`` checks of mailbox auth that need the whole domain file: provider ceilings,
a bearer token over an unencrypted connection, a password next to OAuth2."""

from __future__ import annotations

from outbound.errors import Problem
from outbound.spec.auth import is_loopback
from outbound.spec.domain import SendingDomain
from outbound.spec.yamlfile import YamlDocument


def check_auth(domain: SendingDomain, doc: YamlDocument) -> list[Problem]:
    out: list[Problem] = []

    def at(loc: tuple[int | str, ...], message: str) -> None:
        out.append(Problem(doc.path, message, *doc.position(loc)))

    for i, mb in enumerate(domain.mailboxes):
        auth = domain.auth_for(mb)
        if auth is None:
            continue
        where: tuple[int | str, ...] = ("mailboxes", i)
        limits = auth.provider_limits
        label = auth.preset.label if auth.preset else "the provider"
        if limits.per_day is not None and mb.daily_cap > limits.per_day:
            at((*where, "daily_cap"), f"{mb.address}: daily_cap {mb.daily_cap} is above {label}'s ceiling of "
                                      f"{limits.per_day} messages a day per mailbox")
        if limits.per_minute is not None and mb.gap.min.total_seconds() < 60 / limits.per_minute:
            at((*where, "gap"), f"{mb.address}: gap.min {mb.gap.min.total_seconds():g}s allows more than {label}'s "
                                f"{limits.per_minute} messages a minute per mailbox (use at least "
                                f"{60 / limits.per_minute:g}s)")
        for kind, server in (("smtp", domain.smtp_for(mb)), ("imap", domain.imap_for(mb))):
            if server is None:
                continue
            own = getattr(mb, kind) is not None
            loc = (*where, kind) if own else (kind,)
            if server.tls == "none" and not is_loopback(server.host):
                at((*loc, "tls"), f"{mb.address}: {kind} tls: none with auth: oauth2 would send the bearer token "
                                  f"unencrypted to {server.host} (only a loopback address may go without TLS)")
            if server.password_env:
                at((*loc, "password_env"), f"{mb.address}: {kind}.password_env is not used with auth: oauth2 "
                                           "(remove one of them)")
    return out
