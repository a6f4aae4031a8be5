"""Per-recipient values: unsubscribe tokens and URLs, substitutions, List-Unsubscribe headers."""

from __future__ import annotations

import html
import re
from urllib.parse import quote

import pytest

from digest.audience.personalize import (
    OTHER_TOKENS_BYTES,
    PREVIEW_TOKEN,
    Personalizer,
    SurelyFits,
    check_other_tokens,
    recipient_for,
    unsubscribe_url,
    used_tokens,
)
from digest.audience.tokens import UnsubscribeTokens
from digest.audience.values import BUILTIN
from digest.errors import ConfigError, DigestError, SubstitutionsTooLarge, TemplateError
from digest.models import (
    HTML,
    SUBSTITUTIONS_MAX_BYTES,
    VARIANTS,
    Recipient,
    RenderedEmail,
    Subscriber,
    default_filter,
    parse_token,
    token,
)
from digest.models import URL as IN_URL

URL = "https://news.example.com/unsubscribe?token={token}"
SECRET = "s3cret"
ADA = Subscriber(
    email="ada@example.com",
    name="Ada Lovelace",
    fields={"company": "Analytical Engines", "plan": "pro"},
    line=2,
)
EVERY_TOKEN = frozenset({"%%name%%", "%%email%%", "%%unsubscribe_url%%", "%%company%%", "%%plan%%"})
KEY = "k3J9xq2TmQ7a"


def recipient(subscriber: Subscriber = ADA, **overrides: object) -> Recipient:
    options: dict[str, object] = {
        "unsubscribe_url_template": URL,
        "unsubscribe_mailto": "",
        "secret": SECRET,
        "used_tokens": EVERY_TOKEN,
    }
    options.update(overrides)
    return recipient_for(subscriber, **options)  # type: ignore[arg-type]


def unsubscribe_token(email: str, secret: str = SECRET) -> str:
    """The token the endpoint reads, as a send makes it for ``email``."""
    return UnsubscribeTokens(secret).make(email)


def test_the_url_carries_an_opaque_token_the_endpoint_reads_back() -> None:
    for email in ("ada@example.com", "O'Brien+news@Example.COM", "zoe@Bücher.de"):
        url = unsubscribe_url(URL, email, SECRET)

        token = url.removeprefix("https://news.example.com/unsubscribe?token=")
        assert re.fullmatch(r"[A-Za-z0-9_-]+", token)
        assert "@" not in url and "%40" not in url and "brien" not in url.lower()
        assert UnsubscribeTokens(SECRET).read(token) == email.lower()
        assert UnsubscribeTokens("another secret").read(token) is None


def test_a_readers_token_is_the_same_in_every_case_and_edition() -> None:
    assert unsubscribe_token("Ada@Example.COM") == unsubscribe_token("ada@example.com")
    assert unsubscribe_token("grace@example.com") != unsubscribe_token("ada@example.com")


def test_other_braces_in_the_template_are_left_as_they_are() -> None:
    url = unsubscribe_url("https://example.com/u/{token}?list={weekly}", "ada@example.com", SECRET)

    assert url == f"https://example.com/u/{unsubscribe_token('ada@example.com')}?list={{weekly}}"


def test_without_a_secret_the_url_has_the_preview_token() -> None:
    assert unsubscribe_url(URL, "ada@example.com", "") == (
        "https://news.example.com/unsubscribe?token=PREVIEW-NOT-A-REAL-TOKEN"
    )
    assert PREVIEW_TOKEN in recipient(secret="").substitutions["%%unsubscribe_url%%"]


def test_a_url_template_without_a_token_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"unsubscribe\.url .* has no \{token\}"):
        unsubscribe_url("https://example.com/unsubscribe?list=weekly", "ada@example.com", SECRET)


