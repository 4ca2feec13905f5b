"""Block Kit for variance answers (``/cost why``): pure functions from a VarianceAnswer to a message.

A message holds the headline (totals, change), how the change splits over all contributors
(usage, rate, mix, day count, new, gone, not split), one section per contributor line with a
"Drill down" button, the anomalies and findings that explain part of it, the note on incomplete
data, and a "Show more" button when lines were summed into an "other" line. The domain caps an
answer at ``top_n`` lines plus one "other" line, so a page is at most ``PAGE_SIZE + 1`` sections
however many services moved; every text is cut to Slack's limits.

Buttons carry the question itself in their value (:func:`encode_question`): the scope, both
periods with their labels, the metric and the note, so a click answers about exactly the periods
shown, even after a new day of data made them longer.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any

from bot.blocks.costs import cut, escape
from finops.money import format_usd
from finops.periods import Period, Question, scope_text
from finops.variance import (
    DEFAULT_TOP_N,
    PARTS,
    Contributor,
    VarianceAnswer,
    explained_part,
    part_word,
    summary_lines,
)

PAGE_SIZE = DEFAULT_TOP_N
DRILL_ACTION = "why_drill"
MORE_ACTION = "why_more"
VALUE_CHARS = 2_000  # Slack's limit on a button value
LABEL_CHARS = 300  # a contributor label (resource IDs can be very long)
SECTION_CHARS = 2_900
HEADER_CHARS = 150
MAX_EXPLAINERS = 8


# ---------------------------------------------------------------------------------------------
# Button values


def encode_question(question: Question, *, page: int = 1) -> str:
    """The question (and the page to show) as compact JSON for a button value."""
    def period(p: Period) -> list[str]:
        return [p.start.isoformat(), p.end.isoformat(), p.label, p.kind]

    return json.dumps({"t": question.text, "s": {k: list(v) for k, v in question.scope.items()},
                       "a": period(question.period_a), "b": period(question.period_b), "m": question.metric,
                       "n": question.note, "p": page}, separators=(",", ":"))


def decode_question(value: str) -> tuple[Question, int]:
    """The inverse of :func:`encode_question`; ValueError when ``value`` is not one of ours."""
    try:
        data = json.loads(value)

        def period(p: list[str]) -> Period:
            return Period(date.fromisoformat(p[0]), date.fromisoformat(p[1]), str(p[2]), str(p[3]))

        question = Question(text=str(data["t"]), scope={str(k): tuple(map(str, v)) for k, v in data["s"].items()},
                            period_a=period(data["a"]), period_b=period(data["b"]), metric=str(data["m"]),
                            note=data["n"])
        page = int(data["p"])
    except (ValueError, KeyError, TypeError, IndexError) as error:
        raise ValueError(f"not a variance question: {error}") from None
    if page < 1:
        raise ValueError("pages start at 1")
    return question, page


def drill_question(question: Question, contributor: Contributor) -> Question | None:
    """The question narrowed to one contributor's dimensions; None when that narrows nothing.

    A "rest" line ("web / 7 other services") narrows to the values it holds, so the answer
    leaves out the lines already shown on their own.
    """
    narrowed = dict(question.scope)
    for key, value in contributor.dimensions.items():
        narrowed[key] = (value,)
    if contributor.kind == "rest" and contributor.covers and contributor.covers[0] and contributor.rest_values:
        narrowed[contributor.covers[0]] = contributor.rest_values
    if narrowed == question.scope:
        return None
    return Question(text=f"{question.text} {scope_text({k: v for k, v in narrowed.items() if k not in question.scope})}"
                    .strip(), scope=narrowed, period_a=question.period_a, period_b=question.period_b,
                    metric=question.metric, in_channel=question.in_channel, note=question.note)


# ---------------------------------------------------------------------------------------------
# The message


def _section(text: str, accessory: dict | None = None) -> dict:
    block: dict[str, Any] = {"type": "section", "text": {"type": "mrkdwn", "text": cut(text, SECTION_CHARS)}}
    if accessory:
        block["accessory"] = accessory
    return block


def _button(text: str, action_id: str, value: str) -> dict | None:
    if len(value) > VALUE_CHARS:
        return None  # a question too long to carry: no button rather than a refused message
    return {"type": "button", "text": {"type": "plain_text", "text": cut(text, 75)}, "action_id": action_id,
            "value": value}


def _signed(value: Decimal) -> str:
    return format_usd(value, signed=True)


def _split_text(parts: dict[str, Decimal], answer: VarianceAnswer, *, day_counts: bool = False) -> str:
    """The non-zero parts, largest first; ``day_counts`` adds the periods' lengths to "day count"."""
    q = answer.question
    words = []
    for name, value in sorted(parts.items(), key=lambda item: -abs(item[1])):
        if not value:
            continue
        word = f"{part_word(name, value)} {_signed(value)}"
        if name == "days" and day_counts:
            word += f" ({q.period_a.label} has {q.period_a.days} days, {q.period_b.label} {q.period_b.days})"
        words.append(word)
    return " · ".join(words)


