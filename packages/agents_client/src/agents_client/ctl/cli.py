"""The ``agentsctl`` command line.

Exit status: 0 done (``diff``: in sync), 1 error or refusal (nothing written unless the message
says what was), 2 (``diff``) the files and the server differ, 130 interrupted. Every error is
one line naming the problem and the fix; a bad agent file is one line per problem,
``path:line: message``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Final, TextIO

import httpx

from agents_client.client import AgentsClient
from agents_client.ctl.agent_files import (
    LocalAgent,
    file_names,
    is_agent_file,
    read_directory,
    render_agent,
    replace_file,
)
from agents_client.ctl.applier import Applier, ApplyFailed
from agents_client.ctl.lock import Lock, LockEntry, LockError, digests, read_lock, write_lock
from agents_client.ctl.plan import Plan, PlanError, make_plan, unapplied_changes
from agents_client.ctl.report import count, render_plan, render_problems, render_steps
from agents_client.ctl.server import ServerChanging, ServerState, read_server
from agents_client.errors import (
    AgentsError,
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
)
from agents_core.schemas import Role

__all__ = ["main"]

EXIT_OK: Final = 0
EXIT_ERROR: Final = 1
EXIT_DIFFERENT: Final = 2
EXIT_INTERRUPTED: Final = 130

try:
    VERSION = version("agents-client")
except PackageNotFoundError:  # running from a source tree without metadata
    VERSION = "0"


class CtlError(Exception):
    """A refusal or a problem, already phrased for the user (one line)."""


@dataclass(frozen=True, slots=True)
class Connection:
    url: str
    credential: str
    """Where the credential came from, for the message when the server refuses it."""


class Context:
    """What a command needs from outside: streams, environment, and how to reach the server
    (tests give an ``http_client`` over the app)."""

    def __init__(
        self,
        *,
        stdin: TextIO,
        stdout: TextIO,
        stderr: TextIO,
        environ: Mapping[str, str],
        http_client: httpx.Client | None,
    ) -> None:
        self.stdin = stdin
        self.stdout = stdout
        self.stderr = stderr
        self.environ = environ
        self.http_client = http_client
        self.connection: Connection | None = None

    def say(self, *lines: str) -> None:
        for line in lines:
            print(line, file=self.stdout, flush=True)

    def warn(self, *lines: str) -> None:
        for line in lines:
            print(line, file=self.stderr, flush=True)

    def connect(self, args: argparse.Namespace) -> AgentsClient:
        url = args.url or self.environ.get("AGENTS_URL")
        if not url:
            raise CtlError(
                "no server given: set AGENTS_URL (or pass --url), e.g. https://agents.example.com"
            )
        if not url.startswith(("http://", "https://")):
            given = "--url" if args.url else "AGENTS_URL"
            raise CtlError(
                f"{given} {url!r} is not an http(s) URL: e.g. https://agents.example.com"
            )
        url = url.rstrip("/").removesuffix("/api/v1")
        if args.api_key and args.token:
            raise CtlError("--api-key and --token were both given: pass one")
        api_key, token, source = (
            args.api_key,
            args.token,
            "--api-key" if args.api_key else "--token",
        )
        if not (api_key or token):
            api_key = self.environ.get("AGENTS_API_KEY") or None
            token = self.environ.get("AGENTS_TOKEN") or None
            if api_key and token:
                raise CtlError("AGENTS_API_KEY and AGENTS_TOKEN are both set: keep one")
            source = "AGENTS_API_KEY" if api_key else "AGENTS_TOKEN"
        if not (api_key or token):
            raise CtlError(
                "no credentials: set AGENTS_API_KEY to an admin API key (or AGENTS_TOKEN to an "
                "access token)"
            )
        self.connection = Connection(url=url, credential=source)
        return AgentsClient(url, api_key=api_key, token=token, http_client=self.http_client)

    def describe(self, error: AgentsError) -> str:
        """The SDK's error as one line naming the problem and the fix."""
        url = self.connection.url if self.connection else "the server"
        credential = self.connection.credential if self.connection else "AGENTS_API_KEY"
        if isinstance(error, AuthenticationError):
            fix = f"check {credential}"
            if credential.endswith("TOKEN") or credential == "--token":
                fix += " (access tokens expire: log in again for a new one)"
            return f"{url} refused the credentials (401 {error.code or 'unauthorized'}): {fix}"
        if isinstance(error, PermissionDeniedError):
            return (
                f"this credential may not do that (403 {error.code or 'forbidden'}): use an "
                "admin's API key or token"
            )
        if isinstance(error, RateLimitError):
            wait = error.retry_after
            later = f"in {wait:.0f} s" if wait is not None else "later"
            return f"{url} is rate limiting these requests (429): try again {later}"
        if isinstance(error, ServerError):
            if error.status == 503:
                code = f" {error.code}" if error.code else ""
                return f"the server is unavailable (503{code}): try again in a moment"
            request_id = error.response.headers.get("X-Request-ID", "unknown")
            return (
                f"the server failed ({error.status}, request id {request_id}): try again, and "
                "report it if it persists"
            )
        if isinstance(error, APIStatusError):
            if error.status == 404 and error.code in (None, "not_found"):
                return (
                    f"{url} has no such route (404): AGENTS_URL must be the API's base URL, "
                    "e.g. https://agents.example.com"
                )
            code = f" {error.code}" if error.code else ""
            detail = f": {error.detail}" if error.detail else ""
            return f"the server refused it ({error.status}{code}){detail}"
        if isinstance(error, APITimeoutError):
            return f"{url} did not answer in time: try again, or check AGENTS_URL"
        if isinstance(error, APIConnectionError):
            reason = error.__cause__ or error
            return f"cannot reach {url} ({reason}): check AGENTS_URL and that the server is running"
        if isinstance(error, APIResponseValidationError):
            return f"{url} answered something that is not the agents API: check AGENTS_URL"
        return str(error)


