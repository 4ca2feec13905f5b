"""Run one chapter of the demo on its bundled data, as `costbot demo` does, for the chapter tests."""

from __future__ import annotations

import io
from datetime import UTC, datetime, time
from pathlib import Path
from types import ModuleType

from bot.config import Settings
from bot.context import AppContext, build_context
from bot.delivery import TerminalTransport
from bot.demo import DemoRun
from bot.demo.data import DEMO_TODAY, write_demo_files
from finops.teams import load_teams
from jobs.ingest import ingest_cost_files
from storage.costs import CostStore
from storage.db import Database

DEMO_NOW = datetime.combine(DEMO_TODAY, time(9, 0), tzinfo=UTC)


def run_demo_chapter(step: ModuleType, db: Database, workdir: Path) -> tuple[AppContext, str]:
    """The demo's data written and ingested into ``db``, then ``step`` run at 09:00 on the demo's
    today; returns the context and everything the chapter printed (channels rendered as text)."""
    costs_file, teams_file = write_demo_files(workdir / "data")
    out = io.StringIO()
    ctx = build_context(Settings(database_url=db.url, teams_path=teams_file), teams=load_teams(teams_file),
                        transport=TerminalTransport(stream=out, files_dir=workdir / "charts"), upgrade=False,
                        now=lambda: DEMO_NOW)
    ingest_cost_files(CostStore(ctx.db), ctx.teams, [costs_file], today=DEMO_TODAY)
    step.run(DemoRun(ctx=ctx, workdir=workdir, costs_file=costs_file, teams_file=teams_file, out=out))
    return ctx, out.getvalue()
