"""The variables a template sees: the prospect's fields, ``prospect``, ``account``, ``sender``, ``step``."""

from __future__ import annotations

from typing import Any

from outbound.prospects.values import ProspectData
from outbound.render.env import Namespace
from outbound.spec.domain import Mailbox

# Names that are always there (or come from the engine), so the validator never asks for them.
RESERVED = ("prospect", "account", "sender", "step", "unsubscribe_url")
ALWAYS_PRESENT = frozenset({*RESERVED, "email"})
# Attributes of the fixed namespaces; a template asking for another one is a mistake in every send.
NAMESPACE_KEYS = {
    "account": ("company", "domain"),
    "sender": ("name", "first_name", "address"),
    "step": ("id", "number"),
}
# account.X is the prospect field PROSPECT_FIELD_OF_ACCOUNT[X] (for required_fields checks).
PROSPECT_FIELD_OF_ACCOUNT = {"company": "company", "domain": "company_domain"}


def template_context(prospect: ProspectData, sender: Mailbox, step_id: str, step_number: int,
                     unsubscribe_url: str | None) -> dict[str, Any]:
    """Blank values are left out so that StrictUndefined (or a ``default`` filter) handles them."""
    # as_template_vars drops None and ""; a value of only spaces is just as blank for a greeting.
    fields = {k: v for k, v in prospect.as_template_vars().items() if not (isinstance(v, str) and not v.strip())}
    # Custom fields sit at the top level too, but never shadow the reserved names.
    context: dict[str, Any] = {k: v for k, v in fields.items() if k not in RESERVED}
    account = {key: fields[src] for key, src in PROSPECT_FIELD_OF_ACCOUNT.items() if src in fields}
    name = sender.display_name.strip()
    sender_vars = {"address": sender.address, **({"name": name, "first_name": name.split()[0]} if name else {})}
    context.update(
        prospect=Namespace("prospect", fields),
        account=Namespace("account", account),
        sender=Namespace("sender", sender_vars),
        step=Namespace("step", {"id": step_id, "number": step_number}),
    )
    if unsubscribe_url:
        context["unsubscribe_url"] = unsubscribe_url
    return context
