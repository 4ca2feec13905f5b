"""Demo chapter 4: the finance lead asks why spend changed last quarter, and gets the answer in seconds."""

from __future__ import annotations

import time

from bot.blocks.variance import variance_message
from bot.charts.waterfall import waterfall_chart
from bot.delivery import FileUpload, Message
from bot.demo import DemoRun
from bot.variance_service import answer_question
from finops.money import format_usd
from finops.variance import VarianceAnswer, explained_part

TITLE = "4. Variance: why did cloud spend change last quarter?"
QUESTION = "last quarter in-channel"


def run(demo: DemoRun) -> None:
    ctx = demo.ctx
    channel = ctx.teams.default_channel
    demo.say(f"$ /cost why {QUESTION}   (the finance lead, in {channel}; the answer is shared with the channel)")
    started = time.perf_counter()
    answer = answer_question(ctx.db, QUESTION, today=ctx.today())
    seconds = time.perf_counter() - started
    message = variance_message(answer, chart_note="Chart: posted in this channel.")
    key = f"demo:why:{answer.question.period_a.start:%Y-%m}"
    ctx.delivery.send(Message(key=key, channel=channel, text=message["text"], blocks=message["blocks"]))
    q = answer.question
    ctx.delivery.upload(FileUpload(key=f"{key}:chart", channel=channel, thread_key=key,
                                   filename=f"why-{q.period_b.start:%Y%m%d}-{q.period_a.start:%Y%m%d}.png",
                                   content=waterfall_chart(answer), title=f"{q.period_b.label} → {q.period_a.label}"))
    demo.say(f"\nAnswered in {seconds:.2f} s. Reading it:")
    for line in reading(answer):
        demo.say(f"  - {line}")
    demo.say('  The same answer for scripts: costbot why "last quarter" --json')


def reading(answer: VarianceAnswer) -> list[str]:
    """The causes the answer names, in words: the largest usage change, the largest rate change,
    and the day count over all lines (each only when it moved spend)."""
    q = answer.question
    lines = []
    by_usage = max(answer.contributors, key=lambda c: abs(c.usage), default=None)
    if by_usage is not None and by_usage.usage:
        more = "more" if by_usage.usage > 0 else "less"
        lines.append(f"{by_usage.label}: usage {format_usd(by_usage.usage, signed=True)} ({more} was used)")
    by_rate = max(answer.contributors, key=lambda c: abs(c.rate), default=None)
    if by_rate is not None and by_rate.rate:
        lines.append(f"{by_rate.label}: rate {format_usd(by_rate.rate, signed=True)} (the same use cost more per unit)"
                     if by_rate.rate > 0 else
                     f"{by_rate.label}: rate {format_usd(by_rate.rate, signed=True)} (the same use cost less per unit)")
    if answer.days_effect:
        lines.append(f"day count {format_usd(answer.days_effect, signed=True)} over all lines: {q.period_a.label} "
                     f"has {q.period_a.days} days, {q.period_b.label} {q.period_b.days}")
    for item in answer.explained_by:
        if not item.amount:
            continue
        part = explained_part(answer, item)
        amount = f"{format_usd(abs(item.amount))} {part}" if part else format_usd(item.amount, signed=True)
        lines.append(f"{item.explainer.kind} #{item.explainer.id} ({item.explainer.state}): {amount}, "
                     f"{item.explainer.label}")
    return lines
