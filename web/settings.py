"""The settings the running app was built with (`create_app`), for web code inside a request.

The app's own machinery reads them: its rate limits and /health's cadence, so two apps in one
process (tests build a second one) each keep theirs. Domain rules, in `common/` or checked by
the web on their behalf, read the process's settings (`config.get_settings`) in both tiers.
"""

from __future__ import annotations

from flask import current_app

from config import Settings


def current_settings() -> Settings:
    return current_app.config["SETTINGS"]
