"""A throwaway PostgreSQL cluster of the test's own, which a test may freeze, and the API served
on it as a real process.

Fault tests cannot use the shared server (at 127.0.0.1:5432): freezing it would stall everyone
else's tests, and they must never stop or reconfigure it. So they make their own cluster with the
server binaries installed on the machine and serve the app on it as a separate process, which a
frozen database can stall exactly as it would in production (an in-process app would share the
test's event loop and hide what a stuck driver does to the server).

Reuse, from a test module or a conftest::

    cluster = PostgresCluster.start()          # initdb + pg_ctl start, random port
    try:
        cluster.migrate()                        # `agents database upgrade`, as operators run it
        with ServedApp.start(cluster.url, tmp_path, AGENTS_DB_TIMEOUT="2") as app:
            ... httpx against app.base_url ...
            with cluster.frozen():               # every postgres process stopped (SIGSTOP)
                ...                              # thawed (SIGCONT) on leaving, also on error
    finally:
        cluster.stop()                           # thaw, stop, remove the folder

``tests/faults/conftest.py`` wraps these as fixtures (``postgres_cluster`` for the session,
``served_app`` per test). :func:`server_binaries` is ``None`` when the machine has no PostgreSQL
server binaries; the fixtures then skip with that reason.

- **Binaries**: ``pg_config --bindir``, else the newest ``/usr/lib/postgresql/*/bin``, else
  ``initdb`` on ``PATH``.
- **User**: ``initdb`` and ``postgres`` refuse to run as root. Run as root (a container), the
  cluster runs as the ``postgres`` system user (else ``nobody``), in a temporary folder it owns;
  run as anyone else, as that user.
- **Access**: trust authentication for user ``postgres``, TCP on 127.0.0.1 only, a free port;
  the Unix socket lives in the cluster's folder. Durability is off (``fsync``,
  ``synchronous_commit``): the data is thrown away.
- **Freezing**: :meth:`PostgresCluster.freeze` stops the postmaster first (so that it forks
  nothing new), then every process it has started (backends, checkpointer, WAL writer …), found
  through ``/proc``: stopping the postmaster alone would leave the existing connections served.
  :meth:`PostgresCluster.thaw` continues them all. The server is never restarted.
- **Linux only** (``/proc``, signals).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

__all__ = [
    "PostgresCluster",
    "ServedApp",
    "free_port",
    "server_binaries",
]

SUPERUSER = "postgres"
DATABASE = "postgres"

_SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "max_connections": "100",
    "shared_buffers": "32MB",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "logging_collector": "off",
}
"""Written to the cluster's postgresql.conf (plus its port and socket folder)."""


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_binaries() -> Path | None:
    """The folder holding ``initdb``, ``pg_ctl`` and ``postgres``, or ``None`` when absent."""
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config is not None:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            output = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=True
            ).stdout.strip()
            candidates.append(Path(output))
    candidates += [
        Path(folder)
        for folder in sorted(
            glob.glob("/usr/lib/postgresql/*/bin"),
            key=lambda folder: (
                int(Path(folder).parent.name) if Path(folder).parent.name.isdigit() else 0
            ),
            reverse=True,
        )
    ]
    initdb = shutil.which("initdb")
    if initdb is not None:
        candidates.append(Path(initdb).resolve().parent)
    for folder in candidates:
        if all((folder / name).is_file() for name in ("initdb", "pg_ctl", "postgres")):
            return folder
    return None


@dataclass(frozen=True)
class _RunAs:
    """Who runs the cluster's programs: ``None`` fields mean "as this process"."""

    uid: int | None
    gid: int | None
    home: str

    @classmethod
    def for_cluster(cls) -> _RunAs:
        if os.geteuid() != 0:
            return cls(uid=None, gid=None, home=os.environ.get("HOME", "/"))
        for name in ("postgres", "nobody"):
            try:
                entry = pwd.getpwnam(name)
            except KeyError:
                continue
            return cls(uid=entry.pw_uid, gid=entry.pw_gid, home="/")
        raise RuntimeError("running as root, and neither a postgres nor a nobody user exists")

    def run(self, argv: list[str], cwd: Path, timeout: float) -> subprocess.CompletedProcess[str]:
        # A clean environment: PG* variables of the caller must not point pg_ctl elsewhere.
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": self.home, "LC_ALL": "C"}
        return subprocess.run(
            argv,
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            user=self.uid,
            group=self.gid,
            # Dropped with the user: root's supplementary groups must not follow the server.
            extra_groups=None if self.uid is None else [],
        )


