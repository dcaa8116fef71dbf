"""render_step and the MIME message: headers parsed back from the produced bytes."""

from __future__ import annotations

import re
from email.utils import parsedate_to_datetime
from typing import Any

import pytest

from outbound.render import MissingVariables, RenderError, ThreadInfo, make_message_id, reply_subject
from outbound.tokens import verify_unsubscribe
from tests.unit.render.helpers import MESSAGE_ID, NOW, SECRET, content, links, parsed, prospect, render

INTRO: dict[str, Any] = {"id": "intro", "subject": "Question for {{ company }}", "body": "Hi {{ first_name }},\n\nShort note.\n"}
BUMP: dict[str, Any] = {"id": "bump", "thread": True, "body": "Any thoughts, {{ first_name }}?"}


@pytest.mark.parametrize(
    "first_name",
    ["Bob\r\nBcc: victim@x.com", "Bob\nBcc: victim@x.com", "Bob\rBcc: victim@x.com", "Bob\x00\r\n\r\nbody",
     "Bob\u2028Bcc: victim@x.com", "Bob\x85Bcc: v@x.com", "Bob\tX-Evil: 1"],
)
def test_header_injection_via_prospect_data_cannot_add_headers(first_name: str) -> None:
    steps = [{**INTRO, "subject": "Hi {{ first_name }}"}]
    msg = render(steps, who=prospect(first_name=first_name, last_name="Smith\r\nCc: x@y.z"), unsubscribe=links())
    back = parsed(msg)
    assert back["Bcc"] is None and back["Cc"] is None and back["X-Evil"] is None
    assert sorted(back.keys()) == sorted(["From", "To", "Subject", "Date", "Message-ID", "List-Unsubscribe",
                                          "List-Unsubscribe-Post", "Content-Type", "Content-Transfer-Encoding",
                                          "MIME-Version"])
    assert [a.addr_spec for a in back["To"].addresses] == ["bob@example.com"]
    for value in (str(back["Subject"]), back["To"].addresses[0].display_name):
        assert not re.search(r"[\x00-\x1f\x7f-\x9f\u2028]", value)
    assert str(back["Subject"]).startswith("Hi Bob")


@pytest.mark.parametrize(
    "email", ["bob@example.com\r\nBcc: v@x.com", "bob @example.com", "bob", "@example.com", "bob@localhost",
              "bob@exa mple.com", "bob@-bad-.com", "bo\x00b@example.com"],
)
def test_unusable_recipient_address_is_refused_with_reason(email: str) -> None:
    with pytest.raises(RenderError) as err:
        render([INTRO], who=prospect(email=email))
    assert "address" in err.value.reason or "domain" in err.value.reason


@pytest.mark.parametrize(
    ("first_name", "company", "sender_name"),
    [
        ("Zoë", "Müller & Söhne GmbH", "Jürgen Groß"),
        ("Łukasz", "Żabka", "Ünal, Jr."),
        ("太郎", "株式会社テスト", "山田 花子"),
        ("O'Brien \"Bob\"", "Ac,me; Inc.", "Dr. A. <Admin>"),
        ("😀", "Emoji 🚀 Corp — a long company name to make the subject fold over seventy-eight columns", "Alex"),
    ],
)
def test_non_ascii_subjects_and_names_round_trip(first_name: str, company: str, sender_name: str) -> None:
    steps = [{**INTRO, "subject": "{{ first_name }} — {{ company }}"}]
    msg = render(steps, who=prospect(first_name=first_name, last_name="Ŝmith", company=company),
                 display_name=sender_name)
    raw = msg.as_bytes()
    raw.decode("ascii")  # RFC 2047 / MIME encoding keeps the wire ASCII when the address is ASCII
    back = parsed(msg)
    assert str(back["Subject"]) == f"{first_name} — {company}"
    assert back["From"].addresses[0].display_name == sender_name
    assert back["From"].addresses[0].addr_spec == "alex@acme.io"
    assert back["To"].addresses[0].display_name == f"{first_name} Ŝmith"
    assert content(back) == f"Hi {first_name},\n\nShort note.\n"
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))


