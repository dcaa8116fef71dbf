"""One message sent by hand from a mailbox (an answer to a reply, a forward): the engine's own SMTP
transport and credentials, so it logs in as every send of that mailbox does (password or OAuth2).

The checks every send gets (suppression, a paused mailbox, the daily cap) are the caller's: they
live where the send is decided (``outbound.app.replies``); this is only the delivery.
"""

from __future__ import annotations

from outbound.core.outcome import SendOutcome, local_outcome
from outbound.engine.context import EngineContext
from outbound.engine.smtp import SmtpPool


async def send_message(ctx: EngineContext, address: str, recipient: str, payload: bytes,
                       pool: SmtpPool | None = None) -> SendOutcome:
    """ONE attempt to deliver ``payload`` from the mailbox ``address`` to ``recipient``."""
    found = ctx.mailbox(address)
    if found is None:
        return local_outcome("config_error", "no_mailbox", f"mailbox {address} is no longer in domains/", "connect")
    domain, mailbox = found
    credentials = ctx.credentials() if domain.auth_for(mailbox) is not None else None
    own = pool is None
    pool = pool or SmtpPool()
    try:
        return await pool.send(domain, mailbox, mailbox.address, recipient, payload, credentials=credentials)
    finally:
        if own:
            await pool.close_all()
