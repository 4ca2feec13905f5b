"""Anomalies through the real app over HTTP, as Slack drives it: ingest -> detect -> the alert in the
owner's channel once; each button does what it says for the owning team and finance only (anyone
else gets "not yours" and nothing changes), every press audited, the first one recorded as the
first response; Not ours moves the alert; /cost anomalies lists them; answers on an AWS anomaly
go back to AWS (botocore Stubber)."""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, date, datetime

import boto3
import pytest
from botocore.stub import Stubber

import jobs.detect
from bot.blocks.anomalies import alert_key, moved_key, not_yours_text
from finops.model import UNALLOCATED
from handlers import checked_forms
from jobs.detect import import_aws_anomalies, run_detection
from storage.anomalies import AnomalyRecord, AnomalyStore
from storage.db import Database
from tests.handlers.test_commands import wait_for
from tests.harness import RunningBot, start_bot
from tests.jobs.anomaly_data import ingest_through
from tests.jobs.test_detect import AWS_ANOMALY, Clock

PAYMENTS = "#team-payments"


def workspace(bot: RunningBot) -> RunningBot:
    for channel in (PAYMENTS, "#team-search", "#finops"):
        bot.slack.add_channel(channel)
    bot.slack.add_members(PAYMENTS, "U_PAY_CHANNEL")
    for user in ("U_PAY_OWNER", "U_PAY_DEV", "U_PAY_CHANNEL", "U_SEARCH_OWNER", "U_FINANCE", "U_STRANGER"):
        bot.slack.add_user(user, name=user.lower())
    return bot


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 11, 16, 9, tzinfo=UTC))


@pytest.fixture(autouse=True)
def quick_charts(monkeypatch) -> None:
    """A stand-in PNG: these tests are about the buttons (tests/jobs/test_detect.py draws real charts)."""
    monkeypatch.setattr(jobs.detect, "anomaly_chart", lambda *args, **kwargs: b"\x89PNG stand-in")


@pytest.fixture
def org(db: Database, fake_slack, clock, tmp_path):
    """The app on the test backend with data through 2026-11-14 and today's detection done."""
    running = workspace(start_bot(db, fake_slack, now=clock, files_dir=tmp_path / "files"))
    ingest_through(running.ctx, date(2026, 11, 14), tmp_path)
    run_detection(running.ctx, as_of=date(2026, 11, 16))
    try:
        yield running
    finally:
        running.stop()


def payments_anomaly(bot: RunningBot) -> AnomalyRecord:
    (record,) = AnomalyStore(bot.ctx.db).list_anomalies(team="payments")
    return record


def alert(bot: RunningBot, channel: str, key: str) -> dict:
    (message,) = [m for m in bot.slack.messages(channel)
                  if (m.get("metadata") or {}).get("event_payload", {}).get("key") == key]
    return message


def buttons(message: dict) -> list[str]:
    return [e["action_id"] for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]]


def press(bot: RunningBot, action_id: str, record: AnomalyRecord, user: str, channel: str = PAYMENTS) -> str:
    """Press a button on the anomaly's alert; returns the response_url (for an ephemeral answer)."""
    message = alert(bot, channel, record.message_key or alert_key(record.id))
    url = bot.slack.response_url(channel=channel, message_ts=message["ts"])
    ack = bot.client.action(action_id, str(record.id), user_id=user, channel_id=bot.slack.channel_id(channel),
                            message_ts=message["ts"], response_url=url)
    assert ack.status == 200
    return url


def settled(bot: RunningBot, anomaly_id: int, action: str, count: int = 1) -> None:
    """Wait until ``count`` audit entries of ``action`` exist and the listener's Slack work is done."""
    store = AnomalyStore(bot.ctx.db)
    wait_for(lambda: len([e for e in store.history(anomaly_id) if e.action == action]) >= count)
    quiet(bot)


def quiet(bot: RunningBot, still: float = 0.25) -> None:
    """Wait until no Slack call arrived for ``still`` seconds (a listener goes on after its ack)."""
    last, since = len(bot.slack.all_calls()), time.monotonic()
    while time.monotonic() - since < still:
        time.sleep(0.02)
        if (now := len(bot.slack.all_calls())) != last:
            last, since = now, time.monotonic()


