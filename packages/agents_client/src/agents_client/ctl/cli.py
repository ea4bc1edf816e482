"""The ``agentsctl`` command line.

Exit status: 0 done (``diff``: in sync; ``status DIR``: the files match), 1 error or refusal
(nothing written unless the message says what was), 2 the files and the server differ
(``diff``) or the files and what an environment serves (``status DIR``), 130 interrupted. Every
error is one line naming the problem and the fix; a bad agent file is one line per problem,
``path:line: message``. ``--json`` prints a command's outcome as one line of JSON instead.
"""

from __future__ import annotations

import argparse
import difflib
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Final, TextIO
from uuid import UUID

import httpx
import msgspec

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
from agents_client.ctl.plan import Plan, PlanError, make_plan, name_key, unapplied_changes
from agents_client.ctl.report import (
    count,
    render_move,
    render_plan,
    render_problems,
    render_release,
    render_served,
    render_status,
    render_steps,
)
from agents_client.ctl.served import Mismatch, Served, compare_served, read_served
from agents_client.ctl.server import ServerChanging, ServerState, read_server
from agents_client.errors import (
    AgentsError,
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    EmptyReleaseError,
    EnvironmentNotFoundError,
    InvalidAgentsError,
    InvalidEnvironmentError,
    InvalidReleaseError,
    NothingToRollBackError,
    NotInHistoryError,
    PermissionDeniedError,
    RateLimitError,
    RevisionMismatchError,
    ServerError,
)
from agents_core.schemas import (
    ENVIRONMENT_NAME,
    MAX_INT32,
    MAX_RELEASE_MESSAGE,
    Canary,
    Environment,
    EnvironmentPut,
    ReleaseCreate,
    Role,
)

__all__ = ["main"]

EXIT_OK: Final = 0
EXIT_ERROR: Final = 1
EXIT_DIFFERENT: Final = 2
EXIT_INTERRUPTED: Final = 130

DEFAULT_ENVIRONMENT: Final = "production"
"""The environment ``status DIR`` compares the files with, unless ``--env`` names another."""

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


@dataclass(frozen=True, slots=True)
class DirectoryFiles:
    """A directory's agent files and lock, read before anything is asked of the server."""

    path: Path
    local: list[LocalAgent]
    lock: Lock


def _read_directory(ctx: Context, raw: str) -> DirectoryFiles:
    """The agent files and lock of the directory ``raw``, which must exist."""
    path = _directory(raw, must_exist=True)
    return DirectoryFiles(path, _read_files(ctx, path), _read_lock(path))


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
    files = _read_directory(ctx, args.directory)
    with ctx.connect(args) as client:
        state = read_server(client)
    plan = _make_plan(ctx, files, state, prune=args.prune, force=False)
    assert ctx.connection is not None
    ctx.say(*render_plan(plan, directory=str(files.path), url=ctx.connection.url))
    return EXIT_OK if plan.in_sync else EXIT_DIFFERENT


def _make_plan(
    ctx: Context, files: DirectoryFiles, state: ServerState, *, prune: bool, force: bool
) -> Plan:
    try:
        return make_plan(files.local, files.lock, state, prune=prune, force=force)
    except PlanError as exc:
        ctx.warn(*render_problems(exc.problems))
        raise CtlError(
            f"{count(len(exc.problems), 'problem')} in the files: fix them; nothing was written"
        ) from None


def apply(ctx: Context, args: argparse.Namespace) -> int:
    files = _read_directory(ctx, args.directory)
    directory = files.path
    with ctx.connect(args) as client:
        state = read_server(client)
        plan = _make_plan(ctx, files, state, prune=args.prune, force=args.force)
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


# -- releases and environments ------------------------------------------------------------------


def _say_json(ctx: Context, value: object) -> None:
    ctx.say(msgspec.json.encode(value).decode())


