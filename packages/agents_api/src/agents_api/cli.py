"""``agents``: the project's command line (serve, manage the schema, seed, create an admin).

The server process does not import this module: ``agents run`` migrates here, then replaces
itself with :mod:`agents_api.serve`. Heavy modules (alembic, the app) are imported inside the
commands that use them, so that ``agents --help`` and ``agents --version`` are fast and touch
nothing: no settings read, no secret generated, no database created.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from agents_api import __version__

if TYPE_CHECKING:
    from agents_api.settings import Settings
    from agents_core.db.database import Database

__all__ = ["agents", "main"]

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

DATABASE_SETTING = "AGENTS_DATABASE_URL"


def _settings(*, signs_tokens: bool = False) -> Settings:
    """The settings, or one line naming the bad variable and exit status 2."""
    from agents_api.settings import Settings, SettingsError

    try:
        settings = Settings.from_env(signs_tokens=signs_tokens)
    except SettingsError as exc:
        click.echo(f"Configuration error: {exc}", err=True)
        sys.exit(2)
    from agents_api import logs

    logs.configure(settings.log_level, settings.log_format)
    return settings


def _checked_database_url() -> str:
    """The configured database's URL, after one connection that checks it.

    Called first by every command that uses the database, before it imports the migrations or
    the services (seconds of imports): a database that cannot be reached, or does not exist, is
    one line on stderr and exit status 2, at once.
    """
    from agents_api.serve import new_database_notice
    from agents_core.db.startup import DatabaseStartupError, check

    url = _settings().database_url
    notice = new_database_notice(url)
    if notice is not None:
        click.echo(notice, err=True)
    try:
        asyncio.run(check(url, setting=DATABASE_SETTING))
    except DatabaseStartupError as exc:
        click.echo(str(exc), err=True)
        sys.exit(2)
    return url


def _run(url: str, work: Callable[[Database], Awaitable[T]]) -> T:
    """Run ``work`` on the database at ``url`` (see :func:`_checked_database_url`). A database
    that goes away during the work is one line and exit status 2 too."""
    from agents_core.db.database import Database
    from agents_core.db.startup import explain

    async def session() -> T:
        database = Database(url)
        try:
            return await work(database)
        finally:
            await database.close()

    try:
        return asyncio.run(session())
    except Exception as exc:
        line = explain(exc, url, setting=DATABASE_SETTING)
        if line is None:
            raise
        click.echo(line, err=True)
        sys.exit(2)


class _CommandsInOrder(click.Group):
    """Lists its commands in the order they are defined (the everyday ones first)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)


@click.group(
    name="agents",
    cls=_CommandsInOrder,
    context_settings={"help_option_names": ["-h", "--help"]},
    help="Voice-agent definitions: the API server and its database. Settings come from "
    "AGENTS_* environment variables (see the README).",
)
@click.version_option(
    __version__, "-V", "--version", prog_name="agents", message="%(prog)s %(version)s"
)
def agents() -> None:
    pass


# -- serving -------------------------------------------------------------------------------------


@agents.command(
    name="run",
    short_help="Serve the API (pending migrations are applied first).",
    help="Serve the API with uvicorn (uvloop and httptools when installed). Pending migrations "
    "are applied first. With --workers N, N processes share the port; see docs/scaling.md.",
)
@click.option("-H", "--host", default="127.0.0.1", show_default=True, envvar="AGENTS_HOST")
@click.option("-p", "--port", default=8000, show_default=True, type=int, envvar="AGENTS_PORT")
@click.option(
    "-w",
    "--workers",
    "--wc",
    "--web-concurrency",
    "workers",
    default=1,
    show_default=True,
    type=click.IntRange(min=1, max=max(64, 4 * multiprocessing.cpu_count())),
    envvar=["AGENTS_WORKERS", "WEB_CONCURRENCY"],
    help="Worker processes (each with its own database pools).",
)
@click.option("--uds", default=None, help="Bind to this UNIX domain socket instead.")
@click.option(
    "--access-log/--no-access-log",
    default=True,
    show_default=True,
    envvar="AGENTS_ACCESS_LOG",
    help="Log one line per request (off under load: it costs CPU on every request).",
)
@click.option("-r", "--reload", is_flag=True, default=False, help="Reload on code changes.")
def run_command(
    host: str, port: int, workers: int, uds: str | None, access_log: bool, reload: bool
) -> None:
    """Migrate here, then become the server (``agents_api.serve``) with ``os.execv``.

    The command-line process has loaded alembic, mako and click; none of that is needed to
    serve (~13 MiB in every worker). Replacing the process image rather than starting a child
    keeps the process id, so a process manager's signals reach uvicorn directly.
    """
    from agents_api import serve

    env = dict(os.environ)
    # Every setting, the secret key included, is checked before anything is migrated.
    if _settings(signs_tokens=True).migrate_on_start:
        url = _checked_database_url()
        from agents_core.db import migrations

        async def migrate(database: Database) -> tuple[str | None, str | None]:
            before = await migrations.current_revision(database)
            await migrations.upgrade(database)
            return before, await migrations.current_revision(database)

        before, after = _run(url, migrate)
        if before != after:
            click.echo(f"Migrated the database from {before or '(empty)'} to {after}.", err=True)
        if not reload:
            # Done once here, rather than by every worker (each would import alembic for it).
            # With --reload, the reloaded app still migrates: new migrations show up as you work.
            env["AGENTS_MIGRATE_ON_START"] = "false"
    argv = serve.command(
        host=host, port=port, workers=workers, uds=uds, access_log=access_log, reload=reload
    )
    sys.stdout.flush()
    sys.stderr.flush()
    if os.name != "posix":  # no exec that keeps the process: serve from this one
        os.environ.update(env)
        serve.main(argv[3:])
        return
    os.execve(argv[0], argv, env)  # noqa: S606 (our interpreter, our module, fixed options)


