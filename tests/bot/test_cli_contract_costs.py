"""SPEC "Command-line contract" for ``costbot costs --json``: ``from``/``to`` echo the days asked
for, defaulting to the data held, also when the period asked for holds no data."""

from __future__ import annotations

import json

import pytest

from bot.cli import main
from storage.db import Database
from tests.finops.sources.cost_file_helpers import FOCUS_SAMPLE


@pytest.fixture
def costs_json(sqlite_db: Database, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    for name in ("COSTBOT_TEAMS", "COSTBOT_SOURCES", "SLACK_BOT_TOKEN", "SLACK_APP_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("COSTBOT_DATABASE_URL", sqlite_db.url)
    assert main(["ingest", "file", str(FOCUS_SAMPLE)]) == 0

    def run(*args: str) -> dict:
        capsys.readouterr()
        assert main(["costs", "--json", *args]) == 0
        return json.loads(capsys.readouterr().out)

    return run


def test_from_and_to_default_to_the_data_held(costs_json):
    document = costs_json()
    assert (document["from"], document["to"]) == ("2024-09-01", "2024-10-01")


def test_to_before_all_the_data_is_echoed_not_replaced_by_the_first_day_held(costs_json):
    document = costs_json("--to", "2020-01-31")
    assert (document["from"], document["to"], document["total"], document["rows"]) == (
        "2020-01-31", "2020-01-31", 0.0, [])


def test_from_after_all_the_data_is_echoed(costs_json):
    document = costs_json("--from", "2030-01-01")
    assert (document["from"], document["to"], document["total"], document["rows"]) == (
        "2030-01-01", "2030-01-01", 0.0, [])
