"""`digest subscribers ...`: the list itself. ``check``: every row of the list that a send
would leave out, and why."""

from __future__ import annotations

from ..app import App
from ..audience.active import check_subscribers
from ..audience.personalize import check_other_tokens, used_tokens
from ..sending.edition import personalizer, render
from ..sending.samples import sample_digest

# Seals the sample unsubscribe links when DIGEST_UNSUBSCRIBE_SECRET is not set: only
# their length matters to a check, and a token is as long under any secret.
SIZING_SECRET = "subscribers-check-sizing-only"


def check(app: App) -> int:
    """Report the list's problems, in line order, as ``check_subscribers`` finds them, each
    row sized for the email's tokens by the send's own test (``Personalizer.misfit``), or
    say there are none; how many there are."""
    tokens, key = email_tokens(app)
    misfit = personalizer(app.settings, tokens, key, secret=SIZING_SECRET).misfit
    problems = check_subscribers(app.paths.subscribers, misfit=misfit)
    relative = app.settings.subscribers.path
    for problem in problems:
        app.report(f"{relative}:{problem.line}: {problem.email}: {problem.reason}")
    if not problems:
        app.say(f"{relative}: no problems found.")
    return len(problems)


def email_tokens(app: App) -> tuple[frozenset[str], str]:
    """The substitution tokens the email uses, and their key, from the templates rendered
    for a sample edition: which subscriber fields the templates use, and where, does not
    depend on the posts.

    Refuses, as a send does, templates that use a field the list lacks or more tokens
    than the room a send keeps for them.
    """
    email = render(app, sample_digest(app.now))
    tokens = used_tokens(email.subject, email.html, email.text, key=email.token_key)
    check_other_tokens(tokens, email.token_key)
    return tokens, email.token_key
