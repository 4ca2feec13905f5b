"""/cost maturity through the real app: acked, then the scorecard via response_url."""

from __future__ import annotations

from datetime import UTC, datetime

from storage.db import Database
from tests.handlers.test_commands import wait_for
from tests.harness import start_bot
from tests.jobs.digest_data import TEAMS_YAML, flat_history, teams_config

NOW = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)


def test_maturity_scorecard_in_slack(sqlite_db: Database, fake_slack, monkeypatch) -> None:
    running = start_bot(sqlite_db, fake_slack, teams_yaml=TEAMS_YAML, now=lambda: NOW)
    try:
        flat_history(sqlite_db, teams_config())
        url = fake_slack.response_url()
        ack = running.client.slash("maturity", response_url=url)
        assert ack.json()["text"] == "Scoring FinOps maturity…"
        answer = wait_for(lambda: fake_slack.response_url_calls(url), timeout=20)[0]
        assert answer["text"] == ("FinOps maturity: Crawl (attribution Run, anomaly routing Crawl, implementation "
                                  "Crawl, variance Run, unit cost Crawl)")
        blocks = answer["blocks"]
        assert blocks[0]["text"]["text"] == "FinOps maturity: Crawl"
        assert blocks[1]["text"]["text"] == (
            "*1. Attribution* · :large_green_circle: Run\n99.0 % of 2026-10's $3,100.00 allocated "
            "($2,790.00 direct, $279.00 shared); $31.00 unallocated")
        assert blocks[6]["text"]["text"].startswith(":point_right: *Next step* (")
        assert len(blocks) == 8

        bad = fake_slack.response_url()
        running.client.slash("maturity now", response_url=bad)
        correction = wait_for(lambda: fake_slack.response_url_calls(bad))[0]
        assert correction["text"].startswith(":warning: `/cost maturity` takes no options (got `now`).")
    finally:
        running.stop()
