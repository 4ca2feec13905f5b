"""Delivery: each keyed message reaches Slack exactly once and is then edited in place.

Runs the real slack_sdk WebClient against the fake Slack server, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from slack_sdk import WebClient

from bot.delivery import (
    HOME_MEMBERS_MAX_AGE,
    Delivery,
    DeliveryError,
    FileUpload,
    Message,
    SlackTransport,
    TerminalTransport,
)
from storage.db import Database
from storage.outbox import OutboxStore
from storage.tables.core import utcnow
from tests.slack.fake_slack import FakeSlack


class RecordedSleep:
    """Stands in for time.sleep: records each wait instead of spending it."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def make_delivery(db: Database, slack: FakeSlack, sleep: RecordedSleep | None = None, **kwargs) -> Delivery:
    client = WebClient(token="xoxb-test", base_url=slack.base_url)
    return Delivery(OutboxStore(db), SlackTransport(client), default_channel="#finops",
                    sleep=sleep or RecordedSleep(), **kwargs)


def alert(text: str = "EC2 spend is up 240 %", key: str = "anomaly:1", channel: str = "#team-payments") -> Message:
    return Message(key=key, channel=channel, text=text,
                   blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": text}}])


def test_a_message_is_posted_once_with_its_key_then_edited_in_place(db: Database, fake_slack: FakeSlack) -> None:
    delivery = make_delivery(db, fake_slack)
    first = delivery.send(alert())
    delivery.send(alert())  # same content: nothing to do
    assert len(fake_slack.calls("chat.postMessage")) == 1
    posted = fake_slack.last("chat.postMessage")
    assert posted["metadata"] == {"event_type": "costbot_message", "event_payload": {"key": "anomaly:1"}}

    updated = delivery.send(alert("EC2 spend is up 310 %"))
    assert updated.ts == first.ts and updated.status == "sent"
    assert [c["ts"] for c in fake_slack.calls("chat.update")] == [first.ts]
    channel_messages = fake_slack.messages("#team-payments")
    assert [m["text"] for m in channel_messages] == ["EC2 spend is up 310 %"]


def test_a_429_is_waited_out_for_its_retry_after_and_the_message_arrives_once(
        db: Database, fake_slack: FakeSlack) -> None:
    sleep = RecordedSleep()
    delivery = make_delivery(db, fake_slack, sleep)
    fake_slack.fail_next("chat.postMessage", status=429, retry_after=7)
    record = delivery.send(alert())
    assert record.status == "sent" and record.ts
    assert sleep.waits[0] == 7.0
    assert len(fake_slack.messages("#team-payments")) == 1
    assert len(fake_slack.calls("chat.postMessage")) == 2  # the refused call, then the real one


def test_server_errors_retry_with_backoff_then_stay_queued_for_later(db: Database, fake_slack: FakeSlack) -> None:
    sleep = RecordedSleep()
    delivery = make_delivery(db, fake_slack, sleep, max_inline_attempts=3)
    fake_slack.add_channel("#team-payments")
    fake_slack.fail_next("chat.postMessage", status=500, times=3)
    record = delivery.send(alert(channel=fake_slack.channel_id("#team-payments")))
    assert record.status == "pending" and record.ts is None and record.last_error == "internal_error"
    assert sleep.waits == [1.0, 2.0]  # exponential backoff between the three inline attempts
    assert fake_slack.messages("#team-payments") == []
    # A 500 may come after Slack acted, so the retry first looks in the channel; then posts once.
    assert delivery.flush(now=utcnow() + timedelta(minutes=2)) == 1
    assert len(fake_slack.messages("#team-payments")) == 1


def test_a_permanent_error_is_kept_and_reported_once_in_the_default_channel(
        db: Database, fake_slack: FakeSlack) -> None:
    delivery = make_delivery(db, fake_slack)
    fake_slack.fail_next("chat.postMessage", error="channel_not_found")
    record = delivery.send(alert(channel="#gone"))
    assert (record.status, record.last_error) == ("failed", "channel_not_found")
    delivery.flush()
    notices = fake_slack.messages("#finops")
    assert len(notices) == 1 and "channel_not_found" in notices[0]["text"] and "#gone" in notices[0]["text"]
    # Fixed config (here: the failure was one-off): retrying delivers it.
    assert delivery.retry_failed() == 1
    assert len(fake_slack.messages("#gone")) == 1


def test_crash_between_recorded_and_sent_sends_exactly_once_after_restart(db: Database, fake_slack: FakeSlack) -> None:
    # The process recorded the message and died before calling Slack.
    OutboxStore(db).record(key="anomaly:9", channel="#team-payments", text="recorded, never sent")
    assert fake_slack.calls("chat.postMessage") == []
    restarted = make_delivery(db, fake_slack)
    assert restarted.flush() == 1
    assert restarted.flush() == 0
    assert [m["text"] for m in fake_slack.messages("#team-payments")] == ["recorded, never sent"]


def test_crash_after_slack_accepted_but_before_ts_was_stored_does_not_post_again(
        db: Database, fake_slack: FakeSlack) -> None:
    delivery = make_delivery(db, fake_slack, max_inline_attempts=1)
    delivery.send(alert(key="anomaly:1", text="first"))  # the bot has posted to this channel before
    fake_slack.drop_response_next("chat.postMessage")
    lost = delivery.send(alert(key="anomaly:2", text="second"))
    assert lost.ts is None and lost.maybe_sent  # Slack has it; we never saw the answer

    restarted = make_delivery(db, fake_slack)
    assert restarted.flush(now=utcnow() + timedelta(minutes=2)) == 1  # the deferred retry is due
    texts = [m["text"] for m in fake_slack.messages("#team-payments")]
    assert texts == ["first", "second"]
    history_lookups = fake_slack.calls("conversations.history")
    assert history_lookups and history_lookups[-1]["include_all_metadata"] in (True, "true", "1", 1)
    assert OutboxStore(db).get("anomaly:2").ts == fake_slack.messages("#team-payments")[1]["ts"]


def test_dropped_answer_on_a_channel_given_by_id_is_recovered_inline(db: Database, fake_slack: FakeSlack) -> None:
    channel_id = fake_slack.add_channel("#team-search")
    delivery = make_delivery(db, fake_slack)
    fake_slack.drop_response_next("chat.postMessage")
    record = delivery.send(alert(channel=channel_id))
    assert record.status == "sent" and record.ts == fake_slack.messages(channel_id)[0]["ts"]
    assert len(fake_slack.messages(channel_id)) == 1


def test_thread_replies_and_files_go_under_their_parent(db: Database, fake_slack: FakeSlack) -> None:
    delivery = make_delivery(db, fake_slack)
    parent = delivery.send(alert())
    delivery.send(Message(key="anomaly:1:step:2", channel="#team-payments", text="impact passed $1,000",
                          thread_key="anomaly:1"))
    delivery.upload(FileUpload(key="anomaly:1:chart", channel="#team-payments", filename="anomaly-1.png",
                               content=b"\x89PNG fake", title="EC2 daily cost", thread_key="anomaly:1"))
    delivery.upload(FileUpload(key="anomaly:1:chart", channel="#team-payments", filename="anomaly-1.png",
                               content=b"\x89PNG fake", title="EC2 daily cost", thread_key="anomaly:1"))
    reply = fake_slack.last("chat.postMessage")
    assert reply["thread_ts"] == parent.ts
    files = fake_slack.files("#team-payments")
    assert len(files) == 1 and files[0].content == b"\x89PNG fake" and files[0].thread_ts == parent.ts
    assert files[0].title == "EC2 daily cost"


@pytest.mark.parametrize("backend", ["sqlite"])
def test_terminal_transport_prints_channel_then_message(backend: str, sqlite_db: Database) -> None:
    out = io.StringIO()
    delivery = Delivery(OutboxStore(sqlite_db), TerminalTransport(stream=out))
    delivery.send(Message(key="digest:payments", channel="#team-payments", text="fallback", blocks=[
        {"type": "header", "text": {"type": "plain_text", "text": "Weekly digest"}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "*Spend* $1,234.00 (<https://x.test|details>)"}},
        {"type": "actions", "elements": [{"type": "button", "text": {"type": "plain_text", "text": "Acknowledge"},
                                          "action_id": "ack"}]},
    ]))
    delivery.send(Message(key="digest:payments", channel="#team-payments", text="fallback", blocks=[
        {"type": "section", "text": {"type": "mrkdwn", "text": "updated"}}]))
    printed = out.getvalue()
    assert printed.index("#team-payments") < printed.index("WEEKLY DIGEST")
    assert "Spend $1,234.00 (details (https://x.test))" in printed
    assert "[Acknowledge]" in printed
    assert "(message updated)" in printed and printed.rstrip().endswith("updated")


