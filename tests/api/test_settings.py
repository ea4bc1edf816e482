"""Settings: typed, from AGENTS_* variables, failing at start-up with a message that helps."""

from __future__ import annotations

from pathlib import Path

import pytest

from agents_api.settings import Settings, SettingsError


def test_defaults(tmp_path: Path) -> None:
    settings = Settings.from_env({"AGENTS_VAR_DIR": str(tmp_path)})
    assert settings.database_url == f"sqlite:///{tmp_path}/agents.db"
    assert settings.access_token_ttl == 3600
    assert settings.allow_signup is True
    assert settings.env == "development"


def test_development_key_is_generated_once_and_kept(tmp_path: Path) -> None:
    first = Settings.from_env({"AGENTS_VAR_DIR": str(tmp_path)})
    second = Settings.from_env({"AGENTS_VAR_DIR": str(tmp_path)})
    assert len(first.secret_key) >= 32
    assert first.secret_key == second.secret_key
    key_file = tmp_path / "secret_key"
    assert key_file.read_text() == first.secret_key
    assert key_file.stat().st_mode & 0o077 == 0


def test_production_refuses_to_start_without_a_key(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="AGENTS_SECRET_KEY") as caught:
        Settings.from_env({"AGENTS_ENV": "production", "AGENTS_VAR_DIR": str(tmp_path)})
    assert "export AGENTS_SECRET_KEY=" in str(caught.value)
    assert not (tmp_path / "secret_key").exists()
    with pytest.raises(SettingsError, match="too short"):
        Settings.from_env({"AGENTS_ENV": "production", "AGENTS_SECRET_KEY": "short"})
    ok = Settings.from_env({"AGENTS_ENV": "production", "AGENTS_SECRET_KEY": "k" * 40})
    assert ok.is_production


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("AGENTS_ACCESS_TOKEN_TTL", "soon"),
        ("AGENTS_ACCESS_TOKEN_TTL", "0"),
        ("AGENTS_ALLOW_SIGNUP", "maybe"),
        ("AGENTS_ENV", "staging"),
        ("AGENTS_DATABASE_URL", "mysql://db/agents"),
        ("AGENTS_DATABASE_URL", "not a url"),
        ("AGENTS_DB_POOL_SIZE", "-3"),
    ],
)
def test_bad_values_name_the_variable(tmp_path: Path, name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({"AGENTS_VAR_DIR": str(tmp_path), name: value})


def test_values_are_read(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            "AGENTS_VAR_DIR": str(tmp_path),
            "AGENTS_DATABASE_URL": "postgresql://u:p@db:5432/agents",
            "AGENTS_SECRET_KEY": "s" * 40,
            "AGENTS_ACCESS_TOKEN_TTL": "600",
            "AGENTS_ALLOW_SIGNUP": "false",
        }
    )
    assert settings.database_url == "postgresql://u:p@db:5432/agents"
    assert (settings.access_token_ttl, settings.allow_signup) == (600, False)
    assert settings.secret_key == "s" * 40


def test_commands_that_sign_no_tokens_generate_no_secret(tmp_path: Path) -> None:
    settings = Settings.from_env({"AGENTS_VAR_DIR": str(tmp_path)}, signs_tokens=False)
    assert settings.secret_key == ""
    assert list(tmp_path.iterdir()) == []
    # Migrating a production database needs its URL, not the key that signs tokens.
    production = Settings.from_env(
        {"AGENTS_ENV": "production", "AGENTS_VAR_DIR": str(tmp_path)}, signs_tokens=False
    )
    assert production.is_production
    # Every other setting is still checked.
    with pytest.raises(SettingsError, match="AGENTS_ACCESS_TOKEN_TTL"):
        Settings.from_env({"AGENTS_ACCESS_TOKEN_TTL": "soon"}, signs_tokens=False)


