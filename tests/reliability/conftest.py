"""Fixtures borrowed from the inbox integration tests (an aioimaplib session to APPEND with)."""

from tests.integration.inbox.conftest import raw_imap

__all__ = ["raw_imap"]
