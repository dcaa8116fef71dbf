"""Signed webhook POSTs with a persistent retry schedule (exponential backoff across passes).

The body is signed as stored: ``X-Outbound-Signature: sha256=<hex HMAC-SHA256(secret, body)>``.
The secret is read from the environment at send time and never written to the log or the table.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from sqlalchemy import Engine

from outbound.scoring.spec import ScoringSpec, Webhook
from outbound.store.webhooks import AttemptResult, due_deliveries, record_attempt

SIGNATURE_HEADER = "X-Outbound-Signature"
MAX_BACKOFF = timedelta(hours=6)


@dataclass
class DeliveryCounts:
    delivered: int = 0
    retrying: int = 0
    failed: int = 0


def sign(secret: bytes, body: bytes) -> str:
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def verify(secret: bytes, body: bytes, header: str | None) -> bool:
    return header is not None and hmac.compare_digest(sign(secret, body), header)


def post(hook: Webhook, body: bytes) -> str | None:
    """One attempt; None on a 2xx answer, else why it failed (without the secret)."""
    headers = {"Content-Type": "application/json", "User-Agent": "outbound-webhook/1"}
    if hook.secret_env:
        secret = os.environ.get(hook.secret_env)
        if not secret:
            return f"environment variable {hook.secret_env} is not set (it holds the webhook signing key)"
        headers[SIGNATURE_HEADER] = sign(secret.encode(), body)
    request = urllib.request.Request(hook.url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=hook.timeout.total_seconds()) as resp:
            status = int(resp.status)
    except urllib.error.HTTPError as exc:
        status = int(exc.code)
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return f"cannot reach {hook.url}: {reason}"
    return None if 200 <= status < 300 else f"{hook.url} answered HTTP {status}"


def backoff(hook: Webhook, attempts: int) -> timedelta:
    delay: timedelta = hook.backoff * (2 ** max(0, attempts - 1))
    return min(MAX_BACKOFF, delay)


def deliver_pending(engine: Engine, spec: ScoringSpec, now: datetime, *, limit: int = 100) -> DeliveryCounts:
    """Tries every delivery that is due once; failures wait ``backoff`` (doubling) before the next pass."""
    counts = DeliveryCounts()
    for d in due_deliveries(engine, now, limit):
        hook = spec.webhooks.get(d.webhook)
        error = f"no webhook named {d.webhook!r} in scoring.yaml" if hook is None else post(hook, d.body.encode())
        result = record_attempt(engine, d.id, now, partial(attempt_result, hook, error, now=now))
        if result is None:
            continue
        if result.state == "delivered":
            counts.delivered += 1
        elif result.state == "failed":
            counts.failed += 1
        else:
            counts.retrying += 1
    return counts


def attempt_result(hook: Webhook | None, error: str | None, attempts: int, now: datetime) -> AttemptResult:
    """Delivered, given up (unknown webhook or ``max_attempts`` reached), or retried after the backoff."""
    if error is None:
        return AttemptResult("delivered")
    if hook is None or attempts >= hook.max_attempts:
        return AttemptResult("failed", error)
    return AttemptResult("pending", error, now + backoff(hook, attempts))