def test_idn_domain_encoded_and_utf8_local_part_flagged() -> None:
    msg = render([INTRO], who=prospect(email="bob@bücher.de"))
    assert msg.recipient.domain == "xn--bcher-kva.de" and not msg.needs_smtputf8
    msg = render([INTRO], who=prospect(email="jörg@example.com"))
    assert msg.needs_smtputf8
    raw = msg.as_bytes()
    assert b"To: Bob <j\xc3\xb6rg@example.com>" in raw  # RFC 6532: UTF-8 header, needs SMTPUTF8


def test_headers_order_date_message_id_and_no_x_headers() -> None:
    msg = render([INTRO], unsubscribe=links())
    assert list(msg.headers)[:5] == ["From", "To", "Subject", "Date", "Message-ID"]
    back = parsed(msg)
    assert parsedate_to_datetime(str(back["Date"])) == NOW
    assert str(back["Message-ID"]).strip() == MESSAGE_ID == msg.message_id
    assert str(back["From"]) == "Alex Müller <alex@acme.io>"
    assert not [k for k in back if k.lower().startswith("x-")]
    assert not [k for k in msg.headers if k.lower().startswith("x-")]
    assert back["In-Reply-To"] is None and back["References"] is None


def test_list_unsubscribe_headers_well_formed() -> None:
    unsub = links()
    msg = render([INTRO], unsubscribe=unsub)
    raw = msg.as_bytes()
    assert b"=?" not in raw.split(b"List-Unsubscribe:")[1].split(b"List-Unsubscribe-Post")[0]
    back = parsed(msg)
    urls = re.findall(r"<([^>]+)>", str(back["List-Unsubscribe"]))
    assert urls == [unsub.https_url, "mailto:alex@acme.io?subject=unsubscribe"]
    assert urls[0].startswith("https://t.acme.io/u/")
    assert verify_unsubscribe(urls[0].rsplit("/", 1)[1], SECRET) == (7, "bob@example.com")
    assert str(back["List-Unsubscribe-Post"]) == "List-Unsubscribe=One-Click"


def test_no_unsubscribe_means_no_list_headers_and_no_footer() -> None:
    msg = render([INTRO], unsubscribe=None)
    back = parsed(msg)
    assert back["List-Unsubscribe"] is None and back["List-Unsubscribe-Post"] is None
    assert "nsubscribe" not in msg.text


def test_footer_added_configurable_and_disabled() -> None:
    unsub = links()
    default = render([INTRO], unsubscribe=unsub)
    assert default.text.startswith("Hi Bob,\n\nShort note.\n")
    assert default.text.rstrip().endswith(unsub.https_url)
    from outbound.render import Footer
    custom = render([INTRO], unsubscribe=unsub, footer=Footer(text="\n\nOpt out ({{ first_name }}): {{ unsubscribe_url }}"))
    assert custom.text.endswith(f"Opt out (Bob): {unsub.https_url}\n")
    off = render([INTRO], unsubscribe=unsub, footer=None)
    assert unsub.https_url not in off.text
    assert parsed(off)["List-Unsubscribe"] is not None


def test_footer_not_duplicated_when_body_links_unsubscribe() -> None:
    unsub = links()
    steps = [{**INTRO, "body": "Hi\n\nNot interested? {{ unsubscribe_url }}\n"}]
    msg = render(steps, unsubscribe=unsub)
    assert msg.text.count(unsub.https_url) == 1


