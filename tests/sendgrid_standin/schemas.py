"""JSON Schemas of the account endpoints' answers and query parameters.

Written by hand from Twilio SendGrid's official OpenAPI files (3.1, so JSON Schema
draft 2020-12), like ``tests/sendgrid_schema.py`` for Mail Send: every type,
``required``, ``minimum``, ``maximum``, ``maxLength``, ``uniqueItems`` and ``format`` they
state, no prose. The files and operations:

* ``tsg_suppressions_v3.json``: ``ListGlobalSuppression`` (``/v3/suppression/unsubscribes``),
  ``ListSuppressionBounces`` (``components.schemas.BounceResponse``), ``ListSpamReport``
  (``SpamReportsResponse``), ``ListInvalidEmail`` (``InvalidEmail``), ``GetAsmGroup``,
  ``ListSuppressionFromAsmGroup``; ``parameters.PaginationCommonLimit``,
  ``PaginationCommonOffset``, ``EmailPartialMatch``; ``schemas.ErrorResponse``.
* ``tsg_scopes_v3.json``: ``ListScope``.
* ``tsg_verified_senders_v3.json``: ``ListVerifiedSender`` (``VerifiedSenderResponse``).
* ``tsg_domain_authentication_v3.json``: ``ListAuthenticatedDomain``
  (``responses.DomainAuthentication200``).

The ``*_PARAMETERS`` schemas describe a request's query parameters once each string is
read as the type the file gives it; the stand-in validates with them. Unknown parameters
are allowed (the stand-in ignores them). One deliberate addition, marked where it is made.
"""

from __future__ import annotations

from typing import Any

_SCHEMA = "https://json-schema.org/draft/2020-12/schema"
_EMAIL = {"type": "string", "format": "email"}


def _array_of(items: dict[str, Any]) -> dict[str, Any]:
    return {"$schema": _SCHEMA, "type": "array", "items": items}


def _parameters(properties: dict[str, Any]) -> dict[str, Any]:
    return {"$schema": _SCHEMA, "type": "object", "properties": properties}


# -- answers ----------------------------------------------------------------------------

UNSUBSCRIBES_RESPONSE = _array_of(
    {
        "type": "object",
        "properties": {"created": {"type": "integer"}, "email": _EMAIL},
        "required": ["created", "email"],
    }
)
# BounceResponse states no ``required`` and types ``created`` as a number.
BOUNCES_RESPONSE = _array_of(
    {
        "type": "object",
        "properties": {
            "created": {"type": "number"},
            "email": _EMAIL,
            "reason": {"type": "string"},
            "status": {"type": "string"},
        },
    }
)
SPAM_REPORTS_RESPONSE = _array_of(
    {
        "type": "object",
        "properties": {
            "created": {"type": "integer"},
            "email": _EMAIL,
            "ip": {"type": "string"},
        },
        "required": ["created", "email", "ip"],
    }
)
INVALID_EMAILS_RESPONSE = _array_of(
    {
        "type": "object",
        "properties": {
            "created": {"type": "integer"},
            "email": _EMAIL,
            "reason": {"type": "string"},
        },
    }
)
ASM_GROUP_RESPONSE: dict[str, Any] = {
    "$schema": _SCHEMA,
    "type": "object",
    "properties": {
        "name": {"type": "string", "maxLength": 30},
        "description": {"type": "string", "maxLength": 100},
        "is_default": {"type": "boolean"},
        "id": {"type": "integer"},
        "unsubscribes": {"type": "integer"},
    },
    "required": ["id"],
}
# A plain list of addresses: the operation has no paging parameters at all.
ASM_GROUP_SUPPRESSIONS_RESPONSE = _array_of(_EMAIL)
SCOPES_RESPONSE: dict[str, Any] = {
    "$schema": _SCHEMA,
    "type": "object",
    "properties": {
        "scopes": {"type": "array", "uniqueItems": True, "items": {"type": "string"}},
    },
    "required": ["scopes"],
}
_STRING = {"type": "string"}
VERIFIED_SENDERS_RESPONSE: dict[str, Any] = {
    "$schema": _SCHEMA,
    "type": "object",
    "properties": {
        "results": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "id": {"type": "integer"},
                    **dict.fromkeys(
                        (
                            "nickname",
                            "from_email",
                            "from_name",
                            "reply_to",
                            "reply_to_name",
                            "address",
                            "address2",
                            "state",
                            "city",
                            "zip",
                            "country",
                        ),
                        _STRING,
                    ),
                    "verified": {"type": "boolean"},
                    "locked": {"type": "boolean"},
                },
            },
        },
    },
}
_DNS_RECORD: dict[str, Any] = {
    "type": "object",
    "properties": {
        "valid": {"type": "boolean"},
        "type": _STRING,
        "host": _STRING,
        "data": _STRING,
    },
    "required": ["valid", "type", "host", "data"],
}
DOMAINS_RESPONSE = _array_of(
    {
        "type": "object",
        "properties": {
            "id": {"type": "number"},
            "user_id": {"type": "number"},
            "subdomain": _STRING,
            "domain": _STRING,
            "username": _STRING,
            "ips": {"type": "array", "items": _STRING},
            "custom_spf": {"type": "boolean"},
            "default": {"type": "boolean"},
            "legacy": {"type": "boolean"},
            "automatic_security": {"type": "boolean"},
            "valid": {"type": "boolean"},
            "dns": {
                "type": "object",
                "properties": {
                    "mail_cname": {
                        **_DNS_RECORD,
                        "properties": {
                            **_DNS_RECORD["properties"],
                            "host": {"type": "string", "format": "hostname"},
                        },
                    },
                    "dkim1": _DNS_RECORD,
                    "dkim2": _DNS_RECORD,
                },
                "required": ["mail_cname", "dkim1", "dkim2"],
            },
            "subusers": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"user_id": {"type": "integer"}, "username": _STRING},
                },
            },
            "last_validation_attempt_at": {"type": "integer"},
        },
        "required": [
            "automatic_security",
            "custom_spf",
            "default",
            "dns",
            "domain",
            "id",
            "ips",
            "legacy",
            "subdomain",
            "user_id",
            "username",
            "valid",
        ],
    }
)
ERROR_RESPONSE: dict[str, Any] = {
    "$schema": _SCHEMA,
    "type": "object",
    "properties": {
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "message": _STRING,
                    "field": {"type": ["string", "null"]},
                    "help": {"type": "object"},
                },
            },
        },
        "id": _STRING,
    },
}

# -- query parameters -----------------------------------------------------------------

SUPPRESSION_LIST_PARAMETERS = _parameters(
    {
        "start_time": {"type": "integer"},
        "end_time": {"type": "integer"},
        "limit": {"type": "integer", "minimum": 1, "maximum": 500},
        "offset": {"type": "integer", "minimum": 0},
        "email": _STRING,
    }
)
NO_PARAMETERS = _parameters({})
# ADDITION: the file gives ``limit`` no minimum here (nor for domains below); a negative
# page size means nothing, and the stand-in refuses it rather than guess what SendGrid does.
VERIFIED_SENDERS_PARAMETERS = _parameters(
    {
        "limit": {"type": "number", "minimum": 0},
        "lastSeenID": {"type": "number"},
        "id": {"type": "integer"},
    }
)
DOMAINS_PARAMETERS = _parameters(
    {
        "limit": {"type": "integer", "minimum": 0},
        "offset": {"type": "integer", "minimum": 0},
        "exclude_subusers": {"type": "boolean"},
        "username": _STRING,
        "domain": _STRING,
    }
)