def thread_texts(bot: RunningBot, channel: str, parent: dict) -> list[str]:
    return [m["text"] for m in bot.slack.messages(channel) if m.get("thread_ts") == parent["ts"] and m["ts"] != parent["ts"]]


def test_the_owner_acknowledges_and_a_stranger_changes_nothing(org: RunningBot, clock: Clock) -> None:
    record = payments_anomaly(org)
    message = alert(org, PAYMENTS, alert_key(record.id))
    assert "anomaly_ack" in buttons(message)

    url = press(org, "anomaly_ack", record, "U_STRANGER")
    (answer,) = wait_for(lambda: org.slack.response_url_calls(url))
    assert answer["text"].startswith(f":no_entry: Anomaly #{record.id} is not yours: it belongs to *payments*")
    assert answer["response_type"] == "ephemeral" and answer["replace_original"] is False
    settled(org, record.id, "refused:acknowledged")
    assert org.slack.calls("chat.update") == []
    assert AnomalyStore(org.ctx.db).get(record.id).first_response_at is None

    clock.at = datetime(2026, 11, 16, 10, 30, tzinfo=UTC)
    press(org, "anomaly_ack", record, "U_PAY_DEV")
    settled(org, record.id, "acknowledged")
    acknowledged = AnomalyStore(org.ctx.db).get(record.id)
    assert (acknowledged.state, acknowledged.first_response_by, acknowledged.first_response_at) == (
        "acknowledged", "U_PAY_DEV", clock.at)
    edited = org.slack.message(PAYMENTS, message["ts"])
    assert "anomaly_ack" not in buttons(edited)
    assert ":eyes: Acknowledged by <@U_PAY_DEV>" in str(edited["blocks"])
    assert thread_texts(org, PAYMENTS, message)[-1] == ":eyes: Acknowledged by <@U_PAY_DEV>"
    assert [(e.actor, e.action) for e in AnomalyStore(org.ctx.db).history(record.id)] == [
        ("system", "detected"), ("U_STRANGER", "refused:acknowledged"), ("U_PAY_DEV", "acknowledged")]


@pytest.mark.parametrize(("action_id", "audited"), [
    ("anomaly_ack", "refused:acknowledged"), ("anomaly_expected", "refused:expected"),
    ("anomaly_not_ours", "refused:not_ours"), ("anomaly_snooze_day", "refused:snoozed"),
    ("anomaly_snooze_week", "refused:snoozed")])
def test_every_button_refuses_someone_outside_the_team(org: RunningBot, action_id: str, audited: str) -> None:
    """A member of another team presses: "not yours" to them alone, no form, no edit, no change, audited.

    Whether they are in payments' channel takes a members lookup; a button that opens a form shows
    "checking" at once (its trigger_id lasts 3 s) and the refusal in its place, the others an ephemeral."""
    record = payments_anomaly(org)
    calls = len(org.slack.all_calls())
    url = press(org, action_id, record, "U_SEARCH_OWNER")
    if action_id in ("anomaly_expected", "anomaly_not_ours"):
        (update,) = wait_for(lambda: org.slack.calls("views.update"))
        (opened,) = org.slack.calls("views.open")
        assert opened["view"]["blocks"][0]["text"]["text"].startswith(":hourglass_flowing_sand: Checking that you "
                                                                       "are on *payments*")
        assert update["view"]["blocks"] == [{"type": "section", "text": {"type": "mrkdwn",
                                                                         "text": not_yours_text(record)}}]
        assert "submit" not in update["view"] and org.slack.response_url_calls(url) == []
        shown = ("views.open", "views.update")
    else:
        (answer,) = wait_for(lambda: org.slack.response_url_calls(url))
        assert answer["text"] == not_yours_text(record)
        assert answer["response_type"] == "ephemeral" and answer["replace_original"] is False
        shown = ()
    settled(org, record.id, audited)
    assert [m for m, _ in org.slack.all_calls()[calls:]
            if m in ("views.open", "views.update", "chat.update", "chat.postMessage", "chat.postEphemeral")] == [*shown]
    after = AnomalyStore(org.ctx.db).get(record.id)
    assert (after.state, after.team, after.snoozed_until, after.first_response_at) == ("open", "payments", None, None)
    assert [(e.actor, e.action) for e in AnomalyStore(org.ctx.db).history(record.id)] == [
        ("system", "detected"), ("U_SEARCH_OWNER", audited)]


