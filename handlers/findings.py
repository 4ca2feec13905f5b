"""``/cost finding new`` (a modal), ``/cost findings [team] [state]`` and ``/cost savings [team] [quarter]``.

The new-finding modal is also opened from an anomaly alert (handlers/finding_actions.py) with its
scope and estimate filled in; both submit to the same ``finding_new`` view, validated here: a
mistake is shown next to its field (``response_action: errors``), a good form opens the finding,
turns the modal into a confirmation, and posts the finding's message in its team's channel.
Anyone may open a finding (identifying savings is the point); the team triages it.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import date
from typing import Any

from slack_bolt import Ack, App

from bot.blocks.findings import (
    NEW_CALLBACK,
    PICKED_SCOPE,
    FindingDraft,
    created_view,
    findings_list_message,
    ledger_message,
    new_finding_modal,
)
from bot.blocks.help import user_text
from bot.context import AppContext
from bot.delivery import DeliveryError
from bot.services.findings import (
    default_assignee,
    load_ledger,
    parse_quarter,
    parse_scope,
    past_due_date_error,
    publish_finding,
    scope_options,
)
from bot.services.forecast import find_team
from finops.errors import InputError, QuestionError
from finops.model import UNALLOCATED
from finops.savings import FindingState, parse_monthly_saving
from handlers.checked_forms import MODAL_GONE
from handlers.commands import (
    SLOW_WORK,
    AfterAck,
    CommandRequest,
    Reply,
    did_you_mean,
    did_you_mean_team,
    one_at_a_time,
    slack_busy_text,
    subcommand,
)
from storage.anomalies import AnomalyStore
from storage.findings import FindingStore, NewFinding, normalize_scope

log = logging.getLogger(__name__)
# A word that tries to be a quarter but is not one parse_quarter reads: "Q5", "q4", "2026", "2026-Q0".
QUARTERISH = re.compile(r"(\d{4}[- ]?)?q\d+([- ]?\d{4})?|\d{4}", re.IGNORECASE)

def field_value(values: dict[str, dict[str, dict]], block_id: str) -> Any:
    """The value of a modal input, whatever its element: text, select(s), date or user."""
    element = next(iter(values.get(block_id, {}).values()), None)
    if element is None:
        return None
    kind = element.get("type")
    if kind == "static_select":
        return (element.get("selected_option") or {}).get("value")
    if kind == "multi_static_select":
        return [option["value"] for option in element.get("selected_options") or []]
    if kind == "datepicker":
        return element.get("selected_date")
    if kind == "users_select":
        return element.get("selected_user")
    value = element.get("value")
    return value.strip() if isinstance(value, str) and value.strip() else None


def team_of(ctx: AppContext, user: str) -> str | None:
    """The first team the user owns or is a member of (the form's default team)."""
    return next((t.name for t in ctx.teams.teams if user in t.owners or user in t.members), None)


def open_new_finding_modal(ctx: AppContext, trigger_id: str, draft: FindingDraft, *, channel: str = "") -> None:
    """Open the new-finding form, pre-filled with ``draft``, at once: a trigger expires 3 s after
    the press, and reading what has cost something lately can take longer on a large store. The
    scope pickers hold the draft's values until :func:`fill_scope_pickers` (run next, off the
    listener's thread) updates the form with the rest."""
    opened = ctx.delivery.open_view(trigger_id, new_finding_form(ctx, draft, channel=channel))
    fill_scope_pickers_later(ctx, opened["view"]["id"], draft, channel=channel, view_hash=opened["view"].get("hash"))


def new_finding_form(ctx: AppContext, draft: FindingDraft, *, channel: str = "") -> dict[str, Any]:
    """The new-finding form pre-filled with ``draft``, its scope pickers still loading."""
    return new_finding_modal(ctx.teams.team_names, {}, draft, metadata=_new_finding_metadata(draft, channel),
                             loading=True)


def fill_scope_pickers_later(ctx: AppContext, view_id: str, draft: FindingDraft, *, channel: str = "",
                             view_hash: str | None = None) -> None:
    """Run :func:`fill_scope_pickers` off the listener's thread."""
    SLOW_WORK.submit(fill_scope_pickers, ctx, view_id, draft, _new_finding_metadata(draft, channel), view_hash)


def _new_finding_metadata(draft: FindingDraft, channel: str) -> dict[str, Any]:
    return {"channel": channel, "source": draft.source, "external_id": draft.external_id}


def fill_scope_pickers(ctx: AppContext, view_id: str, draft: FindingDraft, metadata: dict[str, Any],
                       view_hash: str | None = None) -> None:
    """Update the open form with the scope values that had spend lately (what was typed stays).

    ``view_hash`` is the form's hash as opened: if the person submitted it meanwhile, Slack now
    shows the confirmation (another hash) and refuses this update, which would otherwise put the
    form back and let it be submitted twice.
    """
    try:
        view = new_finding_modal(ctx.teams.team_names, scope_options(ctx), draft, metadata=metadata)
        ctx.delivery.update_view(view_id, view, view_hash)
    except DeliveryError as error:
        if error.error in MODAL_GONE or error.transient:  # closed or submitted meanwhile, or Slack busy
            log.info("new-finding form %s not updated: %s", view_id, error)
        else:  # Slack refused the filled form itself: a fault of ours (the form stays usable, unfilled)
            log.error("new-finding form %s: Slack refused the filled scope pickers: %s", view_id, error)


@subcommand("finding new", usage="/cost finding new [title]",
            summary="Open a savings finding: a form for its title, team, scope, estimate and due date.")
def new_finding(request: CommandRequest) -> AfterAck:
    # "/cost finding new Rightsize the RDS": what was typed is the title, not dropped
    draft = FindingDraft(title=request.args, team=team_of(request.ctx, request.user_id))

    def open_form() -> Reply | None:  # after the ack: views.open can take longer than Slack waits for it
        try:
            open_new_finding_modal(request.ctx, request.trigger_id, draft, channel=request.channel_id)
        except DeliveryError as error:
            if not error.transient:
                raise
            log.warning("new-finding form not opened for %s: %s", request.user_id, error)
            return Reply(text=slack_busy_text("open the new-finding form", error))
        return None

    return AfterAck(text=":memo: Fill in the form to open a savings finding.", work=open_form)


def parse_list_filters(ctx: AppContext, args: str) -> tuple[str | None, str | None]:
    """``payments in_progress`` (either order, either optional) -> (team, state)."""
    team = state = None
    states = {str(s) for s in FindingState} | {str(s).replace("_", "-") for s in FindingState}
    words = args.split()
    while words:
        word = words.pop(0)
        if words and f"{word}_{words[0]}".lower() in states:  # "in progress", "not realized"
            word = f"{word}_{words.pop(0)}"
        if (named := find_team(ctx.teams, word)) is not None:  # any case: "Payments"
            if team not in (None, named):
                raise one_at_a_time("team", team, named, "findings")
            team = named
        elif word.lower() in states:
            if state not in (None, word.lower().replace("-", "_")):
                raise one_at_a_time("state", state, word.lower().replace("-", "_"), "findings")
            state = word.lower().replace("-", "_")
        else:
            # "findings new": the form is /cost finding new; else perhaps a misspelt team
            hint = (" Did you mean `/cost finding new`?" if word.lower() == "new"
                    else did_you_mean(word, [str(s) for s in FindingState]) or did_you_mean_team(ctx, word))
            raise QuestionError(f"`{user_text(word)}` is neither a team nor a finding state "
                                f"(states: {', '.join(FindingState)}).{hint}", word=word,
                                examples=tuple(f"/cost findings {t}" for t in ctx.teams.team_names[:2])
                                + ("/cost findings verified",))
    return team, state


@subcommand("findings", usage="/cost findings [team] [state]",
            summary="Savings findings, of a team and in a state (e.g. `/cost findings payments in_progress`).")
def list_findings(request: CommandRequest) -> Reply:
    team, state = parse_list_filters(request.ctx, request.args)
    findings = FindingStore(request.ctx.db).list_findings(team=team, states=[state] if state else None)
    return Reply(**findings_list_message(findings, team=team, state=state, today=request.ctx.schedule_today()))


@subcommand("savings", usage="/cost savings [team] [quarter]", slow=True, working_text="Adding up the ledger…",
            summary="The savings ledger: identified vs implemented vs verified $, by team and quarter.")
def show_savings(request: CommandRequest) -> Reply:
    team = quarter = None
    words = request.args.split()
    while words:
        word = words.pop(0)
        if (named := find_team(request.ctx.teams, word)) is not None:  # any case: "Payments"
            if team not in (None, named):
                raise one_at_a_time("team", team, named, "savings")
            team = named
            continue
        try:
            # "Q4 2026", "2026 q4": a quarter written in two words
            read = parse_quarter(f"{word} {words[0]}") if words else None
        except InputError:
            read = None
        if read is not None:
            words.pop(0)
        try:
            read = read or parse_quarter(word)
            if quarter not in (None, read):
                raise one_at_a_time("quarter", quarter, read, "savings")
            quarter = read
        except InputError:
            # "Q5", "q4" without its year, "2026": meant as a quarter, so say how one is written
            hint = (" A quarter is written like `2026Q4` or `Q4 2026` (Q1 to Q4)." if QUARTERISH.fullmatch(word)
                    else did_you_mean_team(request.ctx, word))
            raise QuestionError(f"`{user_text(word)}` is neither a team nor a quarter.{hint}",
                                word=word,
                                examples=("/cost savings", "/cost savings 2026Q4")
                                + tuple(f"/cost savings {t}" for t in request.ctx.teams.team_names[:1])) from None
    ledger = load_ledger(FindingStore(request.ctx.db), team=team, quarter=quarter)
    return Reply(**ledger_message(ledger.rows, None if ledger.empty else ledger.total, team=team, quarter=quarter))


def field_error(error: InputError) -> str:
    """An InputError as the text under a modal field: its message, without the column and value."""
    text = str(error).removeprefix(f"column {error.column!r}: " if error.column else "")
    text = text.removesuffix(f" (value {error.value!r})" if error.value is not None else "")
    return text[:1].upper() + text[1:]


def read_new_finding(ctx: AppContext, values: dict[str, dict[str, dict]]) -> tuple[dict[str, Any], dict[str, str]]:
    """The submitted form as NewFinding fields, and errors by block id (empty when it is fine)."""
    errors: dict[str, str] = {}
    fields: dict[str, Any] = {"title": field_value(values, "title") or ""}
    if not fields["title"]:
        errors["title"] = "Say what to save, e.g. “Rightsize the payments RDS instance”"
    team = field_value(values, "team")
    if team not in ctx.teams.team_names and team != UNALLOCATED:
        errors["team"] = f"No team {team!r} in teams.yml" if team else "Pick the team that owns the spend"
    fields["team"] = team
    scope: dict[str, list[str]] = {key: picked for key in PICKED_SCOPE if (picked := field_value(values, f"scope_{key}"))}
    more = field_value(values, "scope_more")
    try:
        for key, picked in parse_scope([line for line in (more or "").splitlines() if line.strip()]).items():
            scope.setdefault(key, []).extend(picked)
        fields["scope"] = normalize_scope(scope)
    except InputError as error:
        errors["scope_more"] = field_error(error) if scope or more else "Pick at least one scope (what the saving is measured on)"
    try:
        fields["estimate_monthly"] = parse_monthly_saving(field_value(values, "estimate") or "")
    except InputError as error:
        errors["estimate"] = field_error(error)
    due = field_value(values, "due")
    fields["due_on"] = date.fromisoformat(due) if due else None
    late = past_due_date_error(ctx, fields["due_on"])
    if late:
        errors["due"] = late[0].upper() + late[1:]
    fields["assignee"] = field_value(values, "assignee")
    fields["notes"] = field_value(values, "notes")
    return fields, errors


def register(app: App, ctx: AppContext) -> None:
    @app.view(NEW_CALLBACK)
    def on_new_finding(ack: Ack, body: dict, view: dict) -> None:
        user = body["user"]["id"]
        fields, errors = read_new_finding(ctx, view["state"]["values"])
        if errors:
            ack(response_action="errors", errors=errors)
            return
        metadata = json.loads(view.get("private_metadata") or "{}")
        new = NewFinding(**{**fields, "assignee": fields["assignee"] or default_assignee(ctx, fields["team"])},
                         source=metadata.get("source") or "manual", external_id=metadata.get("external_id") or None)
        try:
            finding = FindingStore(ctx.db).create(new, by=user, at=ctx.now())
        except InputError as error:
            # e.g. the anomaly's finding opened already (a second submission): said plainly, not as
            # "column 'external_id': … (value '12')"; the form has no field of its own for it.
            ack(response_action="errors", errors={"title": field_error(error)})
            return
        ack(response_action="update", view=created_view(finding, ctx.teams.channel_for(finding.team)))
        if finding.source == "anomaly" and finding.external_id:
            AnomalyStore(ctx.db).record_finding_opened(int(finding.external_id), finding_id=finding.id, by=user,
                                                       at=ctx.now())
        publish_finding(ctx, finding.id)
