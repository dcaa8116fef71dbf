"""Test tiers: tests/unit (no sockets), tests/integration (real servers on loopback),
tests/acceptance (the CLI as a subprocess). Server fixtures live in tests/fixtures/."""

pytest_plugins = [
    "tests.fixtures.postgres",
    "tests.fixtures.smtp_sink",
    "tests.fixtures.dns_server",
    "tests.fixtures.mail_servers",
    "tests.fixtures.oauth_server",
    "tests.fixtures.oauth_mail",
]
