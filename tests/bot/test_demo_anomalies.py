"""The demo's anomaly chapter on the bundled data: payments' EC2 shift, ml's SageMaker spike and
search's new OpenSearch region each land once in their team's channel; the next day's run edits
them (no second post); the RDS rightsizing is recorded as a drop and not alerted."""

from __future__ import annotations

import io
import re
from datetime import UTC, date, datetime, time
from pathlib import Path

import jobs.detect
from bot.config import Settings
from bot.context import build_context
from bot.delivery import TerminalTransport
from bot.demo import DemoRun, step_20_anomalies
from bot.demo.data import DEMO_TODAY, write_demo_files
from finops.teams import load_teams
from jobs.ingest import ingest_cost_files
from storage.anomalies import AnomalyStore
from storage.costs import CostStore
from storage.db import Database


def test_the_anomaly_chapter(sqlite_db: Database, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(jobs.detect, "anomaly_chart", lambda *args, **kwargs: b"\x89PNG stand-in")
    costs_file, teams_file = write_demo_files(tmp_path / "data")
    out = io.StringIO()
    now = datetime.combine(DEMO_TODAY, time(9, 0), tzinfo=UTC)
    ctx = build_context(Settings(database_url=sqlite_db.url, teams_path=teams_file), teams=load_teams(teams_file),
                        transport=TerminalTransport(stream=out, files_dir=tmp_path / "charts"), upgrade=False,
                        now=lambda: now)
    ingest_cost_files(CostStore(ctx.db), ctx.teams, [costs_file], today=DEMO_TODAY)
    step_20_anomalies.run(DemoRun(ctx=ctx, workdir=tmp_path, costs_file=costs_file, teams_file=teams_file, out=out))
    text = out.getvalue()

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
    assert ctx.now() == now  # the chapter gives the clock back
