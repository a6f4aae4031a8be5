"""The configuration: digest.toml and the environment, read once into typed Settings.

``settings.py`` declares every key on its field (type, default, rule, help);
``checks.py`` holds the rules; ``load.py`` reads the file and the environment and
checks every value once, as it loads. Code downstream trusts the Settings it gets.
"""

from __future__ import annotations

from .example import SAMPLE_FEED, example_warning
from .load import CONFIG_FILE, find_config, load_settings
from .settings import (
    Delivery,
    Newsletter,
    Schedule,
    Secrets,
    Selection,
    SendGrid,
    Settings,
    Smtp,
    Source,
    Subscribers,
    Tracking,
    Unsubscribe,
)

__all__ = [
    "CONFIG_FILE",
    "SAMPLE_FEED",
    "Delivery",
    "Newsletter",
    "Schedule",
    "Secrets",
    "Selection",
    "SendGrid",
    "Settings",
    "Smtp",
    "Source",
    "Subscribers",
    "Tracking",
    "Unsubscribe",
    "example_warning",
    "find_config",
    "load_settings",
]