def test_concurrent_sends_of_one_key_post_once_and_edit_in_place(db: Database, fake_slack: FakeSlack) -> None:
    from concurrent.futures import ThreadPoolExecutor

    delivery = make_delivery(db, fake_slack)
    fake_slack.delay("chat.postMessage", 0.05)  # widen the window in which threads overlap
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: delivery.send(alert(text=f"impact so far ${i}00")), range(16)))
    assert len(fake_slack.calls("chat.postMessage")) == 1
    messages = fake_slack.messages("#team-payments")
    assert len(messages) == 1
    assert messages[0]["text"] == OutboxStore(db).get("anomaly:1").text  # Slack shows the latest content


def test_first_message_to_a_channel_name_with_a_lost_answer_is_not_posted_twice(
        db: Database, fake_slack: FakeSlack) -> None:
    fake_slack.add_channel("#team-payments")  # exists, but the bot has never posted there
    delivery = make_delivery(db, fake_slack, max_inline_attempts=1)
    fake_slack.drop_response_next("chat.postMessage")
    lost = delivery.send(alert(text="first ever"))
    assert lost.ts is None and lost.maybe_sent
    make_delivery(db, fake_slack).flush(now=utcnow() + timedelta(minutes=2))
    assert [m["text"] for m in fake_slack.messages("#team-payments")] == ["first ever"]
    assert fake_slack.calls("conversations.list")  # the name was resolved to its ID once
    assert OutboxStore(db).channel_id("#team-payments") == fake_slack.channel_id("#team-payments")