# -- reading the directory ----------------------------------------------------------------------


def _directory(raw: str, *, must_exist: bool) -> Path:
    path = Path(raw)
    if path.exists() and not path.is_dir():
        raise CtlError(f"{raw} is not a directory")
    if must_exist and not path.exists():
        raise CtlError(f"{raw}: no such directory (agentsctl pull {raw} creates it)")
    return path


def _read_files(ctx: Context, directory: Path) -> list[LocalAgent]:
    local, problems = read_directory(directory)
    if problems:
        ctx.warn(*render_problems(problems))
        raise CtlError(
            f"{count(len(problems), 'agent file')} cannot be read: fix them; nothing was written"
        )
    return local


def _read_lock(directory: Path) -> Lock:
    try:
        return read_lock(directory)
    except LockError as exc:
        raise CtlError(str(exc)) from None


# -- commands -----------------------------------------------------------------------------------


def pull(ctx: Context, args: argparse.Namespace) -> int:
    directory = _directory(args.directory, must_exist=False)
    try:
        lock = read_lock(directory)
    except LockError as exc:
        if not args.force:
            raise CtlError(str(exc)) from None
        lock = Lock()  # replaced whole below
    local, problems = read_directory(directory)
    with ctx.connect(args) as client:
        state = read_server(client)
    if not args.force:
        if problems:
            ctx.warn(*render_problems(problems))
            raise CtlError(
                f"{count(len(problems), 'agent file')} cannot be read and would be overwritten: "
                "fix them, or pull --force to replace them"
            )
        lost = unapplied_changes(local, lock, state)
        if lost:
            ctx.warn(*(f"{directory / file}: {what}" for file, what in lost))
            raise CtlError(
                f"pull would overwrite {count(len(lost), 'change')} not yet applied: apply them "
                "first, or pull --force to discard them"
            )
    names = file_names([agent.config.name for agent in state.agents])
    wanted = dict(zip(names, state.agents, strict=True))
    directory.mkdir(parents=True, exist_ok=True)
    written = 0
    for file, agent in wanted.items():
        content = render_agent(agent.config).encode()
        path = directory / file
        if path.is_file() and path.read_bytes() == content:
            continue
        replace_file(path, content)
        written += 1
    removed = sorted(p for p in directory.iterdir() if is_agent_file(p) and p.name not in wanted)
    for path in removed:
        path.unlink()
    entries = {
        file: LockEntry(
            id=agent.id, name=agent.config.name, version=agent.version, fields=digests(agent.config)
        )
        for file, agent in wanted.items()
    }
    write_lock(directory, Lock(organization_id=state.organization_id, agents=entries))
    ctx.say(
        f"Pulled {count(len(wanted), 'agent')} into {directory}: {written} written, "
        f"{len(wanted) - written} unchanged, {len(removed)} removed."
    )
    return EXIT_OK


