"""Block Kit for savings findings: the finding message, its history replies, lists, the ledger, modals.

Pure functions from records to dicts. One message per finding lives in its team's channel (key
``finding:<id>``) and is edited in place on every move; each move is a reply in its thread
(``finding:<id>:audit:<n>``). The buttons are those the state allows to people: the team's moves
and the finance approvers' overrides; who pressed is checked when the press arrives.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from bot.blocks.costs import channel_ref, cut, escape
from finops.money import format_usd
from finops.savings import DUE_DATE_STATES, Actor, FindingAction, FindingState, allowed_actions, days_past_due
from storage.findings import SCOPE_KEYS, FindingEvent, FindingRecord, describe_scope

NEW_CALLBACK = "finding_new"
MOVE_CALLBACK = "finding_move"
ACTION_PREFIX = "finding_"
MAX_BLOCKS = 50
SECTION_CHARS = 2_900
NOTES_CHARS = 2_000  # the modal's notes field (a section shows up to SECTION_CHARS)
LIST_LIMIT = 40  # findings shown in a list message; the CLI lists them all
OPTION_LIMIT = 100  # options in one select
PICKED_SCOPE = ("provider", "sub_account_id", "service", "region")  # scope keys with pickers in the modal

STATE_ICONS = {
    FindingState.IDENTIFIED: ":mag:", FindingState.ACCEPTED: ":thumbsup:", FindingState.REJECTED: ":no_entry_sign:",
    FindingState.IN_PROGRESS: ":construction:", FindingState.IMPLEMENTED: ":hammer_and_wrench:",
    FindingState.VERIFYING: ":hourglass_flowing_sand:", FindingState.VERIFIED: ":white_check_mark:",
    FindingState.NOT_REALIZED: ":x:",
}
BUTTONS = {  # action -> (label, style)
    FindingAction.ACCEPT: ("Accept", "primary"),
    FindingAction.REJECT: ("Reject…", "danger"),
    FindingAction.START: ("Start", "primary"),
    FindingAction.IMPLEMENTED: ("Mark implemented…", "primary"),
    FindingAction.REASSIGN: ("Reassign…", None),
    FindingAction.VERIFY: ("Verify (finance)…", None),
    FindingAction.NOT_REALIZED: ("Not realized (finance)…", None),
    FindingAction.REOPEN: ("Reopen (finance)…", None),
}
# Actions that ask for something first (a reason, a date, a new owner) open a modal.
MODAL_ACTIONS = frozenset({FindingAction.REJECT, FindingAction.IMPLEMENTED, FindingAction.REASSIGN,
                           FindingAction.VERIFY, FindingAction.NOT_REALIZED, FindingAction.REOPEN})
SCOPE_LABELS = {"provider": "Provider", "sub_account_id": "Account", "service": "Service", "region": "Region"}


def finding_key(finding_id: int) -> str:
    """The delivery key of a finding's message."""
    return f"finding:{finding_id}"


def history_key(finding_id: int, n: int) -> str:
    """The delivery key of the n-th move (1-based, after the creation) in the finding's thread."""
    return f"finding:{finding_id}:audit:{n}"


def who(actor: str) -> str:
    """A Slack user as a mention; the CLI and the bot as plain names."""
    if actor == "system":
        return "costbot"
    if actor[:1] in ("U", "W") and actor[1:].replace("_", "").isalnum() and actor.upper() == actor:
        return f"<@{actor}>"
    return f"`{escape(actor)}`"


def state_label(state: FindingState | str) -> str:
    """``:white_check_mark: verified``."""
    state = FindingState(state)
    return f"{STATE_ICONS[state]} {state.replace('_', ' ')}"


def button_value(finding: FindingRecord) -> str:
    """What a button carries: the finding and the version it showed (a stale press is a conflict)."""
    return f"{finding.id}:{finding.version}"


def parse_button_value(value: str) -> tuple[int, int]:
    """``"7:3"`` -> (7, 3)."""
    finding_id, version = value.split(":", 1)
    return int(finding_id), int(version)


def person_actions(state: FindingState | str) -> list[FindingAction]:
    """Buttons for a state: the team's moves, then the finance approvers' overrides."""
    team = allowed_actions(state, Actor("team", on_team=True))
    finance = allowed_actions(state, Actor("finance", finance=True))
    return [FindingAction(a) for a in dict.fromkeys(team + finance)]


