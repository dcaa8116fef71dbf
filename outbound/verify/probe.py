"""The optional catch-all probe: ask a domain's MX about a random local part, then about the real
addresses, in one SMTP transaction that is reset before any DATA (nothing is ever sent).

Off by default: port 25 is blocked on most cloud hosts, and every probe is a connection a receiving
server may hold against the prober's IP (verification traffic looks like a dictionary attack).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass

import aiosmtplib

from outbound.verify.model import ProbeVerdict


@dataclass(frozen=True)
class ProbeSettings:
    port: int = 25
    timeout: float = 10.0
    mail_from: str = ""            # the reverse path; '' is the null sender <>
    helo: str | None = None        # the EHLO name; None: this host's FQDN
    max_recipients: int = 50       # addresses asked about per connection (the rest are not probed)


def random_local() -> str:
    return "no-such-user-" + secrets.token_hex(6)


async def probe_domain(host: str, domain: str, emails: Sequence[str], settings: ProbeSettings) -> ProbeVerdict:
    """MAIL FROM, RCPT TO a random address at ``domain``, RCPT TO each of ``emails``, RSET, QUIT."""
    smtp = aiosmtplib.SMTP(hostname=host, port=settings.port, timeout=settings.timeout,
                           local_hostname=settings.helo, start_tls=False)
    refused: dict[str, str] = {}
    try:
        await smtp.connect()
        await smtp.ehlo()
        await smtp.mail(settings.mail_from)
        catch_all = await _accepted(smtp, f"{random_local()}@{domain}")
        if catch_all is None:
            return ProbeVerdict(error=f"{host}: the server deferred the probe")
        if not catch_all:  # a server that refuses unknown users tells about each address
            for email in emails[:settings.max_recipients]:
                reply = await _reply(smtp, email)
                if reply is not None and reply[0] >= 500:
                    refused[email] = reply[1]
        await smtp.rset()
        return ProbeVerdict(catch_all=catch_all, refused=refused)
    except (TimeoutError, aiosmtplib.SMTPException, OSError) as exc:
        return ProbeVerdict(error=f"{host}: {exc or type(exc).__name__}")
    finally:
        if smtp.is_connected:
            try:
                await smtp.quit()
            except (TimeoutError, aiosmtplib.SMTPException, OSError):
                smtp.close()


async def _reply(smtp: aiosmtplib.SMTP, email: str) -> tuple[int, str] | None:
    try:
        response = await smtp.rcpt(email)
    except aiosmtplib.SMTPRecipientRefused as exc:
        return exc.code, f"{exc.code} {exc.message}"
    return response.code, f"{response.code} {response.message}"


async def _accepted(smtp: aiosmtplib.SMTP, email: str) -> bool | None:
    """True: taken (2xx), False: refused (5xx), None: deferred (4xx: greylisting tells nothing)."""
    reply = await _reply(smtp, email)
    assert reply is not None
    if reply[0] < 400:
        return True
    return False if reply[0] >= 500 else None
