"""The demo's variance chapter on the bundled data: the finance lead's `/cost why last quarter`,
answered in the channel with its waterfall chart, then read out in words."""

from __future__ import annotations

import io
from datetime import UTC, datetime, time
from pathlib import Path

from bot.config import Settings
from bot.context import build_context
from bot.delivery import TerminalTransport
from bot.demo import DemoRun, step_40_variance
from bot.demo.data import DEMO_TODAY, write_demo_files
from finops.teams import load_teams
from jobs.ingest import ingest_cost_files
from storage.costs import CostStore
from storage.db import Database


def test_the_variance_chapter(sqlite_db: Database, tmp_path: Path) -> None:
    costs_file, teams_file = write_demo_files(tmp_path / "data")
    out = io.StringIO()
    now = datetime.combine(DEMO_TODAY, time(9, 0), tzinfo=UTC)
    ctx = build_context(Settings(database_url=sqlite_db.url, teams_path=teams_file), teams=load_teams(teams_file),
                        transport=TerminalTransport(stream=out, files_dir=tmp_path / "charts"), upgrade=False,
                        now=lambda: now)
    ingest_cost_files(CostStore(ctx.db), ctx.teams, [costs_file], today=DEMO_TODAY)
    step_40_variance.run(DemoRun(ctx=ctx, workdir=tmp_path, costs_file=costs_file, teams_file=teams_file, out=out))
    text = out.getvalue()

    assert "\n── #finops ─" in text and "WHY SPEND CHANGED: Q2 2026 → Q3 2026" in text
    assert "Spend rose $63,124.77 (+10.0 %) from Q2 2026 to Q3 2026 ($630,275.75 → $693,400.52)." in text
    assert "*ml / Amazon SageMaker / ml.p4d.24xlarge-Training*  +$38,654.02" in text
    assert "  - web / Azure App Service: rate +$3,827.27 (the same use cost more per unit)" in text
    assert "  - day count +$6,202.00 over all lines: Q3 2026 has 92 days, Q2 2026 91" in text
    assert [p.name for p in (tmp_path / "charts").iterdir()] == ["why-20260401-20260701.png"]
    assert text.rstrip().endswith('The same answer for scripts: costbot why "last quarter" --json')