def _section(text: str) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": cut(text, SECTION_CHARS)}}


def _context(text: str) -> dict:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": cut(text, SECTION_CHARS)}]}


def _field(label: str, value: str) -> dict:
    return {"type": "mrkdwn", "text": cut(f"*{label}*\n{value}", 1_900)}


def _plain(text: str, limit: int = 75) -> dict:
    return {"type": "plain_text", "text": cut(text, limit)}


def _share(part: float, whole: float) -> str:
    return f"{part / whole:.0%}" if whole else "–"


def _control_note(evidence: Mapping[str, Any]) -> str:
    """How far the expected cost followed the rest of the org (nothing when it did not)."""
    elasticity = evidence["adjustments"].get("control_elasticity") or 0.0
    return f", following the rest of the org (elasticity {elasticity:.2f})" if elasticity > 0 else ""


def evidence_lines(finding: FindingRecord) -> list[str]:
    """The measured numbers, when there are any: windows, expected, realized, and the re-check."""
    evidence, lines = finding.evidence, []
    if evidence:
        base, after = evidence["baseline"], evidence["after"]
        lines.append(
            f"*Evidence:* baseline {base['start']}..{base['end']} {format_usd(base['daily_cost'])}/day → after "
            f"{after['start']}..{after['end']} {format_usd(after['daily_cost'])}/day; expected without the change "
            f"{format_usd(evidence['expected_daily_after'])}/day (trend, weekdays{_control_note(evidence)}). "
            f"Realized *{format_usd(evidence['realized_monthly'])}/month* ± "
            f"{format_usd(evidence['standard_error_monthly'])}; needed {format_usd(evidence['threshold_monthly'])}.")
        if evidence.get("cautious_monthly") is not None:  # verified needs this reading to pass too
            lines.append(f"Read cautiously (the rest of the org's moves taken the way that credits the finding less): "
                         f"{format_usd(evidence['cautious_monthly'])}/month.")
    if finding.recheck:
        check = finding.recheck
        verdict = ":warning: *Regressed*" if finding.regressed else ":repeat: Holding"
        lines.append(f"{verdict} at the re-check of {check['window']['start']}..{check['window']['end']}: "
                     f"saving {format_usd(check['saving_monthly'])}/month, "
                     f"{format_usd(check['recent_saving_monthly'])}/month over its last days from "
                     f"{check['recent']['start']} (flagged below {format_usd(check['threshold_monthly'])}, "
                     f"{format_usd(check['recent_threshold_monthly'])} over the last days).")
    return lines


def finding_message(finding: FindingRecord) -> dict[str, Any]:
    """The finding's message: what, whose, how much, where it stands, the evidence, the buttons."""
    title = escape(finding.title)
    realized = ("not measured yet" if finding.realized_monthly is None else
                f"{format_usd(finding.realized_monthly)}/month "
                f"({_share(float(finding.realized_monthly), float(finding.estimate_monthly))} of the estimate)")
    fields = [
        _field("State", state_label(finding.state) + (" · :warning: regressed" if finding.regressed else "")),
        _field("Team", f"{escape(finding.team)} · {who(finding.assignee) if finding.assignee else 'no assignee'}"),
        _field("Estimated saving", f"{format_usd(finding.estimate_monthly)}/month"),
        _field("Realized saving", realized),
        _field("Scope", escape(describe_scope(finding.scope))),
        _field("Due", finding.due_on.isoformat() if finding.due_on else "–"),
    ]
    if finding.implemented_on:
        fields.append(_field("Implemented on", finding.implemented_on.isoformat()))
    if finding.verified_on:
        fields.append(_field("Verified on", finding.verified_on.isoformat()))
    blocks: list[dict] = [
        {"type": "header", "text": _plain(f"Savings finding #{finding.id}", 150)},
        _section(f"*{title}*"),
        {"type": "section", "fields": fields},
    ]
    if finding.notes:
        blocks.append(_section(f"*Notes:* {escape(finding.notes)}"))
    blocks += [_section(line) for line in evidence_lines(finding)]
    source = finding.source if not finding.external_id else f"{finding.source} {escape(finding.external_id)}"
    blocks.append(_context(f"identified {finding.identified_on} by {who(finding.created_by)} · source {source} · "
                           "history in the thread"))
    actions = person_actions(finding.state)
    if actions:
        blocks.append({"type": "actions", "block_id": f"finding-{finding.id}-actions", "elements": [
            _button(finding, action) for action in actions]})
    text = (f"Savings finding #{finding.id} ({finding.team}): {cut(finding.title, 200)} · {finding.state} · "
            f"est. {format_usd(finding.estimate_monthly)}/month")
    return {"text": text, "blocks": blocks}


