"""Block Kit for anomalies: the alert, the note left behind when it moves, thread replies, the list,
and the two modals (Expected, Not ours).

Pure functions from :class:`storage.anomalies.AnomalyRecord` to dicts. One alert per anomaly lives
in its owner's channel under ``anomaly:<id>`` (``anomaly:<id>:to:<team>`` once moved) and is edited
in place as the anomaly grows and ends; its thread holds the chart, growth past each impact step,
and every answer. Buttons carry the anomaly id; who pressed is checked when the press arrives.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from bot.blocks.costs import channel_ref, cut, escape
from bot.blocks.findings import who
from finops.money import format_usd
from storage.anomalies import AnomalyRecord

ACKNOWLEDGE = "anomaly_ack"
EXPECTED = "anomaly_expected"
NOT_OURS = "anomaly_not_ours"
SNOOZE_DAY = "anomaly_snooze_day"
SNOOZE_WEEK = "anomaly_snooze_week"
OPEN_FINDING = "anomaly_open_finding"  # handled by handlers/finding_actions.py
SNOOZE_DAYS = {SNOOZE_DAY: 1, SNOOZE_WEEK: 7}
EXPECTED_CALLBACK = "anomaly_expected_form"
NOT_OURS_CALLBACK = "anomaly_not_ours_form"

HEADER_CHARS = 150
SECTION_CHARS = 2_900
FIELD_CHARS = 1_900
LIST_LIMIT = 40  # anomalies in a list message; the CLI lists them all
ROOT_CAUSE_VALUES = 3  # per dimension, in the alert
OPTION_LIMIT = 100

KIND_WORDS = {"spike": "Cost spike", "shift": "Cost shift", "new_spend": "New spend", "drop": "Cost drop",
              "aws": "AWS cost anomaly"}
DIMENSION_WORDS = {"SubAccountId": "Account", "ServiceName": "Service", "RegionId": "Region", "SkuId": "Usage type",
                   "ResourceId": "Resource", "UsageType": "Usage type"}
SCOPE_WORDS = (("provider", "Provider"), ("sub_account_id", "Account"), ("service", "Service"),
               ("region", "Region"), ("usage_type", "Usage type"), ("charge_category", "Charge"))
STATE_WORDS = {"open": ":red_circle: open", "acknowledged": ":eyes: acknowledged", "expected": ":ok_hand: expected",
               "snoozed": ":zzz: snoozed", "resolved": ":white_check_mark: resolved"}


def alert_key(anomaly_id: int) -> str:
    """The delivery key of an anomaly's first alert."""
    return f"anomaly:{anomaly_id}"


def moved_key(anomaly_id: int, team: str) -> str:
    """The delivery key of the alert once moved to ``team``."""
    return f"anomaly:{anomaly_id}:to:{team}"


def _section(text: str) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": cut(text, SECTION_CHARS)}}


def _context(text: str) -> dict:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": cut(text, SECTION_CHARS)}]}


def _field(label: str, value: str) -> dict:
    return {"type": "mrkdwn", "text": cut(f"*{label}*\n{value}", FIELD_CHARS)}


def _plain(text: str, limit: int = 75) -> dict:
    return {"type": "plain_text", "text": cut(text, limit)}


def _pct(record: AnomalyRecord) -> str:
    return "" if record.impact_pct is None else f" ({record.impact_pct:+.0%})"


def title(record: AnomalyRecord) -> str:
    """``Cost shift: Amazon EC2 in 111100000001 (us-east-1)``."""
    return f"{KIND_WORDS.get(record.kind, 'Cost anomaly')}: {record.label}"


def summary_text(record: AnomalyRecord) -> str:
    """One line (the notification text): who, what, how much, since when."""
    status = f"ended {record.end}" if record.end else f"since {record.start}"
    return (f"{title(record)} for {record.team}: {format_usd(record.impact, signed=True)}{_pct(record)} "
            f"so far, {status} (anomaly #{record.id})")