def test_channel_members_and_finance_approvers_may_answer(org: RunningBot, clock: Clock) -> None:
    record = payments_anomaly(org)
    press(org, "anomaly_snooze_day", record, "U_PAY_CHANNEL")  # a member of #team-payments
    settled(org, record.id, "snoozed")
    assert AnomalyStore(org.ctx.db).get(record.id).snoozed_until == date(2026, 11, 17)
    press(org, "anomaly_snooze_week", record, "U_FINANCE")
    settled(org, record.id, "snoozed", 2)
    snoozed = AnomalyStore(org.ctx.db).get(record.id)
    assert (snoozed.state, snoozed.snoozed_until, snoozed.answered_by, snoozed.first_response_by) == (
        "snoozed", date(2026, 11, 23), "U_FINANCE", "U_PAY_CHANNEL")
    message = org.slack.message(PAYMENTS, alert(org, PAYMENTS, alert_key(record.id))["ts"])
    assert ":zzz: Snoozed by <@U_FINANCE> until 2026-11-23" in str(message["blocks"])


def test_expected_asks_why_and_silences_the_scope_until_the_day_given(org: RunningBot, clock: Clock) -> None:
    record = payments_anomaly(org)
    press(org, "anomaly_expected", record, "U_PAY_OWNER")
    view = wait_for(lambda: org.slack.calls("views.open"))[-1]["view"]
    assert view["callback_id"] == "anomaly_expected_form"
    assert [b["block_id"] for b in view["blocks"] if b["type"] == "input"] == ["reason", "until"]

    missing = org.client.view_submission("anomaly_expected_form", {"reason": {"value": ""}}, user_id="U_PAY_OWNER",
                                         view=view)
    assert missing.json()["response_action"] == "errors" and "reason" in missing.json()["errors"]
    past = org.client.view_submission("anomaly_expected_form", {
        "reason": {"value": "load test"}, "until": {"value": {"type": "datepicker", "selected_date": "2026-11-01"}}},
        user_id="U_PAY_OWNER", view=view)
    assert past.json()["errors"] == {"until": "Pick today (2026-11-16) or a later day"}
    # Whether U_STRANGER is in the team's channel takes a Slack call, so the modal closes first (an
    # empty ack) and the refusal follows as an ephemeral in the alert's channel, audited first.
    stranger = org.client.view_submission("anomaly_expected_form", {"reason": {"value": "mine now"}},
                                          user_id="U_STRANGER", view=view)
    assert stranger.status == 200 and not stranger.body
    (refused,) = wait_for(lambda: org.slack.ephemerals("U_STRANGER"))
    assert refused["text"] == not_yours_text(record) and refused["text"].startswith(":no_entry:")
    assert refused["channel"] == org.slack.channel_id(PAYMENTS)
    assert AnomalyStore(org.ctx.db).get(record.id).state == "open"

    done = org.client.view_submission("anomaly_expected_form", {
        "reason": {"value": "load test fleet until the 30th"},
        "until": {"value": {"type": "datepicker", "selected_date": "2026-11-30"}}}, user_id="U_PAY_OWNER", view=view)
    assert done.status == 200 and not done.body  # an empty ack closes the modal
    settled(org, record.id, "expected")
    expected = AnomalyStore(org.ctx.db).get(record.id)
    assert (expected.state, expected.answer_reason, expected.expected_until) == (
        "expected", "load test fleet until the 30th", date(2026, 11, 30))
    message = org.slack.message(PAYMENTS, alert(org, PAYMENTS, alert_key(record.id))["ts"])
    assert "load test fleet until the 30th" in str(message["blocks"])
    assert [e.action for e in AnomalyStore(org.ctx.db).history(record.id)] == ["detected", "refused:expected",
                                                                               "expected"]


