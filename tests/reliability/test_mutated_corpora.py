"""Mutated real input (shared/corpora): real bounce, complaint and reply messages for the
classifier, and real zone records (the RFC 7208 suite's zones, DKIM and DMARC vectors) for the
record parsers, the SPF evaluation and the whole domain check over an in-process fake resolver.
No crash, no hang, an answer or a clear error. (tests/unit/fuzz and tests/unit/inbox fuzz random
text and bytes; these start from real data, which reaches deeper paths.)"""

from __future__ import annotations

import asyncio
import functools
import json
from pathlib import Path
from typing import Any

import dns.name
import dns.rdataclass
import dns.rdatatype
import dns.resolver
from dns.rdtypes.ANY.TXT import TXT
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from outbound.health import dkim, dmarc, spf_parse
from outbound.health.checker import Target, check_target
from outbound.health.model import Finding
from outbound.health.spf import check_host
from outbound.inbox.classify import classify
from tests.fixtures.common import corpora_dir
from tests.unit.prospects.test_fuzz import time_limit

FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                         HealthCheck.too_slow])
TOKENS = [b"\r\n", b"\n\n", b"\r", b"\x00", b"\xff\xfe", b"=?utf-8?b?", b"=?x?q?=ZZ?=", b"--", b"boundary=",
          b"Content-Type: multipart/mixed; boundary=\"\"\r\n", b"Content-Transfer-Encoding: base64\r\n",
          b"%{", b"%{ir}.", b"include:", b"redirect=", b"; ", b"=", b"v=DKIM1;", b"p=", b"v=DMARC1;", b"ip4:",
          b"/129", b" ", "\u00fc\u202e".encode(), b"{{ 7*7 }}", b"a" * 300]
OPS = st.lists(st.tuples(st.sampled_from(["flip", "cut", "dup", "insert", "truncate"]), st.floats(0, 1),
                         st.floats(0, 1), st.sampled_from(TOKENS)), min_size=1, max_size=6)


def mutate(data: bytes, ops: list[tuple[str, float, float, bytes]]) -> bytes:
    for op, a, b, token in ops:
        n = len(data)
        i, j = sorted((int(a * n), int(b * n)))
        if op == "flip" and n:
            k = min(i, n - 1)
            data = data[:k] + bytes([data[k] ^ (1 + int(b * 254))]) + data[k + 1:]
        elif op == "cut":
            data = data[:i] + data[j:]
        elif op == "dup":
            data = data[:j] + data[i:j] + data[j:]
        elif op == "insert":
            data = data[:i] + token + data[i:]
        else:
            data = data[:max(i, 1)]
    return data


@functools.cache
def _messages() -> list[Path]:
    root = corpora_dir()
    return sorted(p for sub in ("bounces", "bounces-flufl", "replies") for p in (root / sub).rglob("*")
                  if p.is_file() and p.suffix in (".eml", ".txt", "") and p.stat().st_size < 200_000
                  and "LICENSE" not in p.name and p.name != "labels.jsonl")


@FUZZ
@given(pick=st.floats(0, 1), ops=OPS)
def test_classifier_on_mutated_real_messages(pick: float, ops: list[tuple[str, float, float, bytes]]) -> None:
    files = _messages()
    assert len(files) > 250
    raw = mutate(files[min(int(pick * len(files)), len(files) - 1)].read_bytes(), ops)
    with time_limit(5):
        result = classify(raw)
    assert result.kind  # always a verdict, "other" at worst
    assert all(isinstance(r, str) and "\n" not in r for r in result.recipients)


@functools.cache
def _records() -> list[str]:
    """Real record texts: every SPF/TXT value of the RFC 7208 zones, the DKIM and DMARC vectors."""
    root = corpora_dir()
    out: list[str] = []
    for doc in YAML(typ="safe").load_all((root / "spf" / "rfc7208-tests.yml").read_text()):
        for records in (doc.get("zonedata") or {}).values():
            for rec in records:
                if isinstance(rec, dict):
                    for kind, value in rec.items():
                        if kind in ("SPF", "TXT"):
                            out += value if isinstance(value, list) else [value]
    out += [v["record"] for v in json.loads((root / "dkim" / "dkim_key_record_vectors.json").read_text())]
    out += [v["record"] for v in json.loads((root / "dmarc" / "dmarc_record_vectors.json").read_text())]
    return [r for r in out if isinstance(r, str)]


def _findings_ok(findings: list[Finding]) -> None:
    assert all(f.message and f.severity in ("error", "warning", "info") for f in findings)


@FUZZ
@given(pick=st.floats(0, 1), ops=OPS)
def test_record_parsers_on_mutated_real_records(pick: float, ops: list[tuple[str, float, float, bytes]]) -> None:
    records = _records()
    assert len(records) > 150
    raw = mutate(records[min(int(pick * len(records)), len(records) - 1)].encode(), ops)
    text = raw.decode("utf-8", "replace")
    with time_limit(5):
        record, reason = spf_parse.select_record([raw])
        if record is not None:
            try:
                spf_parse.parse_record(record)
            except spf_parse.SpfSyntaxError as exc:
                assert str(exc)
        else:
            assert reason
        assert all(sev in ("error", "warning", "info") and msg for sev, _code, msg in dkim.assess_key(text))
        _, problems = dmarc.assess(text)
        assert all(sev in ("error", "warning", "info") and msg for sev, _code, msg in problems)


class _FakeResolver:
    """Serves one zone from memory: TXT records by name, NXDOMAIN for names it does not hold."""

    def __init__(self, txt: dict[str, list[bytes]]) -> None:
        self.txt = {k.lower(): v for k, v in txt.items()}

    async def resolve(self, qname: Any, rdtype: Any = "A", *args: Any, **kwargs: Any) -> Any:
        name = str(qname).rstrip(".").lower()
        kind = rdtype if isinstance(rdtype, str) else dns.rdatatype.to_text(rdtype)
        if not any(k == name or k.endswith("." + name) for k in self.txt) and name not in ("good.test",):
            raise dns.resolver.NXDOMAIN()  # type: ignore[no-untyped-call]
        if kind != "TXT" or name not in self.txt:
            raise dns.resolver.NoAnswer()  # type: ignore[no-untyped-call]
        rdata = [TXT(dns.rdataclass.IN, dns.rdatatype.TXT, [v[i:i + 255] for i in range(0, max(len(v), 1), 255)])
                 for v in self.txt[name]]

        class _Answer:
            rrset = rdata
            canonical_name = dns.name.from_text(name)

        return _Answer()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(picks=st.lists(st.floats(0, 1), min_size=3, max_size=3), ops=OPS)
def test_domain_check_and_spf_evaluation_on_mutated_real_zones(picks: list[float], ops: list[tuple[str, float, float, bytes]]) -> None:
    records = _records()
    spf, key, policy = (mutate(records[min(int(p * len(records)), len(records) - 1)].encode(), ops) for p in picks)
    zone = {"good.test": [spf], "sel._domainkey.good.test": [key], "_dmarc.good.test": [policy],
            "inc.good.test": [b"v=spf1 include:good.test ?all"]}
    resolver = _FakeResolver(zone)

    async def run() -> None:
        report = await check_target(Target("good.test", ["sel"], ["192.0.2.10"]), resolver, ip_zones=(), domain_zones=())
        _findings_ok(report.findings)
        assert report.verdict in ("pass", "warn", "fail")
        result, _explanation = await check_host("192.0.2.10", "good.test", "a@good.test", "good.test", resolver)
        assert result in ("pass", "fail", "softfail", "neutral", "none", "permerror", "temperror")

    with time_limit(10):
        asyncio.run(run())