def diff(ctx: Context, args: argparse.Namespace) -> int:
    directory = _directory(args.directory, must_exist=True)
    local = _read_files(ctx, directory)
    lock = _read_lock(directory)
    with ctx.connect(args) as client:
        state = read_server(client)
    plan = _make_plan(ctx, local, lock, state, prune=args.prune, force=False)
    assert ctx.connection is not None
    ctx.say(*render_plan(plan, directory=str(directory), url=ctx.connection.url))
    return EXIT_OK if plan.in_sync else EXIT_DIFFERENT


def _make_plan(
    ctx: Context,
    local: list[LocalAgent],
    lock: Lock,
    state: ServerState,
    *,
    prune: bool,
    force: bool,
) -> Plan:
    try:
        return make_plan(local, lock, state, prune=prune, force=force)
    except PlanError as exc:
        ctx.warn(*render_problems(exc.problems))
        raise CtlError(
            f"{count(len(exc.problems), 'problem')} in the files: fix them; nothing was written"
        ) from None


def apply(ctx: Context, args: argparse.Namespace) -> int:
    directory = _directory(args.directory, must_exist=True)
    local = _read_files(ctx, directory)
    lock = _read_lock(directory)
    with ctx.connect(args) as client:
        state = read_server(client)
        plan = _make_plan(ctx, local, lock, state, prune=args.prune, force=args.force)
        assert ctx.connection is not None
        url = ctx.connection.url
        ctx.say(*render_plan(plan, directory=str(directory), url=url))
        if plan.conflicts:
            raise CtlError(
                f"{count(len(plan.conflicts), 'conflict')}: nothing was applied. Take the "
                "server's changes with agentsctl pull (after saving yours), or apply --force to "
                "overwrite them"
            )
        if plan.has_changes and not args.dry_run and state.role is not Role.ADMIN:
            raise CtlError(
                f"this credential is a {state.role.value}'s: applying needs an admin's API key "
                "or token (a member's is enough for pull and diff); nothing was written"
            )
        applier = Applier(client, plan, describe=ctx.describe)
        if not plan.has_changes:
            if not args.dry_run:
                write_lock(directory, applier.lock)
            ctx.say("Nothing to apply.")
            return EXIT_OK
        if args.dry_run:
            ctx.say("Dry run: nothing was written.")
            return EXIT_OK
        if not args.yes:
            if not ctx.stdin.isatty():
                raise CtlError(
                    "apply asks before writing and there is no terminal to ask on: pass --yes "
                    "to apply without asking"
                )
            print(f"Apply this plan to {url}? [y/N] ", end="", file=ctx.stdout, flush=True)
            answer = ctx.stdin.readline().strip().lower()
            if answer not in {"y", "yes"}:
                raise CtlError("apply cancelled: nothing was written")
        try:
            new_lock = applier.run(ctx.say)
        except ApplyFailed as failure:
            write_lock(directory, failure.lock)
            ctx.warn(
                *render_steps("Applied:", failure.done),
                *render_steps("Not applied:", failure.not_done),
            )
            settled = (
                "the outcome of the failed step is unknown: run agentsctl diff to see the "
                "server's state"
                if failure.uncertain
                else "fix the problem and apply again"
            )
            raise CtlError(
                f"{failure.message}. {directory / 'agents.lock'} records what was applied; "
                f"{settled}"
            ) from None
        write_lock(directory, new_lock)
        ctx.say(
            f"Applied: {len(plan.creates)} created, {len(plan.updates)} updated, "
            f"{len(plan.deletes)} deleted, {len(plan.unchanged)} unchanged."
        )
        return EXIT_OK


# -- the parser ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    summary: str
    description: str
    arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[Context, argparse.Namespace], int]


def _directory_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("directory", metavar="DIR", help="the directory of agent files")


def _pull_arguments(parser: argparse.ArgumentParser) -> None:
    _directory_argument(parser)
    parser.add_argument(
        "--force",
        action="store_true",
        help="overwrite files changed here and not yet applied (their changes are lost)",
    )


def _diff_arguments(parser: argparse.ArgumentParser) -> None:
    _directory_argument(parser)
    parser.add_argument(
        "--prune",
        action="store_true",
        help="delete the agents whose files were removed (agents these files never held are "
        "conflicts: deleted only with --force)",
    )