@dataclass
class PostgresCluster:
    """A running cluster in a temporary folder; :meth:`stop` removes every trace of it."""

    bindir: Path
    folder: Path
    port: int
    run_as: _RunAs
    _frozen: list[int] = field(default_factory=list)

    @property
    def data(self) -> Path:
        return self.folder / "data"

    @property
    def log(self) -> Path:
        return self.folder / "server.log"

    @property
    def url(self) -> str:
        """Where the app connects: user postgres, trust authentication, database postgres."""
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{DATABASE}"

    @classmethod
    def start(cls, bindir: Path | None = None) -> PostgresCluster:
        """``initdb`` into a new temporary folder and start the server on a free port."""
        bindir = bindir or server_binaries()
        if bindir is None:
            raise RuntimeError("no PostgreSQL server binaries (initdb, pg_ctl, postgres)")
        run_as = _RunAs.for_cluster()
        folder = Path(tempfile.mkdtemp(prefix="agents-pg-"))
        if run_as.uid is not None:
            os.chown(folder, run_as.uid, run_as.gid if run_as.gid is not None else -1)
        cluster = cls(bindir=bindir, folder=folder, port=0, run_as=run_as)
        try:
            cluster._initdb()
            # Another process may take the port between the choice and the start: try again.
            for _ in range(5):
                cluster.port = free_port()
                if cluster._pg_ctl_start():
                    return cluster
            raise RuntimeError(f"PostgreSQL did not start:\n{cluster._log_tail()}")
        except BaseException:
            cluster.stop()
            raise

    def _initdb(self) -> None:
        result = self.run_as.run(
            [
                str(self.bindir / "initdb"),
                *("--pgdata", str(self.data), "--username", SUPERUSER),
                *("--auth", "trust", "--encoding", "UTF8", "--locale", "C", "--no-sync"),
            ],
            cwd=self.folder,
            timeout=120,
        )
        if result.returncode != 0:
            raise RuntimeError(f"initdb failed ({result.returncode}):\n{result.stderr}")

    def _pg_ctl_start(self) -> bool:
        settings = {
            **_SETTINGS,
            "port": str(self.port),
            "unix_socket_directories": f"'{self.folder}'",
        }
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write("".join(f"{name} = {value}\n" for name, value in settings.items()))
        result = self.run_as.run(
            [
                str(self.bindir / "pg_ctl"),
                *("start", "--pgdata", str(self.data), "--log", str(self.log)),
                *("--wait", "--timeout", "60"),
            ],
            cwd=self.folder,
            timeout=90,
        )
        return result.returncode == 0

    def _log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no server log)"

    def postmaster_pid(self) -> int | None:
        try:
            return int((self.data / "postmaster.pid").read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return None

    def processes(self) -> list[int]:
        """The postmaster's children (every other process of the cluster), from ``/proc``."""
        postmaster = self.postmaster_pid()
        if postmaster is None:
            return []
        children = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
                after_comm = stat.read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(after_comm[1]) == postmaster:
                children.append(int(stat.parent.name))
        return children

    def freeze(self) -> None:
        """Stop every process of the cluster (SIGSTOP): connections stay open, nothing answers."""
        postmaster = self.postmaster_pid()
        if postmaster is None:
            raise RuntimeError("the cluster is not running")
        os.kill(postmaster, signal.SIGSTOP)
        self._frozen.append(postmaster)
        # A child may have been forked just before the postmaster stopped: look until none is new.
        while True:
            new = [pid for pid in self.processes() if pid not in self._frozen]
            if not new:
                return
            for pid in new:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGSTOP)
                self._frozen.append(pid)

    def thaw(self) -> None:
        """Continue every process :meth:`freeze` stopped (SIGCONT), the postmaster last."""
        for pid in reversed(self._frozen):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
        self._frozen.clear()

    @contextlib.contextmanager
    def frozen(self) -> Iterator[None]:
        self.freeze()
        try:
            yield
        finally:
            self.thaw()

    def migrate(self) -> None:
        """Apply the migrations with the ``agents`` command line, as a deployment does."""
        result = subprocess.run(
            [
                sys.executable,
                "-c",
                "from agents_api.cli import main; main()",
                "database",
                "upgrade",
            ],
            env={**_without_agents_settings(os.environ), "AGENTS_DATABASE_URL": self.url},
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"agents database upgrade failed:\n{result.stdout}{result.stderr}")

    def stop(self) -> None:
        """Thaw, stop the server (immediate mode: the data is thrown away), remove the folder."""
        self.thaw()
        postmaster = self.postmaster_pid()
        if postmaster is not None:
            result = self.run_as.run(
                [
                    str(self.bindir / "pg_ctl"),
                    *("stop", "--pgdata", str(self.data), "--mode", "immediate", "--wait"),
                ],
                cwd=self.folder,
                timeout=60,
            )
            if result.returncode != 0:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(postmaster, signal.SIGKILL)
        shutil.rmtree(self.folder, ignore_errors=True)


def _without_agents_settings(environ: Mapping[str, str]) -> dict[str, str]:
    """The caller's environment minus its ``AGENTS_*`` settings: the app sees only the test's."""
    return {name: value for name, value in environ.items() if not name.startswith("AGENTS_")}


@dataclass
class ServedApp:
    """``python -m agents_api.serve`` on a free port, its output in a log file."""

    process: subprocess.Popen[bytes]
    base_url: str
    log: Path

    @classmethod
    def start(
        cls, database_url: str, folder: Path, *, timeout: float = 90, **settings: str
    ) -> ServedApp:
        """Serve the (already migrated) database at ``database_url``; ``settings`` are
        ``AGENTS_*`` variables on top of the test defaults. Returns once ``/health`` answers."""
        port = free_port()
        env = {
            **_without_agents_settings(os.environ),
            "AGENTS_ENV": "test",
            "AGENTS_DATABASE_URL": database_url,
            "AGENTS_SECRET_KEY": secrets.token_hex(32),
            "AGENTS_MIGRATE_ON_START": "false",
            "AGENTS_VAR_DIR": str(folder),
            **settings,
        }
        log = folder / f"server-{port}.log"
        with log.open("wb") as output:
            # A file, not a pipe: a pipe nobody reads would block the server once it is full.
            process = subprocess.Popen(
                [sys.executable, "-m", "agents_api.serve", "--port", str(port), "--no-access-log"],
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        app = cls(process=process, base_url=f"http://127.0.0.1:{port}", log=log)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"the server exited with {process.returncode}:\n{app.output()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{app.base_url}/health", timeout=2).status_code == 200:
                    return app
            time.sleep(0.1)
        app.stop()
        raise RuntimeError(f"the server did not answer /health in {timeout} s:\n{app.output()}")

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def output(self, lines: int = 40) -> str:
        """The end of the server's output (for failure messages)."""
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no server output)"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> ServedApp:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()