def _new_environment_name(name: str) -> str:
    """A name an environment can be created under (the API's pattern), checked before asking."""
    if ENVIRONMENT_NAME.fullmatch(name) is None:
        raise CtlError(
            f"{name!r} is not an environment name: use lower-case letters, digits, '-' and '_', "
            "starting with a letter or digit, at most 63 characters (e.g. production)"
        )
    return name


def _no_environment(name: str) -> CtlError:
    return CtlError(f"there is no environment named {name!r}: agentsctl status lists them")


def _find_environment(client: AgentsClient, name: str) -> Environment | None:
    try:
        return client.environments.get(name)
    except EnvironmentNotFoundError:
        return None


def _report_move(
    ctx: Context, args: argparse.Namespace, before: Environment | None, after: Environment
) -> int:
    if args.json:
        changed = before is None or before.revision != after.revision
        _say_json(ctx, {"changed": changed, "previous": before, "environment": after})
    else:
        ctx.say(render_move(before, after))
    return EXIT_OK


def _agent_ids(state: ServerState, names: Sequence[str]) -> list[UUID]:
    """The ids of the agents named (compared ignoring case, as the API compares names), each
    once; an unknown name is an error naming it before anything is written."""
    by_key = {name_key(agent.config.name): agent for agent in state.agents}
    unknown = [name for name in dict.fromkeys(names) if name_key(name) not in by_key]
    if unknown:
        described = []
        for name in unknown:
            close = difflib.get_close_matches(name_key(name), list(by_key), n=1)
            hint = f" (did you mean {by_key[close[0]].config.name!r}?)" if close else ""
            described.append(f"{name!r}{hint}")
        noun = "agent" if len(unknown) == 1 else "agents"
        raise CtlError(
            f"no active {noun} named {', '.join(described)}: check the spelling (agentsctl "
            "pull writes a file for every agent); nothing was released"
        )
    return list(dict.fromkeys(by_key[name_key(name)].id for name in names))


def _directory_agents(ctx: Context, files: DirectoryFiles, state: ServerState) -> dict[UUID, int]:
    """The agents ``files`` stand for, with their versions, when the server
    holds exactly what the files say; otherwise an error (a release holds server versions, so
    releasing files not yet applied would release something else)."""
    directory = files.path
    if not files.local:
        raise CtlError(
            f"{directory} holds no agent files: agentsctl pull {directory} writes them; "
            "nothing was released"
        )
    plan = _make_plan(ctx, files, state, prune=False, force=False)
    unapplied = [
        f"{len(plan.creates)} to create" if plan.creates else "",
        f"{len(plan.updates)} to update" if plan.updates else "",
        count(len(plan.conflicts), "conflict") if plan.conflicts else "",
    ]
    if any(unapplied):
        raise CtlError(
            f"{directory} does not match the server ({', '.join(filter(None, unapplied))}): "
            f"agentsctl apply {directory} first (agentsctl diff {directory} shows the plan); "
            "nothing was released"
        )
    return {unchanged.agent.id: unchanged.agent.version for unchanged in plan.unchanged}


def _inactive_agents(error: InvalidAgentsError, ids: Sequence[UUID], state: ServerState) -> str:
    names = {agent.id: agent.config.name for agent in state.agents}
    gone = []
    for field_error in error.errors:
        index = field_error.field.removeprefix("agents[").removesuffix("]")
        if index.isdigit() and int(index) < len(ids):
            gone.append(repr(names.get(ids[int(index)], str(ids[int(index)]))))
    which = ", ".join(gone) or "some of those agents"
    verb = "is no longer an active agent" if len(gone) == 1 else "are no longer active agents"
    return (
        f"{which} {verb} (deleted meanwhile): check the names and run again; nothing was released"
    )


