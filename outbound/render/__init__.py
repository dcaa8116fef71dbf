"""Message rendering: sandboxed Jinja2 templates, spintax, A/B/n variants, headers and MIME.

Pure apart from reading template files beside a sequence (``TemplateSource``).
"""

from __future__ import annotations

from outbound.render.checks import check_templates, template_variables
from outbound.render.errors import MissingVariables, RenderError
from outbound.render.headers import make_message_id, reply_subject
from outbound.render.message import RenderedMessage, ThreadInfo
from outbound.render.spintax import spin
from outbound.render.step import DEFAULT_FOOTER, Footer, render_step
from outbound.render.templates import TemplateSource
from outbound.render.variants import choose_variant

__all__ = [
    "DEFAULT_FOOTER",
    "Footer",
    "MissingVariables",
    "RenderError",
    "RenderedMessage",
    "TemplateSource",
    "ThreadInfo",
    "check_templates",
    "choose_variant",
    "make_message_id",
    "render_step",
    "reply_subject",
    "spin",
    "template_variables",
]