def _button(finding: FindingRecord, action: FindingAction) -> dict:
    label, style = BUTTONS[action]
    button = {"type": "button", "action_id": f"{ACTION_PREFIX}{action}", "text": _plain(label),
              "value": button_value(finding)}
    if style:
        button["style"] = style
    return button


_VERBS = {
    "accept": "accepted it", "reject": "rejected it", "start": "started the work",
    "implemented": "marked it implemented", "reassign": "reassigned it",
    "begin_verification": "started verification: the saving is measured once the settling window has complete data",
    "reopen": "reopened it", "recheck": "re-checked the saving", "cannot_verify": "cannot verify it yet",
}


def history_line(event: FindingEvent) -> str:
    """One move as a thread reply: who did what, from which state to which, and why."""
    actor = who(event.by)
    if event.action in ("verify", "not_realized") and event.by == "system":
        icon = ":white_check_mark:" if event.action == "verify" else ":x:"
        return f"{icon} {escape(event.reason or event.action)}"
    if event.action == "verify":
        verb = f"verified it by hand ({format_usd(event.realized_monthly or 0)}/month booked)"
    elif event.action == "not_realized":
        verb = "marked it not realized by hand"
    else:
        verb = _VERBS.get(event.action, event.action)
    line = f"{actor} {verb}"
    if event.action == "implemented" and event.implemented_on:
        line += f" (live on {event.implemented_on})"
    if event.action == "reassign":
        line += f" to {who(event.assignee) if event.assignee else 'nobody'}"
        if event.team:
            line += f", team *{escape(event.team)}*"
    if event.from_state and event.to_state and event.from_state != event.to_state:
        line += f" · {event.from_state.replace('_', ' ')} → {event.to_state.replace('_', ' ')}"
    if event.reason:
        line += f"\n> {escape(event.reason)}"
    return line


# ----------------------------------------------------------------------------------------- lists

def due_text(finding: FindingRecord, today: date, *, day_format: str = "%Y-%m-%d") -> str:
    """`` · due 2026-11-20``, `` · :warning: past its due date 2026-11-12 (4 days)`` (as the
    reminder says it), or nothing (no due date, or implemented already)."""
    if finding.due_on is None or finding.state not in DUE_DATE_STATES:
        return ""
    late = days_past_due(finding.state, finding.due_on, today)
    if late is None:
        return f" · due {finding.due_on:{day_format}}"
    return f" · :warning: past its due date {finding.due_on:{day_format}} ({late} day{'s' if late != 1 else ''})"


def findings_list_message(findings: Sequence[FindingRecord], *, team: str | None, state: str | None,
                          today: date) -> dict[str, Any]:
    """``/cost findings [team] [state]``: one line per finding, newest first, within Slack's limits."""
    what = " ".join(x for x in (team, state and state.replace("_", " ")) if x) or "all"
    if not findings:
        return {"text": f"No savings findings ({what}).",
                "blocks": [_section(f"No savings findings ({escape(what)}). Open one with `/cost finding new`.")]}
    ordered = sorted(findings, key=lambda f: f.id, reverse=True)
    lines = [f"{STATE_ICONS[f.state]} *#{f.id}* {escape(cut(f.title, 120))} · {escape(f.team)} · "
             f"est. {format_usd(f.estimate_monthly)}/mo"
             + (f" · realized {format_usd(f.realized_monthly)}/mo" if f.realized_monthly is not None
                and f.state is FindingState.VERIFIED else "")
             + (" · :warning: regressed" if f.regressed else "")
             + due_text(f, today)
             for f in ordered[:LIST_LIMIT]]
    estimate = sum(f.estimate_monthly for f in findings)
    blocks = [{"type": "header", "text": _plain(f"Savings findings · {what}", 150)}]
    chunk: list[str] = []
    for line in lines:
        if sum(len(x) + 1 for x in chunk) + len(line) > SECTION_CHARS:
            blocks.append(_section("\n".join(chunk)))
            chunk = []
        chunk.append(line)
    blocks.append(_section("\n".join(chunk)))
    more = f" · {len(findings) - LIST_LIMIT} more: `costbot findings list`" if len(findings) > LIST_LIMIT else ""
    blocks.append(_context(f"{len(findings)} findings, {format_usd(estimate)}/month estimated{more}"))
    return {"text": f"{len(findings)} savings findings ({what})", "blocks": blocks[:MAX_BLOCKS]}