def release_create(ctx: Context, args: argparse.Namespace) -> int:
    message: str | None = args.message
    if message is not None and len(message) > MAX_RELEASE_MESSAGE:
        raise CtlError(
            f"the message has {len(message)} characters: a release's message has at most "
            f"{MAX_RELEASE_MESSAGE}"
        )
    if message is not None and "\x00" in message:
        raise CtlError("the message holds a NUL character: remove it")
    if args.agents and args.dir:
        raise CtlError(
            "--agent and --dir were both given: pass one (--dir releases the agents of the "
            "directory's files)"
        )
    files: DirectoryFiles | None = None
    if args.dir:
        files = _read_directory(ctx, args.dir)
    with ctx.connect(args) as client:
        ids: list[UUID] | None = None
        expected: dict[UUID, int] = {}
        state: ServerState | None = None
        if args.agents or files is not None:
            state = read_server(client)
            if files is not None:
                expected = _directory_agents(ctx, files, state)
                ids = list(expected)
            else:
                ids = _agent_ids(state, args.agents)
        try:
            release = client.releases.create(ReleaseCreate(message=message, agents=ids))
        except InvalidAgentsError as exc:
            assert ids is not None
            assert state is not None
            raise CtlError(_inactive_agents(exc, ids, state)) from None
        except EmptyReleaseError:
            raise CtlError(
                "the organization has no active agent to release: create agents first "
                "(agentsctl apply DIR)"
            ) from None
    if args.json:
        _say_json(ctx, release)
    else:
        ctx.say(*render_release(release, named=None if ids is None else set(ids)))
    moved = [
        f"{member.name!r} (version {expected[member.agent_id]} → {member.version})"
        for member in release.agents
        if member.agent_id in expected and member.version != expected[member.agent_id]
    ]
    if moved:
        assert files is not None
        raise CtlError(
            f"release {release.number} does not match {files.path}: {', '.join(moved)} changed "
            f"on the server while it was made; do not deploy it (agentsctl diff {files.path} "
            "shows the change)"
        )
    return EXIT_OK


def _missing_releases(client: AgentsClient, error: InvalidReleaseError, put: EnvironmentPut) -> str:
    fields = {field_error.field for field_error in error.errors}
    missing = []
    if "release" in fields or not fields:
        missing.append(f"release {put.release}")
    if "canary.release" in fields and put.canary is not None:
        missing.append(f"canary release {put.canary.release}")
    latest = client.releases.list(limit=1)
    newest = (
        f"the latest is release {latest.items[0].number}" if latest.items else "there is none yet"
    )
    verb = "does" if len(missing) == 1 else "do"
    return (
        f"{' and '.join(missing)} {verb} not exist ({newest}): pick an existing release, or "
        "make one with agentsctl release create; nothing was deployed"
    )


def deploy(ctx: Context, args: argparse.Namespace) -> int:
    name = _new_environment_name(args.environment)
    canary: Canary | None = None
    if args.weight is not None and args.canary is None:
        raise CtlError(
            "--weight is the canary's share of calls: pass it with --canary RELEASE "
            "(or leave both out to serve RELEASE to every call)"
        )
    if args.canary is not None:
        if args.weight is None:
            raise CtlError(
                f"--canary {args.canary} needs --weight N: the percent of calls (1 to 99) it serves"
            )
        if not 1 <= args.weight <= 99:
            raise CtlError(
                f"--weight {args.weight}: a canary serves 1 to 99 percent of calls (to serve it "
                f"to every call, deploy it: agentsctl deploy {name} {args.canary})"
            )
        canary = Canary(release=args.canary, weight=args.weight)
    put = EnvironmentPut(release=args.release, canary=canary)
    with ctx.connect(args) as client:
        before = _find_environment(client, name)
        try:
            after = client.environments.put(name, put)
        except InvalidReleaseError as exc:
            raise CtlError(_missing_releases(client, exc, put)) from None
    return _report_move(ctx, args, before, after)


def promote(ctx: Context, args: argparse.Namespace) -> int:
    target = _new_environment_name(args.target)
    with ctx.connect(args) as client:
        before = _find_environment(client, target)
        try:
            after = client.environments.promote(target, from_=args.source)
        except InvalidEnvironmentError:
            raise CtlError(
                f"there is no environment named {args.source!r} to promote from: agentsctl "
                "status lists them"
            ) from None
    return _report_move(ctx, args, before, after)


