"""The exception hierarchy: errors cross from send worker processes to the parent intact."""

from __future__ import annotations

import pickle

import pytest

from digest.errors import (
    BatchRefused,
    DigestError,
    RecipientRefused,
    SendRefused,
    SubstitutionsTooLarge,
)

ERRORS = [
    DigestError("something broke", "do this"),
    SendRefused("SENDGRID_API_KEY is not set", "export it"),
    BatchRefused("SendGrid refused the batch (HTTP 400)", ("from.email: invalid",)),
    RecipientRefused("ada@example.com", 550, "no such user"),
    SubstitutionsTooLarge("ada@example.com", 12_345),
]


@pytest.mark.parametrize("error", ERRORS, ids=lambda error: type(error).__name__)
def test_an_error_survives_pickling_with_its_message_hint_and_details(error: DigestError) -> None:
    copy = pickle.loads(pickle.dumps(error))

    assert type(copy) is type(error)
    assert str(copy) == str(error)
    assert vars(copy) == vars(error)
