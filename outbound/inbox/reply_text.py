"""The text a person actually wrote in a reply: quoted history, forwarded mail and signatures removed.

Rules, in order: find where the quoted or embedded earlier message begins ("On ... wrote:" in
many languages, Outlook's From/Sent/To block, "-----Original Message-----", a forward marker);
keep what is above it, or, when nothing is above it (bottom-posting), what follows the quote.
Then drop a trailing ">" quote block, the signature after "-- ", mobile-client signatures, and
trailing delimiter lines. Everything below the start of the earlier message is dropped, even inline answers: a quoted
"unsubscribe" footer must never be read as the author's words.
"""

from __future__ import annotations

import re

_WROTE = re.compile(
    r"^\W{0,6}(on|am|le|el|il|op|den|w dniu|em|på|dne|na|в|στις|el día|le \w+)\b.{0,400}?"
    r"(wrote|schrieb|a écrit|escribió|escribio|ha scritto|schreef|skrev|napisał\(a\)|napisał|napisała|escreveu|написал\(а\)|написал|написала|пише|kirjoitti|yazdı|írta|napsal)\s*:?\s*-*\s*$",
    re.I | re.S,
)
_WROTE_LOOSE = re.compile(
    r"^.{0,200}\b(wrote|schrieb|a écrit|escribió|ha scritto|schreef|skrev|escreveu|написал|пишет)\s*:\s*$", re.I | re.S
)
# "Name <x@y> schrieb am Fr., 28. Apr. 2017 um 11:53 Uhr:", "23 mar 2017 21:25 "X" <x@y> napisał(a):"
_VERB_ANYWHERE = re.compile(
    r"\b(wrote|writes|schrieb|a écrit|escribió|ha scritto|schreef|skrev|escreveu|napisał|написал|пише|пишет|kirjoitti)\b|napisał\(a\)|пользователь",
    re.I,
)
_DATE_LED = re.compile(r"^\d{4}[-/.]\d{1,2}[-/.]\d{1,2}\s+\S.*(\d{1,2}:\d{2}|<|@)", re.S)
_CJK_WROTE = re.compile(r"^在.{0,120}(写道|寫道)[:：]?\s*$|^.{0,120}(のメッセージ|が書きました)[:：]?\s*$", re.S)
_ORIGINAL = re.compile(
    r"^\s*[-_=*]{2,}\s*(original message|ursprüngliche nachricht|message d.origine|mensaje original|messaggio originale|"
    r"oorspronkelijk bericht|originalmeddelande|ursprungligt meddelande|opprinnelig melding|oprindelig meddelelse|wiadomość oryginalna|"
    r"mensagem original|исходное сообщение|forwarded message|weitergeleitete nachricht|message transféré|mensaje reenviado|"
    r"messaggio inoltrato|doorgestuurd bericht|vidarebefordrat meddelande|videresendt melding|reply above this line|"
    r"original|forwarded)\b.*$",
    re.I,
)
_FORWARD = re.compile(
    r"^\s*(begin forwarded message|anfang der weitergeleiteten nachricht|début du message réexpédié|inicio del mensaje reenviado|"
    r"inizio messaggio inoltrato|begin doorgestuurd bericht|vidarebefordrat meddelande)\s*:?\s*$",
    re.I,
)
_HEADER_NAMES = (
    r"from|von|de|da|van|från|fra|od|от|发件人|寄件者|sent|date|datum|gesendet|envoyé|enviado|inviato|verzonden|skickat|sendt|"
    r"wysłano|отправлено|to|an|à|a|para|aan|till|til|do|кому|subject|betreff|objet|asunto|oggetto|onderwerp|ämne|emne|temat|тема|"
    r"cc|reply-to|收件人|主题|日期"
)
_HEADER_LINE = re.compile(rf"^\s*\*?\s*({_HEADER_NAMES})\s*\*?\s*[:：]\s*\*?.*$", re.I)
_FROM_LINE = re.compile(r"^\s*\*?\s*(from|von|de|da|van|från|fra|od|от|发件人|寄件者)\s*\*?\s*[:：]", re.I)
_RULE = re.compile(r"^\s*[_\-=]{8,}\s*$")
_SIG_DELIM = re.compile(r"^(--|-- |—|__)\s*$")
_MOBILE_SIG = re.compile(
    r"^\W{0,3}(sent (from|via|with|using|by) .{1,80}|envoyé (de|depuis) (mon|my) .{1,60}|von meinem .{1,60}gesendet.*|"
    r"diese nachricht wurde von meinem .{1,80}gesendet.*|enviado (desde|de) mi .{1,60}|inviato da .{1,60}|verzonden (met|vanaf) .{1,60}|"
    r"skickat från (min|mitt) .{1,60}|sendt fra (min|mitt) .{1,60}|wysłane z .{1,60}|отправлено с .{1,60}|"
    r"get outlook for .{1,80}|get \[outlook for .{1,80}|from my (iphone|ipad|android|mobile|phone).{0,30}|"
    r".{0,30} from mobile|\(?sent from (a|my) (phone|mobile).{0,40}\)?|從我的 .{1,30}傳送|发自我的.{1,30}|.{0,20}sent by galaxy.{0,4})\W{0,3}$",
    re.I,
)
_QUOTE = re.compile(r"^\s*>")
_PUNCT_ONLY = re.compile(r"^[\s\W_ᐧ]*$")


