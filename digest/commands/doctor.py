"""`digest doctor`: is everything ready to send? One line a check, pass, warn or fail, with
the fix (``sending/preflight.py`` makes them); exit 1 when a check fails.

Passes go to stdout (``-q`` hides them), warnings and failures to stderr.
"""

from __future__ import annotations

from collections.abc import Callable

from ..app import App
from ..errors import ConfigError
from ..sending.findings import FAIL, PASS, WARN, Finding


def run(start: Callable[[], App], echo: Callable[..., None]) -> bool:
    """Run every check and say each; whether none failed. ``start`` loads the settings
    (a failure there is the config check's), ``echo`` prints before there is an App."""
    try:
        app = start()
    except ConfigError as error:
        echo(Finding(FAIL, "config", str(error)).line, err=True)
        echo("Not ready to send: the config does not load.", err=True)
        return False
    from ..sending.preflight import preflight

    key = app.edition_key()
    findings = preflight(app, key)
    say(app, findings)
    failures = sum(1 for finding in findings if finding.status == FAIL)
    warnings = sum(1 for finding in findings if finding.status == WARN)
    noted = f"{warnings} warning{'s' if warnings != 1 else ''}" if warnings else ""
    if failures:
        also = f", {noted}" if noted else ""
        app.report(f"Not ready to send: {failures} failure{'s' if failures != 1 else ''}{also}.")
        return False
    app.say(f"Ready to send edition {key}{f' ({noted})' if noted else ''}.")
    return True


def say(app: App, findings: list[Finding]) -> None:
    """Each finding on its line: passes on stdout, the rest on stderr."""
    for finding in findings:
        if finding.status == PASS:
            app.say(finding.line)
        else:
            app.report(finding.line)