def _rate(value: float | None) -> str:
    return "–" if value is None or value != value else f"{value:.0%}"


def ledger_message(rows: Sequence[Mapping[str, Any]], total: Mapping[str, Any] | None, *, team: str | None,
                   quarter: str | None) -> dict[str, Any]:
    """``/cost savings [team] [quarter]``: identified vs implemented vs verified $, implementation rate."""
    what = " · ".join(x for x in (team, quarter) if x) or "all teams, all quarters"
    if total is None:
        return {"text": f"No savings findings ({what}).",
                "blocks": [_section(f"No savings findings yet ({escape(what)}). Open one with `/cost finding new`.")]}
    head = (f"*Identified* {format_usd(total['identified_monthly'])}/mo ({total['identified_count']}) · "
            f"*implemented* {format_usd(total['implemented_monthly'])}/mo ({total['implemented_count']}) · "
            + (f"*not realized* {format_usd(total['not_realized_monthly'])}/mo ({total['not_realized_count']}) · "
               if total["not_realized_count"] else "")
            + f"*verified* {format_usd(total['realized_monthly'])}/mo realized ({total['verified_count']}), "
            f"{format_usd(total['realized_annual'])} a year")
    rate = (f"Implementation rate: {_rate(total['implementation_rate_count'])} of findings, "
            f"{_rate(total['implementation_rate_usd'])} of estimated $ (rejected ones excluded"
            + ("; not realized ones count as identified, not implemented)" if total["not_realized_count"] else ")"))
    if total["regressed_count"]:
        rate += f" · :warning: {total['regressed_count']} regressed ({format_usd(total['regressed_monthly'])}/mo)"
    # The rate is of the findings identified in the quarter, implemented by now (a cohort), while
    # "implemented" is what was implemented in the quarter: "implemented $0.00 · rate 100%" read as
    # a contradiction, so the rate sits with what it is a share of.
    lines = [f"*{escape(r['team'])}* {r['quarter']}: identified {format_usd(r['identified_monthly'])}"
             + (f" ({_rate(r['implementation_rate_usd'])} of it implemented to date)" if r["identified_count"] else "")
             + f" · implemented {format_usd(r['implemented_monthly'])} · "
             + (f"not realized {format_usd(r['not_realized_monthly'])} · " if r["not_realized_count"] else "")
             + f"realized {format_usd(r['realized_monthly'])}"
             for r in rows]
    blocks = [{"type": "header", "text": _plain(f"Savings ledger · {what}", 150)}, _section(head), _context(rate)]
    chunk: list[str] = []
    for line in lines:
        if sum(len(x) + 1 for x in chunk) + len(line) > SECTION_CHARS:
            blocks.append(_section("\n".join(chunk)))
            chunk = []
        chunk.append(line)
    if chunk:
        blocks.append(_section("\n".join(chunk)))
    if len(blocks) > MAX_BLOCKS:
        blocks = blocks[:MAX_BLOCKS - 1] + [_context("More rows: `costbot savings`")]
    blocks.append(_context("Monthly amounts; each is booked in the quarter its event happened "
                           "(identified, implemented, verified" + ("; a not realized one in the quarter it was "
                                                                  "implemented" if total["not_realized_count"] else "")
                           + ")."))
    return {"text": f"Savings ledger ({what}): {format_usd(total['realized_monthly'])}/mo verified of "
                    f"{format_usd(total['identified_monthly'])}/mo identified", "blocks": blocks[:MAX_BLOCKS]}


def regression_message(finding: FindingRecord) -> dict[str, Any]:
    """The team's notice when a verified saving came back at the monthly re-check."""
    check = finding.recheck or {}
    text = (f":warning: The saving of finding #{finding.id} *{escape(finding.title)}* has come back: "
            f"{format_usd(check['saving_monthly'])}/month over {check['window']['start']}.."
            f"{check['window']['end']} ({format_usd(check['recent_saving_monthly'])}/month since "
            f"{check['recent']['start']}) against {format_usd(finding.realized_monthly or 0)}/month verified. "
            "A rollback or drift? It is flagged *regressed* in the savings ledger.")
    return {"text": text, "blocks": [_section(text)]}


