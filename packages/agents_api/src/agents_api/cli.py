"""``agents``: the Litestar CLI preset to this app (``agents run``, ``agents database …``)."""

from __future__ import annotations

import os
import sys

__all__ = ["main"]


def main() -> None:
    from agents_api.settings import Settings, SettingsError

    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"Configuration error: {exc}", file=sys.stderr)
        sys.exit(2)
    from agents_api import logs

    logs.configure(settings.log_level, settings.log_format)
    os.environ.setdefault("LITESTAR_APP", "agents_api.app:create_app")
    from litestar.cli.main import litestar_group

    litestar_group(prog_name="agents")