def test_headers_with_an_https_url_are_one_click_as_rfc_8058_wants() -> None:
    token = unsubscribe_token("ada@example.com")

    assert recipient().headers == {
        "List-Unsubscribe": f"<https://news.example.com/unsubscribe?token={token}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


def test_headers_with_a_url_and_a_mailto_list_both() -> None:
    token = unsubscribe_token("ada@example.com")

    headers = recipient(unsubscribe_mailto="unsubscribe@example.com").headers

    assert headers == {
        "List-Unsubscribe": (
            f"<https://news.example.com/unsubscribe?token={token}>, "
            "<mailto:unsubscribe@example.com?subject=unsubscribe>"
        ),
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


def test_a_mailto_alone_gives_no_one_click_header() -> None:
    headers = recipient(unsubscribe_url_template="", unsubscribe_mailto="mailto:leave@example.com")

    assert headers.headers == {"List-Unsubscribe": "<mailto:leave@example.com?subject=unsubscribe>"}


def test_an_http_url_is_listed_but_not_offered_as_one_click() -> None:
    headers = recipient(unsubscribe_url_template="http://127.0.0.1:8025/u?t={token}").headers

    assert set(headers) == {"List-Unsubscribe"}


def test_no_unsubscribe_configured_means_no_headers_and_no_url_substitution() -> None:
    bare = recipient(unsubscribe_url_template="")

    assert bare.headers == {}
    assert "%%unsubscribe_url%%" not in bare.substitutions


def test_line_breaks_never_reach_a_header_or_the_subject() -> None:
    sneaky = Subscriber(email="ada@example.com", name="Ada\r\nBcc: all@example.com", line=2)

    result = recipient(
        sneaky,
        unsubscribe_url_template="https://example.com/u?t={token}\r\nX-Evil: 1",
        unsubscribe_mailto="leave@example.com\r\nBcc: all@example.com",
    )

    values = [*result.headers.values(), *result.substitutions.values(), result.name]
    assert not [value for value in values if re.search(r"[\r\n\u2028\u2029\x85]", value)]
    assert result.name == "Ada Bcc: all@example.com"
    assert result.headers["List-Unsubscribe"].startswith("<https://example.com/u?t=")


def test_substitutions_fill_only_the_tokens_the_email_uses() -> None:
    name, company = token("name", KEY), token("company", KEY)
    url_html = token("unsubscribe_url", KEY, HTML)
    email = RenderedEmail(
        subject=f"{name}, this week at {company}",
        preheader="",
        html=f'<p>Hi {token("name", KEY, HTML)}</p><a href="{url_html}">Unsubscribe</a> 100% sure',
        text=f"Hi {name} ({token('nickname', KEY)})",
        token_key=KEY,
    )
    tokens = used_tokens(email.subject, email.html, email.text, key=KEY)

    result = recipient(used_tokens=tokens, token_key=KEY)

    assert tokens == {name, company, token("name", KEY, HTML), url_html, token("nickname", KEY)}
    assert set(result.substitutions) == tokens
    assert result.substitutions[name] == "Ada Lovelace"
    assert result.substitutions[company] == "Analytical Engines"
    assert result.substitutions[token("nickname", KEY)] == ""  # a field the subscriber lacks
    seen = email.personalized(result.substitutions)
    assert seen.subject == "Ada Lovelace, this week at Analytical Engines"
    assert "%%" not in seen.html + seen.text
    assert unsubscribe_token("ada@example.com") in seen.html


@pytest.mark.parametrize(
    "template",
    [
        "https://news.example.com/u?t={token}&list=weekly",
        "https://x.example/u?t={token}&l='a'",
    ],
)
def test_each_variant_is_escaped_for_where_it_lands(template: str) -> None:
    reader = Subscriber(
        email="o'brien&co@example.com",
        name='Tom & Jerry <tj> "T"',
        fields={"company": "<%asm_group_unsubscribe_raw_url%> & Ünïcode/?#"},
    )
    tokens = {token(field, KEY, v) for field in ("name", "email", "company") for v in VARIANTS}
    tokens |= {token("unsubscribe_url", KEY, v) for v in VARIANTS}

    values = recipient(
        reader, used_tokens=tokens, token_key=KEY, unsubscribe_url_template=template
    ).substitutions

    assert values[token("name", KEY)] == 'Tom & Jerry <tj> "T"'
    assert values[token("name", KEY, HTML)] == "Tom &amp; Jerry &lt;tj&gt; &quot;T&quot;"
    assert values[token("name", KEY, IN_URL)] == "Tom%20%26%20Jerry%20%3Ctj%3E%20%22T%22"
    assert values[token("email", KEY)] == "o'brien&co@example.com"
    assert values[token("email", KEY, HTML)] == "o&#x27;brien&amp;co@example.com"
    assert values[token("email", KEY, IN_URL)] == "o%27brien%26co%40example.com"
    # SendGrid's own tags stay inert as text; escaped, they are not tags anyway.
    assert values[token("company", KEY)] == "<\u2060%asm_group_unsubscribe_raw_url%> & Ünïcode/?#"
    assert values[token("company", KEY, HTML)].startswith("&lt;%asm_group_unsubscribe_raw_url%&gt;")
    assert values[token("company", KEY, IN_URL)].endswith("%26%20%C3%9Cn%C3%AFcode%2F%3F%23")
    url = values[token("unsubscribe_url", KEY)]
    assert "brien" not in url and "%40" not in url
    assert values[token("unsubscribe_url", KEY, HTML)] == html.escape(url)
    assert values[token("unsubscribe_url", KEY, IN_URL)] == quote(url, safe="")


def test_ordinary_values_are_the_same_in_every_variant() -> None:
    tokens = {token(field, KEY, v) for field in ("name", "unsubscribe_url") for v in VARIANTS}

    values = recipient(
        Subscriber("ada@example.com", "Ada_Lovelace"), used_tokens=tokens, token_key=KEY
    )

    assert len({values.substitutions[token("name", KEY, v)] for v in VARIANTS}) == 1
    url = values.substitutions[token("unsubscribe_url", KEY)]
    assert values.substitutions[token("unsubscribe_url", KEY, HTML)] == url


def test_a_nameless_subscriber_gets_the_fallback_name() -> None:
    nameless = Subscriber(email="grace@example.com", line=3)

    assert recipient(nameless).substitutions["%%name%%"] == "there"
    assert recipient(nameless, name_fallback="reader").substitutions["%%name%%"] == "reader"
    assert recipient(nameless).substitutions["%%email%%"] == "grace@example.com"


def test_substitutions_up_to_the_limit_pass_and_beyond_it_raise() -> None:
    tokens = {"%%name%%", "%%email%%", "%%bio%%"}
    # "%%name%%Ada Lovelace%%email%%ada@example.com%%bio%%" before the bio itself.
    overhead = len("%%name%%Ada Lovelace%%email%%ada@example.com%%bio%%")

    def with_bio(total_bytes: int) -> Subscriber:
        size = total_bytes - overhead  # in UTF-8 bytes: "é" is two
        bio = "é" * (size // 2) + "x" * (size % 2)
        return Subscriber(email=ADA.email, name=ADA.name, fields={"bio": bio})

    assert recipient(with_bio(9_999), used_tokens=tokens).substitutions["%%bio%%"]
    with pytest.raises(SubstitutionsTooLarge, match=r"ada@example\.com") as caught:
        recipient(with_bio(10_000), used_tokens=tokens)
    assert isinstance(caught.value, DigestError), "a user error: one line, no traceback"
    assert "shorten this reader's fields" in str(caught.value)
    # Fields the email does not use do not count, however large.
    assert recipient(with_bio(50_000), used_tokens={"%%name%%"}).substitutions


def test_escaped_variants_count_toward_the_limit_as_they_grow() -> None:
    """An "&" is 1 byte as it is and 5 HTML-escaped, a 4-byte character 12 percent-encoded:
    the limit is met exactly, whatever the variants make of a value."""
    for variant, char, grows in ((HTML, "&", 6), (IN_URL, "\U0001f600", 16)):
        tokens = {token("name", KEY), token("bio", KEY), token("bio", KEY, variant)}
        fixed = sum(map(len, tokens)) + len(ADA.name)
        most = (SUBSTITUTIONS_MAX_BYTES - 1 - fixed) // grows
        personalizer = Personalizer(
            unsubscribe_url_template=URL,
            unsubscribe_mailto="",
            secret=SECRET,
            used_tokens=tokens,
            token_key=KEY,
        )

        def with_bio(chars: int, char: str = char) -> Subscriber:
            return Subscriber(ADA.email, ADA.name, fields={"bio": char * chars})

        fits = personalizer(with_bio(most)).substitutions
        assert sum(len(k) + len(v.encode()) for k, v in fits.items()) < SUBSTITUTIONS_MAX_BYTES
        assert personalizer.misfit(with_bio(most)) == ""
        with pytest.raises(SubstitutionsTooLarge):
            personalizer(with_bio(most + 1))
        assert "the limit is under 10,000" in personalizer.misfit(with_bio(most + 1))


def test_without_merge_fields_a_long_url_or_fallback_is_still_measured() -> None:
    # No merge fields, so the check per reader is skipped only when nothing can reach the limit.
    long_url = "https://news.example.com/unsubscribe?" + "p=1&" * 2_460 + "t={token}"
    tokens = {"%%name%%", "%%unsubscribe_url%%"}

    assert recipient(ADA, unsubscribe_url_template=long_url, used_tokens=tokens)
    with pytest.raises(SubstitutionsTooLarge, match=r"ada@example\.com"):
        recipient(ADA, unsubscribe_url_template=long_url + "&q=" + "x" * 80, used_tokens=tokens)
    nameless = Subscriber(email="grace@example.com")
    with pytest.raises(SubstitutionsTooLarge, match=r"grace@example\.com"):
        recipient(nameless, name_fallback="x" * 10_000, used_tokens={"%%name%%"})


def test_used_tokens_finds_token_shapes_only() -> None:
    found = used_tokens("Hi %%name%%, 100%% off", "%%first-name%% %%a b%% %%%%", "%%plan%%", key="")

    assert found == {"%%name%%", "%%first-name%%", "%%plan%%"}


def test_used_tokens_finds_only_the_tokens_of_the_editions_key() -> None:
    planted = f"%%email%% %%name.html%% %%{KEY[:-1]}x.email%% %%{KEY}.a b%% %%{KEY}.name.js%%"
    text = f"Hi {token('name', KEY)}, <a href='{token('site', KEY, IN_URL)}'>{planted}</a>"

    assert used_tokens(text, key=KEY) == {token("name", KEY), token("site", KEY, IN_URL)}


@pytest.mark.parametrize(
    "template",
    [
        URL,
        "https://x.example/u?list=weekly&t={token}",
        "https://x.example/{token}/{token}?t={token}",
        "https://例.jp/" + "配" * 150 + "?t={token}",  # 3 bytes a character, 9 quoted
    ],
)
def test_the_longest_reader_surely_fits_passes_still_fits_the_email(template: str) -> None:
    """At SurelyFits' edge, with the worst characters (4 bytes, 12 once URL-quoted), in an
    email that uses every value in every variant, each text field in a filtered form too,
    and as many other tokens and default texts as it may have, the reader still fits."""
    email = "\U0001f600" * 16 + "@example.com"
    names = ("name", "email", "unsubscribe_url", "first_name", "plan")
    filtered = ("name.upper", "first_name.title", "plan.lower")
    every = {token(name, KEY, v) for name in names + filtered for v in VARIANTS}
    defaulted = token("company." + default_filter("\U0001f600" * 4), KEY, IN_URL)
    others = [t for t in every if parse_token(t, KEY)[0] not in BUILTIN] + [defaulted]
    room = OTHER_TOKENS_BYTES - sum(map(len, others)) - 4 * 12  # the default's text, quoted
    unknown = [token(f"missing_column_{n:03}", KEY) for n in range(room // 35)]
    tokens = every | set(unknown) | {defaulted}
    check_other_tokens(tokens, KEY)
    surely_fits = SurelyFits(template)

    def reader(length: int) -> Subscriber:
        return Subscriber(email, "\U0001f600" * length, fields={"plan": "\U0001f600" * 50})

    longest = max(n for n in range(3000) if surely_fits(reader(n)))
    personalizer = Personalizer(
        unsubscribe_url_template=template,
        unsubscribe_mailto="",
        secret=SECRET,
        used_tokens=tokens,
        token_key=KEY,
    )

    substitutions = personalizer(reader(longest)).substitutions
    size = sum(len(key.encode()) + len(value.encode()) for key, value in substitutions.items())
    assert size < SUBSTITUTIONS_MAX_BYTES
    assert not surely_fits(reader(longest + 1))


@pytest.mark.parametrize(
    "template",
    [
        URL,
        "https://x.example/{token}/{token}?t={token}",
        "https://例.jp/" + "配" * 150 + "?t={token}",
    ],
)
def test_a_reader_short_enough_for_surely_fits_first_look_still_fits(template: str) -> None:
    """A reader without merge fields whose name and address are no longer than SurelyFits'
    first look lets through fits, in the worst characters, in an email that uses every
    value in every variant and all the room for missing columns."""
    surely_fits = SurelyFits(template)
    worst = "\U0001f600"
    # An address has at most 254 bytes (a token refuses more): 62 worst characters and 2.
    address = worst * (surely_fits.short_address - 2) + "ab"
    reader = Subscriber(address, worst * surely_fits.short_name)
    every = {token(f, KEY, v) for f in ("name", "email", "unsubscribe_url") for v in VARIANTS}
    unknown = {token(f"missing_column_{n:03}", KEY) for n in range(OTHER_TOKENS_BYTES // 35)}
    check_other_tokens(every | unknown, KEY)
    personalizer = Personalizer(
        unsubscribe_url_template=template,
        unsubscribe_mailto="",
        secret=SECRET,
        used_tokens=every | unknown,
        token_key=KEY,
    )

    substitutions = personalizer(reader).substitutions

    assert surely_fits(reader)
    size = sum(len(key.encode()) + len(value.encode()) for key, value in substitutions.items())
    assert size < SUBSTITUTIONS_MAX_BYTES
    # With the usual URL the first look settles, whatever their characters, names of up to
    # 40 characters: nearly every real one (the rest are sized character by character).
    assert SurelyFits(URL).short_name >= 40


def test_an_email_with_too_many_unknown_tokens_is_refused() -> None:
    tokens = {"%%name%%", *(f"%%column_number_{n}%%" for n in range(80))}

    with pytest.raises(ConfigError, match="merge-field tokens and default texts take 1,590 bytes"):
        check_other_tokens(tokens, "")


# -- the first name, and filters on a reader's value --------------------------------------


def first_names(*readers: Subscriber, **overrides: object) -> list[tuple[str, str]]:
    """Each reader's first name as the text part and the HTML get it."""
    tokens = {token("first_name", KEY), token("first_name", KEY, HTML)}
    options: dict[str, object] = {"used_tokens": tokens, "token_key": KEY, **overrides}
    values = [recipient(reader, **options).substitutions for reader in readers]
    return [(v[token("first_name", KEY)], v[token("first_name", KEY, HTML)]) for v in values]


def test_without_a_first_name_column_the_first_name_comes_from_the_name() -> None:
    readers = [
        Subscriber("ada@example.com", "Ada Lovelace"),
        Subscriber("tj@example.com", "Tom & Jerry <tj>"),
        Subscriber("doc@example.com", "Dr <b>Who</b>"),
        Subscriber("grace@example.com", ""),
    ]

    assert first_names(*readers) == [
        ("Ada", "Ada"),
        ("Tom", "Tom"),
        ("Dr <b>Who</b>", "Dr &lt;b&gt;Who&lt;/b&gt;"),
        ("there", "there"),
    ]
    assert first_names(readers[3], name_fallback="reader") == [("reader", "reader")]


def test_a_first_name_column_decides_and_an_empty_cell_gets_the_fallback() -> None:
    readers = [
        Subscriber("ada@example.com", "Lovelace, Augusta Ada", fields={"first_name": "Ada"}),
        Subscriber("acme@example.com", "ACME Corp", fields={"first_name": ""}),
        Subscriber("x@example.com", "X", fields={"first_name": "<%asm_x%> &\nco"}),
    ]

    assert first_names(*readers) == [
        ("Ada", "Ada"),
        ("there", "there"),
        ("<\u2060%asm_x%> & co", "&lt;%asm_x%&gt; &amp; co"),
    ]


def test_a_filtered_token_gets_the_filtered_value_escaped_for_its_place() -> None:
    upper = [token("name.upper", KEY, v) for v in VARIANTS]
    defaulted = token("company." + default_filter("your team"), KEY)
    tokens = {*upper, defaulted, token("first_name.upper", KEY)}
    tj = Subscriber("tj@example.com", "Tom & Jerry <tj>")

    values = recipient(tj, used_tokens=tokens, token_key=KEY).substitutions
    nameless = recipient(Subscriber("n@example.com"), used_tokens=tokens, token_key=KEY)

    assert [values[t] for t in upper] == [
        "TOM & JERRY <TJ>",
        "TOM &amp; JERRY &lt;TJ&gt;",
        "TOM%20%26%20JERRY%20%3CTJ%3E",
    ]
    assert values[defaulted] == "your team"
    assert values[token("first_name.upper", KEY)] == "TOM"
    assert nameless.substitutions[upper[0]] == "THERE"  # the fallback, filtered


def test_a_default_filter_stands_in_for_an_empty_name_before_the_fallback() -> None:
    tokens = {token("name." + default_filter("friend"), KEY), token("name", KEY)}

    values = recipient(Subscriber("n@example.com"), used_tokens=tokens, token_key=KEY)

    assert values.substitutions[token("name." + default_filter("friend"), KEY)] == "friend"
    assert values.substitutions[token("name", KEY)] == "there"


def test_a_field_in_more_forms_than_surelyfits_sets_aside_is_refused() -> None:
    two = {token("name", KEY, HTML), token("name.upper", KEY, HTML), token("name.lower", KEY)}
    three = two | {token("name.title", KEY, HTML)}

    check_other_tokens(two, KEY)
    with pytest.raises(TemplateError, match=r"subscriber\.name in the HTML in 3 forms"):
        check_other_tokens(three, KEY)


def test_default_texts_count_toward_the_room_for_other_tokens() -> None:
    """In a link, each character of a default's text may take 12 bytes (percent-encoded)."""
    check_other_tokens({token("company." + default_filter("x" * 40), KEY, IN_URL)}, KEY)
    with pytest.raises(ConfigError, match=r"tokens and default texts take 1,1\d\d bytes"):
        check_other_tokens({token("company." + default_filter("x" * 80), KEY, IN_URL)}, KEY)
