"""SpamAssassin on the example's .eml, as `digest build` writes it: local rules only (-L).

Debian's ``spamassassin`` is needed (.ci/run installs it); where it is missing the
test is skipped and says why. Its user files go to a temporary HOME.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from digest.cli import cli

SPAMASSASSIN = shutil.which("spamassassin")
# Not skipped without it, which would look green: README's test command (.ci/run) installs
# Debian's spamassassin.
pytestmark = pytest.mark.slow
NOW = "2026-02-02T09:00:00-08:00"
RULE = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s+([A-Z0-9_]+)\s", re.MULTILINE)
MODES = {  # the settings of each unsubscribe mode
    "self-hosted": {},
    "asm": {"DIGEST_SENDGRID_ASM_GROUP_ID": "4242"},
}


def built_example(folder: Path, env: dict[str, str]) -> bytes:
    """The example newsletter's digest.eml, from `digest init --example` then `digest build`."""
    assert CliRunner().invoke(cli, ["init", "--example", str(folder)]).exit_code == 0
    out = folder / "out"
    arguments = ["--config", str(folder / "digest.toml"), "build", "--now", NOW, "--out", str(out)]
    result = CliRunner().invoke(cli, arguments, env=env)
    assert result.exit_code == 0, result.output
    return (out / "digest.eml").read_bytes()


def rules_hit(message: bytes, home: Path) -> dict[str, float]:
    """The rules SpamAssassin's report lists for ``message``, with their scores."""
    assert SPAMASSASSIN, "spamassassin is not installed: `apt-get install spamassassin`"
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(home), "LANG": "C.UTF-8"}
    report = subprocess.run(
        [str(SPAMASSASSIN), "-L", "-t"],
        input=message,
        capture_output=True,
        env=env,
        timeout=120,
        check=True,
    ).stdout.decode("utf-8", "replace")
    details = report.split("Content analysis details:", 1)[1]
    return {name: float(score) for score, name in RULE.findall(details)}


@pytest.mark.parametrize("mode", MODES)
def test_the_example_scores_nothing(tmp_path: Path, mode: str) -> None:
    """0.0 in both unsubscribe modes: no rule with a score fires (the opaque token keeps
    the reader's address out of the unsubscribe URL, which GB_CUSTOM_HTM_URI charged)."""
    settings = MODES[mode]
    env = {name: "" for name in os.environ if name.startswith("DIGEST_")}
    env |= {"DIGEST_UNSUBSCRIBE_SECRET": "a-long-random-secret", **settings}
    message = built_example(tmp_path / "newsletter", env)
    home = tmp_path / "home"
    home.mkdir()

    rules = rules_hit(message, home)

    assert "HTML_MESSAGE" in rules, "SpamAssassin read the HTML part"
    scored = {name: score for name, score in rules.items() if score != 0}
    assert scored == {}
