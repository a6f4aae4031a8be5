"""The account endpoints: what SendGrid answers to a GET, as pure functions of the account.

The caller (the HTTP handler) has checked the key already. Then, in this order: an
unknown path is 404; a key without the endpoint's scope 403; an ``on-behalf-of`` naming
no subuser of the account 403 (on the endpoints whose OpenAPI operation lists the
header; the others ignore it); a query parameter that is not of the documented type or
range 400 (a parameter given twice too); an unknown group id 404. Unknown query
parameters are ignored (the files list none as refused); the server records them all.
SendGrid's own words and order for these refusals are not documented: the messages
here name the parameter, in SendGrid's error shape.

Paging follows the OpenAPI files: the suppression lists and the authenticated domains
by ``limit`` and ``offset`` (suppression pages of at most 500), verified senders by
``limit`` and ``lastSeenID``; a group's suppressions are one unpaged list. Where the
files say only "the default page size is used", the stand-in uses DEFAULT_PAGE_SIZE.
Entries come in the order they were added.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from jsonschema import Draft202012Validator

from tests.sendgrid_standin import schemas
from tests.sendgrid_standin.account import Account, AsmGroup, AuthenticatedDomain
from tests.sendgrid_standin.answers import Answer, refuse

DEFAULT_PAGE_SIZE = 500
# Go's strconv.ParseBool, which SendGrid's API servers are taken to use.
_BOOLEANS = {
    **dict.fromkeys(("1", "t", "T", "TRUE", "true", "True"), True),
    **dict.fromkeys(("0", "f", "F", "FALSE", "false", "False"), False),
}
_INTEGER = re.compile(r"[+-]?[0-9]{1,18}")

Serve = Callable[[Account, dict[str, Any], dict[str, str]], Answer]


@dataclass(frozen=True)
class Route:
    """One GET endpoint: its path, the scope it needs, whether it honours ``on-behalf-of``,
    the schema of its query parameters and the function that answers it."""

    pattern: re.Pattern[str]
    scope: str | None
    on_behalf_of: bool
    parameters: dict[str, Any]
    serve: Serve

    @functools.cached_property
    def validator(self) -> Draft202012Validator:
        return Draft202012Validator(self.parameters)


def answer_get(
    account: Account, path: str, query: Mapping[str, list[str]], on_behalf_of: str | None
) -> Answer:
    """SendGrid's answer to ``GET path?query`` from the holder of ``account``'s key."""
    found = find_route(path)
    if found is None:
        return refuse(404)
    route, path_args = found
    if route.scope is not None and route.scope not in account.scopes:
        return refuse(403)
    target = account
    if route.on_behalf_of and on_behalf_of is not None:
        if on_behalf_of not in account.subusers:
            return refuse(403)
        target = account.subusers[on_behalf_of]
    params = read_parameters(query, route)
    if isinstance(params, Answer):
        return params
    return route.serve(target, params, path_args)


def find_route(path: str) -> tuple[Route, dict[str, str]] | None:
    """The route serving ``path`` and the values of its path parameters, if any."""
    for route in ROUTES:
        match = route.pattern.fullmatch(path)
        if match:
            return route, match.groupdict()
    return None


def read_parameters(query: Mapping[str, list[str]], route: Route) -> dict[str, Any] | Answer:
    """The route's known parameters read as their documented types, or the 400 to answer."""
    params: dict[str, Any] = {}
    for name, declared in route.parameters["properties"].items():
        values = query.get(name)
        if values is None:
            continue
        if len(values) > 1:
            return refuse(400, f"{name} is given {len(values)} times; give it once.", name)
        value = _typed(values[0], declared["type"])
        if value is None:
            return refuse(400, f"{name} must be {_TYPE_WORDS[declared['type']]}.", name)
        params[name] = value
    error = next(route.validator.iter_errors(params), None)
    if error is not None:
        field = str(error.path[0]) if error.path else None
        return refuse(400, f"{field}: {error.message}.", field)
    return params


_TYPE_WORDS = {
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "string": "a string",
}


def _typed(text: str, kind: str) -> Any:
    """``text`` as a value of JSON Schema type ``kind``; None when it is not one."""
    if kind == "string":
        return text
    if kind == "boolean":
        return _BOOLEANS.get(text)
    if _INTEGER.fullmatch(text):
        return int(text)
    if kind != "number":
        return None
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


# -- the endpoints ---------------------------------------------------------------------


def _scopes(account: Account, params: dict[str, Any], args: dict[str, str]) -> Answer:
    return Answer(200, {"scopes": list(dict.fromkeys(account.scopes))})