def test_a_dm_with_a_lost_answer_is_found_in_the_dm_not_failed(db: Database, fake_slack: FakeSlack) -> None:
    fake_slack.add_user("U0ALICE", name="alice")
    delivery = make_delivery(db, fake_slack, max_inline_attempts=1)
    delivery.send(Message(key="reminder:1", channel="U0ALICE", text="finding #1 is past due"))
    fake_slack.drop_response_next("chat.postMessage")
    lost = delivery.send(Message(key="reminder:2", channel="U0ALICE", text="finding #2 is past due"))
    assert lost.status == "pending" and lost.maybe_sent
    make_delivery(db, fake_slack).flush(now=utcnow() + timedelta(minutes=2))
    record = OutboxStore(db).get("reminder:2")
    assert record.status == "sent" and record.channel_id == fake_slack.dm_channel("U0ALICE")
    assert [m["text"] for m in fake_slack.messages(fake_slack.dm_channel("U0ALICE"))] == [
        "finding #1 is past due", "finding #2 is past due"]
    assert [c["channel"] for c in fake_slack.calls("chat.postMessage")].count("#finops") == 0  # no false notice


def test_a_chart_upload_with_a_lost_answer_is_not_uploaded_twice(db: Database, fake_slack: FakeSlack) -> None:
    delivery = make_delivery(db, fake_slack, max_inline_attempts=1)
    parent = delivery.send(alert())
    fake_slack.drop_response_next("files.completeUploadExternal")
    chart = FileUpload(key="anomaly:1:chart", channel="#team-payments", filename="anomaly-1.png",
                       content=b"\x89PNG fake", title="EC2 daily cost", thread_key="anomaly:1")
    lost = delivery.upload(chart)
    assert lost.ts is None and lost.maybe_sent
    recovered = make_delivery(db, fake_slack).flush(now=utcnow() + timedelta(minutes=2))
    assert recovered == 1
    files = fake_slack.files("#team-payments")
    assert len(files) == 1 and files[0].thread_ts == parent.ts
    assert OutboxStore(db).get("anomaly:1:chart").ts == files[0].id


