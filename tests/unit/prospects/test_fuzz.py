"""Property tests: arbitrary bytes or CSV-ish text never raise anything but ImportFileError, never hang."""

from __future__ import annotations

import re
import signal
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from outbound.prospects.csv_import import read_prospects
from outbound.prospects.errors import ImportFileError
from outbound.prospects.normalise import normalise_email
from outbound.prospects.results import ParsedRow, RowError
from outbound.prospects.suppress_file import SuppressionEntry, read_suppression_file

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Turn a hang into a failure (SIGALRM; the tests run in the main thread)."""

    def expire(signum: int, frame: object) -> None:
        raise TimeoutError(f"no result within {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _check_prospects(path: Path) -> None:
    try:
        results = list(read_prospects(path))
    except ImportFileError as exc:
        assert exc.reason
        return
    lines = [r.line for r in results]
    assert lines == sorted(lines)
    assert all(line >= 1 for line in lines)
    for r in results:
        if isinstance(r, ParsedRow):
            email = r.prospect.email
            assert email.isascii() and email == email.lower() and email.count("@") == 1
            assert normalise_email(email).value == email  # normalising is idempotent
            assert all(isinstance(v, str) and v for v in r.prospect.fields.values())
        else:
            assert isinstance(r, RowError) and r.reason


def _check_suppression(path: Path) -> None:
    try:
        results = list(read_suppression_file(path))
    except ImportFileError:
        return
    for r in results:
        assert isinstance(r, SuppressionEntry | RowError)
        if isinstance(r, SuppressionEntry):
            assert r.kind in ("address", "domain") and r.value.isascii()


@FUZZ
@given(data=st.binary(max_size=2000))
def test_random_bytes(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "fuzz.csv"
    path.write_bytes(data)
    with time_limit(10):
        _check_prospects(path)
        _check_suppression(path)


@FUZZ
@given(data=st.binary(max_size=1500))
def test_random_bytes_after_a_valid_header(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "fuzz.csv"
    path.write_bytes(b"email,first name,notes\n" + data)
    with time_limit(10):
        _check_prospects(path)


BOMS = st.sampled_from([b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff"])


@FUZZ
@given(bom=BOMS, data=st.binary(max_size=1500))
def test_random_bytes_after_a_bom(tmp_path: Path, bom: bytes, data: bytes) -> None:
    path = tmp_path / "fuzz.csv"
    path.write_bytes(bom + data)
    with time_limit(10):
        _check_prospects(path)
        _check_suppression(path)


CSV_ALPHABET = st.sampled_from(
    [
        *list(",;\t|\"'\n\r @.-_"),
        "\x00",
        "é",
        "\ufeff",
        "\u2028",
        "xn--",
        "a",
        "b",
        "Z",
        "1",
        ".com",
        "@acme.com",
        "gmail.com",
    ]
)
HEADERS = st.sampled_from(
    ["email", "Email Address,Name", "E-mail;Prénom;Website", "email\ttimezone", "name,company", ""]
)


@FUZZ
@given(
    header=HEADERS,
    body=st.lists(CSV_ALPHABET, max_size=400).map("".join),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "cp1252"]),
)
def test_csv_ish_text(tmp_path: Path, header: str, body: str, encoding: str) -> None:
    path = tmp_path / "fuzz.csv"
    text = header + "\n" + body
    path.write_bytes(text.encode(encoding, errors="replace"))
    with time_limit(10):
        _check_prospects(path)
        _check_suppression(path)
    if encoding == "utf-8" and "\x00" not in text:
        physical = len(re.split(r"\r\n|\r|\n", text))
        with suppress(ImportFileError):
            assert all(r.line <= physical for r in read_prospects(path))
