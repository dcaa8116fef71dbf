"""Pure RFC 7208 parsing: record selection, terms, dual CIDR, macro syntax and expansion."""

from __future__ import annotations

import ipaddress
import re
import urllib.parse
from dataclasses import dataclass, field

DNS_MECHANISMS = frozenset({"a", "mx", "ptr", "include", "exists"})
MECHANISMS = DNS_MECHANISMS | {"all", "ip4", "ip6"}
QUALIFIERS = {"+": "pass", "-": "fail", "~": "softfail", "?": "neutral"}

_MODIFIER = re.compile(r"^([A-Za-z][A-Za-z0-9\-_.]*)=(.*)$", re.S)
_MECH = re.compile(r"^([+\-~?]?)([A-Za-z][A-Za-z0-9\-_.]*)(.*)$", re.S)
_TOPLABEL = re.compile(r"^(?:[A-Za-z0-9]*[A-Za-z][A-Za-z0-9]*|[A-Za-z0-9]+-[A-Za-z0-9\-]*[A-Za-z0-9])$")
_MACRO = re.compile(r"%(?:\{([A-Za-z])(\d*)(r?)([.\-+,/_=]*)\}|(.)|$)", re.I)
_CIDR4 = r"(?:/(0|[1-9][0-9]?))"
_CIDR6 = r"(?:/(0|[1-9][0-9]{0,2}))"
_DUAL = re.compile(rf"^(.*?){_CIDR4}?(?:/{_CIDR6})?$", re.S)
_IP4 = re.compile(r"^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$")


class SpfSyntaxError(ValueError):
    """The record breaks the RFC 7208 grammar (result: permerror)."""


@dataclass(frozen=True)
class Mechanism:
    qualifier: str  # pass/fail/softfail/neutral
    name: str  # lower-case mechanism name
    domain: str | None = None  # unexpanded domain-spec, or None for "current domain"
    cidr4: int = 32
    cidr6: int = 128
    network: ipaddress.IPv4Network | ipaddress.IPv6Network | None = None

    def __str__(self) -> str:
        return f"{self.name}:{self.domain}" if self.domain else self.name


@dataclass(frozen=True)
class Record:
    text: str
    mechanisms: tuple[Mechanism, ...]
    redirect: str | None = None
    exp: str | None = None
    unknown_modifiers: tuple[str, ...] = field(default=())

    @property
    def dns_terms(self) -> int:
        return sum(m.name in DNS_MECHANISMS for m in self.mechanisms) + (self.redirect is not None)


def is_spf(txt: bytes) -> bool:
    """RFC 7208 §4.5: the version section is 'v=spf1' followed by a space or the end."""
    return txt[:6].lower() == b"v=spf1" and (len(txt) == 6 or txt[6:7] == b" ")


def select_record(txts: list[bytes]) -> tuple[str | None, str]:
    """The single SPF record among TXT values, or (None, reason): 'none' or a permerror reason."""
    spf = [t for t in txts if is_spf(t)]
    if not spf:
        return None, "none"
    if len(spf) > 1:
        return None, f"{len(spf)} SPF records (RFC 7208 §4.5 allows one)"
    raw = spf[0]
    if any(b > 126 or b < 32 for b in raw):
        return None, "SPF record holds non-ASCII or control characters"
    return raw.decode("ascii"), ""


def parse_record(text: str) -> Record:
    """Parse a whole record; any syntax error anywhere raises (RFC 7208 §4.6)."""
    mechs: list[Mechanism] = []
    redirect: str | None = None
    exp: str | None = None
    unknown: list[str] = []
    for term in text.split(" ")[1:]:
        if not term:
            continue
        mod = _MODIFIER.match(term)
        if mod:
            name, value = mod.group(1).lower(), mod.group(2)
            if name in ("redirect", "exp"):
                check_domain_spec(value)
                if (redirect if name == "redirect" else exp) is not None:
                    raise SpfSyntaxError(f"{name}= appears twice")
                if name == "redirect":
                    redirect = value
                else:
                    exp = value
            else:
                check_macro_string(value)
                unknown.append(name)
            continue
        mechs.append(parse_mechanism(term))
    return Record(text, tuple(mechs), redirect, exp, tuple(unknown))


def parse_mechanism(term: str) -> Mechanism:
    m = _MECH.match(term)
    if not m:
        raise SpfSyntaxError(f"unknown term {term!r}")
    qual, name, rest = QUALIFIERS.get(m.group(1), "pass"), m.group(2).lower(), m.group(3)
    if name not in MECHANISMS:
        raise SpfSyntaxError(f"unknown mechanism {term!r}")
    if name == "all":
        if rest:
            raise SpfSyntaxError(f"'all' takes no argument: {term!r}")
        return Mechanism(qual, name)
    if name in ("ip4", "ip6"):
        return Mechanism(qual, name, network=_network(name, rest, term))
    if name in ("include", "exists", "ptr"):
        if name == "ptr" and not rest:
            return Mechanism(qual, name)
        if not rest.startswith(":"):
            raise SpfSyntaxError(f"{name} needs ':domain': {term!r}")
        check_domain_spec(rest[1:])
        return Mechanism(qual, name, rest[1:])
    # a and mx: [":" domain-spec] [dual-cidr]
    d = _DUAL.match(rest)
    if not d:
        raise SpfSyntaxError(f"bad CIDR in {term!r}")
    spec, c4, c6 = d.group(1), d.group(2), d.group(3)
    domain: str | None = None
    if spec:
        if not spec.startswith(":"):
            raise SpfSyntaxError(f"bad term {term!r}")
        domain = spec[1:]
        check_domain_spec(domain)
    cidr4, cidr6 = int(c4) if c4 else 32, int(c6) if c6 else 128
    if cidr4 > 32 or cidr6 > 128:
        raise SpfSyntaxError(f"CIDR length out of range in {term!r}")
    return Mechanism(qual, name, domain, cidr4, cidr6)