def test_a_rejected_token_keeps_messages_waiting_instead_of_failing_them(db: Database, fake_slack: FakeSlack) -> None:
    delivery = make_delivery(db, fake_slack)
    fake_slack.fail_next("chat.postMessage", error="invalid_auth")
    record = delivery.send(alert())
    assert (record.status, record.last_error) == ("pending", "invalid_auth")
    assert [c["channel"] for c in fake_slack.calls("chat.postMessage")] == ["#team-payments"]  # no notice
    assert delivery.flush() == 0  # waits ~15 minutes before trying again
    assert delivery.flush(now=utcnow() + timedelta(minutes=16)) == 1
    assert len(fake_slack.messages("#team-payments")) == 1


def test_a_reply_waits_for_its_parent_without_sleeping_and_fails_with_it(db: Database, fake_slack: FakeSlack) -> None:
    sleep = RecordedSleep()
    delivery = make_delivery(db, fake_slack, sleep)
    fake_slack.fail_next("chat.postMessage", error="channel_not_found")
    delivery.send(alert(channel="#gone"))
    reply = delivery.send(Message(key="anomaly:1:step:2", channel="#gone", text="grew", thread_key="anomaly:1"))
    assert (reply.status, reply.last_error) == ("failed", "parent message anomaly:1 failed")
    OutboxStore(db).record(key="anomaly:7", channel="#team-search", text="not sent yet")
    waiting = delivery.send(Message(key="anomaly:7:step:2", channel="#team-search", text="grew",
                                    thread_key="anomaly:7"))
    assert waiting.status == "pending" and waiting.last_error == "parent message anomaly:7 is not sent yet"
    assert sleep.waits == []


def test_the_members_of_a_channel_slack_cannot_find_are_an_error_not_nobody(db: Database,
                                                                           fake_slack: FakeSlack) -> None:
    # An empty set would tell every member of the team that they are not on it.
    fake_slack.add_channel("#team-payments", members=("U1", "U2"))
    delivery = make_delivery(db, fake_slack)
    assert delivery.channel_members("#team-payments") == {"U1", "U2"}
    with pytest.raises(DeliveryError) as raised:
        delivery.channel_members("#team-gone")
    assert (raised.value.error, raised.value.transient) == ("channel_not_found", False)
    # The name lookup refused for good (an Enterprise Grid workspace the app may not read): that
    # cause, not "not found".
    fake_slack.fail_next("conversations.list", error="team_access_not_granted")
    with pytest.raises(DeliveryError) as raised:
        delivery.channel_members("#team-search")
    assert (raised.value.error, raised.value.transient) == ("team_access_not_granted", False)
    # Printed only (no Slack): nobody is in a channel, and that is no error.
    printed = Delivery(OutboxStore(db), TerminalTransport(io.StringIO()), default_channel="#finops")
    assert printed.channel_members("#team-gone") == set()


class Clock:
    """Stands in for time.monotonic: moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_an_app_home_reads_a_channels_members_once_a_minute_at_most(db: Database, fake_slack: FakeSlack) -> None:
    # conversations.members is rate-limited, and an App Home visit may read 20 channels; who may act
    # is always read fresh.
    fake_slack.add_channel("#team-payments", members=("U1",))
    clock = Clock()
    delivery = make_delivery(db, fake_slack, monotonic=clock)
    assert delivery.channel_members("#team-payments", max_age=HOME_MEMBERS_MAX_AGE) == {"U1"}
    fake_slack.add_members("#team-payments", "U2")
    clock.now += 59.0
    assert delivery.channel_members("#team-payments", max_age=HOME_MEMBERS_MAX_AGE) == {"U1"}  # a minute old
    assert len(fake_slack.calls("conversations.members")) == 1
    assert delivery.channel_members("#team-payments") == {"U1", "U2"}  # fresh: U2 joined
    assert len(fake_slack.calls("conversations.members")) == 2
    clock.now += 60.0
    assert delivery.channel_members("#team-payments", max_age=HOME_MEMBERS_MAX_AGE) == {"U1", "U2"}
    assert len(fake_slack.calls("conversations.members")) == 3
    # A failed read is not kept: the next one asks Slack again.
    clock.now += 60.0
    fake_slack.fail_next("conversations.members", error="ratelimited", retry_after=1)
    with pytest.raises(DeliveryError):
        delivery.channel_members("#team-payments", max_age=HOME_MEMBERS_MAX_AGE)
    assert delivery.channel_members("#team-payments", max_age=HOME_MEMBERS_MAX_AGE) == {"U1", "U2"}
    assert len(fake_slack.calls("conversations.members")) == 5