def rollback(ctx: Context, args: argparse.Namespace) -> int:
    name: str = args.environment
    wanted: int | None = args.release
    with ctx.connect(args) as client:
        before = _find_environment(client, name)
        if before is None:
            raise _no_environment(name)
        try:
            # The revision just read: "the release before the current one" is relative, so a
            # move by someone else meanwhile must not be undone instead.
            after = client.environments.rollback(name, wanted, expected_revision=before.revision)
        except NothingToRollBackError:
            raise CtlError(
                f"{name} has served no release but release {before.release}: nothing to roll "
                f"back to (agentsctl deploy {name} RELEASE moves it)"
            ) from None
        except NotInHistoryError:
            served = sorted({move.release for move in client.environments.iter_history(name)})
            raise CtlError(
                f"{name} never served release {wanted}: roll back to one it served "
                f"({', '.join(map(str, served))}), or agentsctl deploy {name} {wanted}"
            ) from None
        except RevisionMismatchError:
            raise CtlError(
                f"{name} moved while agentsctl was rolling it back: nothing was changed; check "
                "agentsctl status and run again"
            ) from None
        except EnvironmentNotFoundError:
            raise _no_environment(name) from None
    return _report_move(ctx, args, before, after)


def _compare_directory(
    client: AgentsClient,
    files: DirectoryFiles,
    name: str,
    environments: list[Environment],
    *,
    named: bool,
) -> tuple[Served, list[Mismatch]]:
    """What environment ``name`` serves, and how the files differ from it."""
    compared = next((e for e in environments if e.name == name), None)
    if compared is None:
        other = "" if named else " (or pass --env)"
        raise CtlError(
            f"there is no environment named {name!r} to compare {files.path} with: agentsctl "
            f"deploy {name} RELEASE creates it{other}"
        )
    served = read_served(client, compared)
    organization_id = client.auth.me().organization_id
    entries = files.lock.for_organization(organization_id)
    return served, compare_served(files.local, entries, served)


def status(ctx: Context, args: argparse.Namespace) -> int:
    if args.env is not None and args.directory is None:
        raise CtlError("--env names the environment to compare DIR with: pass DIR too")
    files: DirectoryFiles | None = None
    if args.directory is not None:
        files = _read_directory(ctx, args.directory)
    with ctx.connect(args) as client:
        environments = client.environments.list()
        compared = (
            None
            if files is None
            else _compare_directory(
                client,
                files,
                args.env or DEFAULT_ENVIRONMENT,
                environments,
                named=args.env is not None,
            )
        )
    if files is None or compared is None:
        if args.json:
            _say_json(ctx, {"environments": environments})
        else:
            ctx.say(*render_status(environments))
        return EXIT_OK
    served, mismatches = compared
    if args.json:
        directory = {
            "path": str(files.path),
            "environment": served.environment.name,
            "release": served.release.number,
            "matches": not mismatches,
            "differences": mismatches,
        }
        _say_json(ctx, {"environments": environments, "directory": directory})
    else:
        ctx.say(*render_status(environments), "")
        ctx.say(*render_served(served, mismatches, directory=str(files.path)))
    return EXIT_DIFFERENT if mismatches else EXIT_OK


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


def _release_number(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        number = 0
    if not 1 <= number <= MAX_INT32:
        raise argparse.ArgumentTypeError(f"{text!r} is not a release number (1, 2, 3 …)")
    return number


def _release_argument(
    parser: argparse.ArgumentParser, name: str, help: str, metavar: str = "RELEASE"
) -> None:
    """An argument (positional, or an option) that takes a release's number."""
    parser.add_argument(name, metavar=metavar, type=_release_number, help=help)


def _json_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--json",
        action="store_true",
        help="print the outcome as one line of JSON (the API's objects) instead of text",
    )


