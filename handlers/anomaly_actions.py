"""The buttons on an anomaly alert and their modals: Acknowledge, Expected…, Not ours…, Snooze.

("Open savings finding" on the same alert is handled by handlers/finding_actions.py.)

Every press is acked at once, then checked: only the owning team (its owners and members, and its
channel's members as teams.yml says) and finance approvers may answer; anyone else is told "not
yours" (an ephemeral, or in the modal of a form button, below), nothing changes, and the refused
press is audited. A modal's submission
shows a refusal next to its field when teams.yml decides it; when the channel's members do, the
modal closes at once (no Slack call before the ack) and the refusal comes as an ephemeral. A button
that opens a form for someone only the channel's members can place opens a "checking" modal at
once (a trigger_id lasts 3 s; the members lookup may not) and the form or the refusal replaces it
(handlers/checked_forms.py). An accepted answer is
stored (audited, the first one recorded as the alert's first human response), the alert is edited
in place and the answer noted in its thread. On an anomaly imported from AWS, the answer is also
written back to AWS (Acknowledge: a real anomaly; Expected: planned activity; Not ours: no).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import date, timedelta

from slack_bolt import Ack, App, Respond

from bot.blocks.anomalies import (
    ACKNOWLEDGE,
    EXPECTED,
    EXPECTED_CALLBACK,
    NOT_OURS,
    NOT_OURS_CALLBACK,
    SNOOZE_DAY,
    SNOOZE_DAYS,
    SNOOZE_WEEK,
    expected_modal,
    not_ours_modal,
    not_yours_text,
)
from bot.blocks.findings import who
from bot.context import AppContext
from bot.delivery import DeliveryError
from finops.errors import InputError, TransitionError
from finops.model import UNALLOCATED
from handlers.checked_forms import members_check_failed_text, open_form_after_check
from handlers.commands import needs_channel_members, slack_busy_text
from handlers.findings import field_value
from jobs.detect import move_anomaly, owner_rule, reply_to_answer, tell_aws
from storage.anomalies import AlreadyAnswered, AnomalyRecord, AnomalyStore

log = logging.getLogger(__name__)

GONE_TEXT = "This alert's anomaly is no longer known to costbot. Nothing was changed."


def may_answer_by_config(ctx: AppContext, user: str, record: AnomalyRecord) -> bool | None:
    """:func:`may_answer` as teams.yml alone decides it, or None when it depends on the team
    channel's members (a Slack call, so not before the ack)."""
    if ctx.teams.is_finance_approver(user) or not needs_channel_members(ctx, user, record.team):
        return ctx.teams.may_act(user, record.team)
    return None


def may_answer(ctx: AppContext, user: str, record: AnomalyRecord) -> bool:
    """Whether ``user`` may answer the anomaly: on its owning team, or a finance approver."""
    decided = may_answer_by_config(ctx, user, record)
    if decided is not None:
        return decided
    members = ctx.delivery.channel_members(ctx.teams.channel_for(record.team))
    return ctx.teams.may_act(user, record.team, frozenset(members))


