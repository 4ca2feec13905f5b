"""The buttons on a finding's message, their modals, and "Open savings finding" on an anomaly alert.

Every press is acked at once, then checked: only the finding team's owners and members (and its
channel's members, as teams.yml says) and finance approvers may act; anyone else is told "not
yours" (an ephemeral, or in the modal of a form button, below) and nothing changes. A press the
state no longer allows, or a button older than the finding's last move ("already moved by X to
Y"), is refused the same way. Refused presses are audited too. A modal's submission shows a
refusal next to its field when teams.yml decides who may; when the team channel's members decide,
the modal closes at once (no Slack call before the ack) and the refusal comes as an ephemeral,
audited the same. A button that opens a form for someone only the channel's members can place
shows a "checking" modal at once (a trigger_id lasts 3 s, the members lookup may take longer) and
the form or the refusal replaces it (handlers/checked_forms.py). Accepted moves go through
``FindingStore.move`` (versioned, audited) and the finding's message is updated in place, the
move added to its thread.

The same buttons are on the App Home tab (handlers/home.py). A press there has no
``response_url``: refusals go to the person's direct messages with the app, and after a move the
person's Home tab is published again so its buttons follow the finding's new state.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from datetime import date, datetime

from slack_bolt import Ack, App, Respond

from bot.blocks.findings import (
    ACTION_PREFIX,
    MODAL_ACTIONS,
    MOVE_CALLBACK,
    move_modal,
    parse_button_value,
    who,
)
from bot.context import AppContext
from bot.delivery import DeliveryError
from bot.services.findings import anomaly_draft, default_assignee, finding_actor, publish_finding
from finops.errors import InputError, TransitionError
from finops.model import UNALLOCATED
from finops.savings import (
    MOVES,
    Actor,
    FindingAction,
    Role,
    allowed_actions,
    apply_action,
    describe_allowed,
    parse_monthly_saving,
)
from handlers.checked_forms import members_check_failed_text, open_form_after_check
from handlers.commands import needs_channel_members, slack_busy_text
from handlers.findings import (
    field_error,
    field_value,
    fill_scope_pickers_later,
    new_finding_form,
    open_new_finding_modal,
)
from handlers.home import publish_home
from storage.anomalies import AnomalyStore
from storage.findings import FindingConflict, FindingRecord, FindingStore

log = logging.getLogger(__name__)

BUTTON_ACTIONS = ("accept", "reject", "start", "implemented", "reassign", "verify", "not_realized", "reopen")
BUTTON_PATTERN = re.compile(f"^{ACTION_PREFIX}({'|'.join(BUTTON_ACTIONS)})$")
OPEN_FROM_ANOMALY = "anomaly_open_finding"
GONE_TEXT = "This finding is no longer known to costbot. Nothing was changed; /cost findings lists the current ones."


def not_yours(finding: FindingRecord) -> str:
    """The answer to someone who is neither on the finding's team nor a finance approver."""
    return (f":no_entry: Finding #{finding.id} is not yours: it belongs to *{finding.team}*. Its owners and members "
            "move it; finance approvers verify or reopen it. Nothing was changed.")


def conflict_text(conflict: FindingConflict) -> str:
    """``already moved by <@U…> to accepted`` with mentions, for Slack."""
    last = conflict.last
    if last is None:
        return f":warning: {conflict}"
    if last.action == str(FindingAction.REASSIGN):
        return (f":warning: Finding #{conflict.finding_id} was already reassigned by {who(last.by)} "
                f"at {last.at:%H:%M} UTC. Nothing was changed; its message shows what you can do now.")
    return (f":warning: Finding #{conflict.finding_id} was already moved by {who(last.by)} to *{last.to_state}* "
            f"({last.action}, {last.at:%H:%M} UTC). Nothing was changed; its message shows what you can do now.")


def refusal_text(finding: FindingRecord, action: FindingAction, actor: Actor) -> str | None:
    """Why ``actor`` may not ``action`` the finding now, or None when they may."""
    if not actor.roles:
        return not_yours(finding)
    if str(action) in allowed_actions(finding.state, actor):
        return None
    roles = " and ".join(r for r, held in (("on the team", actor.on_team), ("a finance approver", actor.finance))
                         if held)
    return f":no_entry: You cannot {action} finding #{finding.id} ({roles}): {describe_allowed(finding.state)}."


