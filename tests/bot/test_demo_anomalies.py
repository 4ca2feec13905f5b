"""The demo's anomaly chapter on the bundled data: payments' EC2 shift, ml's SageMaker spike and
search's new OpenSearch region each land once in their team's channel; the next day's run edits
them (no second post); the RDS rightsizing is recorded as a drop and not alerted."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import jobs.detect
from bot.demo import step_20_anomalies
from storage.anomalies import AnomalyStore
from storage.db import Database
from tests.bot.demo_chapter import DEMO_NOW, run_demo_chapter


def test_the_anomaly_chapter(sqlite_db: Database, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(jobs.detect, "anomaly_chart", lambda *args, **kwargs: b"\x89PNG stand-in")
    ctx, text = run_demo_chapter(step_20_anomalies, sqlite_db, tmp_path)

    alerted = {r.team: r for r in AnomalyStore(ctx.db).list_anomalies() if r.posted_at is not None}
    assert sorted((team, r.kind, r.start, r.channel) for team, r in alerted.items()) == [
        ("ml", "spike", date(2026, 11, 13), "#team-ml"),
        ("payments", "shift", date(2026, 11, 11), "#team-payments"),
        ("search", "new_spend", date(2026, 11, 12), "#team-search")]
    assert alerted["payments"].dimensions["service"] == "Amazon Elastic Compute Cloud"
    assert alerted["ml"].dimensions["service"] == "Amazon SageMaker"
    assert alerted["search"].dimensions["region"] == "eu-west-1"
    for channel in ("#team-payments", "#team-ml", "#team-search"):
        assert len(re.findall(f"\n── {channel} ─", text)) == 1  # posted once ...
        assert f"\n── {channel} (message updated) ─" in text  # ... then edited
    drop = next(r for r in AnomalyStore(ctx.db).list_anomalies(team="payments") if r.kind == "drop")
    assert (drop.dimensions["service"], drop.start, drop.posted_at) == (
        "Amazon Relational Database Service", date(2026, 10, 9), None)
    assert f"#{alerted['payments'].id} payments: first cost day 2026-11-11, alerted 54 h after it ended, first " \
           "response Sun 09:12" in text
    assert ctx.now() == DEMO_NOW  # the chapter gives the clock back