# -- database ------------------------------------------------------------------------------------


@agents.group(
    name="database",
    cls=_CommandsInOrder,
    short_help="Manage the database schema: upgrade, downgrade, current.",
    help="Manage the database schema (alembic migrations).",
)
def database_group() -> None:
    pass


@database_group.command(name="upgrade", help="Apply migrations up to REVISION (default: head).")
@click.argument("revision", default="head")
def upgrade_command(revision: str) -> None:
    url = _checked_database_url()
    from agents_core.db import migrations

    async def work(database: Database) -> str | None:
        await migrations.upgrade(database, revision)
        return await migrations.current_revision(database)

    click.echo(f"Database upgraded: now at {_run(url, work) or '(empty)'}.")


@database_group.command(
    name="downgrade",
    help="Revert migrations down to REVISION: a revision id, -1 for one step, or base for an "
    "empty database. The tables and columns of the reverted migrations are dropped with their "
    "data, so it asks first (--yes does not).",
)
@click.argument("revision")
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation (for scripts).")
def downgrade_command(revision: str, yes: bool) -> None:
    from agents_core.db.startup import hide_password

    url = _checked_database_url()
    if not yes:
        click.confirm(
            f"Downgrade {hide_password(url)} to {revision}? What the reverted migrations added "
            "is dropped, with its data.",
            abort=True,
        )
    from agents_core.db import migrations

    async def work(database: Database) -> str | None:
        await migrations.downgrade(database, revision)
        return await migrations.current_revision(database)

    click.echo(f"Database downgraded: now at {_run(url, work) or '(empty)'}.")


@database_group.command(name="current", help="Show the database's current revision.")
def current_command() -> None:
    url = _checked_database_url()
    from agents_core.db import migrations

    revision = _run(url, migrations.current_revision)
    head = migrations.head_revision()
    state = "up to date" if revision == head else f"head is {head}"
    click.echo(f"{revision or '(empty)'} ({state})")


# -- accounts and demo data ----------------------------------------------------------------------


def _demo_user_options(role: str) -> Callable[[F], F]:
    """``--ROLE-email`` and ``--ROLE-password`` (or ``AGENTS_SEED_ROLE_PASSWORD``) for one of
    the demo users."""
    email = click.option(f"--{role}-email", default=None, help=f"The demo {role}'s email.")
    password = click.option(
        f"--{role}-password",
        default=None,
        envvar=f"AGENTS_SEED_{role.upper()}_PASSWORD",
        help=f"The {role}'s password when created (generated and printed when omitted).",
    )
    return lambda command: email(password(command))


