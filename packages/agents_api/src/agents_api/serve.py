"""The server process: ``python -m agents_api.serve [--host H] [--port P] [--workers N] …``.

``agents run`` applies pending migrations in the command-line process and then replaces itself
with this module (``os.execv``: same process id, so signals from a process manager still reach
the server). The serving process therefore imports only what serving needs: not alembic (with
mako and pygments), nor Litestar's command line, nor the migrations. It is also usable directly
(e.g. as a container's command) once ``agents database upgrade`` has run, or with
``AGENTS_MIGRATE_ON_START`` left on, in which case the app migrates at start-up as before.

Everything heavy is imported inside :func:`main`, after the arguments and the settings have been
checked, so that ``--help`` and configuration errors are fast and clear.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any

from agents_api import __version__

__all__ = ["APP_FACTORY", "banner", "command", "main", "new_database_notice"]

APP_FACTORY = "agents_api.app:create_app"
"""What uvicorn imports in each worker process with ``--workers N`` or ``--reload``."""


def command(
    *,
    host: str,
    port: int,
    workers: int,
    uds: str | None,
    access_log: bool,
    reload: bool,
) -> list[str]:
    """The argument vector that starts this module with these options (``agents run`` execs it)."""
    argv = [
        sys.executable,
        "-m",
        "agents_api.serve",
        "--host",
        host,
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]
    if uds is not None:
        argv += ["--uds", uds]
    argv.append("--access-log" if access_log else "--no-access-log")
    if reload:
        argv.append("--reload")
    return argv


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m agents_api.serve",
        description="Serve the API with uvicorn. Run `agents database upgrade` first, or leave "
        "AGENTS_MIGRATE_ON_START on. `agents run` takes the same options and migrates first.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--uds", default=None, help="Bind to this UNIX domain socket instead.")
    parser.add_argument(
        "--access-log",
        action=argparse.BooleanOptionalAction,
        default=None,
        dest="access_log",
        help="One log line per request (default: AGENTS_ACCESS_LOG, else on).",
    )
    parser.add_argument("--reload", action="store_true")
    return parser


def new_database_notice(url: str) -> str | None:
    """What to say before connecting creates a new, empty SQLite database (never silently)."""
    import os

    from agents_core.db.startup import new_sqlite_file

    path = new_sqlite_file(url)
    if path is None:
        return None
    if os.environ.get("AGENTS_DATABASE_URL"):
        return f"Creating a new SQLite database at {path} (AGENTS_DATABASE_URL names it)."
    return (
        f"Creating a new SQLite database at {path} (AGENTS_DATABASE_URL is not set; set it, "
        "or AGENTS_VAR_DIR, to use another database)."
    )


def _check_database(url: str) -> None:
    """Connect once before serving: a database that cannot be used is one line naming
    ``AGENTS_DATABASE_URL`` and exit status 2, rather than a traceback from every worker."""
    import asyncio

    from agents_core.db.startup import DatabaseStartupError, check

    notice = new_database_notice(url)
    if notice is not None:
        logging.getLogger("agents_api.serve").warning("%s", notice)

    try:
        asyncio.run(check(url, setting="AGENTS_DATABASE_URL"))
    except DatabaseStartupError as exc:
        print(exc, file=sys.stderr)
        sys.exit(2)


def banner(args: argparse.Namespace, database_url: str) -> str:
    """Where the server listens and which database it uses (password hidden)."""
    from agents_core.db.startup import hide_password

    if args.uds:
        where = f"unix:{args.uds}"
    else:
        host = f"[{args.host}]" if ":" in args.host else args.host
        where = f"http://{host}:{args.port}"
    workers = f", {args.workers} workers" if args.workers > 1 else ""
    return (
        f"agents {__version__}: serving {where} (docs at {where}/schema){workers}, "
        f"database {hide_password(database_url)}"
    )


def main(argv: Sequence[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    if args.workers < 1:
        sys.exit("--workers must be at least 1")

    from agents_api.settings import Settings, SettingsError

    if args.access_log is not None:
        # Through the environment: with --workers N, each worker builds the app from it.
        os.environ["AGENTS_ACCESS_LOG"] = "true" if args.access_log else "false"
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"Configuration error: {exc}", file=sys.stderr)
        sys.exit(2)

    from agents_api import logs

    log_config = logs.configure(settings.log_level, settings.log_format)
    _check_database(settings.database_url)
    # A log line, so that it takes the configured format (one JSON object per line, say).
    logging.getLogger("agents_api.serve").info("%s", banner(args, settings.database_url))

    import uvicorn

    options: dict[str, Any] = {
        "host": args.host,
        "port": args.port,
        "uds": args.uds,
        # The app logs each request itself (agents_api.request_observer), with its id and
        # route template; uvicorn's line would repeat it, query string included.
        "access_log": False,
        # Applied again by uvicorn in each worker process it starts.
        "log_config": log_config,
        "loop": "auto",
        "http": "auto",
        # The API has no WebSocket routes; "auto" would import the websockets package (~1.7 MiB
        # in every worker) to answer upgrade requests that no route accepts.
        "ws": "none",
        # On SIGTERM uvicorn stops accepting connections and lets requests in flight finish,
        # for up to this long; then it cancels what is left and the process exits.
        "timeout_graceful_shutdown": settings.shutdown_timeout,
        # The app decides who the client is (AGENTS_TRUSTED_PROXIES): uvicorn must not rewrite
        # the peer address from X-Forwarded-For on its own (it trusts 127.0.0.1 by default).
        "proxy_headers": False,
    }
    if args.workers == 1 and not args.reload:
        from agents_api.app import create_app

        uvicorn.run(create_app(settings), **options)
        return
    # Several processes (or a reloader): each imports and builds the app itself.
    uvicorn.run(APP_FACTORY, factory=True, workers=args.workers, reload=args.reload, **options)


if __name__ == "__main__":
    main()