def _days(record: AnomalyRecord) -> str:
    if record.end is not None:
        return f"{record.start} → ended {record.end} ({(record.end - record.start).days + 1} days)"
    days = (record.through - record.start).days + 1
    return f"{record.start} ({days} day{'s' if days != 1 else ''} so far)"


def _scope_text(record: AnomalyRecord) -> str:
    parts = [f"{word} `{escape(record.dimensions[key])}`" for key, word in SCOPE_WORDS if record.dimensions.get(key)]
    return " · ".join(parts + [f"team *{escape(record.team)}*"])


def root_cause_lines(record: AnomalyRecord, per_dimension: int = ROOT_CAUSE_VALUES) -> list[str]:
    """Per dimension, the values carrying the impact with their share: ``Region: us-east-1 100 %``."""
    lines = []
    dimensions = list(dict.fromkeys(c.dimension for c in record.root_cause))
    for dimension in dimensions:
        # values carrying less than half a percent are noise beside the ones that matter
        values = [c for c in record.root_cause if c.dimension == dimension and c.value != "(other)"
                  and abs(c.share) >= 0.005][:per_dimension]
        rest = sum(c.share for c in record.root_cause if c.dimension == dimension) - sum(c.share for c in values)
        parts = [f"`{escape(cut(c.value or '(none)', 80))}` {c.share:.0%} ({format_usd(c.impact, signed=True)})"
                 for c in values]
        if abs(rest) >= 0.005:
            parts.append(f"others {rest:.0%}")
        lines.append(f"• {DIMENSION_WORDS.get(dimension, dimension)}: " + ", ".join(parts))
    return lines


def _answer_text(record: AnomalyRecord) -> str | None:
    if record.answer is None or record.answered_by is None:
        return None
    by = who(record.answered_by)
    if record.answer == "acknowledged":
        return f":eyes: Acknowledged by {by}"
    if record.answer == "expected":
        until = f" (expected until {record.expected_until}: new alerts on this scope are silenced)" \
            if record.expected_until else ""
        reason = f": _{escape(cut(record.answer_reason or '', 500))}_" if record.answer_reason else ""
        return f":ok_hand: Expected, said {by}{reason}{until}"
    if record.answer == "snoozed":
        return f":zzz: Snoozed by {by} until {record.snoozed_until}"
    if record.answer == "not_ours":
        return None  # the moved note says it
    return None


def moved_note(record: AnomalyRecord, rule: str | None) -> str:
    """Why the alert is in this channel now, and the ownership rule to fix."""
    by = who(record.answered_by) if record.answered_by else "someone"
    reason = f" (_{escape(cut(record.answer_reason, 300))}_)" if record.answer_reason else ""
    return (f":twisted_rightwards_arrows: Moved here from *{escape(record.detected_team)}* by {by}: not theirs"
            f"{reason}. {rule_text(rule)}")


def rule_text(rule: str | None) -> str:
    """The ownership rule that gave this spend its owner, as a next step."""
    if rule:
        return (f"The ownership rule that routed it there: `{escape(cut(rule, 400))}`. Fix it in teams.yml so the "
                "next alert on this spend goes to the right team.")
    return "No ownership rule in teams.yml matches this spend: add one so the next alert goes to its owner."


def _buttons(record: AnomalyRecord) -> dict:
    value = str(record.id)
    elements: list[dict] = []
    if record.answer != "acknowledged":
        elements.append({"type": "button", "action_id": ACKNOWLEDGE, "text": _plain("Acknowledge"), "value": value,
                         "style": "primary"})
    elements.append({"type": "button", "action_id": EXPECTED, "text": _plain("Expected…"), "value": value})
    elements.append({"type": "button", "action_id": NOT_OURS, "text": _plain("Not ours…"), "value": value})
    if record.is_open:
        elements.append({"type": "button", "action_id": SNOOZE_DAY, "text": _plain("Snooze 1 day"), "value": value})
        elements.append({"type": "button", "action_id": SNOOZE_WEEK, "text": _plain("Snooze 1 week"), "value": value})
    if record.direction == "increase":
        elements.append({"type": "button", "action_id": OPEN_FINDING, "text": _plain("Open savings finding"),
                         "value": value})
    return {"type": "actions", "block_id": f"anomaly_actions:{record.id}", "elements": elements}


