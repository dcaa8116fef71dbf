"""Hostile input never crashes or hangs a parser: it gives a clear error value (issue 9, hostile input)."""

from __future__ import annotations

import contextlib
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from outbound.errors import Problem
from outbound.health import dkim, dmarc, spf_parse
from outbound.spec.domain import SendingDomain
from outbound.spec.sequence import Sequence
from outbound.spec.yamlfile import read_yaml, validate_document

YAMLISH = st.text(alphabet=st.sampled_from(list("abc:-[]{}|>\"'#&*!%@ \n\t0123456789.")), max_size=300)
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FAST
@given(text=st.one_of(YAMLISH, st.text(max_size=300)))
def test_yaml_loaders_return_problems_never_raise(tmp_path: Path, text: str) -> None:
    path = tmp_path / "fuzz.yaml"
    path.write_text(text, encoding="utf-8")
    doc = read_yaml(path)
    if isinstance(doc, Problem):
        assert str(doc).startswith(str(path))
        return
    for model in (Sequence, SendingDomain):
        result = validate_document(doc, model)
        if isinstance(result, list):
            assert result and all(p.path == path and p.message for p in result)


@FAST
@given(data=st.binary(max_size=200))
def test_yaml_loader_survives_bytes(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "bytes.yaml"
    path.write_bytes(data)
    doc = read_yaml(path)
    assert doc is not None


TAGGY = st.text(alphabet=st.sampled_from(list("v=DKIM1;kpthsrsaedbpct 0123456789+/=:%{}.-_abcdefgiADMRC\\")), max_size=200)


@FAST
@given(record=st.one_of(TAGGY, st.text(max_size=200)))
def test_dkim_and_dmarc_parsers_never_raise(record: str) -> None:
    with contextlib.suppress(ValueError):  # the low-level tag parser signals malformed tags with ValueError ...
        dkim.parse_tags(record)
    dkim.assess_key(record)  # ... which the assessment turns into problems
    dmarc.parse(record)
    dmarc.assess(record)


SPFISH = st.text(alphabet=st.sampled_from(list("v=spf1 +-~?allincludeaxmptr:ip46/redirectexp%{}dlsoihcrtv.-_0123456789")),
                 max_size=200)


@FAST
@given(record=st.one_of(SPFISH, st.text(max_size=200)))
def test_spf_parser_raises_only_its_own_error(record: str) -> None:
    with contextlib.suppress(spf_parse.SpfSyntaxError):
        spf_parse.parse_record(record)
