"""Demo chapter 1: cost data in, every dollar owned."""

from __future__ import annotations

from bot.blocks.costs import coverage_message
from bot.blocks.help import help_message
from bot.blocks.text import blocks_to_text
from bot.cli.coverage import load_coverage
from bot.demo import DemoRun
from finops.money import format_usd, from_micros
from jobs.ingest import ingest_cost_files
from storage.costs import CostStore

TITLE = "1. Cost data in: FOCUS export ingested, every dollar given an owner"


def run(demo: DemoRun) -> None:
    store = CostStore(demo.ctx.db)
    report = ingest_cost_files(store, demo.ctx.teams, [demo.costs_file], today=demo.ctx.today())
    demo.say(f"$ costbot ingest file {demo.costs_file.name}")
    for result in report.results:
        demo.say(f"  {result.source}: {result.start}..{result.end}, {result.rows} daily rows, "
                 f"effective {format_usd(from_micros(result.effective_micros))}")
    demo.say(f"  data complete through {store.complete_through()}")
    from handlers import handler_modules
    from handlers.commands import SUBCOMMANDS

    handler_modules()

    demo.say("\n$ /cost help   (what anyone in Slack sees)")
    message = help_message(SUBCOMMANDS.values())
    demo.say(blocks_to_text(message["blocks"], message["text"]))

    demo.say("\n$ /cost coverage   (who owns the spend; the NAT gateway and support fees are a shared pool)")
    coverage = coverage_message(load_coverage(store, demo.ctx.teams), demo.ctx.teams)
    demo.say(blocks_to_text(coverage["blocks"], coverage["text"]))