def test_html_alternative_with_escaped_data_and_footer() -> None:
    unsub = links()
    steps = [{**INTRO, "html": "<html><body><p>Hi {{ first_name }}</p></body></html>"}]
    msg = render(steps, who=prospect(first_name="<script>x</script>"), unsubscribe=unsub)
    back = parsed(msg)
    assert back.get_content_type() == "multipart/alternative"
    text_part, html_part = back.iter_parts()
    assert text_part.get_content_type() == "text/plain" and html_part.get_content_type() == "text/html"
    html = html_part.get_content()
    assert "&lt;script&gt;" in html and "<script>" not in html
    assert html.index(f'href="{unsub.https_url}"') < html.index("</body>")
    assert "<script>x</script>" in content(text_part)


def test_template_files_and_variants() -> None:
    steps = [{"id": "intro", "subject": "Hi", "body_file": "intro.txt", "html_file": "intro.html"}]
    msg = render(steps, who=prospect(first_name=None))
    assert msg.text.startswith("Hi there,\n\n")
    assert "Example Ltd is growing" in msg.text and msg.text.rstrip().endswith("Alex")
    assert msg.html is not None and "Example Ltd looks great" in msg.html


def test_variant_overrides_step_content() -> None:
    steps = [{"id": "intro", "subject": "Base {{ company }}", "body": "base body",
              "variants": [{"id": "only", "subject": "Variant {{ company }}", "body_file": "intro.txt"}]}]
    msg = render(steps)
    assert msg.variant_id == "only"
    assert msg.subject == "Variant Example Ltd" and msg.text.startswith("Hi Bob,")
    steps[0]["variants"] = [{"id": "subject-only", "subject": "Other"}]
    msg = render(steps)
    assert (msg.variant_id, msg.subject, msg.text) == ("subject-only", "Other", "base body\n")


def test_missing_template_file_names_it() -> None:
    with pytest.raises(RenderError) as err:
        render([{"id": "intro", "subject": "s", "body_file": "nope.txt"}])
    assert "nope.txt" in err.value.reason


@pytest.mark.parametrize(
    ("name", "fragment"),
    [("../outside.txt", "outside the sequence folder"), ("/etc/passwd", "relative"), ("sub/latin1.txt", "UTF-8")],
)
def test_template_file_errors(name: str, fragment: str) -> None:
    with pytest.raises(RenderError) as err:
        render([{"id": "intro", "subject": "s", "body_file": name}])
    assert fragment in err.value.reason


def test_missing_variables_across_subject_and_body_block_with_names() -> None:
    steps = [{"id": "intro", "subject": "For {{ title }}", "body": "Hi {{ first_name }} in {{ city }}"}]
    with pytest.raises(MissingVariables) as err:
        render(steps, who=prospect(first_name=None))
    assert err.value.variables == ["title", "first_name", "city"]
    assert "step intro" in err.value.reason


def test_spintax_stable_per_prospect_and_data_not_spun() -> None:
    steps = [{**INTRO, "subject": "{Quick|Short|Brief} question", "body": "{Hi|Hello} {{ first_name }}"}]
    first = render(steps, who=prospect(first_name="{A|B}"))
    again = render(steps, who=prospect(first_name="{A|B}"))
    assert (first.subject, first.text) == (again.subject, again.text)
    assert first.text.endswith("{A|B}\n")
    subjects = {render(steps, who=prospect(email=f"p{i}@example.com")).subject for i in range(40)}
    assert subjects == {"Quick question", "Short question", "Brief question"}


def test_broken_spintax_refuses_the_message_naming_the_step_and_part() -> None:
    for steps, part in (([{**INTRO, "body": "{Hi|Hello {{ first_name }},\nhow are you"}], "body"),
                        ([{**INTRO, "subject": "{quick|short question"}], "subject")):
        with pytest.raises(RenderError) as err:
            render(steps)
        assert err.value.reason.startswith(f"step intro {part}: broken spintax: the group '{{"), err.value.reason
        assert "never closed" in err.value.reason and "(template line 1, column 1)" in err.value.reason


