"""Settings, read once from ``AGENTS_*`` environment variables into one typed object.

A bad value fails at start-up with a message that names the variable and says how to fix it.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from ipaddress import ip_network
from pathlib import Path
from typing import Any, TypeVar

__all__ = ["RateLimit", "Settings", "SettingsError"]

logger = logging.getLogger("agents_api.settings")

ENVIRONMENTS = ("development", "production", "test")
MIN_SECRET_LENGTH = 32


class SettingsError(ValueError):
    """A setting is missing or malformed; the message says which one and how to fix it."""


def _bool(environ: Mapping[str, str], name: str, default: bool) -> bool:
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise SettingsError(f"{name}={raw!r} is not a boolean: use true or false")


N = TypeVar("N", int, float)


def _number(
    environ: Mapping[str, str],
    name: str,
    default: N,
    parse: Callable[[str], N],
    *,
    minimum: N,
    maximum: N,
    kind: str,
    unit: str = "",
) -> N:
    """A number from ``name`` between ``minimum`` and ``maximum``; ``kind`` and ``unit`` say
    what it is in the messages."""
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = parse(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not {kind}") from None
    if not minimum <= value <= maximum:
        raise SettingsError(f"{name}={raw} is out of range: use {minimum} to {maximum}{unit}")
    return value


def _int(environ: Mapping[str, str], name: str, default: int, *, minimum: int, maximum: int) -> int:
    return _number(
        environ, name, default, int, minimum=minimum, maximum=maximum, kind="a whole number"
    )


def _seconds(
    environ: Mapping[str, str], name: str, default: float, *, minimum: float, maximum: float
) -> float:
    return _number(
        environ,
        name,
        default,
        float,
        minimum=minimum,
        maximum=maximum,
        kind="a number of seconds",
        unit=" seconds",
    )


def _choice(environ: Mapping[str, str], name: str, default: str, choices: tuple[str, ...]) -> str:
    raw = environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value not in choices:
        raise SettingsError(f"{name}={raw!r} is not one of {', '.join(choices)}")
    return value


def _secret_key(environ: Mapping[str, str], env: str, var_dir: Path) -> str:
    key = environ.get("AGENTS_SECRET_KEY", "")
    if key:
        if env == "production" and len(key) < MIN_SECRET_LENGTH:
            raise SettingsError(
                f"AGENTS_SECRET_KEY is too short for production ({len(key)} characters): use at "
                f"least {MIN_SECRET_LENGTH}, e.g. the output of "
                "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`"
            )
        return key
    if env == "production":
        raise SettingsError(
            "AGENTS_SECRET_KEY is not set, and AGENTS_ENV=production refuses to run without it. "
            "Set it to a long random string, e.g. `export AGENTS_SECRET_KEY="
            "$(python -c 'import secrets; print(secrets.token_urlsafe(48))')`"
        )
    path = var_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    var_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    path.write_text(key)
    path.chmod(0o600)
    logger.warning(
        "AGENTS_SECRET_KEY is not set: generated a development key in %s. "
        "Set AGENTS_SECRET_KEY in production.",
        path,
    )
    return key


def _var_dir(environ: Mapping[str, str]) -> Path:
    """``AGENTS_VAR_DIR``, else the project's ``var`` folder: ``./var`` when it exists, else the
    nearest ``var`` above the working directory that holds a database (``agents.db``), so that a
    command run from a subfolder uses the project's database rather than a new empty one; else
    ``./var`` (a new database there: the command line and the server say so when they create
    it)."""
    configured = environ.get("AGENTS_VAR_DIR", "")
    if configured:
        return Path(configured)
    here = Path.cwd()
    if (here / "var").is_dir():
        return here / "var"
    for folder in here.parents:
        if (folder / "var" / "agents.db").is_file():
            return folder / "var"
    return here / "var"


@dataclass(frozen=True, slots=True)
class RateLimit:
    """``amount`` requests per ``per`` (``second``, ``minute`` or ``hour``)."""

    amount: int
    per: str

    def __str__(self) -> str:
        return f"{self.amount}/{self.per}"


RATE_PERIODS = ("second", "minute", "hour")


def _rate_limit(environ: Mapping[str, str], name: str, default: RateLimit) -> RateLimit | None:
    raw = environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    text = raw.strip().lower()
    if text == "0":
        return None
    amount, sep, per = text.partition("/")
    per = per.strip()
    if per.endswith("s") and per[:-1] in RATE_PERIODS:
        per = per[:-1]  # "30/minutes" reads as meant
    if sep and amount.strip().isdigit() and 1 <= int(amount) <= 1_000_000 and per in RATE_PERIODS:
        return RateLimit(int(amount), per)
    raise SettingsError(
        f"{name}={raw!r} is not a rate: use N/second, N/minute or N/hour (N from 1 to "
        "1000000), e.g. 30/minute, or 0 to turn the limit off"
    )


def _networks(environ: Mapping[str, str], name: str) -> tuple[str, ...]:
    networks = []
    for item in environ.get(name, "").split(","):
        if not item.strip():
            continue
        try:
            networks.append(str(ip_network(item.strip(), strict=False)))
        except ValueError:
            raise SettingsError(
                f"{name}: {item.strip()!r} is not an IP address or network: use a "
                "comma-separated list such as 10.0.0.1,192.168.0.0/16"
            ) from None
    return tuple(networks)


def _origins(environ: Mapping[str, str], name: str) -> tuple[str, ...]:
    origins = []
    for item in environ.get(name, "").split(","):
        origin = item.strip().rstrip("/").lower()
        if not origin:
            continue
        scheme, sep, host = origin.partition("://")
        if scheme not in {"http", "https"} or not sep or not host or "/" in host:
            raise SettingsError(
                f"{name}: {item.strip()!r} is not an origin: use a comma-separated list of "
                "scheme://host[:port], such as https://dashboard.example.com"
            )
        origins.append(origin)
    return tuple(origins)


def _redis_url(environ: Mapping[str, str], name: str) -> str | None:
    raw = environ.get(name, "").strip()
    if not raw:
        return None
    if not raw.startswith(("redis://", "rediss://", "unix://")):
        raise SettingsError(
            f"{name} must be a redis://, rediss:// or unix:// URL, e.g. redis://127.0.0.1:6379/0"
        )
    return raw


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    env: str = "development"
    database_url: str
    secret_key: str
    access_token_ttl: int = 3600
    allow_signup: bool = True
    migrate_on_start: bool = True
    db_pool_size: int = 10
    db_timeout: float = 5.0
    max_body_size: int = 1024 * 1024
    log_level: str = "info"
    log_format: str = "text"
    access_log: bool = True
    """One log line per request (``--no-access-log`` turns it off)."""
    metrics: bool = True
    """Serve ``GET /metrics`` and count requests for it."""
    metrics_token: str | None = None
    """Bearer token ``/metrics`` asks for; open when None."""
    tracing: bool = False
    """OpenTelemetry traces, as the standard ``OTEL_*`` variables ask."""
    login_max_failures: int = 10
    """Failed logins for one email within ``login_window`` before its logins answer 429."""
    login_window: int = 900
    """Seconds a failed login counts against its email."""
    auth_rate_limit: RateLimit | None = field(default_factory=lambda: RateLimit(30, "minute"))
    """Sign-ups and logins per client address (None: no limit)."""
    trusted_proxies: tuple[str, ...] = ()
    """Peers (addresses or networks, e.g. ``10.0.0.0/8``) whose ``X-Forwarded-For`` names the
    client."""
    redis_url: str | None = None
    """Where the rate-limit and login counters are shared; each process keeps its own when None."""
    cors_origins: tuple[str, ...] = ()
    """Origins a browser may call the API from (CORS is off when empty)."""
    shutdown_timeout: float = 30.0
    """Seconds the server finishes requests in flight for after SIGTERM."""

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, *, signs_tokens: bool = True
    ) -> Settings:
        """Read and check every setting.

        ``signs_tokens=False`` is for commands that issue and check no token (migrations, seed,
        the OpenAPI document): ``secret_key`` is then left empty, and no development key is
        generated for them.
        """
        environ = os.environ if environ is None else environ
        env = environ.get("AGENTS_ENV", "development").strip().lower() or "development"
        if env not in ENVIRONMENTS:
            raise SettingsError(f"AGENTS_ENV={env!r} is not one of {', '.join(ENVIRONMENTS)}")
        var_dir = _var_dir(environ)
        database_url = environ.get("AGENTS_DATABASE_URL", "") or f"sqlite:///{var_dir}/agents.db"
        from agents_core.db.database import normalize_database_url

        try:
            normalize_database_url(database_url)
        except ValueError as exc:
            raise SettingsError(f"AGENTS_DATABASE_URL: {exc}") from None
        return cls(
            env=env,
            database_url=database_url,
            secret_key=_secret_key(environ, env, var_dir) if signs_tokens else "",
            access_token_ttl=_int(
                environ, "AGENTS_ACCESS_TOKEN_TTL", 3600, minimum=60, maximum=30 * 24 * 3600
            ),
            allow_signup=_bool(environ, "AGENTS_ALLOW_SIGNUP", True),
            migrate_on_start=_bool(environ, "AGENTS_MIGRATE_ON_START", True),
            db_pool_size=_int(environ, "AGENTS_DB_POOL_SIZE", 10, minimum=1, maximum=1000),
            db_timeout=_seconds(environ, "AGENTS_DB_TIMEOUT", 5.0, minimum=0.1, maximum=600),
            **_observability(environ),
            **_edge(environ),
        )


def _observability(environ: Mapping[str, str]) -> dict[str, Any]:
    from agents_api.logs import LOG_FORMATS, LOG_LEVELS
    from agents_api.tracing import tracing_requested, tracing_setup_error

    tracing = tracing_requested(environ)
    if tracing and (problem := tracing_setup_error(environ)) is not None:
        raise SettingsError(problem)
    return {
        "log_level": _choice(environ, "AGENTS_LOG_LEVEL", "info", LOG_LEVELS),
        "log_format": _choice(environ, "AGENTS_LOG_FORMAT", "text", LOG_FORMATS),
        "access_log": _bool(environ, "AGENTS_ACCESS_LOG", True),
        "metrics": _bool(environ, "AGENTS_METRICS", True),
        "metrics_token": environ.get("AGENTS_METRICS_TOKEN", "").strip() or None,
        "tracing": tracing,
    }


def _edge(environ: Mapping[str, str]) -> dict[str, Any]:
    """Throttling, client addresses, CORS and shutdown."""
    return {
        "login_max_failures": _int(
            environ, "AGENTS_LOGIN_MAX_FAILURES", 10, minimum=1, maximum=1_000_000
        ),
        "login_window": _int(environ, "AGENTS_LOGIN_WINDOW", 900, minimum=1, maximum=7 * 86400),
        "auth_rate_limit": _rate_limit(environ, "AGENTS_AUTH_RATE_LIMIT", RateLimit(30, "minute")),
        "trusted_proxies": _networks(environ, "AGENTS_TRUSTED_PROXIES"),
        "redis_url": _redis_url(environ, "AGENTS_REDIS_URL"),
        "cors_origins": _origins(environ, "AGENTS_CORS_ORIGINS"),
        "shutdown_timeout": _seconds(
            environ, "AGENTS_SHUTDOWN_TIMEOUT", 30.0, minimum=0, maximum=3600
        ),
    }