@dataclass(frozen=True)
class Press:
    """A button press: who, on which finding, which move, and the version the message showed."""

    user: str
    finding_id: int
    version: int
    action: FindingAction


def _press(body: dict) -> Press:
    action = body["actions"][0]
    finding_id, version = parse_button_value(action.get("value", ""))
    return Press(body["user"]["id"], finding_id, version, FindingAction(action["action_id"][len(ACTION_PREFIX):]))


def actor_by_config(ctx: AppContext, user: str, team: str, action: FindingAction) -> Actor | None:
    """The actor for ``action`` on a finding of ``team`` when teams.yml decides it, or None when
    whether the user is on the team depends on the team channel's members (a Slack call, so not
    before the ack). A finance approver's finance move (verify, not realized, reopen) does not
    depend on being on the team: no team member may make it."""
    finance = ctx.teams.is_finance_approver(user)
    if not needs_channel_members(ctx, user, team):
        return finding_actor(ctx, user, team)  # asks no Slack: teams.yml decides
    if finance and Role.TEAM not in {move.role for move in MOVES if move.action is action}:
        return Actor(user, on_team=False, finance=True)
    return None


def lacking_for_the_team(finding: FindingRecord, action: FindingAction, user: str, *, at: datetime,
                         kwargs: dict) -> str | None:
    """What a team move lacks (a reason, a date, an assignee) if ``user`` is on the team, as
    ``FindingStore.move`` would say it; checked before the ack, while the form can still show it.
    None when nothing is missing, or when the move is not a team move or not legal from the state
    (the move itself says why, after the ack)."""
    if not any(m.from_state == finding.state and m.action is action and m.role is Role.TEAM for m in MOVES):
        return None
    given = {key: value for key, value in kwargs.items() if key in ("reason", "implemented_on", "assignee")}
    try:
        apply_action(finding.state, action, actor=Actor(user, on_team=True), at=at, finding_id=finding.id, **given)
    except TransitionError as error:
        return f"finding #{finding.id}: {error}"
    return None


def press_refusal(store: FindingStore, finding: FindingRecord, press: Press, actor: Actor) -> str | None:
    """Why ``actor``'s press may not move the finding, or None when it may."""
    if actor.roles and press.version != finding.version:
        # A button older than the last move: whoever pressed it first wins, and the other is told
        # who moved it where, even when the new state rules the move out (two people pressing
        # Accept at once: the second is not just told "finding is accepted").
        return conflict_text(FindingConflict(finding.id, store.last_move(finding.id), finding.state))
    return refusal_text(finding, press.action, actor)


def pressed_on_home(body: dict) -> bool:
    """Whether a button was pressed on the App Home tab (a view), not on a message."""
    return (body.get("container") or {}).get("type") == "view"


