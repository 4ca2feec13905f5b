"""Demo chapter: savings findings move from identified to a verified saving, with the evidence.

The story in the data (bot/demo/data.py): payments rightsized its RDS database on 2026-10-09 (a
real, lasting step down); data-platform marked its idle-snapshot cleanup implemented on
2026-10-22, but the bill did not move; search started moving its indexer to Graviton and is late.
The moves are the ones the teams pressed in Slack over the autumn; today's verification run
measures the two implemented findings against their baselines and the rest of the org.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from bot.blocks.findings import ledger_message
from bot.blocks.text import blocks_to_text
from bot.demo import DemoRun
from bot.services.findings import load_ledger, publish_finding
from finops.money import format_usd
from finops.savings import Actor
from jobs.reminders import send_reminders
from jobs.verify import data_through, verify_findings
from storage.findings import FindingStore, NewFinding, describe_scope

TITLE = "3. Savings findings: identified → accepted → implemented → verified, with evidence"

RDS = NewFinding(
    title="Rightsize payments-main RDS (db.r6g.4xlarge → smaller instances)", team="payments",
    scope={"service": "Amazon Relational Database Service", "sub_account_id": "111100000001"},
    estimate_monthly="5000", assignee="U_PAYMENTS_LEAD", due_on=date(2026, 10, 15))
SNAPSHOTS = NewFinding(
    title="Delete idle EBS snapshots (snap-dp-archive)", team="data-platform",
    scope={"resource_id": "snap-dp-archive"}, estimate_monthly="3800", assignee="U_DATA_LEAD",
    due_on=date(2026, 10, 31))
GRAVITON = NewFinding(
    title="Move the search indexer Lambda to arm64 (Graviton)", team="search",
    scope={"service": "AWS Lambda", "sub_account_id": "111100000002"}, estimate_monthly="250",
    assignee="U_SEARCH_LEAD", due_on=date(2026, 11, 10))


def _on(day: date) -> datetime:
    return datetime.combine(day, time(10), tzinfo=UTC)


def run(demo: DemoRun) -> None:
    ctx = demo.ctx
    store = FindingStore(ctx.db)
    demo.say("Findings are opened with `/cost finding new` (a form) or on the command line, e.g.\n"
             f"$ costbot findings new --title \"{RDS.title}\" --team payments "
             "--scope service=\"Amazon Relational Database Service\" --scope sub_account_id=111100000001 "
             "--estimate 5000 --due 2026-10-15")
    rds = store.create(RDS, by="U_PAYMENTS_LEAD", at=_on(date(2026, 9, 22)))
    snapshots = store.create(SNAPSHOTS, by="U_FINANCE_LEAD", at=_on(date(2026, 10, 1)))
    graviton = store.create(GRAVITON, by="U_SEARCH_LEAD", at=_on(date(2026, 10, 20)))
    for finding in (rds, snapshots, graviton):
        demo.say(f"  #{finding.id} {finding.team}: {finding.title} · {format_usd(finding.estimate_monthly)}/month · "
                 f"scope {describe_scope(finding.scope)}")

    demo.say("\nOver the autumn the teams pressed the buttons on each finding's message "
             "(Accept, Start, Mark implemented…); each message was edited in place, each move added to its thread:")
    payments, data, search = (Actor(user, on_team=True) for user in ("U_PAYMENTS_LEAD", "U_DATA_LEAD", "U_SEARCH_LEAD"))
    moves = [
        (rds, "accept", payments, date(2026, 9, 23), {}), (rds, "start", payments, date(2026, 9, 28), {}),
        (rds, "implemented", payments, date(2026, 10, 9), {"implemented_on": date(2026, 10, 9),
                                                           "reason": "primary and replica on db.r6g.2xlarge"}),
        (snapshots, "accept", data, date(2026, 10, 2), {}), (snapshots, "start", data, date(2026, 10, 5), {}),
        (snapshots, "implemented", data, date(2026, 10, 22), {"implemented_on": date(2026, 10, 22),
                                                              "reason": "cleanup job deployed"}),
        (graviton, "accept", search, date(2026, 10, 21), {}), (graviton, "start", search, date(2026, 10, 26), {}),
    ]
    for finding, action, actor, day, extra in moves:
        moved = store.move(finding.id, action, actor=actor, at=_on(day), **extra)
        demo.say(f"  {day} #{finding.id} {action:<11} by {actor.user:<15} → {moved.state}")
    publish_finding(ctx, graviton.id)

    demo.say(f"\n$ costbot findings verify   (the daily job, today {ctx.today()}; cost data complete through "
             f"{data_through(ctx, ctx.today())})")
    verification = verify_findings(ctx)
    for finding_id, state, realized in verification.concluded:
        demo.say(f"  #{finding_id}: verifying → {state}, realized {format_usd(realized)}/month")

    verified = store.get(rds.id)
    base, after = verified.baseline, verified.after
    demo.say(f"\n$ costbot findings show {rds.id}   (the evidence, also in the JSON: baseline, after, history)")
    demo.say(f"  {verified.state}: realized {format_usd(verified.realized_monthly)}/month of "
             f"{format_usd(verified.estimate_monthly)} estimated ({format_usd(verified.realized_monthly * 12)} a year)")
    demo.say(f"  baseline {base['start']}..{base['end']}: {format_usd(base['daily_cost'])}/day · after "
             f"{after['start']}..{after['end']}: {format_usd(after['daily_cost'])}/day · expected without the change "
             f"{format_usd(verified.evidence['expected_daily_after'])}/day (trend, weekdays and the rest of the org "
             f"as control) · chart in {demo.workdir}/charts/")
    lame = store.get(snapshots.id)
    demo.say(f"  #{lame.id} {lame.state}: {format_usd(lame.realized_monthly)}/month measured against "
             f"{format_usd(lame.estimate_monthly)} estimated — for a finance approver to look at (Verify / Reopen).")

    demo.say("\nReminders (daily): a finding past its due date gets one DM to its assignee, never a stream:")
    for reminder in send_reminders(ctx):
        demo.say(f"  → {reminder.recipient}: #{reminder.finding.id} {reminder.kind}")

    demo.say("\n$ /cost savings   (the ledger finance reads)")
    ledger = load_ledger(store)
    message = ledger_message(ledger.rows, ledger.total, team=None, quarter=None)
    demo.say(blocks_to_text(message["blocks"], message["text"]))
