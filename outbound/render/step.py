"""render_step: one step of a sequence for one prospect, from templates to a RenderedMessage."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from outbound.prospects.values import ProspectData
from outbound.render import headers as h
from outbound.render.context import template_context
from outbound.render.env import render
from outbound.render.errors import MissingVariables, RenderError
from outbound.render.message import RenderedMessage, ThreadInfo
from outbound.render.spintax import SpintaxError, spin
from outbound.render.templates import TemplateSource
from outbound.render.variants import choose_variant
from outbound.spec.domain import Mailbox, SendingDomain
from outbound.spec.sequence import Sequence, Step, Variant
from outbound.tokens import UnsubscribeLinks


@dataclass(frozen=True)
class Footer:
    """The unsubscribe line added to every body (templates with ``{{ unsubscribe_url }}``: the https
    link, or the mailto one when the domain has no link server).

    Left out when the body already shows the link itself; pass ``footer=None`` to disable it.
    """

    text: str = "\n\n--\nDon't want to hear from me again? Unsubscribe: {{ unsubscribe_url }}\n"
    html: str = ('<p style="font-size:12px;color:#777">Don\'t want to hear from me again? '
                 '<a href="{{ unsubscribe_url }}">Unsubscribe</a></p>')


DEFAULT_FOOTER = Footer()


@dataclass(frozen=True)
class _Sources:
    subject: str | None
    body: tuple[str, str]  # (template source, where it came from)
    html: tuple[str, str] | None


def render_step(sequence: Sequence, step: Step, prospect: ProspectData, sender: Mailbox, domain: SendingDomain, *,
                templates: TemplateSource, thread: ThreadInfo | None, message_id: str,
                unsubscribe: UnsubscribeLinks | None, now: datetime,
                footer: Footer | None = DEFAULT_FOOTER) -> RenderedMessage:
    """The message, or RenderError (MissingVariables naming every absent variable) saying why not.

    ``message_id`` is made by the caller (``make_message_id(domain.domain)``) so it is known before
    SMTP; ``thread`` is the previous message of this enrollment, used when the step is threaded.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    recipient, utf8 = h.recipient_address(prospect.email, _full_name(prospect))
    message_id = h.check_message_id(message_id)
    variant = choose_variant(step, prospect.email, sequence.name)
    sources = _sources(step, variant, templates)
    context = template_context(prospect, sender, step.id, sequence.step_index(step.id) + 1,
                               unsubscribe.url if unsubscribe else None)
    seed = f"{prospect.email.strip().lower()}\x00{sequence.name}\x00{step.id}"
    label = f"step {step.id}" + (f" variant {variant.id}" if variant else "")

    missing: list[str] = []

    def part(source: str, where: str, kind: str, html: bool = False) -> str:
        try:
            return render(spin(source, f"{seed}\x00{kind}"), context, html=html, where=f"{label} {where}")
        except SpintaxError as exc:  # blocked with the reason: the braces are never mailed
            raise RenderError(f"{label} {where}: {exc.reason}") from None
        except MissingVariables as exc:
            missing.extend(exc.variables)
            return ""

    subject = h.clean_header_text(part(sources.subject, "subject", "subject")) if sources.subject else ""
    text = h.clean_body_text(part(*sources.body, "body"))
    html = h.clean_body_text(part(*sources.html, "html", html=True)) if sources.html else None
    if missing:
        raise MissingVariables(missing, label)

    threaded = step.thread and thread is not None
    if step.thread and thread is None and not subject:
        raise RenderError(f"{label} is threaded but there is no previous message to reply to")
    if threaded and thread is not None:
        subject = h.collapse_reply_prefixes(subject) if subject else h.reply_subject(thread.subject)
    if not subject:
        raise RenderError(f"{label}: the subject renders empty")
    if not text.strip():
        raise RenderError(f"{label}: the body renders empty")

    if footer is not None and unsubscribe is not None:
        if unsubscribe.url not in text:
            text = text.rstrip("\n") + h.clean_body_text(render(footer.text, context, where="unsubscribe footer"))
        if html is not None and unsubscribe.url not in html:
            html = _insert_html(html, render(footer.html, context, html=True, where="unsubscribe footer (html)"))
    if not text.endswith("\n"):
        text += "\n"

    sender_addr = h.sender_address(sender.address, sender.display_name)
    out: dict[str, str] = {
        "From": str(sender_addr),
        "To": str(recipient),
        "Subject": subject,
        "Date": h.date_header(now),
        "Message-ID": message_id,
    }
    refs: tuple[str, ...] = ()
    if threaded and thread is not None:
        parent = h.check_message_id(thread.message_id, "the previous Message-ID")
        refs = tuple(h.references(parent, thread.references))
        out["In-Reply-To"] = parent
        out["References"] = " ".join(refs)
    if unsubscribe is not None:
        out["List-Unsubscribe"] = unsubscribe.header
        if unsubscribe.one_click:
            out["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    return RenderedMessage(subject=subject, text=text, html=html, variant_id=variant.id if variant else None,
                           headers=out, sender=sender_addr, recipient=recipient, message_id=message_id,
                           needs_smtputf8=utf8, references=refs)


def _full_name(prospect: ProspectData) -> str:
    return " ".join(n for n in (prospect.value("first_name"), prospect.value("last_name")) if isinstance(n, str))


def _sources(step: Step, variant: Variant | None, templates: TemplateSource) -> _Sources:
    """Subject, body and HTML templates: a variant's own content wins over the step's."""
    def pick(inline: str | None, file: str | None, fallback: tuple[str | None, str | None]) -> tuple[str, str] | None:
        if not (inline or file):
            inline, file = fallback
        if file:
            return templates.load(file), f"file {file}"
        return (inline, "body") if inline else None

    v_body = (variant.body, variant.body_file) if variant else (None, None)
    v_html = (variant.html, variant.html_file) if variant else (None, None)
    body = pick(*v_body, (step.body, step.body_file))
    if body is None:
        raise RenderError(f"step {step.id} has no body")
    html = pick(*v_html, (step.html, step.html_file))
    if html is not None and html[1] == "body":
        html = (html[0], "html")
    subject = (variant.subject if variant else None) or step.subject
    return _Sources(subject=subject, body=body, html=html)


_BODY_END = re.compile(r"</body\s*>", re.IGNORECASE)


def _insert_html(html: str, snippet: str) -> str:
    matches = list(_BODY_END.finditer(html))
    if not matches:
        return html + snippet
    at = matches[-1].start()
    return html[:at] + snippet + html[at:]