def reminder_message(finding: FindingRecord, detail: str) -> dict[str, Any]:
    """The one reminder DM for a finding and reason."""
    text = (f":bell: Finding #{finding.id} *{escape(finding.title)}* ({escape(finding.team)}, "
            f"{finding.state.replace('_', ' ')}): {detail}")
    return {"text": text, "blocks": [_section(text), _context("You get this reminder once; the finding's "
                                                               "message in the team channel has its buttons.")]}


# ---------------------------------------------------------------------------------------- modals

@dataclass(frozen=True)
class FindingDraft:
    """What the new-finding modal is pre-filled with (from an anomaly, or the channel's team)."""

    title: str = ""
    team: str | None = None
    scope: Mapping[str, Sequence[str]] = field(default_factory=dict)
    estimate_monthly: Decimal | float | None = None
    due_on: date | None = None
    assignee: str | None = None
    source: str = "manual"
    external_id: str | None = None


def _option(value: str) -> dict:
    return {"text": _plain(value or "(none)"), "value": cut(value, 150)}


def _input(block_id: str, label: str, element: dict, *, optional: bool = False, hint: str | None = None) -> dict:
    block = {"type": "input", "block_id": block_id, "label": _plain(label, 2_000), "element": element,
             "optional": optional}
    if hint:
        block["hint"] = _plain(hint, 2_000)
    return block


def new_finding_modal(team_names: Sequence[str], scope_options: Mapping[str, Sequence[str]], draft: FindingDraft,
                      *, metadata: Mapping[str, Any], loading: bool = False) -> dict[str, Any]:
    """The ``/cost finding new`` form: title, team, scope pickers (+ other filters), estimate, due date.

    ``loading``: the scope options are still being read (the form is updated when they are).
    """
    title = {"type": "plain_text_input", "action_id": "value", "max_length": 300}
    if draft.title:
        title["initial_value"] = cut(draft.title, 300)
    if len(team_names) <= OPTION_LIMIT:
        team: dict = {"type": "static_select", "action_id": "value", "placeholder": _plain("Owner team"),
                      "options": [_option(t) for t in team_names]}
        if draft.team in team_names:
            team["initial_option"] = _option(draft.team)  # type: ignore[arg-type]
    else:  # a select holds 100 options; with more teams the name is typed
        team = {"type": "plain_text_input", "action_id": "value", "placeholder": _plain("Owner team (name)")}
        if draft.team:
            team["initial_value"] = draft.team
    blocks = [_input("title", "What to save", title), _input("team", "Team", team)]
    if loading:
        blocks.append(_context(":hourglass_flowing_sand: Looking up the accounts, services and regions with "
                               "recent spend for the scope pickers…"))
    for key in PICKED_SCOPE:
        chosen = list(draft.scope.get(key, ()))
        values = list(dict.fromkeys(chosen + list(scope_options.get(key, ()))))[:OPTION_LIMIT]
        if not values:
            continue
        picker: dict = {"type": "multi_static_select", "action_id": "value",
                        "placeholder": _plain(f"Any {SCOPE_LABELS[key].lower()}"),
                        "options": [_option(v) for v in values]}
        if chosen:
            picker["initial_options"] = [_option(v) for v in chosen if v in values]
        blocks.append(_input(f"scope_{key}", f"Scope: {SCOPE_LABELS[key]}", picker, optional=True))
    other = [f"{k}={v}" for k, values in draft.scope.items() if k not in PICKED_SCOPE for v in values]
    more: dict = {"type": "plain_text_input", "action_id": "value", "multiline": True,
                  "placeholder": _plain("resource_id=i-0abc…  (one KEY=VALUE a line)", 150)}
    if other:
        more["initial_value"] = "\n".join(other)
    blocks.append(_input("scope_more", "Scope: other filters", more, optional=True,
                         hint=f"Keys: {', '.join(k for k in SCOPE_KEYS if k not in PICKED_SCOPE)}, tag:KEY"))
    estimate: dict = {"type": "plain_text_input", "action_id": "value", "placeholder": _plain("e.g. 1200")}
    if draft.estimate_monthly:
        estimate["initial_value"] = f"{draft.estimate_monthly:.2f}"
    blocks.append(_input("estimate", "Estimated saving (USD per month)", estimate))
    due: dict = {"type": "datepicker", "action_id": "value", "placeholder": _plain("Due date")}
    if draft.due_on:
        due["initial_date"] = draft.due_on.isoformat()
    blocks.append(_input("due", "Due", due, optional=True))
    assignee: dict = {"type": "users_select", "action_id": "value", "placeholder": _plain("Default: a team owner")}
    if draft.assignee:
        assignee["initial_user"] = draft.assignee
    blocks.append(_input("assignee", "Assignee", assignee, optional=True))
    blocks.append(_input("notes", "Notes", {"type": "plain_text_input", "action_id": "value", "multiline": True,
                                             "max_length": NOTES_CHARS}, optional=True,
                         hint="How it was found, what to change, links: shown with the finding."))
    return {"type": "modal", "callback_id": NEW_CALLBACK, "title": _plain("New savings finding", 24),
            "submit": _plain("Open finding", 24), "close": _plain("Cancel", 24), "blocks": blocks,
            "private_metadata": json.dumps(dict(metadata), separators=(",", ":"))}


