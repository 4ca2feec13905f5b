"""Settings from the environment, checked once at start-up.

Every problem is a ``ConfigError`` naming the setting and what is wrong; the CLI prints it on
one line and exits with code 2.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from finops.errors import ConfigError
from storage.db import DEFAULT_DATABASE_URL, normalize_database_url

DEFAULT_PORT = 3000


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    teams_path: Path | None = None
    sources_path: Path | None = None  # sources.yml: the cloud connectors `costbot run` pulls daily
    slack_bot_token: str | None = None
    slack_signing_secret: str | None = None
    slack_app_token: str | None = None
    slack_api_url: str | None = None  # only for tests and proxies; Slack's own by default
    port: int = DEFAULT_PORT
    timezone: str | None = None  # COSTBOT_TIMEZONE; None: teams.yml's time zone (UTC by default)
    units_api_token: str | None = None

    @property
    def slack_enabled(self) -> bool:
        """With no bot token every message is rendered on the terminal instead."""
        return bool(self.slack_bot_token)

    @property
    def socket_mode(self) -> bool:
        return bool(self.slack_app_token)


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read and validate settings from ``env`` (default: ``os.environ``)."""
    env = os.environ if env is None else env

    def get(name: str) -> str | None:
        value = env.get(name)
        return value.strip() if value and value.strip() else None

    database_url = normalize_database_url(get("COSTBOT_DATABASE_URL") or DEFAULT_DATABASE_URL)

    teams_path = None
    if teams := get("COSTBOT_TEAMS"):
        teams_path = Path(teams)
        if not teams_path.is_file():
            raise ConfigError(f"file not found: {teams}", key="COSTBOT_TEAMS")

    sources_path = None
    if sources := get("COSTBOT_SOURCES"):
        sources_path = Path(sources)
        if not sources_path.is_file():
            raise ConfigError(f"file not found: {sources}", key="COSTBOT_SOURCES")

    bot_token = get("SLACK_BOT_TOKEN")
    if bot_token and not bot_token.startswith("xoxb-"):
        raise ConfigError("must be a bot token starting with 'xoxb-'", key="SLACK_BOT_TOKEN")
    app_token = get("SLACK_APP_TOKEN")
    if app_token and not app_token.startswith("xapp-"):
        raise ConfigError("must be an app-level token starting with 'xapp-' (Socket Mode)",
                          key="SLACK_APP_TOKEN")
    if app_token and not bot_token:
        raise ConfigError("set SLACK_BOT_TOKEN too: Socket Mode needs both tokens", key="SLACK_APP_TOKEN")

    api_url = get("SLACK_API_URL")
    if api_url:
        if not re.match(r"^https?://", api_url):
            raise ConfigError("must be an http(s) URL", key="SLACK_API_URL")
        api_url = api_url if api_url.endswith("/") else api_url + "/"

    port_text = get("PORT") or str(DEFAULT_PORT)
    if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ConfigError(f"must be a TCP port number (0-65535), got {port_text!r}", key="PORT")

    timezone = get("COSTBOT_TIMEZONE")
    if timezone:
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(f"unknown time zone {timezone!r} (example: Europe/Paris)",
                              key="COSTBOT_TIMEZONE") from None

    level = get("COSTBOT_LOG_LEVEL")
    if level and level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise ConfigError(f"unknown log level {level!r}: DEBUG, INFO, WARNING, ERROR or CRITICAL",
                          key="COSTBOT_LOG_LEVEL")

    return Settings(
        database_url=database_url,
        teams_path=teams_path,
        sources_path=sources_path,
        slack_bot_token=bot_token,
        slack_signing_secret=get("SLACK_SIGNING_SECRET"),
        slack_app_token=app_token,
        slack_api_url=api_url,
        port=int(port_text),
        timezone=timezone,
        units_api_token=get("COSTBOT_UNITS_TOKEN"),
    )


def require_slack_settings(settings: Settings) -> None:
    """``costbot run`` with Slack: the tokens a mode needs must be present."""
    if not settings.slack_bot_token:
        raise ConfigError("required to run the bot (xoxb-...; or use `costbot demo` without Slack)",
                          key="SLACK_BOT_TOKEN")
    if not settings.socket_mode and not settings.slack_signing_secret:
        raise ConfigError("required in HTTP mode (or set SLACK_APP_TOKEN for Socket Mode)",
                          key="SLACK_SIGNING_SECRET")
