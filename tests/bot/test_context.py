"""The shared context's clock: "today" is the deployment's day, not UTC's."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from bot.config import Settings
from bot.context import AppContext
from finops.teams import parse_teams

# Monday 16 November 2026, 03:00 UTC: still Sunday evening in Los Angeles, Monday in Sydney.
NOW = datetime(2026, 11, 16, 3, 0, tzinfo=UTC)


def context(teams_timezone: str | None, setting: str | None) -> AppContext:
    digest = f'digest:\n  timezone: "{teams_timezone}"\n' if teams_timezone else ""
    teams = parse_teams(f'default_channel: "#finops"\n{digest}teams: []\n')
    return AppContext(settings=Settings(timezone=setting), db=None, teams=teams, delivery=None,  # type: ignore[arg-type]
                      now=lambda: NOW)


@pytest.mark.parametrize(("teams_timezone", "setting", "today"), [
    (None, None, date(2026, 11, 16)),                                  # UTC by default
    ("America/Los_Angeles", None, date(2026, 11, 15)),                 # teams.yml's time zone
    ("America/Los_Angeles", "Australia/Sydney", date(2026, 11, 16)),   # COSTBOT_TIMEZONE wins
])
def test_today_is_the_day_in_the_deployments_time_zone(teams_timezone, setting, today) -> None:
    assert context(teams_timezone, setting).today() == today