def _apply_arguments(parser: argparse.ArgumentParser) -> None:
    _diff_arguments(parser)
    parser.add_argument(
        "--dry-run", action="store_true", help="show the plan and check it, write nothing"
    )
    parser.add_argument(
        "--yes", "-y", action="store_true", help="apply without asking (needed without a terminal)"
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="apply over conflicts: overwrite changes made on the server since the pull",
    )


COMMANDS: Final[tuple[Command, ...]] = (
    Command(
        "pull",
        "write the organization's agents into DIR",
        "Write every active agent of the organization as DIR/<name>.yaml, and DIR/agents.lock "
        "(each file's agent id and version). Refuses to overwrite changes not yet applied, "
        "unless --force; removes the files of agents no longer on the server.",
        _pull_arguments,
        pull,
    ),
    Command(
        "diff",
        "show what apply would change, writing nothing",
        "Compare DIR with the server and show the plan: agents to create, to update (each "
        "changed member; instructions as a unified diff), to delete (with --prune), "
        "conflicts, unchanged. Exit status: 0 in sync, 2 when they differ, 1 on error.",
        _diff_arguments,
        diff,
    ),
    Command(
        "apply",
        "make the server hold the agents of DIR",
        "Show the plan, ask (unless --yes), then apply it: create new agents (handoffs by name, "
        "cycles included, in one all-or-nothing import), update changed ones with If-Match "
        "(the lock's version), delete those whose files were removed (with --prune). An agent "
        "changed on the server since the pull is a conflict: nothing is applied unless --force.",
        _apply_arguments,
        apply,
    ),
    # The release and environment commands (release create, deploy, promote, rollback, status)
    # are added to this table once the SDK has ``client.releases`` and ``client.environments``.
)


def _connection_arguments(parser: argparse.ArgumentParser, *, defaults: bool) -> None:
    """Connection options, accepted before or after the command's name."""
    default: object = None if defaults else argparse.SUPPRESS
    group = parser.add_argument_group("connection")
    group.add_argument("--url", default=default, help="the API's base URL (default: $AGENTS_URL)")
    group.add_argument(
        "--api-key",
        default=default,
        help="an admin API key (default: $AGENTS_API_KEY; prefer the variable: a command "
        "line is visible to other users of the machine)",
    )
    group.add_argument(
        "--token", default=default, help="an access token instead of a key (default: $AGENTS_TOKEN)"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="agentsctl",
        description="Agent configuration as code: keep an organization's agents as YAML files "
        "in git, review changes as diffs, apply them from CI.",
    )
    parser.add_argument("--version", action="version", version=f"agentsctl {VERSION}")
    _connection_arguments(parser, defaults=True)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in COMMANDS:
        sub = commands.add_parser(
            command.name, help=command.summary, description=command.description
        )
        command.arguments(sub)
        _connection_arguments(sub, defaults=False)
        sub.set_defaults(run=command.run)
    return parser


def main(
    argv: Sequence[str] | None = None,
    *,
    http_client: httpx.Client | None = None,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    environ: Mapping[str, str] | None = None,
) -> int:
    """Run ``agentsctl`` with ``argv`` (default: the process's arguments); returns the exit
    status. The keyword arguments replace the process's streams and environment, and give an
    ``httpx.Client`` to reach the server through (tests use one over the app)."""
    ctx = Context(
        stdin=stdin or sys.stdin,
        stdout=stdout or sys.stdout,
        stderr=stderr or sys.stderr,
        environ=os.environ if environ is None else environ,
        http_client=http_client,
    )
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error (already printed)
        return exc.code if isinstance(exc.code, int) else EXIT_ERROR
    try:
        code: int = args.run(ctx, args)
    except CtlError as exc:
        ctx.warn(f"agentsctl: {exc}")
        return EXIT_ERROR
    except ServerChanging as exc:
        ctx.warn(f"agentsctl: {exc}")
        return EXIT_ERROR
    except AgentsError as exc:
        ctx.warn(f"agentsctl: {ctx.describe(exc)}")
        return EXIT_ERROR
    except KeyboardInterrupt:
        ctx.warn("agentsctl: interrupted")
        return EXIT_INTERRUPTED
    return code