def test_the_var_folder_is_the_projects(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = tmp_path / "project"
    deep = project / "a" / "b"
    deep.mkdir(parents=True)

    def default_url() -> str:
        return Settings.from_env({}, signs_tokens=False).database_url

    monkeypatch.chdir(deep)
    assert default_url() == f"sqlite:///{deep}/var/agents.db"  # nothing found: ./var, new
    (project / "var").mkdir()
    assert default_url() == f"sqlite:///{deep}/var/agents.db"  # a var/ without a database
    (project / "var" / "agents.db").touch()
    assert default_url() == f"sqlite:///{project}/var/agents.db"  # the project's database
    (deep / "var").mkdir()
    assert default_url() == f"sqlite:///{deep}/var/agents.db"  # ./var, when there is one
    configured = Settings.from_env({"AGENTS_VAR_DIR": "elsewhere"}, signs_tokens=False)
    assert configured.database_url == "sqlite:///elsewhere/agents.db"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("AGENTS_AUTH_RATE_LIMIT", "30"),
        ("AGENTS_AUTH_RATE_LIMIT", "30/day"),
        ("AGENTS_AUTH_RATE_LIMIT", "-1/minute"),
        ("AGENTS_LOGIN_MAX_FAILURES", "0"),
        ("AGENTS_LOGIN_WINDOW", "soon"),
        ("AGENTS_TRUSTED_PROXIES", "10.0.0.1,not-an-address"),
        ("AGENTS_REDIS_URL", "127.0.0.1:6379"),
        ("AGENTS_CORS_ORIGINS", "dashboard.example.com"),
        ("AGENTS_CORS_ORIGINS", "https://dashboard.example.com/app"),
        ("AGENTS_SHUTDOWN_TIMEOUT", "-5"),
    ],
)
def test_bad_edge_settings_name_the_variable_and_the_fix(
    tmp_path: Path, name: str, value: str
) -> None:
    with pytest.raises(SettingsError, match=name) as caught:
        Settings.from_env({"AGENTS_VAR_DIR": str(tmp_path), name: value})
    assert "\n" not in str(caught.value)
    assert any(word in str(caught.value) for word in ("use", "e.g.", "must", "whole number"))


def test_edge_settings_are_read(tmp_path: Path) -> None:
    defaults = Settings.from_env({"AGENTS_VAR_DIR": str(tmp_path)})
    assert str(defaults.auth_rate_limit) == "30/minute"
    assert (defaults.login_max_failures, defaults.login_window) == (10, 900)
    assert (defaults.redis_url, defaults.cors_origins, defaults.trusted_proxies) == (None, (), ())
    assert defaults.shutdown_timeout == 30
    settings = Settings.from_env(
        {
            "AGENTS_VAR_DIR": str(tmp_path),
            "AGENTS_AUTH_RATE_LIMIT": "5/Seconds",
            "AGENTS_LOGIN_MAX_FAILURES": "3",
            "AGENTS_LOGIN_WINDOW": "60",
            "AGENTS_TRUSTED_PROXIES": "10.0.0.1, 192.168.0.0/16",
            "AGENTS_REDIS_URL": "redis://127.0.0.1:6379/2",
            "AGENTS_CORS_ORIGINS": "https://Dashboard.example.com/, http://localhost:5173",
            "AGENTS_SHUTDOWN_TIMEOUT": "7.5",
        }
    )
    assert str(settings.auth_rate_limit) == "5/second"
    assert (settings.login_max_failures, settings.login_window) == (3, 60)
    assert settings.trusted_proxies == ("10.0.0.1/32", "192.168.0.0/16")
    assert settings.redis_url == "redis://127.0.0.1:6379/2"
    assert settings.cors_origins == ("https://dashboard.example.com", "http://localhost:5173")
    assert settings.shutdown_timeout == 7.5
    off = Settings.from_env({"AGENTS_VAR_DIR": str(tmp_path), "AGENTS_AUTH_RATE_LIMIT": "0"})
    assert off.auth_rate_limit is None
