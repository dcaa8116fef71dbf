"""The few pages the link server shows a person: plain HTML, inline style, no external assets."""

from __future__ import annotations

from html import escape

_STYLE = ("body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;background:#f6f6f6;"
          "color:#222;margin:0;padding:48px 16px}main{max-width:440px;margin:0 auto;background:#fff;"
          "border:1px solid #ddd;border-radius:8px;padding:28px}h1{font-size:20px;margin:0 0 12px}"
          "p{line-height:1.5}button{font-size:16px;padding:10px 18px;border:0;border-radius:6px;"
          "background:#b3261e;color:#fff;cursor:pointer}")


def _page(title: str, body: str) -> str:
    return ("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
            "<meta name=\"robots\" content=\"noindex,nofollow\">"
            f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
            f"<body><main>{body}</main></body></html>\n")


def confirm_page(address: str, action: str) -> str:
    """The GET page: a button that POSTs the one-click form (a GET alone never unsubscribes,
    because mail scanners follow links)."""
    return _page("Unsubscribe", (
        "<h1>Unsubscribe</h1>"
        f"<p>Stop all emails to <strong>{escape(address)}</strong>?</p>"
        f"<form method=\"post\" action=\"{escape(action)}\">"
        "<input type=\"hidden\" name=\"List-Unsubscribe\" value=\"One-Click\">"
        "<button type=\"submit\" id=\"unsubscribe\">Unsubscribe</button></form>"))


def done_page(address: str) -> str:
    return _page("Unsubscribed", (
        "<h1 id=\"done\">You are unsubscribed</h1>"
        f"<p><strong>{escape(address)}</strong> will not get any more emails from us.</p>"))


def not_found_page() -> str:
    return _page("Link not found", "<h1>Link not found</h1><p>This link is not valid. Check that it was copied whole.</p>")


def bad_request_page(action: str) -> str:
    return _page("Unsubscribe", (
        "<h1>Unsubscribe</h1><p>This request did not confirm the unsubscribe.</p>"
        f"<form method=\"post\" action=\"{escape(action)}\">"
        "<input type=\"hidden\" name=\"List-Unsubscribe\" value=\"One-Click\">"
        "<button type=\"submit\">Unsubscribe</button></form>"))


def unavailable_page() -> str:
    return _page("Please try again", "<h1>Please try again</h1><p>We could not record this just now. "
                 "Please try again in a minute.</p>")
