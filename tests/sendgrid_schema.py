"""JSON Schema of the body of SendGrid's ``POST /v3/mail/send``, for the local test server.

Written from the request body schema in Twilio SendGrid's official OpenAPI file
``tsg_mail_v3.json`` (operation ``SendMail``, ``components.requestBodies.PostMailSend``,
with ``MailFrom`` and ``MailTo`` inlined under ``$defs``), keeping every type,
``required``, ``minLength``, ``maxLength``, ``maxItems``, ``maxProperties`` and
``uniqueItems`` it states and dropping the prose. The OpenAPI file is 3.1, whose
schemas are JSON Schema draft 2020-12, so this dict is checked with that draft.

One deliberate correction, marked where it is made: top-level ``custom_args``.

Limits the OpenAPI file states only in prose (10,000 bytes of substitutions per
personalization, 1000 recipients per request, reserved header names, ...) cannot
be expressed here; ``tests/sendgrid_standin/mail_send.py`` checks them by hand.
"""

from __future__ import annotations

from typing import Any

_ENABLE = {"type": "object", "properties": {"enable": {"type": "boolean"}}}

_ADDRESS_LIST: dict[str, Any] = {
    "type": "array",
    "maxItems": 1000,
    "items": {"$ref": "#/$defs/MailTo"},
}

MAIL_SEND_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$defs": {
        "MailFrom": {
            "type": "object",
            "properties": {
                "email": {"type": "string", "format": "email"},
                "name": {"type": "string"},
            },
            "required": ["email"],
        },
        "MailTo": {
            "type": "object",
            "properties": {
                "email": {"type": "string", "format": "email"},
                "name": {"type": "string"},
            },
            "required": ["email"],
        },
    },
    "type": "object",
    "properties": {
        "personalizations": {
            "type": "array",
            "uniqueItems": False,
            "maxItems": 1000,
            "items": {
                "type": "object",
                "properties": {
                    "from": {"$ref": "#/$defs/MailFrom"},
                    # The file gives ``to`` no maxItems; ``cc`` and ``bcc`` have 1000.
                    "to": {"type": "array", "items": {"$ref": "#/$defs/MailTo"}},
                    "cc": _ADDRESS_LIST,
                    "bcc": _ADDRESS_LIST,
                    "subject": {"type": "string", "minLength": 1},
                    "headers": {"type": "object"},
                    "substitutions": {
                        "type": "object",
                        "maxProperties": 10000,
                        "additionalProperties": {"type": "string"},
                    },
                    "dynamic_template_data": {"type": "object"},
                    "custom_args": {"type": "object", "maxProperties": 10000},
                    "send_at": {"type": "integer"},
                },
                "required": ["to"],
            },
        },
        "from": {"$ref": "#/$defs/MailFrom"},
        "reply_to": {"$ref": "#/$defs/MailTo"},
        "reply_to_list": {
            "type": "array",
            "uniqueItems": True,
            "maxItems": 1000,
            "items": {"$ref": "#/$defs/MailTo"},
        },
        "subject": {"type": "string", "minLength": 1},
        "content": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "type": {"type": "string", "minLength": 1},
                    "value": {"type": "string", "minLength": 1},
                },
                "required": ["type", "value"],
            },
        },
        "attachments": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "content": {"type": "string", "minLength": 1},
                    "type": {"type": "string", "minLength": 1},
                    "filename": {"type": "string"},
                    "disposition": {"type": "string", "enum": ["inline", "attachment"]},
                    "content_id": {"type": "string"},
                },
                "required": ["content", "filename"],
            },
        },
        "template_id": {"type": "string"},
        "headers": {"type": "object"},
        "categories": {
            "type": "array",
            "uniqueItems": True,
            "maxItems": 10,
            "items": {"type": "string", "maxLength": 255},
        },
        # CORRECTION: the OpenAPI file types top-level ``custom_args`` as "string", but
        # its own description speaks of "values" (plural) that personalization-level
        # ``custom_args`` (an object) override, SendGrid's API reference documents an
        # object, and the official Python SDK sends an object (``Mail.get()`` builds it
        # with ``_flatten_dicts``). A string here would reject every real request that
        # carries custom args, so this copy says: an object of string values.
        "custom_args": {"type": "object", "additionalProperties": {"type": "string"}},
        "send_at": {"type": "integer"},
        "batch_id": {"type": "string"},
        "asm": {
            "type": "object",
            "properties": {
                "group_id": {"type": "integer"},
                "groups_to_display": {
                    "type": "array",
                    "maxItems": 25,
                    "items": {"type": "integer"},
                },
            },
            "required": ["group_id"],
        },
        "ip_pool_name": {"type": "string", "minLength": 2, "maxLength": 64},
        "mail_settings": {
            "type": "object",
            "properties": {
                "bypass_list_management": _ENABLE,
                "bypass_spam_management": _ENABLE,
                "bypass_bounce_management": _ENABLE,
                "bypass_unsubscribe_management": _ENABLE,
                "footer": {
                    "type": "object",
                    "properties": {
                        "enable": {"type": "boolean"},
                        "text": {"type": "string"},
                        "html": {"type": "string"},
                    },
                },
                "sandbox_mode": _ENABLE,
            },
        },
        "tracking_settings": {
            "type": "object",
            "properties": {
                "click_tracking": {
                    "type": "object",
                    "properties": {
                        "enable": {"type": "boolean"},
                        "enable_text": {"type": "boolean"},
                    },
                },
                "open_tracking": {
                    "type": "object",
                    "properties": {
                        "enable": {"type": "boolean"},
                        "substitution_tag": {"type": "string"},
                    },
                },
                "subscription_tracking": {
                    "type": "object",
                    "properties": {
                        "enable": {"type": "boolean"},
                        "text": {"type": "string"},
                        "html": {"type": "string"},
                        "substitution_tag": {"type": "string"},
                    },
                },
                "ganalytics": {
                    "type": "object",
                    "properties": {
                        "enable": {"type": "boolean"},
                        "utm_source": {"type": "string"},
                        "utm_medium": {"type": "string"},
                        "utm_term": {"type": "string"},
                        "utm_content": {"type": "string"},
                        "utm_campaign": {"type": "string"},
                    },
                },
            },
        },
    },
    "required": ["personalizations", "from"],
}
