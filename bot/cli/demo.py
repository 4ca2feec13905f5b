"""``costbot demo``: the whole story on bundled data, no credentials needed."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime, time
from pathlib import Path

from bot.config import Settings
from bot.context import build_context
from bot.delivery import TerminalTransport
from bot.demo import DemoRun, demo_steps
from bot.demo.data import DEMO_TODAY, write_demo_files
from finops.teams import load_teams


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("demo", help="run the whole story on bundled demo data (prints each channel)")
    parser.add_argument("--out", default="demo-output", metavar="DIR",
                        help="where the demo's database, data and charts go (default: ./demo-output)")
    parser.set_defaults(func=run_demo)


def run_demo(args: argparse.Namespace) -> int:
    workdir = Path(args.out)
    workdir.mkdir(parents=True, exist_ok=True)
    database = workdir / "demo.db"
    database.unlink(missing_ok=True)  # each run tells the story from the start
    costs_file, teams_file = write_demo_files(workdir / "data")
    # The demo never reads the environment's Slack tokens or database: it is self-contained.
    settings = Settings(database_url=f"sqlite:///{database}", teams_path=teams_file)
    now = datetime.combine(DEMO_TODAY, time(9, 0), tzinfo=UTC)
    transport = TerminalTransport(stream=sys.stdout, files_dir=workdir / "charts")
    ctx = build_context(settings, teams=load_teams(teams_file), transport=transport, now=lambda: now)
    demo = DemoRun(ctx=ctx, workdir=workdir, costs_file=costs_file, teams_file=teams_file, out=sys.stdout)
    demo.say(f"costbot demo: a made-up company on AWS, Azure and GCP, today is {DEMO_TODAY:%A %d %B %Y}.\n"
             "No Slack token is set, so every message is printed below under the channel it would go to.")
    for title, step in demo_steps():
        demo.chapter(title)
        step(demo)
    demo.say(f"\nDone. Database, data and charts are in {workdir}/ (charts: {workdir}/charts/).")
    return 0
