from email import message_from_bytes, policy
from email.message import EmailMessage

from outbound.render.headers import MAX_DISPLAY_NAME, display_name_text, recipient_address


def test_long_names_are_capped_at_a_word_and_long_words_cut() -> None:
    assert display_name_text("Ada Lovelace") == "Ada Lovelace"
    long_words = " ".join(["word"] * 60)
    capped = display_name_text(long_words)
    assert len(capped) <= MAX_DISPLAY_NAME and capped.endswith("word")
    assert all(len(w) <= 70 for w in display_name_text("x" * 20000).split(" "))


def test_a_huge_single_word_name_still_gives_lines_under_998() -> None:
    address, _ = recipient_address("ann@example.com", "A" * 20000)
    msg = EmailMessage(policy=policy.SMTP)
    msg["To"] = address
    msg.set_content("hi")
    raw = msg.as_bytes()
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998
    parsed = message_from_bytes(raw, policy=policy.default)
    assert parsed["To"].addresses[0].addr_spec == "ann@example.com"
