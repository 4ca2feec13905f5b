"""Demo chapter: the weekly rhythm. Unit values arrive, the budget alert fires once and is updated as
the forecast moves, and Monday's digests go out: one per team channel, the org view with the
maturity scorecard in the default channel.

Payments' budget (bot/demo/data.py) sits just above its usual month: the forecast made on
November 10 reaches 80 % of it; the EC2 fleet left running since November 11 pushes the forecast
made today over it. The alert is posted on the first run and edited on the second, with one
thread reply to say it went over.
"""

from __future__ import annotations

from datetime import date

from bot.blocks.forecast import budget_message
from bot.blocks.text import blocks_to_text
from bot.cli.digest import run_summary
from bot.cli.forecast import print_forecast
from bot.demo import DemoRun
from bot.services.forecast import budgets_of, load_forecast
from finops.forecast import budget_status
from finops.units import read_unit_csv
from jobs.budgets import check_budgets
from jobs.digest import post_weekly_digests, run_weekly_digests
from storage.costs import CostStore
from storage.units import UnitStore

TITLE = "5. The weekly rhythm: unit costs, budgets and forecast, Monday's digests and the maturity scorecard"

BEFORE_THE_SHIFT = date(2026, 11, 10)

# What the order database and the analytics pipeline would send: payments' orders per month and
# per week, web's monthly active users (a stock, recorded per month).
UNITS_CSV = """\
team,metric,period,value
payments,orders,2026-07,236000
payments,orders,2026-08,241500
payments,orders,2026-09,239800
payments,orders,2026-10,252300
payments,orders,2026-W44,57900
payments,orders,2026-W45,58400
payments,orders,2026-W46,59100
web,active_users,2026-08,410000
web,active_users,2026-09,415500
web,active_users,2026-10,431200
"""


def run(demo: DemoRun) -> None:
    ctx = demo.ctx
    units_file = demo.workdir / "data" / "units.csv"
    units_file.write_text(UNITS_CSV)
    values = read_unit_csv(UNITS_CSV, ctx.teams, file=units_file.name)
    UnitStore(ctx.db).record(values, source="csv", by="cli:demo", at=ctx.now())
    demo.say(f"$ costbot units ingest {units_file.name}   (orders and active users: team,metric,period,value)")
    demo.say(f"  {len(values)} values recorded; the endpoint POST /units and `/cost unit record` take the same")

    demo.say(f"\n— The daily budget check on {BEFORE_THE_SHIFT:%a %d %b} (data through that day) —")
    for outcome in check_budgets(ctx, as_of=BEFORE_THE_SHIFT):
        if outcome.action != "none":
            demo.say(f"  {outcome.team}: {outcome.level}, alert {outcome.action}")
    demo.say(f"\n— The daily budget check today, {ctx.today():%a %d %b}: the same alert, edited —")
    for outcome in check_budgets(ctx):
        if outcome.action != "none":
            demo.say(f"  {outcome.team}: {outcome.level}, alert {outcome.action}")

    store = CostStore(ctx.db)
    forecast = load_forecast(store, ctx.teams, ctx.today())
    demo.say("\n$ costbot forecast")
    print_forecast(forecast, ctx.teams)
    demo.say("\n$ /cost budget   (what anyone sees, only to them)")
    message = budget_message(forecast, budget_status(forecast, budgets_of(ctx.teams)))
    demo.say(blocks_to_text(message["blocks"], message["text"]))

    demo.say(f"\n— Monday {ctx.today():%d %b} 09:00: the weekly digests (each team's channel, then the org) —")
    posted = post_weekly_digests(ctx)
    demo.say(f"\n{len(posted)} digests posted, each once (keys digest:<team>:<ISO week>); charts are in "
             f"{demo.workdir}/charts/. A second run this week posts nothing:")
    demo.say("$ costbot digest\n" + "\n".join(run_summary(run_weekly_digests(ctx))))
    demo.say("The scorecard alone: costbot maturity (--json), or /cost maturity in Slack.")
