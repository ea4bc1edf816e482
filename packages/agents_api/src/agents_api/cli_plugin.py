"""The project's own commands, added to the Litestar CLI (``agents …``).

The app registers this plugin, so the server process imports this module too: alembic (the
migrations) is imported inside the commands that use it, never at the top.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import sys
from collections.abc import Awaitable, Callable
from typing import TypeVar

import click
from litestar.plugins import CLIPluginProtocol

from agents_core.db import Database
from agents_core.errors import DomainError

__all__ = ["AgentsCLIPlugin"]

T = TypeVar("T")


def _database() -> Database:
    from agents_api.settings import Settings

    settings = Settings.from_env()
    return Database(settings.database_url, timeout=settings.db_timeout)


def _run(work: Callable[[Database], Awaitable[T]]) -> T:
    async def main() -> T:
        database = _database()
        try:
            return await work(database)
        finally:
            await database.close()

    return asyncio.run(main())


@click.group(name="database", help="Manage the database schema (alembic migrations).")
def database_group() -> None:
    pass


@database_group.command(name="upgrade", help="Apply migrations up to REVISION (default: head).")
@click.argument("revision", default="head")
def upgrade_command(revision: str) -> None:
    from agents_core.db import migrations

    _run(lambda db: migrations.upgrade(db, revision))
    click.echo(f"Database upgraded to {revision}.")


@database_group.command(name="downgrade", help="Revert migrations down to REVISION (default: -1).")
@click.argument("revision", default="-1")
def downgrade_command(revision: str) -> None:
    from agents_core.db import migrations

    _run(lambda db: migrations.downgrade(db, revision))
    click.echo(f"Database downgraded to {revision}.")


@database_group.command(name="current", help="Show the database's current revision.")
def current_command() -> None:
    from agents_core.db import migrations

    revision = _run(migrations.current_revision)
    head = migrations.head_revision()
    state = "up to date" if revision == head else f"head is {head}"
    click.echo(f"{revision or '(empty)'} ({state})")


@click.command(
    name="create-admin",
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

    from agents_core.db import migrations
    from agents_core.schemas import SignupRequest
    from agents_core.users.service import UserService

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

    async def work(database: Database) -> str:
        await migrations.upgrade(database)
        async with database.connect() as conn:
            organization, user = await UserService(conn).signup(request)
            return f"Created organization {organization.id} with admin {user.email} ({user.id})."

    try:
        click.echo(_run(work))
    except DomainError as exc:
        click.echo(f"Error: {exc.detail}", err=True)
        sys.exit(1)


@click.command(
    name="seed",
    help="Create (or find) a demo organization with an admin, a member and sample agents. "
    "Idempotent: existing users and agents are left as they are.",
)
@click.option("--organization", "organization_name", default=None, help="Organization name.")
@click.option("--admin-email", default=None, help="The demo admin's email.")
@click.option(
    "--admin-password",
    default=None,
    envvar="AGENTS_SEED_ADMIN_PASSWORD",
    help="The admin's password when created (generated and printed when omitted).",
)
@click.option("--member-email", default=None, help="The demo member's email.")
@click.option(
    "--member-password",
    default=None,
    envvar="AGENTS_SEED_MEMBER_PASSWORD",
    help="The member's password when created (generated and printed when omitted).",
)
def seed_command(
    organization_name: str | None,
    admin_email: str | None,
    admin_password: str | None,
    member_email: str | None,
    member_password: str | None,
) -> None:
    from agents_core import seed
    from agents_core.db import migrations

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
        report = _run(work)
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


@click.command(
    name="run",
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

    The command-line process has loaded alembic, mako, pygments and Litestar's CLI, and has
    built the app once to find this plugin; none of that is needed to serve (~13 MiB in every
    worker). Replacing the process image rather than starting a child keeps the process id, so
    a process manager's signals reach uvicorn directly.
    """
    from agents_api import serve
    from agents_api.settings import Settings

    env = dict(os.environ)
    if Settings.from_env().migrate_on_start:
        from agents_core.db import migrations

        _run(lambda db: migrations.upgrade(db))
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


class AgentsCLIPlugin(CLIPluginProtocol):
    def on_cli_init(self, cli: click.Group) -> None:
        # Replaces Litestar's ``run``: the project's spelling (--workers) and an access-log switch.
        cli.add_command(run_command)
        cli.add_command(database_group)
        cli.add_command(create_admin_command)
        cli.add_command(seed_command)