def _release_create_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-m", "--message", help=f"what the release is (at most {MAX_RELEASE_MESSAGE} characters)"
    )
    parser.add_argument(
        "--agent",
        dest="agents",
        metavar="NAME",
        action="extend",
        nargs="+",
        help="release only these agents (by name, ignoring case) and those they hand off to",
    )
    parser.add_argument(
        "--dir",
        metavar="DIR",
        help="release exactly the agents of DIR's agent files (refused unless they match the "
        "server)",
    )
    _json_argument(parser)


def _deploy_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("environment", metavar="ENV", help="the environment, e.g. production")
    _release_argument(parser, "release", "the release's number")
    _release_argument(parser, "--canary", "a second release, serving --weight percent of calls")
    parser.add_argument(
        "--weight",
        metavar="N",
        type=int,
        help="the percent of calls (1 to 99) the canary serves; only with --canary",
    )
    _json_argument(parser)


def _promote_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", metavar="FROM", help="the environment to take the release of")
    parser.add_argument("target", metavar="TO", help="the environment to move")
    _json_argument(parser)


def _rollback_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("environment", metavar="ENV", help="the environment to move back")
    _release_argument(
        parser,
        "--release",
        "the release to go back to (one ENV served before; default: the one before)",
        metavar="N",
    )
    _json_argument(parser)


def _status_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "directory",
        metavar="DIR",
        nargs="?",
        help="a directory of agent files to compare with what an environment serves",
    )
    parser.add_argument(
        "--env",
        metavar="ENV",
        help=f"the environment to compare DIR with (default: {DEFAULT_ENVIRONMENT})",
    )
    _json_argument(parser)


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
    Command(
        "release create",
        "release the organization's agents at their current versions",
        "Make a release: every active agent at its current version, or (--agent) the agents "
        "named and every agent they hand off to, or (--dir) exactly the agents of a directory's "
        "files, which must match the server (apply them first). Prints the release's number "
        "and its agents.",
        _release_create_arguments,
        release_create,
    ),
    Command(
        "deploy",
        "make an environment serve a release",
        "Point ENV (created if new) at RELEASE, optionally with a canary: another release "
        "serving WEIGHT percent of calls. Deploying what ENV already serves changes nothing.",
        _deploy_arguments,
        deploy,
    ),
    Command(
        "promote",
        "make an environment serve what another one serves",
        "Point TO (created if new) at the release FROM serves; FROM's canary is not taken, "
        "TO's is cleared.",
        _promote_arguments,
        promote,
    ),
    Command(
        "rollback",
        "move an environment back to a release it served",
        "Move ENV back to the release it served before its current one (twice in a row goes "
        "back and forth), or to --release N, one it served before. The canary is cleared.",
        _rollback_arguments,
        rollback,
    ),
    Command(
        "status",
        "show the environments and what each serves",
        "A table of the environments: release, canary (release and percent of calls), "
        "revision, last move. With DIR, also whether DIR's agent files match the release "
        f"{DEFAULT_ENVIRONMENT} (or --env) serves: exit status 0 when they match, 2 when they "
        "differ.",
        _status_arguments,
        status,
    ),
)

GROUPS: Final[dict[str, tuple[str, str]]] = {
    "release": ("make releases", "Releases: immutable sets of agents, each at a version."),
}
"""Commands named ``<group> <name>``: the group's summary and description."""


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
    groups: dict[str, argparse._SubParsersAction[argparse.ArgumentParser]] = {}
    for command in COMMANDS:
        group, _, name = command.name.rpartition(" ")
        parent = commands
        if group:
            if group not in groups:
                summary_text, description = GROUPS[group]
                group_parser = commands.add_parser(
                    group, help=summary_text, description=description
                )
                groups[group] = group_parser.add_subparsers(
                    dest=f"{group}_command", metavar="COMMAND", required=True
                )
            parent = groups[group]
        sub = parent.add_parser(name, help=command.summary, description=command.description)
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