def _suppression_list(kind: str) -> Serve:
    def serve(account: Account, params: dict[str, Any], args: dict[str, str]) -> Answer:
        entries = account.suppressions(kind)
        start, end = params.get("start_time"), params.get("end_time")
        matches = _email_matcher(params.get("email"))
        selected = [
            entry
            for entry in entries
            if (start is None or entry.created >= start)
            and (end is None or entry.created <= end)
            and matches(entry.email)
        ]
        page = _page(selected, params.get("offset", 0), params.get("limit", DEFAULT_PAGE_SIZE))
        return Answer(200, [entries.as_json(entry) for entry in page])

    return serve


def _email_matcher(pattern: str | None) -> Callable[[str], bool]:
    """EmailPartialMatch: addresses that start with ``pattern``, ``%`` matching any run."""
    if pattern is None:
        return lambda email: True
    regex = re.compile(".*".join(map(re.escape, pattern.split("%"))), re.IGNORECASE)
    return lambda email: regex.match(email) is not None


def _page(items: list[Any], offset: int, limit: int) -> list[Any]:
    return items[offset : offset + limit]


def _group(account: Account, group_id: str) -> AsmGroup | Answer:
    group = account.asm_groups.get(int(group_id)) if _INTEGER.fullmatch(group_id) else None
    return refuse(404, "not found", "group_id") if group is None else group


def _asm_group(account: Account, params: dict[str, Any], args: dict[str, str]) -> Answer:
    group = _group(account, args["group_id"])
    return group if isinstance(group, Answer) else Answer(200, group.as_json())


def _asm_group_suppressions(
    account: Account, params: dict[str, Any], args: dict[str, str]
) -> Answer:
    group = _group(account, args["group_id"])
    return group if isinstance(group, Answer) else Answer(200, list(group.suppressions))


def _verified_senders(account: Account, params: dict[str, Any], args: dict[str, str]) -> Answer:
    senders = sorted(account.verified_senders, key=lambda sender: sender.id)
    if "id" in params:
        senders = [sender for sender in senders if sender.id == params["id"]]
    if "lastSeenID" in params:
        senders = [sender for sender in senders if sender.id > params["lastSeenID"]]
    if "limit" in params:
        senders = senders[: math.floor(params["limit"])]
    return Answer(200, {"results": [sender.as_json() for sender in senders]})


def _domains(account: Account, params: dict[str, Any], args: dict[str, str]) -> Answer:
    """``domain`` is a search: every domain containing it, so a caller must check which."""
    search = params.get("domain", "").lower()
    username = params.get("username")
    own_only = params.get("exclude_subusers", False)

    def wanted(entry: AuthenticatedDomain) -> bool:
        owner = entry.username or account.username
        return (
            search in entry.domain.lower()
            and username in (None, owner)
            and not (own_only and owner != account.username)
        )

    selected = [entry for entry in account.domains if wanted(entry)]
    page = _page(selected, params.get("offset", 0), params.get("limit", DEFAULT_PAGE_SIZE))
    return Answer(200, [entry.as_json(account) for entry in page])


def _path(template: str) -> re.Pattern[str]:
    return re.compile(template.replace("{group_id}", "(?P<group_id>[^/]+)"))


ROUTES = (
    Route(_path("/v3/scopes"), None, True, schemas.NO_PARAMETERS, _scopes),
    *(
        Route(
            _path(f"/v3/suppression/{kind}"),
            f"suppression.{kind}.read",
            True,
            schemas.SUPPRESSION_LIST_PARAMETERS,
            _suppression_list(kind),
        )
        for kind in ("unsubscribes", "bounces", "spam_reports", "invalid_emails")
    ),
    Route(
        _path("/v3/asm/groups/{group_id}"),
        "asm.groups.read",
        True,
        schemas.NO_PARAMETERS,
        _asm_group,
    ),
    Route(
        _path("/v3/asm/groups/{group_id}/suppressions"),
        "asm.groups.suppressions.read",
        True,
        schemas.NO_PARAMETERS,
        _asm_group_suppressions,
    ),
    Route(
        _path("/v3/verified_senders"),
        "sender_verification_eligible",
        False,
        schemas.VERIFIED_SENDERS_PARAMETERS,
        _verified_senders,
    ),
    Route(
        _path("/v3/whitelabel/domains"),
        "whitelabel.read",
        True,
        schemas.DOMAINS_PARAMETERS,
        _domains,
    ),
)