def register(app: App, ctx: AppContext) -> None:
    store = AnomalyStore(ctx.db)

    def ephemeral(respond: Respond, text: str) -> None:
        respond(replace_original=False, response_type="ephemeral", text=text)

    def pressed_anomaly(body: dict, respond: Respond) -> AnomalyRecord | None:
        """The anomaly a press is about (None, and the presser told, when it is no longer known)."""
        try:
            return store.get(int(body["actions"][0].get("value", "")))
        except (InputError, ValueError):
            ephemeral(respond, f":warning: {GONE_TEXT}")
            return None

    def submitted_anomaly(metadata: dict, ack: Ack, field: str) -> AnomalyRecord | None:
        """The anomaly a form is about (None, and the form told next to ``field``, when it is no longer known)."""
        try:
            return store.get(int(metadata.get("id", "")))
        except (InputError, ValueError):  # said in the form, not Slack's "trouble connecting"
            ack(response_action="errors", errors={field: GONE_TEXT})
            return None

    def refusal(user: str, record: AnomalyRecord, action: str) -> str:
        text = not_yours_text(record)
        store.record_refusal(record.id, by=user, action=action, reason=text, at=ctx.now())  # audited first
        return text

    def pressed(body: dict, respond: Respond, action: str) -> AnomalyRecord | None:
        """The anomaly a press is about, if the presser may answer it (else answered and audited)."""
        record = pressed_anomaly(body, respond)
        if record is None:
            return None
        try:
            allowed = may_answer(ctx, body["user"]["id"], record)
        except DeliveryError as error:  # the channel's members could not be read: say why, change nothing
            ephemeral(respond, members_check_failed_text(record.team, error))
            return None
        if not allowed:
            ephemeral(respond, refusal(body["user"]["id"], record, action))
            return None
        return record

    def open_answer_form(body: dict, respond: Respond, action: str, form: Callable[[AnomalyRecord], dict]) -> None:
        """Open the form of ``action`` for a presser who may answer. When that depends on the
        channel's members (a Slack call that can outlast the trigger_id), a "checking" modal opens
        first and the form or the refusal replaces it."""
        user = body["user"]["id"]
        record = pressed_anomaly(body, respond)
        if record is None:
            return
        decided = may_answer_by_config(ctx, user, record)
        if decided is None:
            def form_or_refusal() -> dict | str:
                return form(record) if may_answer(ctx, user, record) else refusal(user, record, action)
            open_form_after_check(ctx, body["trigger_id"], title=f"Anomaly #{record.id}", team=record.team,
                                  form_or_refusal=form_or_refusal, tell_busy=lambda text: ephemeral(respond, text))
        elif not decided:
            ephemeral(respond, refusal(user, record, action))
        else:
            open_modal(body, respond, form(record))

    def aws_note(error: str) -> str:
        return f":warning: AWS could not be told ({error}); the answer stands in costbot."

    def open_modal(body: dict, respond: Respond, view: dict) -> None:
        try:
            ctx.delivery.open_view(body["trigger_id"], view)
        except DeliveryError as error:
            if not error.transient:
                raise
            ephemeral(respond, slack_busy_text("open the form", error))

    def tell(channel: str, user: str, text: str) -> None:
        """An ephemeral note after a modal closed: in the alert's channel, else in the app's DM."""
        if channel:
            try:
                ctx.delivery.post_ephemeral(channel, user, text)
                return
            except DeliveryError as error:  # e.g. user_not_in_channel
                log.info("ephemeral in %s for %s failed (%s): sent to the DM", channel, user, error)
        ctx.delivery.post_ephemeral(user, user, text)

    def submitter_may_answer(user: str, record: AnomalyRecord, action: str, channel: str) -> bool:
        """After the ack of a modal whose submitter needs the channel's members: whether they may
        answer; if not, the refusal is audited and told in an ephemeral (the modal has closed)."""
        try:
            allowed = may_answer(ctx, user, record)
        except DeliveryError as error:  # busy: try again; unreadable channel: what to fix (logged)
            tell(channel, user, members_check_failed_text(record.team, error))
            return False
        if not allowed:
            refusal = not_yours_text(record)
            store.record_refusal(record.id, by=user, action=action, reason=refusal, at=ctx.now())  # audited first
            tell(channel, user, refusal)
        return allowed

    def already_answered(body: dict, respond: Respond, record: AnomalyRecord, action: str, done: str) -> None:
        """Tell a presser the answer is already given (who, when); audited, nothing changes."""
        at = f" at {record.answered_at:%H:%M} UTC" if record.answered_at else ""
        text = (f":information_source: Anomaly #{record.id} was already {done} by {who(record.answered_by or '')}"
                f"{at}. Nothing was changed.")
        store.record_refusal(record.id, by=body["user"]["id"], action=action, reason=text, at=ctx.now())
        ephemeral(respond, text)

    @app.action(ACKNOWLEDGE)
    def on_acknowledge(ack: Ack, body: dict, respond: Respond) -> None:
        ack()
        record = pressed(body, respond, "acknowledged")
        if record is None:
            return
        try:
            answered = store.acknowledge(record.id, by=body["user"]["id"], at=ctx.now())
        except AlreadyAnswered as already:  # a double click, two owners at once, an alert not yet edited
            already_answered(body, respond, already.record, "acknowledged", "acknowledged")
            return
        error = tell_aws(answered, "acknowledge")
        if error:
            ephemeral(respond, aws_note(error))
        reply_to_answer(ctx, answered)

    @app.action(SNOOZE_DAY)
    @app.action(SNOOZE_WEEK)
    def on_snooze(ack: Ack, body: dict, respond: Respond) -> None:
        ack()
        record = pressed(body, respond, "snoozed")
        if record is None:
            return
        days = SNOOZE_DAYS[body["actions"][0]["action_id"]]
        until = ctx.today() + timedelta(days=days)
        if record.answer == "snoozed" and record.snoozed_until is not None and record.snoozed_until >= until:
            already_answered(body, respond, record, "snoozed", f"snoozed until {record.snoozed_until}")
            return
        try:
            answered = store.snooze(record.id, by=body["user"]["id"], at=ctx.now(), until=until)
        except TransitionError as error:
            store.record_refusal(record.id, by=body["user"]["id"], action="snoozed", reason=str(error), at=ctx.now())
            ephemeral(respond, f":no_entry: {error}")
            return
        reply_to_answer(ctx, answered)

    @app.action(EXPECTED)
    def on_expected(ack: Ack, body: dict, respond: Respond) -> None:
        ack()
        metadata = {"channel": (body.get("channel") or {}).get("id", "")}
        open_answer_form(body, respond, "expected", lambda record: expected_modal(
            record, today=ctx.today(), metadata={"id": record.id, **metadata}))

    @app.view(EXPECTED_CALLBACK)
    def on_expected_submitted(ack: Ack, body: dict, view: dict) -> None:
        user = body["user"]["id"]
        metadata = json.loads(view.get("private_metadata") or "{}")
        record = submitted_anomaly(metadata, ack, "reason")
        if record is None:
            return
        values = view["state"]["values"]
        reason = field_value(values, "reason")
        picked = field_value(values, "until")
        until = date.fromisoformat(picked) if picked else None
        allowed = may_answer_by_config(ctx, user, record)
        if allowed is False:
            refusal = not_yours_text(record)
            store.record_refusal(record.id, by=user, action="expected", reason=refusal, at=ctx.now())
            ack(response_action="errors", errors={"reason": refusal})
            return
        if not reason:
            ack(response_action="errors", errors={"reason": "Say why it is expected: the team and finance read it"})
            return
        if until is not None and until < ctx.today():
            ack(response_action="errors", errors={"until": f"Pick today ({ctx.today()}) or a later day"})
            return
        ack()
        if allowed is None and not submitter_may_answer(user, record, "expected", metadata.get("channel", "")):
            return  # the channel's members decided (a Slack call, after the ack): refused and told
        answered = store.expect(record.id, by=user, at=ctx.now(), reason=reason, until=until)
        error = tell_aws(answered, "expected")
        if error and metadata.get("channel"):
            ctx.delivery.post_ephemeral(metadata["channel"], user, aws_note(error))
        reply_to_answer(ctx, answered)

    @app.action(NOT_OURS)
    def on_not_ours(ack: Ack, body: dict, respond: Respond) -> None:
        ack()
        metadata = {"channel": (body.get("channel") or {}).get("id", "")}
        teams = [*ctx.teams.team_names, UNALLOCATED]
        open_answer_form(body, respond, "not_ours", lambda record: not_ours_modal(
            record, team_names=teams, rule=owner_rule(ctx, record), metadata={"id": record.id, **metadata}))

    @app.view(NOT_OURS_CALLBACK)
    def on_not_ours_submitted(ack: Ack, body: dict, view: dict) -> None:
        user = body["user"]["id"]
        metadata = json.loads(view.get("private_metadata") or "{}")
        record = submitted_anomaly(metadata, ack, "team")
        if record is None:
            return
        values = view["state"]["values"]
        team = field_value(values, "team") or ""
        allowed = may_answer_by_config(ctx, user, record)
        if allowed is False:
            refusal = not_yours_text(record)
            store.record_refusal(record.id, by=user, action="not_ours", reason=refusal, at=ctx.now())
            ack(response_action="errors", errors={"team": refusal})
            return
        if team not in ctx.teams.team_names and team != UNALLOCATED:
            ack(response_action="errors", errors={"team": f"No team {team!r} in teams.yml"})
            return
        if team == record.team:
            ack(response_action="errors", errors={"team": f"It is already with {team}: pick the team it belongs to"})
            return
        ack()
        if allowed is None and not submitter_may_answer(user, record, "not_ours", metadata.get("channel", "")):
            return  # the channel's members decided (a Slack call, after the ack): refused and told
        moved = move_anomaly(ctx, record.id, to_team=team, by=user, reason=field_value(values, "reason"))
        error = tell_aws(moved, "not_ours")
        if error and metadata.get("channel"):
            ctx.delivery.post_ephemeral(metadata["channel"], user, aws_note(error))