def move_modal(action: FindingAction, finding: FindingRecord, *, today: date, team_names: Sequence[str],
               metadata: Mapping[str, Any]) -> dict[str, Any]:
    """The form of a move that needs something: a reason, the live date, or the new owner."""
    intro = _section(f"*#{finding.id} {escape(cut(finding.title, 200))}* · {state_label(finding.state)}")
    blocks: list[dict] = [intro]
    reason = {"type": "plain_text_input", "action_id": "value", "multiline": True, "max_length": 2_000}
    titles = {FindingAction.REJECT: "Reject finding", FindingAction.IMPLEMENTED: "Mark implemented",
              FindingAction.REASSIGN: "Reassign finding", FindingAction.VERIFY: "Verify by hand",
              FindingAction.NOT_REALIZED: "Mark not realized", FindingAction.REOPEN: "Reopen finding"}
    if action is FindingAction.IMPLEMENTED:
        blocks.append(_input("implemented_on", "The change went live on", {
            "type": "datepicker", "action_id": "value", "initial_date": today.isoformat()},
            hint="Verification compares the days after this date with the weeks before it."))
        blocks.append(_input("reason", "Note", reason, optional=True))
    elif action is FindingAction.REASSIGN:
        if len(team_names) <= OPTION_LIMIT:
            team: dict = {"type": "static_select", "action_id": "value", "options": [_option(t) for t in team_names]}
            if finding.team in team_names:
                team["initial_option"] = _option(finding.team)
        else:
            team = {"type": "plain_text_input", "action_id": "value", "initial_value": finding.team}
        blocks.append(_input("team", "Team", team))
        assignee: dict = {"type": "users_select", "action_id": "value", "placeholder": _plain("Assignee")}
        if finding.assignee and who(finding.assignee).startswith("<@"):
            assignee["initial_user"] = finding.assignee
        blocks.append(_input("assignee", "Assignee", assignee, optional=True,
                             hint="Left empty: the team's first owner."))
        blocks.append(_input("reason", "Note", reason, optional=True))
    else:
        if action is FindingAction.VERIFY:
            booked = finding.realized_monthly if finding.realized_monthly is not None else finding.estimate_monthly
            blocks.append(_input("realized", "Realized saving to book (USD per month)", {
                "type": "plain_text_input", "action_id": "value", "initial_value": f"{booked:.2f}"}))
        blocks.append(_input("reason", "Why", reason,
                             hint="Goes into the finding's history." if action is not FindingAction.REJECT
                             else "Tell the team why: it goes into the finding's history."))
    return {"type": "modal", "callback_id": MOVE_CALLBACK, "title": _plain(titles[action], 24),
            "submit": _plain("Save", 24), "close": _plain("Cancel", 24), "blocks": blocks,
            "private_metadata": json.dumps(dict(metadata), separators=(",", ":"))}


def created_view(finding: FindingRecord, channel: str) -> dict[str, Any]:
    """What the modal turns into once the finding is open."""
    return {"type": "modal", "title": _plain("Finding opened", 24), "close": _plain("Done", 24), "blocks": [
        _section(f":white_check_mark: Finding *#{finding.id}* {escape(cut(finding.title, 200))} is open for "
                 f"*{escape(finding.team)}* ({format_usd(finding.estimate_monthly)}/month). Its message, with "
                 f"the buttons to move it, is in {channel_ref(channel)}.")]}
