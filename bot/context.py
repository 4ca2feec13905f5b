"""What listeners, jobs and CLI commands share: settings, database, teams, delivery, clock."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import IO
from zoneinfo import ZoneInfo

from slack_sdk import WebClient
from sqlalchemy.exc import OperationalError

from bot.config import Settings
from bot.delivery import Delivery, SlackTransport, TerminalTransport, Transport
from bot.services.ownership import reallocate_stored_costs
from finops.errors import ConfigError
from finops.teams import NO_TEAMS_FILE, TeamsConfig, load_teams, parse_teams
from storage.costs import CostStore
from storage.db import Database
from storage.outbox import OutboxStore

log = logging.getLogger(__name__)

# With no teams.yml every dollar is unallocated and goes to this channel.
EMPTY_TEAMS_YAML = 'default_channel: "#finops"\nteams: []\n'


@dataclass
class AppContext:
    settings: Settings
    db: Database
    teams: TeamsConfig
    delivery: Delivery
    slack_client: WebClient | None = None
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    def today(self) -> date:
        """Today in UTC, the calendar cost data is dated in (freshness, verification and the
        forecasts count days on it); the digest's run day is the schedule's own (schedule_today)."""
        return self.now().date()

    def schedule_today(self) -> date:
        """Today in the schedule's time zone (``COSTBOT_TIMEZONE``, else teams.yml's digest time
        zone): the day a weekly digest reports from and due dates are counted on (in Auckland, a
        Monday 09:00 digest is still Sunday in UTC)."""
        return self.now().astimezone(ZoneInfo(self.schedule_timezone)).date()

    @property
    def schedule_timezone(self) -> str:
        """The time zone of scheduled posts: ``COSTBOT_TIMEZONE`` when set, else teams.yml's
        ``digest`` time zone (UTC by default)."""
        return self.settings.timezone or self.teams.digest.timezone


def slack_client(settings: Settings) -> WebClient:
    """The bot's Web API client (``SLACK_API_URL`` points it elsewhere, e.g. a test server)."""
    kwargs = {"base_url": settings.slack_api_url} if settings.slack_api_url else {}
    return WebClient(token=settings.slack_bot_token, timeout=15, **kwargs)


def load_teams_config(settings: Settings, override: Path | None = None) -> TeamsConfig:
    path = override or settings.teams_path
    if path is None:
        return parse_teams(EMPTY_TEAMS_YAML, file=NO_TEAMS_FILE)
    return load_teams(path)


def build_context(settings: Settings, *, teams: TeamsConfig | None = None, transport: Transport | None = None,
                  stream: IO[str] | None = None, files_dir: Path | None = None, upgrade: bool = True,
                  now: Callable[[], datetime] | None = None) -> AppContext:
    """Open the database (migrating it), load teams.yml and pick Slack or the terminal."""
    db = Database(settings.database_url)
    if upgrade:
        try:
            db.upgrade()
        except OperationalError as e:  # unreachable server, missing directory, bad credentials
            reason = str(e.orig).strip().splitlines()[0] if e.orig else str(e).splitlines()[0]
            raise ConfigError(f"cannot open the database ({reason})", key="COSTBOT_DATABASE_URL") from None
    teams = teams or load_teams_config(settings)
    # Stored owners follow the teams.yml this process runs with (a no-op unless its rules changed).
    reallocated = reallocate_stored_costs(CostStore(db), teams)
    if reallocated is not None:
        log.info("teams.yml rules changed: %d cost series re-allocated", reallocated)
    client = None
    if transport is None:
        if settings.slack_enabled:
            client = slack_client(settings)
            transport = SlackTransport(client)
        else:
            transport = TerminalTransport(stream=stream, files_dir=files_dir)
    delivery = Delivery(OutboxStore(db), transport, default_channel=teams.default_channel)
    context = AppContext(settings=settings, db=db, teams=teams, delivery=delivery, slack_client=client)
    if now is not None:
        context.now = now
    return context