def _header_block_at(lines: list[str], index: int) -> bool:
    """An Outlook/Apple-style block: a From: line with another header line within the next four."""
    if not _FROM_LINE.match(lines[index]):
        return False
    following = [line for line in lines[index + 1 : index + 6] if line.strip()]
    return sum(1 for line in following[:4] if _HEADER_LINE.match(line)) >= 1


def _is_wrote_header(lines: list[str], index: int) -> int:
    """How many lines the "On ... wrote:" header at index spans (0 if none); blank lines inside are allowed."""
    parts: list[str] = []
    for offset, line in enumerate(lines[index : index + 8]):
        text = line.strip().lstrip(">").strip()
        if not text:
            continue
        parts.append(text)
        if len(parts) > 4:
            break
        chunk = " ".join(parts)
        span = offset + 1
        if len(parts) > 1 and _later_part_opens_header(parts):
            return 0  # "Talk to jane@x.test" above "On ... wrote:": the header starts below, the line is the reply
        if _WROTE.match(chunk) or _CJK_WROTE.match(chunk):
            return span
        if len(parts) == 1 and _WROTE_LOOSE.match(chunk) and len(chunk) < 200:
            return 1
        has_detail = bool(re.search(r"\d", chunk)) and (
            "@" in chunk or "<" in chunk or re.search(r"\d:\d\d", chunk) is not None
        )
        first_ok = bool(re.search(r"[@<]", parts[0])) or (
            bool(re.search(r"\d", parts[0])) and not parts[0].endswith((".", "!", "?"))
        )
        verb_early = bool(_VERB_ANYWHERE.search(" ".join(parts[:2]))) and len(parts[0]) < 160
        if (
            len(chunk) < 300
            and first_ok
            and has_detail
            and verb_early
            and (chunk.endswith((":", "：")) or chunk.endswith("-"))
        ):
            return span
        if len(parts) == 1 and _DATE_LED.match(chunk) and len(chunk) < 200:
            # "2016-03-03 17:21 GMT+01:00 Some One", the address possibly on the next line
            return span
    return 0


def _later_part_opens_header(parts: list[str]) -> bool:
    return any(_WROTE.match(" ".join(parts[k:])) or _CJK_WROTE.match(" ".join(parts[k:])) for k in range(1, len(parts)))


def _end_of_header_block(lines: list[str], index: int) -> int:
    """First line after a From:/Date:/Subject: block (its continuation lines included)."""
    j = index + 1
    while j < len(lines) and lines[j].strip():
        j += 1
    return j


def _start_of_history(lines: list[str]) -> tuple[int, int] | None:
    """(first line of the earlier message, first line after its header) or None."""
    for index, line in enumerate(lines):
        if not line.strip():
            continue
        span = _is_wrote_header(lines, index)
        if span:
            return index, index + span
        if _ORIGINAL.match(line) or _FORWARD.match(line):
            nxt = next((j for j in range(index + 1, min(index + 4, len(lines))) if lines[j].strip()), None)
            if nxt is not None and _HEADER_LINE.match(lines[nxt]):
                return index, _end_of_header_block(lines, nxt)
            return index, index + 1
        if _RULE.match(line):
            nxt = next((j for j in range(index + 1, min(index + 4, len(lines))) if lines[j].strip()), None)
            if nxt is not None and _header_block_at(lines, nxt):
                return index, _end_of_header_block(lines, nxt)
        if _header_block_at(lines, index):
            return index, _end_of_header_block(lines, index)
    return None


def _drop_trailing(lines: list[str]) -> list[str]:
    while lines and not lines[-1].strip():
        lines.pop()
    return lines


def _strip_signature(lines: list[str]) -> list[str]:
    for index, line in enumerate(lines):
        if index > 0 and _SIG_DELIM.match(line) and line.strip() in ("--", "—", "__"):
            return lines[:index]
    for index, line in enumerate(lines):
        if index > 0 and _MOBILE_SIG.match(line.strip()):
            return lines[:index]
    return lines


def _strip_trailing_junk(lines: list[str]) -> list[str]:
    """Delimiter-only lines (---, ***, ~~~, a lone Gmail 'ᐧ') at the very end."""
    lines = _drop_trailing(lines)
    while lines and _PUNCT_ONLY.match(lines[-1]):
        lines.pop()
        lines = _drop_trailing(lines)
    return lines


def extract_reply(text: str) -> str:
    """The author's own words in a plain-text reply."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    found = _start_of_history(lines)
    if found is not None:
        start, after = found
        above = lines[:start]
        rest = lines[after:]
        if any(line.strip() and not _QUOTE.match(line) for line in above):
            lines = above
        else:
            # Bottom-posting: the answer follows the quoted earlier message.
            below = [line for line in rest if not _QUOTE.match(line)]
            lines = below if any(line.strip() for line in below) else []
    # A quote block at the end, after the author's text, is history.
    lines = _drop_trailing(lines)
    end = len(lines)
    while end > 0 and (_QUOTE.match(lines[end - 1]) or not lines[end - 1].strip()):
        end -= 1
    if 0 < end < len(lines) and any(line.strip() for line in lines[:end]):
        lines = lines[:end]
    lines = _strip_signature(lines)
    lines = _strip_trailing_junk(lines)
    while lines and not lines[0].strip():
        lines.pop(0)
    return "\n".join(line.rstrip() for line in lines).strip("\n")
