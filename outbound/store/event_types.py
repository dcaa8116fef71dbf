"""The names of event types, shared by everything that writes or reads the events table.

Each event is recorded once: ``dedupe_key`` is a natural key of its source (a send id, an IMAP
mailbox + UIDVALIDITY + UID, a Message-ID, an HTTP token and action).
"""

from __future__ import annotations

# Sending engine
SENT = "sent"                      # accepted by the recipient's server (data: sequence, step, variant, message_id)
BOUNCED = "bounced"                # synchronous 5xx at SMTP time, or a DSN (data: hard, status, reason)
SEND_FAILED = "send_failed"        # gave up after retries
SEND_UNKNOWN = "send_unknown"      # may have been delivered; reconciled against the Sent folder
STEP_SKIPPED = "step_skipped"      # a step's condition was false
MAILBOX_PAUSED = "mailbox_paused"
MAILBOX_RESUMED = "mailbox_resumed"

# Inbox
REPLIED = "replied"                # a human reply (data: text, positive: bool | None)
AUTO_REPLIED = "auto_replied"      # out-of-office and other auto-replies (data: return_date)
UNSUBSCRIBED = "unsubscribed"      # by reply, by link (RFC 8058 one-click) or by hand
COMPLAINED = "complained"          # ARF feedback report (spam complaint)
DELIVERY_REPORT = "delivery_report"  # a delay or success DSN: recorded, nothing else happens
INBOUND_OTHER = "inbound_other"      # tied to a send but neither reply, bounce nor report (data: why)
UNMATCHED_INBOUND = "unmatched_inbound"  # tied to no send of ours: kept so nothing is lost (no prospect)

# Tracking (optional, off by default)
OPENED = "opened"
CLICKED = "clicked"

# Outcomes from a CRM or by hand
QUALIFIED = "qualified"
MEETING_BOOKED = "meeting_booked"
WON = "won"
LOST = "lost"

ALL = frozenset({SENT, BOUNCED, SEND_FAILED, SEND_UNKNOWN, STEP_SKIPPED, MAILBOX_PAUSED, MAILBOX_RESUMED, REPLIED,
                 AUTO_REPLIED, UNSUBSCRIBED, COMPLAINED, DELIVERY_REPORT, INBOUND_OTHER, UNMATCHED_INBOUND, OPENED, CLICKED, QUALIFIED, MEETING_BOOKED, WON, LOST})
