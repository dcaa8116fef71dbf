"""Passwords, session cookies, CSRF tokens and the login limit, as plain values."""

from __future__ import annotations

from outbound.dashboard.auth import LoginLimiter, Sessions, check_password, hash_password

SECRET = b"a-signing-secret-of-some-length"
NOW = 1_800_000_000.0


def test_a_hash_checks_its_password_only() -> None:
    stored = hash_password("correct horse battery")
    assert stored.startswith("scrypt$") and "correct" not in stored
    assert check_password(stored, "correct horse battery")
    assert not check_password(stored, "correct horse batterY")
    assert hash_password("same", salt=b"s" * 16) == hash_password("same", salt=b"s" * 16)
    assert hash_password("same") != hash_password("same")  # a random salt each time


def test_a_plain_password_and_broken_values_are_handled() -> None:
    assert check_password("plain-value", "plain-value") and not check_password("plain-value", "plain-valu")
    assert not check_password("", "") and not check_password("x", "")
    assert not check_password("scrypt$garbage", "anything")
    assert not check_password("scrypt$1$8$1$AAAA$AAAA", "anything")  # n=1 is refused by scrypt


def test_a_session_is_signed_expires_and_dies_with_a_password_change() -> None:
    sessions = Sessions(SECRET, {"ana": "pw-ana", "bo": "pw-bo"}, hours=1)
    assert sessions.login("ana", "wrong", NOW) is None and sessions.login("nobody", "pw-ana", NOW) is None
    made = sessions.login("ana", "pw-ana", NOW)
    assert made is not None and made.expires == NOW + 3600
    read = sessions.read(made.token, NOW + 10)
    assert read is not None and read.user == "ana"
    assert sessions.read(made.token, NOW + 3600) is None, "expired"
    body, tag = made.token.split(".")
    assert sessions.read(body + "." + tag[:-1] + ("A" if tag[-1] != "A" else "B"), NOW) is None, "tampered"
    forged_user = Sessions(SECRET, {"bo": "pw-bo"}, 1).login("bo", "pw-bo", NOW)
    assert forged_user is not None and sessions.read(forged_user.token, NOW) is not None  # same secret and password
    assert Sessions(SECRET, {"ana": "new password"}, 1).read(made.token, NOW) is None, "password changed"
    assert Sessions(b"another secret entirely", {"ana": "pw-ana"}, 1).read(made.token, NOW) is None
    assert sessions.read("not a token", NOW) is None and sessions.read(None, NOW) is None


def test_the_csrf_token_belongs_to_one_session() -> None:
    sessions = Sessions(SECRET, {"ana": "pw"}, 1)
    one, two = sessions.login("ana", "pw", NOW), sessions.login("ana", "pw", NOW)
    assert one is not None and two is not None
    assert sessions.csrf_ok(one, sessions.csrf(one))
    assert not sessions.csrf_ok(one, sessions.csrf(two)) and not sessions.csrf_ok(one, None)
    assert not sessions.csrf_ok(one, "")


def test_failed_logins_are_limited_per_client_for_a_window() -> None:
    limiter = LoginLimiter(attempts=5, window=300)
    for i in range(5):
        assert limiter.retry_after("10.0.0.1", NOW + i) is None
        limiter.failed("10.0.0.1", NOW + i)
    wait = limiter.retry_after("10.0.0.1", NOW + 10)
    assert wait is not None and 285 <= wait <= 291
    assert limiter.retry_after("10.0.0.2", NOW + 10) is None, "another client is not held back"
    assert limiter.retry_after("10.0.0.1", NOW + 301) is None, "the first failure left the window"
    limiter.succeeded("10.0.0.1")
    assert limiter.retry_after("10.0.0.1", NOW + 11) is None
