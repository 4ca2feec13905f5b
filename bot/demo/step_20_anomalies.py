"""Demo chapter: anomalies land in the owning teams' channels, once, and are edited as they grow.

The story in the data (bot/demo/data.py): a load-test fleet left running on payments' EC2 since
November 11 (a level shift), a hyper-parameter sweep on ml's SageMaker on November 13 and 14 (a
spike), and search's OpenSearch in a new region since November 12 (new spend).

costbot was installed on Saturday November 14. Its first daily run (06:00, data complete through
Friday the 13th) learns the events already in the history (the RDS rightsizing in October is a
drop: recorded, not alerted) and alerts what is still going on, each in its owner's channel.
Sunday's run (data through the 14th) edits the same messages with the figures so far and replies
in a thread where the impact crossed a new step. Then the payments lead acknowledges theirs.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from bot.blocks.anomalies import anomalies_list_message
from bot.blocks.text import blocks_to_text
from bot.demo import DemoRun
from finops.money import format_usd
from jobs.detect import DetectionRun, reply_to_answer, run_detection
from storage.anomalies import AnomalyStore

TITLE = "2. Anomalies to the owner: detected, routed to the team's channel, edited as they grow"

RUNS = (date(2026, 11, 13), date(2026, 11, 14))  # the data days of Saturday's and Sunday's runs


def _morning_after(day: date) -> datetime:
    return datetime.combine(date.fromordinal(day.toordinal() + 1), time(6, 0), tzinfo=UTC)


def _summary(demo: DemoRun, run: DetectionRun) -> None:
    for status, records in (("new", run.saved.new), ("updated", run.saved.updated), ("ended", run.saved.ended)):
        for record in records:
            demo.say(f"  #{record.id} {status:<7} {record.team:<9} {record.kind:<9} "
                     f"{format_usd(record.impact, signed=True):>12}  {record.label}  → {run.alerts.get(record.id)}")


def run(demo: DemoRun) -> None:
    ctx = demo.ctx
    today = ctx.now
    store = AnomalyStore(ctx.db)
    try:
        for data_day in RUNS:
            at = _morning_after(data_day)
            ctx.now = lambda at=at: at
            demo.say(f"\n$ costbot detect --as-of {data_day}   (the daily run of {at:%A %d %B, %H:%M} UTC; "
                     f"scheduled after each ingest)")
            result = run_detection(ctx, as_of=data_day)
            demo.say(f"\nData complete through {result.complete_through}: {len(result.saved.new)} new, "
                     f"{len(result.saved.updated)} updated, {len(result.saved.ended)} ended")
            _summary(demo, result)

        payments = next(r for r in store.list_anomalies(team="payments"))
        demo.say(f"\nSunday 09:12: the payments lead presses [Acknowledge] on anomaly #{payments.id}: the alert is "
                 "edited, the answer goes in its thread, the first response is timed.")
        ctx.now = lambda: datetime(2026, 11, 15, 9, 12, tzinfo=UTC)
        reply_to_answer(ctx, store.acknowledge(payments.id, by="U_PAYMENTS_LEAD", at=ctx.now()))
    finally:
        ctx.now = today

    demo.say("\n$ /cost anomalies all   (what anyone in Slack sees)")
    listing = anomalies_list_message(store.list_anomalies(open_only=False), team=None, which="all")
    demo.say(blocks_to_text(listing["blocks"], listing["text"]))
    timings = [t for t in store.alert_timings() if t["posted_at"] is not None]
    demo.say("\nFrom the cost day to the owner's channel (the scorecard's routing question):")
    for t in timings:
        hours = (t["posted_at"] - datetime.combine(t["cost_day"], time(0), tzinfo=UTC)).total_seconds() / 3600 - 24
        response = f", first response {t['first_response_at']:%a %H:%M}" if t["first_response_at"] else ""
        demo.say(f"  #{t['anomaly_id']} {t['team']}: first cost day {t['cost_day']}, alerted {hours:.0f} h after it "
                 f"ended{response}")
