"""Amazon SES notifications delivered by e-mail (SNS topic subscriptions): a JSON body with a
``notificationType`` of Bounce, Complaint or Delivery."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SesNotification:
    kind: str  # hard_bounce, soft_bounce, complaint or delivery_report
    recipients: tuple[tuple[str, str | None, str], ...]  # (address, status, diagnostic)
    message_id: str | None


def _load(text: str) -> dict[str, Any] | None:
    start = text.find("{")
    end = text.rfind("}")
    if start < 0 or end <= start or "notificationType" not in text:
        return None
    try:
        data = json.loads(text[start : end + 1])
    except ValueError:
        return None
    if isinstance(data, dict) and isinstance(data.get("Message"), str):  # raw SNS envelope
        try:
            data = json.loads(data["Message"])
        except ValueError:
            return None
    return data if isinstance(data, dict) else None


def _entries(items: object, key: str = "emailAddress") -> list[tuple[str, str | None, str]]:
    found: list[tuple[str, str | None, str]] = []
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict) and isinstance(item.get(key), str):
            status = item.get("status") if isinstance(item.get("status"), str) else None
            found.append((item[key].strip().lower(), status, str(item.get("diagnosticCode") or "")))
        elif isinstance(item, str):
            found.append((item.strip().lower(), None, ""))
    return found


def read_ses(text: str) -> SesNotification | None:
    data = _load(text)
    if data is None:
        return None
    kind = str(data.get("notificationType") or data.get("eventType") or "")
    mail = data.get("mail") if isinstance(data.get("mail"), dict) else {}
    message_id = mail.get("messageId") if isinstance(mail, dict) and isinstance(mail.get("messageId"), str) else None
    if kind == "Bounce" and isinstance(data.get("bounce"), dict):
        bounce = data["bounce"]
        hard = bounce.get("bounceType") == "Permanent" and bounce.get("bounceSubType") in (
            "General",
            "NoEmail",
            "Suppressed",
            "OnAccountSuppressionList",
        )
        entries = _entries(bounce.get("bouncedRecipients"))
        return SesNotification("hard_bounce" if hard else "soft_bounce", tuple(entries), message_id)
    if kind == "Complaint" and isinstance(data.get("complaint"), dict):
        return SesNotification("complaint", tuple(_entries(data["complaint"].get("complainedRecipients"))), message_id)
    if kind == "Delivery" and isinstance(data.get("delivery"), dict):
        return SesNotification("delivery_report", tuple(_entries(data["delivery"].get("recipients"))), message_id)
    return None