def _network(name: str, rest: str, term: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    if not rest.startswith(":"):
        raise SpfSyntaxError(f"{name} needs an address: {term!r}")
    addr, _, length = rest[1:].partition("/")
    cidr = re.fullmatch(r"0|[1-9][0-9]{0,2}", length) if length else None
    if length and not cidr:
        raise SpfSyntaxError(f"bad CIDR length in {term!r}")
    try:
        if name == "ip4":
            if not _IP4.match(addr) or (length and int(length) > 32):
                raise ValueError
            return ipaddress.IPv4Network(f"{addr}/{length or 32}", strict=False)
        if ":" not in addr or (length and int(length) > 128):
            raise ValueError
        return ipaddress.IPv6Network(f"{addr}/{length or 128}", strict=False)
    except ValueError:
        raise SpfSyntaxError(f"bad address in {term!r}") from None


def check_macro_string(text: str, exp: bool = False) -> list[tuple[str, str]]:
    """Tokenise a macro-string into ('lit', text) and ('mac', spec) parts; raise on bad syntax."""
    parts: list[tuple[str, str]] = []
    pos = 0
    for m in _MACRO.finditer(text):
        lit = text[pos : m.start()]
        if lit:
            if not exp and any(not 0x21 <= ord(c) <= 0x7E for c in lit):
                raise SpfSyntaxError(f"invalid character in {text!r}")
            parts.append(("lit", lit))
        pos = m.end()
        if m.group(1):
            letter = m.group(1).lower()
            if letter not in "slodiphv" and not (exp and letter in "crt"):
                raise SpfSyntaxError(f"invalid macro letter %{{{m.group(1)}}}")
            if m.group(2) and int(m.group(2)) == 0:
                raise SpfSyntaxError("macro digit transformer must be non-zero")
            parts.append(("mac", m.group(0)))
        elif m.group(5) in ("%", "_", "-"):
            parts.append(("esc", m.group(5)))
        else:
            raise SpfSyntaxError(f"invalid '%' in {text!r}")
    if text[pos:]:
        lit = text[pos:]
        if not exp and any(not 0x21 <= ord(c) <= 0x7E for c in lit):
            raise SpfSyntaxError(f"invalid character in {text!r}")
        parts.append(("lit", lit))
    return parts


def check_domain_spec(text: str) -> None:
    """domain-spec = macro-string domain-end; domain-end = ("." toplabel ["."]) / macro-expand."""
    if not text:
        raise SpfSyntaxError("empty domain-spec")
    parts = check_macro_string(text)
    if parts[-1][0] != "lit":
        return
    lit = parts[-1][1]
    body = lit[:-1] if lit.endswith(".") else lit
    _head, dot, top = body.rpartition(".")
    if not dot or not _TOPLABEL.match(top):
        raise SpfSyntaxError(f"{text!r} does not end in a valid top label")


@dataclass(frozen=True)
class MacroContext:
    sender: str
    local: str
    sender_domain: str
    domain: str
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address
    helo: str
    validated: str = "unknown"
    receiver: str = "unknown"
    timestamp: int = 0


def ip_dotted(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    if ip.version == 4:
        return str(ip)
    return ".".join(ip.exploded.replace(":", ""))


def expand(text: str, ctx: MacroContext, exp: bool = False) -> str:
    """Expand macros (RFC 7208 §7). `ctx.validated` must already hold %{p} if the text uses it."""
    out: list[str] = []
    for kind, value in check_macro_string(text, exp):
        if kind == "lit":
            out.append(value)
        elif kind == "esc":
            out.append({"%": "%", "_": " ", "-": "%20"}[value])
        else:
            out.append(_expand_one(value, ctx))
    return "".join(out)


def _expand_one(spec: str, ctx: MacroContext) -> str:
    m = re.match(r"%\{([A-Za-z])(\d*)(r?)([.\-+,/_=]*)\}", spec, re.I)
    assert m is not None  # tokenised by check_macro_string
    letter, digits, rev, delims = m.group(1), m.group(2), m.group(3), m.group(4) or "."
    value = {
        "s": ctx.sender, "l": ctx.local, "o": ctx.sender_domain, "d": ctx.domain, "i": ip_dotted(ctx.ip),
        "p": ctx.validated, "v": "in-addr" if ctx.ip.version == 4 else "ip6", "h": ctx.helo,
        "c": str(ctx.ip), "r": ctx.receiver, "t": str(ctx.timestamp),
    }[letter.lower()]
    parts = re.split("[" + re.escape(delims) + "]", value)
    if rev:
        parts.reverse()
    if digits:
        parts = parts[-int(digits) :]
    result = ".".join(parts)
    if letter.isupper():
        result = urllib.parse.quote(result, safe="-._~")
    return result


def truncate_domain(name: str) -> str:
    """RFC 7208 §7.3: drop left labels until the name fits in 253 characters."""
    name = name.rstrip(".")
    while len(name) > 253 and "." in name:
        name = name.split(".", 1)[1]
    return name


def valid_target(name: str) -> bool:
    """A name usable in a query: >= 2 labels, each 1-63 octets, 253 at most."""
    name = name.rstrip(".")
    labels = name.split(".")
    return 0 < len(name) <= 253 and len(labels) >= 2 and all(0 < len(x.encode()) <= 63 for x in labels)