def overall_split(answer: VarianceAnswer) -> dict[str, Decimal]:
    """The parts of the change summed over every contributor (they add up to the change)."""
    return {name: sum((getattr(c, name) for c in answer.contributors), Decimal("0.00")) for name in PARTS}


def _contributor_text(contributor: Contributor, answer: VarianceAnswer) -> str:
    title = escape(cut(contributor.label, LABEL_CHARS))
    line = (f"*{title}*  {_signed(contributor.delta)}  "
            f"({format_usd(contributor.b)} → {format_usd(contributor.a)})")
    split = _split_text(contributor.parts(), answer)
    return f"{line}\n{split}" if split else line


def _explained_lines(answer: VarianceAnswer) -> list[str]:
    items = [item for item in answer.explained_by if item.amount]
    lines = []
    for item in items[:MAX_EXPLAINERS]:
        e = item.explainer
        ident = f"#{e.id}" if str(e.id).isdigit() else str(e.id)
        part = explained_part(answer, item)
        amount = f"{format_usd(abs(item.amount))} {escape(cut(part, LABEL_CHARS))}" if part else _signed(item.amount)
        lines.append(f"• {amount}: {e.kind} {ident} ({escape(e.state)}) {escape(cut(e.label, 200))}")
    if len(items) > MAX_EXPLAINERS:
        rest = sum((item.amount for item in items[MAX_EXPLAINERS:]), Decimal(0))
        lines.append(f"• {len(items) - MAX_EXPLAINERS} more: {_signed(rest)}")
    return lines


def variance_message(answer: VarianceAnswer, *, page: int = 1, chart_note: str | None = None) -> dict[str, Any]:
    """The answer as ``{"text", "blocks"}``; ``page`` > 1 lists lines after the first pages.

    For page ``n`` the answer must have been computed with ``top_n = n * PAGE_SIZE``: the lines
    before ``(n - 1) * PAGE_SIZE`` were shown on earlier pages and are left out here.
    """
    q = answer.question
    headline = summary_lines(answer)[0].replace(" -> ", " → ")  # an arrow mrkdwn need not escape
    title = f"Why spend changed: {q.period_b.label} → {q.period_a.label}"
    blocks: list[dict] = [{"type": "header", "text": {"type": "plain_text", "text": cut(title, HEADER_CHARS)}},
                          _section(escape(headline))]
    split = _split_text(overall_split(answer), answer, day_counts=True)
    if split:
        blocks.append(_section(f"*How it splits:* {split}"))
    first = (page - 1) * PAGE_SIZE
    shown = answer.contributors[first:]
    if shown:
        blocks.append({"type": "divider"})
        if page > 1:
            blocks.append(_section(f"_Lines {first + 1} to {first + len(shown)}:_"))
    for contributor in shown:
        accessory = None
        if contributor.kind != "other":
            narrowed = drill_question(q, contributor)
            if narrowed is not None:
                accessory = _button("Drill down", DRILL_ACTION, encode_question(narrowed))
        blocks.append(_section(_contributor_text(contributor, answer), accessory))
    explained = _explained_lines(answer)
    if explained:
        blocks.append(_section("*Explained by*\n" + "\n".join(explained)))
    context = [f"metric: {q.metric}"]
    if page == 1:
        # The share counts the "other" line as unnamed: a later page, computed with more lines, would
        # show another figure for the same question. The first page's is the answer's.
        context.append(f"explained: {answer.explained_share * 100:.0f} % of the movement")
    if q.note:
        context.insert(0, escape(q.note))
    if chart_note:
        context.append(chart_note)
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": cut(" · ".join(context), SECTION_CHARS)}]})
    # The "other" line holds more moving lines only when this page is full (else just unchanged ones).
    listed = sum(1 for c in answer.contributors if c.kind != "other")
    if shown and shown[-1].kind == "other" and listed >= page * PAGE_SIZE:
        more = _button("Show more", MORE_ACTION, encode_question(q, page=page + 1))
        if more is not None:
            blocks.append({"type": "actions", "elements": [more]})
    text = cut(" ".join(summary_lines(answer)), SECTION_CHARS)
    return {"text": text, "blocks": blocks}