@pytest.mark.parametrize(
    ("previous", "expected"),
    [("Question", "Re: Question"), ("Re: Question", "Re: Question"), ("RE: re:Question", "Re: Question"),
     ("Re[2]: Question", "Re: Question"), ("AW: Frage", "Re: Frage"), ("Regarding us", "Re: Regarding us"),
     ("Re:\r\nBcc: x", "Re: Bcc: x")],
)
def test_reply_subject(previous: str, expected: str) -> None:
    assert reply_subject(previous) == expected


def test_threaded_step_headers_and_subject() -> None:
    thread = ThreadInfo(subject="Re: Question for Example Ltd", message_id="<b@acme.io>", references=("<a@acme.io>",))
    msg = render([INTRO, BUMP], step=1, thread=thread)
    back = parsed(msg)
    assert str(back["Subject"]) == "Re: Question for Example Ltd"
    assert str(back["In-Reply-To"]).strip() == "<b@acme.io>"
    assert str(back["References"]).split() == ["<a@acme.io>", "<b@acme.io>"]
    assert msg.references == ("<a@acme.io>", "<b@acme.io>")
    assert content(back) == "Any thoughts, Bob?\n"


def test_threaded_step_with_own_subject_and_without_thread() -> None:
    own = {**BUMP, "subject": "Re: Re: {{ company }}"}
    msg = render([INTRO, own], step=1, thread=ThreadInfo("x", "<b@acme.io>"))
    assert msg.subject == "Re: Example Ltd" and msg.headers["In-Reply-To"] == "<b@acme.io>"
    unthreaded = render([INTRO, own], step=1, thread=None)
    assert "In-Reply-To" not in unthreaded.headers
    with pytest.raises(RenderError) as err:
        render([INTRO, BUMP], step=1, thread=None)
    assert "no previous message" in err.value.reason


def test_long_reference_chain_keeps_root_and_parent() -> None:
    refs = tuple(f"<m{i}@acme.io>" for i in range(40))
    msg = render([INTRO, BUMP], step=1, thread=ThreadInfo("x", "<last@acme.io>", refs))
    assert msg.references[0] == "<m0@acme.io>" and msg.references[-1] == "<last@acme.io>"
    assert len(msg.references) == 20


@pytest.mark.parametrize("bad", ["no-brackets@acme.io", "<a b@acme.io>", "<a@acme.io>\r\nBcc: x", "<noat>"])
def test_bad_message_ids_refused(bad: str) -> None:
    with pytest.raises(RenderError):
        render([INTRO, BUMP], step=1, thread=ThreadInfo("x", bad))


def test_make_message_id_on_sending_domain_and_unique() -> None:
    ids = {make_message_id("acme.io") for _ in range(100)}
    assert len(ids) == 100
    assert all(re.fullmatch(r"<[0-9a-f-]{36}@acme\.io>", i) for i in ids)


@pytest.mark.parametrize(
    ("steps", "fragment"),
    [([{**INTRO, "subject": "{{ '' }}"}], "subject renders empty"),
     ([{**INTRO, "body": "{% if false %}x{% endif %}"}], "body renders empty")],
)
def test_empty_results_refused(steps: list[dict[str, Any]], fragment: str) -> None:
    with pytest.raises(RenderError) as err:
        render(steps)
    assert fragment in err.value.reason


def test_naive_now_is_a_programming_error() -> None:
    from outbound.render import TemplateSource, render_step
    from tests.unit.render.helpers import TEMPLATES, domain, sequence
    seq, dom = sequence([INTRO]), domain()
    with pytest.raises(ValueError):
        render_step(seq, seq.steps[0], prospect(), dom.mailboxes[0], dom, templates=TemplateSource(TEMPLATES),
                    thread=None, message_id=MESSAGE_ID, unsubscribe=None, now=NOW.replace(tzinfo=None))


def test_body_control_characters_removed_line_endings_normalised() -> None:
    msg = render([{**INTRO, "body": "Hi {{ first_name }}\r\nline2\r\n"}], who=prospect(first_name="B\x00o\x1bb\x07"))
    assert msg.text == "Hi Bob\nline2\n"