def anomaly_message(record: AnomalyRecord, *, rule: str | None = None) -> dict[str, Any]:
    """The alert: scope, first day, expected vs actual, impact so far ($, %), root cause, status and
    buttons. ``rule`` is the ownership rule shown once the alert was moved ("Not ours")."""
    icon = ":white_check_mark:" if record.end else (":rotating_light:" if record.direction == "increase"
                                                     else ":chart_with_downwards_trend:")
    head = f"{'Resolved · ' if record.end else ''}{title(record)}"
    blocks: list[dict] = [
        {"type": "header", "text": _plain(f"{head}", HEADER_CHARS)},
        _section(f"{icon} *{format_usd(record.impact, signed=True)}*{_pct(record)} "
                 f"{'in total' if record.end else 'so far'} for *{escape(record.team)}*"
                 f"{'' if record.end else f', since {record.start:%a %d %b}'}."),
        {"type": "section", "fields": [
            _field("Scope", _scope_text(record)),
            _field("First day", _days(record)),
            _field("Expected vs actual", f"{format_usd(record.expected_cost)} expected, "
                                         f"{format_usd(record.actual_cost)} actual (through {record.through})"),
            _field("Impact so far" if record.is_open else "Impact",
                   f"{format_usd(record.impact, signed=True)}{_pct(record)}"),
        ]},
    ]
    causes = root_cause_lines(record)
    if causes:
        blocks.append(_section("*Root cause* (share of the impact)\n" + "\n".join(causes)))
    if record.moved:
        blocks.append(_section(moved_note(record, rule)))
    answer = _answer_text(record)
    status = [f"Anomaly #{record.id}", STATE_WORDS.get(record.state, record.state), f"detected {record.detected_on}"]
    if record.source == "aws":
        status.append(f"from AWS Cost Anomaly Detection ({escape(record.external_id or '')})")
    if answer:
        blocks.append(_context(answer))
    blocks.append(_context(" · ".join(status)))
    blocks.append(_buttons(record))
    return {"text": summary_text(record), "blocks": blocks}


def moved_away_message(record: AnomalyRecord, *, rule: str | None, channel: str) -> dict[str, Any]:
    """What the old alert becomes once the anomaly moved: where it went, and the rule to fix."""
    by = who(record.answered_by) if record.answered_by else "someone"
    text = (f":twisted_rightwards_arrows: Anomaly #{record.id} ({escape(title(record))}, "
            f"{format_usd(record.impact, signed=True)}) moved to *{escape(record.team)}* in {channel_ref(channel)} "
            f"by {by}: not ours.")
    return {"text": f"Anomaly #{record.id} moved to {record.team}",
            "blocks": [_section(text), _context(rule_text(rule))]}


def step_reply(record: AnomalyRecord, step: int) -> str:
    """The thread reply when the impact crosses a new step."""
    return (f":arrow_up: Still growing: {format_usd(record.impact, signed=True)}{_pct(record)} through "
            f"{record.through} (past {format_usd(step)}).")


def answer_reply(record: AnomalyRecord) -> str:
    """The thread reply for a person's answer."""
    if record.answer == "not_ours":
        return (f":twisted_rightwards_arrows: {who(record.answered_by or '')} moved it to *{escape(record.team)}*: "
                "not ours.")
    return _answer_text(record) or ""


def _line(record: AnomalyRecord) -> str:
    status = f"ended {record.end}" if record.end else f"since {record.start}"
    return (f"`#{record.id}` *{escape(record.team)}* · {escape(record.label)} · "
            f"{format_usd(record.impact, signed=True)}{_pct(record)} · {status} · "
            f"{STATE_WORDS.get(record.state, record.state)}")