def test_a_form_waiting_on_a_slow_members_lookup_opens_in_time(org: RunningBot) -> None:
    # Slack lets a trigger_id open a view for 3 s (FakeSlack refuses it later) and the lookup of
    # payments' channel members takes 4 s here: the form opens at once as "checking" and becomes
    # the form, or the refusal, when the lookup answers.
    record = payments_anomaly(org)
    org.slack.delay("conversations.members", 4)
    press(org, "anomaly_expected", record, "U_PAY_CHANNEL")
    (checking,) = wait_for(lambda: org.slack.calls("views.open"))
    assert checking["view"]["blocks"][0]["text"]["text"] == (
        ":hourglass_flowing_sand: Checking that you are on *payments* (its channel's members)… the form opens here "
        "in a moment.")
    assert checking["view"]["title"]["text"] == f"Anomaly #{record.id}" and "submit" not in checking["view"]
    (update,) = wait_for(lambda: org.slack.calls("views.update"), timeout=15)
    view_id = org.slack.view(update["view_id"])["id"]
    form = org.slack.view(view_id)
    assert form["callback_id"] == "anomaly_expected_form" and form["submit"]["text"] == "Save"
    assert json.loads(form["private_metadata"])["id"] == record.id

    press(org, "anomaly_not_ours", record, "U_STRANGER")  # not in the channel: the refusal replaces "checking"
    wait_for(lambda: len(org.slack.calls("views.update")) == 2, timeout=15)
    refused = org.slack.calls("views.update")[-1]
    assert refused["view"]["blocks"][0]["text"]["text"] == not_yours_text(record)
    settled(org, record.id, "refused:not_ours")
    assert [e.action for e in AnomalyStore(org.ctx.db).history(record.id)] == ["detected", "refused:not_ours"]
    assert org.slack.violations == []  # no trigger_id used too late


@pytest.mark.parametrize(("failure", "shown"), [
    ({"status": 429, "retry_after": 2}, ":hourglass_flowing_sand: Slack is busy right now, so costbot could not "
                                        "check that you are on payments. Please try again in 2 seconds."),
    ({"error": "missing_scope"}, ":warning: costbot cannot read who is in the channel of *payments* "
                                 "(`missing_scope`), so it cannot tell whether you are on the team. An admin can "
                                 "check that the app is in that channel and has its scopes; teams.yml can also "
                                 "list you as a member. Nothing was changed."),
    ({"error": "channel_not_found"}, ":warning: costbot cannot read who is in the channel of *payments* "
                                     "(`channel_not_found`), so it cannot tell whether you are on the team. An "
                                     "admin can check that the app is in that channel and has its scopes; "
                                     "teams.yml can also list you as a member. Nothing was changed."),
])
def test_a_failed_members_lookup_is_told_in_the_modal(org: RunningBot, failure: dict, shown: str) -> None:
    # The modal never stays on "checking": a busy Slack says try again, a lasting failure says what to fix.
    record = payments_anomaly(org)
    org.slack.fail_next("conversations.members", **failure)
    press(org, "anomaly_expected", record, "U_PAY_CHANNEL")
    (update,) = wait_for(lambda: org.slack.calls("views.update"))
    assert update["view"]["blocks"] == [{"type": "section", "text": {"type": "mrkdwn", "text": shown}}]
    quiet(org)
    assert [e.action for e in AnomalyStore(org.ctx.db).history(record.id)] == ["detected"]


def test_a_button_whose_members_lookup_cannot_succeed_says_what_to_fix(org: RunningBot) -> None:
    # Acknowledge needs no form: the answer is an ephemeral. A lasting failure (the bot was removed
    # from the channel) is told as such, nothing changes, and no refusal is audited.
    record = payments_anomaly(org)
    org.slack.fail_next("conversations.members", error="channel_not_found")
    url = press(org, "anomaly_ack", record, "U_PAY_CHANNEL")
    (answer,) = wait_for(lambda: org.slack.response_url_calls(url))
    assert answer["text"] == (
        ":warning: costbot cannot read who is in the channel of *payments* (`channel_not_found`), so it cannot "
        "tell whether you are on the team. An admin can check that the app is in that channel and has its "
        "scopes; teams.yml can also list you as a member. Nothing was changed.")
    quiet(org)
    assert [e.action for e in AnomalyStore(org.ctx.db).history(record.id)] == ["detected"]