@agents.command(
    name="seed",
    short_help="Create demo data: an organization, two users, sample agents.",
    help="Create (or find) a demo organization with an admin, a member and sample agents. "
    "Idempotent: existing users and agents are left as they are.",
)
@click.option("--organization", "organization_name", default=None, help="Organization name.")
@_demo_user_options("admin")
@_demo_user_options("member")
def seed_command(
    organization_name: str | None,
    admin_email: str | None,
    admin_password: str | None,
    member_email: str | None,
    member_password: str | None,
) -> None:
    url = _checked_database_url()
    from agents_core import seed
    from agents_core.db import migrations
    from agents_core.errors import DomainError

    async def work(database: Database) -> seed.SeedReport:
        await migrations.upgrade(database)
        async with database.connect() as conn:
            return await seed.seed_demo(
                conn,
                organization_name=organization_name or seed.DEMO_ORGANIZATION,
                admin_email=admin_email or seed.DEMO_ADMIN_EMAIL,
                admin_password=admin_password,
                member_email=member_email or seed.DEMO_MEMBER_EMAIL,
                member_password=member_password,
            )

    try:
        report = _run(url, work)
    except DomainError as exc:
        click.echo(f"Error: {exc.detail}", err=True)
        sys.exit(1)

    def state(created: bool) -> str:
        return "created" if created else "already there"

    click.echo(
        f"Organization {report.organization_name!r} ({report.organization_id}): "
        f"{state(report.organization_created)}"
    )
    for user in (report.admin, report.member):
        password = f", password: {user.password}" if user.password else ", password unchanged"
        click.echo(f"  {user.role.value:<6} {user.email}: {state(user.created)}{password}")
    for name in report.agents_created:
        click.echo(f"  agent  {name}: created")
    for name in report.agents_existing:
        click.echo(f"  agent  {name}: already there")
    click.echo(f"  release {report.release}: {state(report.release_created)}")
    environment = "created or moved" if report.environment_changed else "already there"
    click.echo(f"  environment {seed.DEMO_ENVIRONMENT} -> release {report.release}: {environment}")
    if not report.changed:
        click.echo("Nothing to do: the demo data is already in place.")


@agents.command(
    name="create-admin",
    short_help="Create an organization and its first admin.",
    help="Create an organization and its first admin (for deployments with sign-up off).",
)
@click.option("--organization", "organization_name", required=True, help="Organization name.")
@click.option("--email", required=True, help="The admin's email.")
@click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    envvar="AGENTS_ADMIN_PASSWORD",
    help="The admin's password (prompted when omitted; or AGENTS_ADMIN_PASSWORD).",
)
@click.option("--full-name", default=None, help="The admin's full name.")
def create_admin_command(
    organization_name: str, email: str, password: str, full_name: str | None
) -> None:
    import msgspec

    from agents_core.schemas import SignupRequest

    try:
        request = msgspec.convert(
            {
                "organization_name": organization_name,
                "email": email,
                "password": password,
                "full_name": full_name,
            },
            SignupRequest,
        )
    except msgspec.ValidationError as exc:
        raise click.BadParameter(str(exc)) from None

    url = _checked_database_url()
    from agents_core.db import migrations
    from agents_core.errors import DomainError
    from agents_core.users.service import AccountService

    async def work(database: Database) -> str:
        await migrations.upgrade(database)
        async with database.connect() as conn:
            organization, user = await AccountService(conn).signup(request)
            return f"Created organization {organization.id} with admin {user.email} ({user.id})."

    try:
        click.echo(_run(url, work))
    except DomainError as exc:
        click.echo(f"Error: {exc.detail}", err=True)
        sys.exit(1)


# -- the API's description -----------------------------------------------------------------------


def _openapi_document() -> dict[str, Any]:
    """The app's OpenAPI document, built without a database or a secret (it needs neither)."""
    from dataclasses import replace

    from agents_api.app import create_app
    from agents_core.db.database import Database

    settings = replace(_settings(), database_url="sqlite:///:memory:")
    database = Database(settings.database_url)
    try:
        app = create_app(settings, database=database)
        return app.openapi_schema.to_schema()
    finally:
        asyncio.run(database.close())


@agents.command(name="routes", help="List the API's operations: method, path, operationId.")
def routes_command() -> None:
    document = _openapi_document()
    rows = [
        (method.upper(), path, operation.get("operationId", ""), operation.get("summary", ""))
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if isinstance(operation, dict) and "responses" in operation
    ]
    path_width = max(len(row[1]) for row in rows)
    id_width = max(len(row[2]) for row in rows)
    for method, path, operation_id, summary in rows:
        click.echo(f"{method:<7} {path:<{path_width}}  {operation_id:<{id_width}}  {summary}")


@agents.command(
    name="schema",
    short_help="Write the API's OpenAPI document (JSON).",
    help="Write the API's OpenAPI 3.1 document (JSON) to stdout, or to --output FILE: for "
    "client generators, offline.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True),
    default=None,
    help="File to write instead of stdout.",
)
def schema_command(output: str | None) -> None:
    import msgspec

    text = msgspec.json.format(msgspec.json.encode(_openapi_document()), indent=2).decode()
    if output is None:
        click.echo(text)
        return
    with open(output, "w", encoding="utf-8") as file:
        file.write(text + "\n")
    click.echo(f"Wrote the OpenAPI document to {output}.", err=True)


def main() -> None:
    agents(prog_name="agents")