def anomalies_list_message(records: Sequence[AnomalyRecord], *, team: str | None, which: str) -> dict[str, Any]:
    """``/cost anomalies [team] [open|all]``: one line per anomaly, newest first (40 at most)."""
    whose = f" of {team}" if team else ""
    heading = f"{'Open anomalies' if which == 'open' else 'Anomalies'}{whose}"
    if not records:
        text = f"No {'open ' if which == 'open' else ''}anomalies{whose}."
        return {"text": text, "blocks": [_section(text)]}
    shown = list(records[:LIST_LIMIT])
    blocks: list[dict] = [{"type": "header", "text": _plain(f"{heading} ({len(records)})", HEADER_CHARS)}]
    chunk: list[str] = []
    for line in map(_line, shown):
        if sum(len(x) + 1 for x in chunk) + len(line) > SECTION_CHARS:
            blocks.append(_section("\n".join(chunk)))
            chunk = []
        chunk.append(line)
    blocks.append(_section("\n".join(chunk)))
    if len(records) > LIST_LIMIT:
        blocks.append(_context(f"{len(records) - LIST_LIMIT} more: `costbot anomalies list"
                               f"{' --team ' + team if team else ''}{' --all' if which == 'all' else ''}` lists them all."))
    total = sum(r.impact for r in records)
    return {"text": f"{heading}: {len(records)}, {format_usd(total, signed=True)} in total", "blocks": blocks}


def _input(block_id: str, label: str, element: dict, *, optional: bool = False, hint: str | None = None) -> dict:
    block = {"type": "input", "block_id": block_id, "label": _plain(label, 2_000), "element": element,
             "optional": optional}
    if hint:
        block["hint"] = _plain(hint, 2_000)
    return block


def expected_modal(record: AnomalyRecord, *, today: date, metadata: Mapping[str, Any]) -> dict[str, Any]:
    """Expected: why (required), and optionally until when the same scope is expected."""
    return {"type": "modal", "callback_id": EXPECTED_CALLBACK, "title": _plain("Expected change", 24),
            "submit": _plain("Save", 24), "close": _plain("Cancel", 24),
            "private_metadata": json.dumps(dict(metadata), separators=(",", ":")),
            "blocks": [
                _section(f"*#{record.id} {escape(title(record))}*\n{format_usd(record.impact, signed=True)}"
                         f"{_pct(record)} since {record.start}"),
                _input("reason", "Why is it expected?", {"type": "plain_text_input", "action_id": "value",
                                                         "multiline": True, "max_length": 2_000}),
                _input("until", "Expect this until", {"type": "datepicker", "action_id": "value",
                                                      "placeholder": _plain("No end date")},
                       optional=True, hint=f"New alerts on {cut(record.label, 200)} are silenced until this day "
                                           f"(from {today} on)."),
            ]}


def not_ours_modal(record: AnomalyRecord, *, team_names: Sequence[str], rule: str | None,
                   metadata: Mapping[str, Any]) -> dict[str, Any]:
    """Not ours: pick the right team; the ownership rule that sent it here is shown."""
    choices = [t for t in team_names if t != record.team]
    if len(choices) <= OPTION_LIMIT:
        element: dict = {"type": "static_select", "action_id": "value", "placeholder": _plain("Team"),
                         "options": [{"text": _plain(t), "value": t} for t in choices]}
    else:
        element = {"type": "plain_text_input", "action_id": "value"}
    return {"type": "modal", "callback_id": NOT_OURS_CALLBACK, "title": _plain("Not ours", 24),
            "submit": _plain("Move it", 24), "close": _plain("Cancel", 24),
            "private_metadata": json.dumps(dict(metadata), separators=(",", ":")),
            "blocks": [
                _section(f"*#{record.id} {escape(title(record))}* is with *{escape(record.team)}*.\n{rule_text(rule)}"),
                _input("team", "Whose is it?", element),
                _input("reason", "Note", {"type": "plain_text_input", "action_id": "value", "multiline": True,
                                          "max_length": 2_000}, optional=True),
            ]}


def not_yours_text(record: AnomalyRecord) -> str:
    """The answer to someone who is neither on the owning team nor a finance approver."""
    return (f":no_entry: Anomaly #{record.id} is not yours: it belongs to *{escape(record.team)}*. Its team "
            "(owners, members, channel members) and finance approvers answer it. Nothing was changed.")