def test_the_form_replaces_checking_after_a_busy_views_update_and_a_closed_modal_is_no_error(
        org: RunningBot, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    record = payments_anomaly(org)
    org.slack.fail_next("views.update", status=429, retry_after=1)  # tried again after Retry-After
    press(org, "anomaly_expected", record, "U_PAY_CHANNEL")
    wait_for(lambda: len(org.slack.calls("views.update")) == 2, timeout=10)
    form = org.slack.view(org.slack.calls("views.update")[-1]["view_id"])
    assert form["callback_id"] == "anomaly_expected_form"

    org.slack.fail_next("views.update", error="not_found")  # the person closed "checking" meanwhile
    press(org, "anomaly_not_ours", record, "U_PAY_CHANNEL")
    wait_for(lambda: len(org.slack.calls("views.update")) == 3, timeout=10)
    quiet(org)
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert any(r.getMessage().endswith("not updated: not_found (the modal was closed or changed meanwhile)")
               for r in caplog.records)


def test_a_form_slack_refuses_leaves_a_notice_not_checking_and_an_error_in_the_log(
        org: RunningBot, caplog: pytest.LogCaptureFixture) -> None:
    record = payments_anomaly(org)
    org.slack.fail_next("views.update", error="invalid_blocks")  # the form itself is refused
    press(org, "anomaly_expected", record, "U_PAY_CHANNEL")
    wait_for(lambda: len(org.slack.calls("views.update")) == 2, timeout=10)
    shown = org.slack.view(org.slack.calls("views.update")[-1]["view_id"])
    assert shown["title"]["text"] == "Expected change" and "submit" not in shown  # the refused form's title
    assert shown["blocks"] == [{"type": "section", "text": {"type": "mrkdwn", "text": (
        ":warning: costbot could not show this form: Slack refused it (the error is in costbot's log). "
        "Nothing was changed.")}}]
    quiet(org)
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == [
        f"view {shown['id']} refused by Slack: invalid_blocks"]


def test_slack_still_busy_after_the_retry_is_a_warning(org: RunningBot, caplog: pytest.LogCaptureFixture,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(checked_forms, "MAX_RETRY_WAIT_SECONDS", 0.2)  # Retry-After 30 s: waits 0.2 s, not 30
    record = payments_anomaly(org)
    org.slack.fail_next("views.update", status=429, retry_after=30, times=2)
    press(org, "anomaly_expected", record, "U_PAY_CHANNEL")
    wait_for(lambda: len(org.slack.calls("views.update")) == 2, timeout=10)
    quiet(org)
    (warning,) = [r for r in caplog.records if r.levelno == logging.WARNING and "still busy" in r.getMessage()]
    assert warning.getMessage().endswith("not updated, Slack still busy after a retry: ratelimited")
    assert len(org.slack.calls("views.update")) == 2  # tried twice, no more


def test_modal_answers_are_acked_before_a_slow_channel_members_lookup(org: RunningBot) -> None:
    # U_PAY_CHANNEL and U_STRANGER are not in teams.yml: whether they are in payments' channel is a
    # conversations.members call, which may take longer than Slack waits for the ack.
    record = payments_anomaly(org)
    store = AnomalyStore(org.ctx.db)
    press(org, "anomaly_expected", record, "U_PAY_CHANNEL")  # "checking", then the form in its place
    expected_form = wait_for(lambda: org.slack.calls("views.update"))[-1]["view"]
    press(org, "anomaly_not_ours", record, "U_PAY_CHANNEL")
    not_ours_form = wait_for(lambda: len(org.slack.calls("views.update")) == 2 and org.slack.calls("views.update"))[-1]
    org.slack.delay("conversations.members", 4)

    missing = org.client.view_submission("anomaly_expected_form", {"reason": {"value": ""}}, user_id="U_PAY_CHANNEL",
                                         view=expected_form)  # the form's own mistakes: still next to the field
    assert missing.elapsed < 1.0 and missing.json() == {"response_action": "errors", "errors": {
        "reason": "Say why it is expected: the team and finance read it"}}

    stranger = org.client.view_submission("anomaly_not_ours_form", {
        "team": {"value": {"type": "static_select", "selected_option": {
            "text": {"type": "plain_text", "text": "search"}, "value": "search"}}}},
        user_id="U_STRANGER", view=not_ours_form["view"])
    assert stranger.status == 200 and not stranger.body and stranger.elapsed < 1.0, stranger.elapsed
    (refused,) = wait_for(lambda: org.slack.ephemerals("U_STRANGER"), timeout=15)
    assert refused["text"] == not_yours_text(record)
    assert [e.action for e in store.history(record.id)] == ["detected", "refused:not_ours"]
    assert store.get(record.id).team == "payments"

    done = org.client.view_submission("anomaly_expected_form", {"reason": {"value": "load test"}},
                                      user_id="U_PAY_CHANNEL", view=expected_form)
    assert done.status == 200 and not done.body and done.elapsed < 1.0, done.elapsed
    wait_for(lambda: store.get(record.id).state == "expected", timeout=15)
    settled(org, record.id, "expected")
    answered = store.get(record.id)
    assert (answered.answered_by, answered.answer_reason) == ("U_PAY_CHANNEL", "load test")
    assert org.slack.ephemerals("U_PAY_CHANNEL") == []
    assert org.slack.violations == []


def test_not_ours_moves_the_alert_and_shows_the_rule_that_misrouted_it(org: RunningBot, clock: Clock) -> None:
    record = payments_anomaly(org)
    first = alert(org, PAYMENTS, alert_key(record.id))
    press(org, "anomaly_not_ours", record, "U_PAY_OWNER")
    view = wait_for(lambda: org.slack.calls("views.open"))[-1]["view"]
    rule = "payments: sub_account_id=111222330440 (teams.yml line 10)"
    assert rule in view["blocks"][0]["text"]["text"]
    options = [o["value"] for o in view["blocks"][1]["element"]["options"]]
    assert options == ["search", UNALLOCATED]

    clock.at = datetime(2026, 11, 16, 11, tzinfo=UTC)
    done = org.client.view_submission("anomaly_not_ours_form", {
        "team": {"value": {"type": "static_select", "selected_option": {
            "text": {"type": "plain_text", "text": "search"}, "value": "search"}}},
        "reason": {"value": "the search indexer runs in that account"}}, user_id="U_PAY_OWNER", view=view)
    assert done.status == 200
    moved_alert = wait_for(lambda: [m for m in org.slack.messages("#team-search")
                                    if (m.get("metadata") or {}).get("event_payload", {}).get("key")
                                    == moved_key(record.id, "search")])[0]
    moved = AnomalyStore(org.ctx.db).get(record.id)
    assert (moved.team, moved.detected_team, moved.channel, moved.routed_to_owner, moved.first_response_by) == (
        "search", "payments", "#team-search", False, "U_PAY_OWNER")
    assert "Moved here from *payments* by <@U_PAY_OWNER>" in str(moved_alert["blocks"])
    assert rule in str(moved_alert["blocks"])
    wait_for(lambda: org.slack.files("#team-search"))  # the chart follows the alert
    old = wait_for(lambda: (m := org.slack.message(PAYMENTS, first["ts"]))["text"].startswith("Anomaly") and m)
    assert old["text"] == f"Anomaly #{record.id} moved to search"
    assert "anomaly_ack" not in str(old["blocks"]) and rule in str(old["blocks"])
    assert len([m for m in org.slack.messages(PAYMENTS) if not m.get("thread_ts")]) == 1

    # now it is search's: payments cannot answer it any more, search can
    moved_record = AnomalyStore(org.ctx.db).get(record.id)
    url = press(org, "anomaly_ack", moved_record, "U_PAY_OWNER", channel="#team-search")
    assert wait_for(lambda: org.slack.response_url_calls(url))[0]["text"].startswith(":no_entry:")
    press(org, "anomaly_ack", moved_record, "U_SEARCH_OWNER", channel="#team-search")
    settled(org, record.id, "acknowledged")
    assert AnomalyStore(org.ctx.db).get(record.id).state == "acknowledged"


def test_open_savings_finding_opens_the_prefilled_form(org: RunningBot) -> None:
    record = payments_anomaly(org)
    assert "anomaly_open_finding" in buttons(alert(org, PAYMENTS, alert_key(record.id)))
    # Whether U_STRANGER is in payments' channel is a members lookup: "checking", then the refusal in its place.
    url = press(org, "anomaly_open_finding", record, "U_STRANGER")
    (refused,) = wait_for(lambda: org.slack.calls("views.update"))
    assert refused["view"]["blocks"][0]["text"]["text"] == (
        f":no_entry: Anomaly #{record.id} is not yours: it belongs to *payments*. Nothing was changed.")
    assert org.slack.response_url_calls(url) == []
    settled(org, record.id, "refused:open_finding")
    press(org, "anomaly_open_finding", record, "U_PAY_OWNER")  # an owner in teams.yml: the form at once
    view = wait_for(lambda: len(org.slack.calls("views.open")) == 2 and org.slack.calls("views.open"))[-1]["view"]
    assert view["callback_id"] == "finding_new"
    assert f"Reduce Amazon EC2 after anomaly #{record.id}" in str(view["blocks"])


def test_the_next_days_run_edits_the_alert_instead_of_posting_again(org: RunningBot, clock: Clock, tmp_path) -> None:
    record = payments_anomaly(org)
    posts = len(org.slack.calls("chat.postMessage"))
    ingest_through(org.ctx, date(2026, 11, 15), tmp_path)
    clock.day(date(2026, 11, 17))
    run_detection(org.ctx, as_of=date(2026, 11, 17))
    message = alert(org, PAYMENTS, alert_key(record.id))
    assert message["text"].startswith("Cost shift: Amazon EC2 in 111222330440 (us-east-1) for payments: +$6,400.00")
    top = [c for c in org.slack.calls("chat.postMessage")[posts:] if not c.get("thread_ts")]
    assert top == []  # only thread replies (impact steps) were posted


def test_cost_anomalies_lists_open_or_all_of_a_team(org: RunningBot) -> None:
    record = payments_anomaly(org)
    answer = org.client.slash("anomalies payments", user_id="U_STRANGER").json()
    assert answer["response_type"] == "ephemeral"
    assert answer["text"] == "Open anomalies of payments: 1, +$4,800.00 in total"
    assert (f"`#{record.id}` *payments* · Amazon EC2 in 111222330440 (us-east-1) · +$4,800.00 (+160%) · "
            "since 2026-11-12 · :red_circle: open") in answer["blocks"][1]["text"]["text"]
    everyone = org.client.slash("anomalies all").json()
    assert everyone["text"].startswith("Anomalies: 3,")
    wrong = org.client.slash("anomalies paymnts").json()
    assert wrong["text"].startswith(":warning: `paymnts` is neither a team nor `open`/`all`.")


def test_answers_on_an_aws_anomaly_go_back_to_aws(sqlite_db, fake_slack, clock, monkeypatch) -> None:
    bot = workspace(start_bot(sqlite_db, fake_slack, now=clock))
    try:
        client = boto3.client("ce", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
        stub = Stubber(client)
        still_open = {k: v for k, v in AWS_ANOMALY.items() if k != "AnomalyEndDate"}
        stub.add_response("get_anomalies", {"Anomalies": [still_open]},
                          {"DateInterval": {"StartDate": "2026-11-01", "EndDate": "2026-11-16"}})
        stub.add_response("provide_anomaly_feedback", {"AnomalyId": "a1b2c3"},
                          {"AnomalyId": "a1b2c3", "Feedback": "YES"})
        stub.add_client_error("provide_anomaly_feedback", service_error_code="AccessDeniedException",
                              service_message="not allowed", http_status_code=403,
                              expected_params={"AnomalyId": "a1b2c3", "Feedback": "PLANNED_ACTIVITY"})
        monkeypatch.setattr(jobs.detect, "aws_ce_client", lambda: client)
        with stub:
            saved, _ = import_aws_anomalies(bot.ctx, client, date(2026, 11, 1), date(2026, 11, 16))
            (record,) = saved.new
            assert record.team == "search"
            press(bot, "anomaly_ack", record, "U_SEARCH_OWNER", channel="#team-search")
            settled(bot, record.id, "acknowledged")
            press(bot, "anomaly_expected", record, "U_SEARCH_OWNER", channel="#team-search")
            view = wait_for(lambda: bot.slack.calls("views.open"))[-1]["view"]
            bot.client.view_submission("anomaly_expected_form", {"reason": {"value": "reindexing"}},
                                       user_id="U_SEARCH_OWNER", view=view)
            warning = wait_for(lambda: bot.slack.ephemerals("U_SEARCH_OWNER"))[0]
            stub.assert_no_pending_responses()
        assert warning["text"].startswith(":warning: AWS could not be told")
        assert AnomalyStore(bot.ctx.db).get(record.id).state == "expected"  # the answer stands in costbot
    finally:
        bot.stop()


def test_a_second_acknowledge_or_snooze_is_told_and_posts_nothing_again(org: RunningBot, clock: Clock) -> None:
    record = payments_anomaly(org)
    message = alert(org, PAYMENTS, alert_key(record.id))
    clock.at = datetime(2026, 11, 16, 10, 30, tzinfo=UTC)
    press(org, "anomaly_ack", record, "U_PAY_DEV")
    settled(org, record.id, "acknowledged")
    replies = thread_texts(org, PAYMENTS, message)

    url = press(org, "anomaly_ack", record, "U_PAY_OWNER")  # a double click, or the alert not yet edited
    (answer,) = wait_for(lambda: org.slack.response_url_calls(url))
    assert answer["text"] == (f":information_source: Anomaly #{record.id} was already acknowledged by <@U_PAY_DEV> "
                              "at 10:30 UTC. Nothing was changed.")
    assert answer["response_type"] == "ephemeral" and answer["replace_original"] is False
    settled(org, record.id, "refused:acknowledged")
    assert thread_texts(org, PAYMENTS, message) == replies

    press(org, "anomaly_snooze_week", record, "U_PAY_DEV")
    settled(org, record.id, "snoozed")
    replies = thread_texts(org, PAYMENTS, message)
    for action_id in ("anomaly_snooze_week", "anomaly_snooze_day"):  # not shorter than the snooze given
        url = press(org, action_id, record, "U_PAY_OWNER")
        (answer,) = wait_for(lambda url=url: org.slack.response_url_calls(url))
        assert answer["text"] == (f":information_source: Anomaly #{record.id} was already snoozed until 2026-11-23 "
                                  "by <@U_PAY_DEV> at 10:30 UTC. Nothing was changed.")
    settled(org, record.id, "refused:snoozed", count=2)
    assert thread_texts(org, PAYMENTS, message) == replies
    assert [e.action for e in AnomalyStore(org.ctx.db).history(record.id)] == [
        "detected", "acknowledged", "refused:acknowledged", "snoozed", "refused:snoozed", "refused:snoozed"]


def test_a_button_or_form_of_an_anomaly_costbot_no_longer_has_is_told_so(org: RunningBot) -> None:
    gone = "This alert's anomaly is no longer known to costbot. Nothing was changed."
    for action_id, value in (("anomaly_ack", "999"), ("anomaly_snooze_day", "x"), ("anomaly_open_finding", "x")):
        url = org.slack.response_url(channel=PAYMENTS)
        ack = org.client.action(action_id, value, user_id="U_PAY_OWNER", channel_id=org.slack.channel_id(PAYMENTS),
                                message_ts="1.000001", response_url=url)
        assert ack.status == 200
        (answer,) = wait_for(lambda url=url: org.slack.response_url_calls(url))
        assert (answer["text"], answer["response_type"]) == (f":warning: {gone}", "ephemeral"), action_id
    for callback, field, values in (("anomaly_expected_form", "reason", {"reason": {"value": "a planned load test"}}),
                                    ("anomaly_not_ours_form", "team", {"team": {"value": "search"}})):
        submitted = org.client.view_submission(callback, values, user_id="U_PAY_OWNER",
                                               private_metadata=json.dumps({"id": 999, "channel": ""}))
        assert submitted.json() == {"response_action": "errors", "errors": {field: gone}}