def register(app: App, ctx: AppContext) -> None:
    store = FindingStore(ctx.db)

    def tell(channel: str, user: str, text: str) -> None:
        """An ephemeral note after a modal closed: in the message's channel, else in the app's DM."""
        if channel:
            try:
                ctx.delivery.post_ephemeral(channel, user, text, None)
                return
            except DeliveryError as error:  # e.g. user_not_in_channel
                log.info("ephemeral in %s for %s failed (%s): sent to the DM", channel, user, error)
        ctx.delivery.post_ephemeral(user, user, text, None)

    def tell_presser(body: dict, respond: Respond, text: str) -> None:
        """An ephemeral answer to a press: under the message, or in the app's DM for a press on
        the Home tab (a view has no response_url)."""
        if pressed_on_home(body):
            user = body["user"]["id"]
            ctx.delivery.post_ephemeral(user, user, text, None)
        else:
            respond(replace_original=False, response_type="ephemeral", text=text)

    def refuse(body: dict, respond: Respond, finding_id: int, user: str, action: str, text: str) -> None:
        # Audited first: by the time the presser reads the refusal, the trail already holds it.
        store.record_refusal(finding_id, by=user, action=action, reason=text, at=ctx.now())
        tell_presser(body, respond, text)

    def move_form(body: dict, press: Press, finding: FindingRecord) -> dict:
        metadata = {"id": finding.id, "version": finding.version, "action": str(press.action),
                    "home": pressed_on_home(body), "channel": (body.get("channel") or {}).get("id", "")}
        return move_modal(press.action, finding, today=ctx.today(), team_names=ctx.teams.team_names,
                          metadata=metadata)

    @app.action(BUTTON_PATTERN)
    def on_finding_button(ack: Ack, body: dict, respond: Respond) -> None:
        ack()
        try:
            press = _press(body)
            finding = store.get(press.finding_id)
        except (ValueError, InputError):  # a message from another costbot, or a finding no longer stored
            tell_presser(body, respond, f":warning: {GONE_TEXT}")
            return
        decided = actor_by_config(ctx, press.user, finding.team, press.action)  # None: the members decide
        if press.action in MODAL_ACTIONS and decided is None:
            # The members lookup can outlast the trigger_id (3 s): "checking" now, the form or the
            # refusal (audited) in its place.
            def form_or_refusal() -> dict | str:
                refusal = press_refusal(store, finding, press, finding_actor(ctx, press.user, finding.team))
                if refusal is None:
                    return move_form(body, press, finding)
                store.record_refusal(finding.id, by=press.user, action=press.action, reason=refusal, at=ctx.now())
                return refusal

            open_form_after_check(ctx, body["trigger_id"], title=f"Finding #{finding.id}", team=finding.team,
                                  form_or_refusal=form_or_refusal,
                                  tell_busy=lambda text: tell_presser(body, respond, text))
            return
        try:
            actor = decided if decided is not None else finding_actor(ctx, press.user, finding.team)
        except DeliveryError as error:  # the channel's members could not be read: say why, change nothing
            tell_presser(body, respond, members_check_failed_text(finding.team, error))
            return
        refusal = press_refusal(store, finding, press, actor)
        if refusal is not None:
            refuse(body, respond, finding.id, press.user, press.action, refusal)
            return
        if press.action in MODAL_ACTIONS:
            try:
                ctx.delivery.open_view(body["trigger_id"], move_form(body, press, finding))
            except DeliveryError as error:
                if not error.transient:
                    raise
                tell_presser(body, respond, slack_busy_text("open the form", error))
            return
        try:
            store.move(finding.id, press.action, actor=actor, at=ctx.now(), expected_version=press.version)
        except FindingConflict as conflict:
            refuse(body, respond, finding.id, press.user, press.action, conflict_text(conflict))
            return
        except TransitionError as error:
            refuse(body, respond, finding.id, press.user, press.action, f":no_entry: {error}")
            return
        publish_finding(ctx, finding.id)
        if pressed_on_home(body):
            publish_home(ctx, press.user)

    @app.view(MOVE_CALLBACK)
    def on_move_submitted(ack: Ack, body: dict, view: dict) -> None:
        user = body["user"]["id"]
        metadata = json.loads(view.get("private_metadata") or "{}")
        action = FindingAction(metadata["action"])
        try:
            finding = store.get(int(metadata["id"]))
        except InputError:  # gone while the form was open: said in the form, not Slack's "trouble connecting"
            ack(response_action="errors",
                errors={"implemented_on" if action is FindingAction.IMPLEMENTED else "reason": GONE_TEXT})
            return
        values = view["state"]["values"]
        where = "implemented_on" if action is FindingAction.IMPLEMENTED else "reason"
        kwargs: dict = {"reason": field_value(values, "reason")}
        if action is FindingAction.IMPLEMENTED:
            picked = field_value(values, "implemented_on")
            kwargs["implemented_on"] = date.fromisoformat(picked) if picked else None
        if action is FindingAction.REASSIGN:
            team = field_value(values, "team") or finding.team
            if team not in ctx.teams.team_names and team != UNALLOCATED:
                ack(response_action="errors", errors={"team": f"No team {team!r} in teams.yml"})
                return
            assignee = field_value(values, "assignee") or (
                default_assignee(ctx, team) if team != finding.team else finding.assignee)
            if not assignee:
                ack(response_action="errors", errors={"assignee": f"{team} has no owner in teams.yml: pick someone"})
                return
            kwargs.update(team=team, assignee=assignee)
        if action is FindingAction.VERIFY:
            try:
                kwargs["realized_monthly"] = parse_monthly_saving(field_value(values, "realized") or "",
                                                                  what="realized saving")
            except InputError as error:
                ack(response_action="errors", errors={"realized": field_error(error)})
                return

        def move_or_refusal(actor: Actor) -> tuple[str, str] | None:
            """None once moved; else the refusal, as shown next to a field and as a message."""
            if not actor.roles:
                return not_yours(finding), not_yours(finding)
            try:
                store.move(finding.id, action, actor=actor, at=ctx.now(), expected_version=int(metadata["version"]),
                           **kwargs)
            except FindingConflict as conflict:
                return str(conflict), conflict_text(conflict)
            except TransitionError as error:  # a move the state or the person does not allow
                return str(error), f":no_entry: {error}"
            return None

        actor = actor_by_config(ctx, user, finding.team, action)
        if actor is not None:  # teams.yml decides: a refusal is shown next to its field
            refusal = move_or_refusal(actor)
            if refusal is not None:
                store.record_refusal(finding.id, by=user, action=str(action), reason=refusal[0], at=ctx.now())
                ack(response_action="errors", errors={where: refusal[0]})
                return
            ack()
        else:  # the channel's members decide, a Slack call: the modal closes first, a refusal follows
            lacking = lacking_for_the_team(finding, action, user, at=ctx.now(), kwargs=kwargs)
            if lacking is not None:  # a missing reason or date: still shown next to its field
                store.record_refusal(finding.id, by=user, action=str(action), reason=lacking, at=ctx.now())
                ack(response_action="errors", errors={where: lacking})
                return
            ack()
            told = metadata.get("channel", "") if not metadata.get("home") else ""
            try:
                actor = finding_actor(ctx, user, finding.team)
            except DeliveryError as error:  # busy: try again; unreadable channel: what to fix (logged)
                tell(told, user, members_check_failed_text(finding.team, error))
                return
            refusal = move_or_refusal(actor)
            if refusal is not None:  # audited first, as every refusal
                store.record_refusal(finding.id, by=user, action=str(action), reason=refusal[1], at=ctx.now())
                tell(told, user, refusal[1])
                return
        publish_finding(ctx, finding.id)
        if metadata.get("home"):
            publish_home(ctx, user)

    @app.action(OPEN_FROM_ANOMALY)
    def on_open_from_anomaly(ack: Ack, body: dict, respond: Respond) -> None:
        ack()
        user = body["user"]["id"]
        try:
            anomaly_id = int(body["actions"][0].get("value", ""))
            draft, team = anomaly_draft(ctx, anomaly_id)
        except ValueError:  # a button from another costbot
            respond(replace_original=False, response_type="ephemeral",
                    text=":warning: This alert's anomaly is no longer known to costbot. Nothing was changed.")
            return
        except InputError as error:
            respond(replace_original=False, response_type="ephemeral", text=f":warning: {error}")
            return
        channel = (body.get("channel") or {}).get("id", "")
        # Whether the presser is on the team is a members lookup unless teams.yml decides.
        slow = needs_channel_members(ctx, user, team) and not ctx.teams.is_finance_approver(user)

        def refusal() -> str | None:
            """Why the press opens no form (audited when the presser may not), or None."""
            members = frozenset(ctx.delivery.channel_members(ctx.teams.channel_for(team))) if slow else frozenset()
            if not ctx.teams.may_act(user, team, members):
                text = f"Anomaly #{anomaly_id} is not yours: it belongs to *{team}*. Nothing was changed."
                AnomalyStore(ctx.db).record_refusal(anomaly_id, by=user, action="open_finding", reason=text,
                                                    at=ctx.now())
                return f":no_entry: {text}"
            existing = store.find("anomaly", str(anomaly_id))
            if existing is not None:
                return (f"Finding #{existing.id} was already opened from this anomaly ({existing.state}); "
                        f"its message is in {ctx.teams.channel_for(existing.team)}.")
            return None

        def tell(text: str) -> None:
            respond(replace_original=False, response_type="ephemeral", text=text)

        if slow:  # the lookup can outlast the trigger_id (3 s): "checking" now, the form in its place
            form = open_form_after_check(
                ctx, body["trigger_id"], title=f"Anomaly #{anomaly_id}", team=team,
                form_or_refusal=lambda: refusal() or new_finding_form(ctx, draft, channel=channel), tell_busy=tell)
            if form is not None:
                fill_scope_pickers_later(ctx, form["id"], draft, channel=channel, view_hash=form.get("hash"))
            return
        text = refusal()
        if text is not None:
            tell(text)
            return
        try:
            open_new_finding_modal(ctx, body["trigger_id"], draft, channel=channel)
        except DeliveryError as error:
            if not error.transient:
                raise
            tell(slack_busy_text("open the new-finding form", error))
