"""Fixtures for the delivery tests: a local SendGrid server per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.sendgrid_server import SendGridServer, start_server

SENDGRID_TEST_KEY = "SG.test-key-do-not-print.0123456789"


@pytest.fixture
def sendgrid_server() -> Iterator[SendGridServer]:
    """A local SendGrid on a free port, validating with the full JSON Schema."""
    server, _ = start_server(api_key=SENDGRID_TEST_KEY)
    yield server
    server.stop()
