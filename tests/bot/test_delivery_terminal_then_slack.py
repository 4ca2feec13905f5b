"""A message only printed on the terminal (no Slack token) is never taken for one Slack has.

An operator runs ``costbot detect`` from a shell without SLACK_BOT_TOKEN against the production
database; later the bot runs with its token on the same database. Messages the terminal printed
are then posted to Slack (never edited there, Slack does not have them), thread parents first.
The real delivery and slack_sdk against the fake Slack server, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import io

from slack_sdk import WebClient

from bot.delivery import Delivery, FileUpload, Message, SlackTransport, TerminalTransport
from storage.db import Database
from storage.outbox import OutboxStore
from tests.slack.fake_slack import FakeSlack


def on_terminal(db: Database) -> tuple[Delivery, io.StringIO]:
    out = io.StringIO()
    return Delivery(OutboxStore(db), TerminalTransport(stream=out), default_channel="#finops"), out


def on_slack(db: Database, slack: FakeSlack) -> Delivery:
    client = WebClient(token="xoxb-test", base_url=slack.base_url)
    return Delivery(OutboxStore(db), SlackTransport(client), default_channel="#finops", sleep=lambda _: None)


def alert(text: str, key: str = "anomaly:1") -> Message:
    return Message(key=key, channel="#team-payments", text=text,
                   blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": text}}])


def metadata_key(call: dict) -> str:
    return call["metadata"]["event_payload"]["key"]


def test_an_update_of_a_printed_message_is_posted_to_the_channel_id_not_edited(
        db: Database, fake_slack: FakeSlack) -> None:
    channel_id = fake_slack.add_channel("#team-payments")
    terminal, out = on_terminal(db)
    printed = terminal.send(alert("EC2 spend is up 240 %"))
    assert printed.status == "sent" and printed.ts.startswith("terminal:") and "EC2 spend is up 240 %" in out.getvalue()

    slack = on_slack(db, fake_slack)
    assert slack.message_link("anomaly:1") is None  # Slack has no such message
    assert slack.flush() == 0  # nothing changed since it was printed: no flood of old terminal output
    assert fake_slack.all_calls() == []

    sent = slack.send(alert("EC2 spend is up 310 %"))
    posts = fake_slack.calls("chat.postMessage")
    assert [(p["channel"], metadata_key(p)) for p in posts] == [(channel_id, "anomaly:1")]
    assert fake_slack.calls("chat.update") == []
    in_slack = fake_slack.messages(channel_id)
    assert [m["text"] for m in in_slack] == ["EC2 spend is up 310 %"]
    assert (sent.status, sent.ts, sent.channel_id, sent.last_error) == ("sent", in_slack[0]["ts"], channel_id, None)
    assert not sent.needs_sending
    assert slack.message_link("anomaly:1") == (channel_id, in_slack[0]["ts"])

    # From now on it is Slack's message: the next change edits it in place.
    slack.send(alert("EC2 spend is up 420 %"))
    assert len(fake_slack.calls("chat.postMessage")) == 1
    assert [c["ts"] for c in fake_slack.calls("chat.update")] == [in_slack[0]["ts"]]
    assert [m["text"] for m in fake_slack.messages(channel_id)] == ["EC2 spend is up 420 %"]


def test_a_printed_message_sent_again_unchanged_reaches_slack_once(db: Database, fake_slack: FakeSlack) -> None:
    channel_id = fake_slack.add_channel("#team-payments")
    on_terminal(db)[0].send(alert("EC2 spend is up 240 %"))
    slack = on_slack(db, fake_slack)
    slack.send(alert("EC2 spend is up 240 %"))  # the next detect run: the same figures
    slack.send(alert("EC2 spend is up 240 %"))
    assert [c["channel"] for c in fake_slack.calls("chat.postMessage")] == [channel_id]
    assert fake_slack.calls("chat.update") == []
    assert [m["text"] for m in fake_slack.messages(channel_id)] == ["EC2 spend is up 240 %"]


def test_a_reply_whose_parent_was_only_printed_posts_the_parent_first(db: Database, fake_slack: FakeSlack) -> None:
    channel_id = fake_slack.add_channel("#team-payments")
    terminal, out = on_terminal(db)
    terminal.send(alert("EC2 spend is up 240 %"))
    terminal.send(Message(key="anomaly:1:step:1", channel="#team-payments", text="impact passed $1,000",
                          thread_key="anomaly:1"))
    assert "(reply in thread)" in out.getvalue()

    slack = on_slack(db, fake_slack)
    reply = slack.send(Message(key="anomaly:1:step:2", channel="#team-payments", text="impact passed $5,000",
                               thread_key="anomaly:1"))
    posts = fake_slack.calls("chat.postMessage")
    assert [(p["channel"], metadata_key(p), p.get("thread_ts")) for p in posts[:1]] == [
        (channel_id, "anomaly:1", None)]
    parent = OutboxStore(db).get("anomaly:1")
    assert (parent.status, parent.channel_id) == ("sent", channel_id)
    assert parent.ts == fake_slack.messages(channel_id)[0]["ts"]
    assert [(p["channel"], metadata_key(p), p["thread_ts"]) for p in posts[1:]] == [
        (channel_id, "anomaly:1:step:2", parent.ts)]
    assert fake_slack.calls("chat.update") == []
    assert (reply.status, reply.channel_id) == ("sent", channel_id)
    assert [(m["text"], m.get("thread_ts")) for m in fake_slack.messages(channel_id)] == [
        ("EC2 spend is up 240 %", None), ("impact passed $5,000", parent.ts)]
    # The earlier reply, only printed, stays where it was: nothing re-sent it.
    assert OutboxStore(db).get("anomaly:1:step:1").ts.startswith("terminal:")


def test_a_chart_only_saved_on_disk_is_uploaded_under_the_posted_parent(db: Database, fake_slack: FakeSlack) -> None:
    channel_id = fake_slack.add_channel("#team-payments")
    chart = FileUpload(key="anomaly:1:chart", channel="#team-payments", filename="anomaly-1.png",
                       content=b"\x89PNG fake", title="EC2 daily cost", thread_key="anomaly:1")
    terminal, _ = on_terminal(db)
    terminal.send(alert("EC2 spend is up 240 %"))
    assert terminal.upload(chart).ts.startswith("terminal:F")

    slack = on_slack(db, fake_slack)
    assert slack.message_link("anomaly:1:chart") is None  # jobs/detect.py shares the chart when None
    uploaded = slack.upload(chart)
    parent_ts = fake_slack.messages(channel_id)[0]["ts"]
    files = fake_slack.files(channel_id)
    assert [(f.filename, f.content, f.thread_ts) for f in files] == [("anomaly-1.png", b"\x89PNG fake", parent_ts)]
    assert (uploaded.status, uploaded.ts) == ("sent", files[0].id)


def test_a_row_printed_before_the_marker_and_failed_by_the_edit_is_posted(db: Database, fake_slack: FakeSlack) -> None:
    # What an older costbot left: the terminal's ts (no marker) and the channel name as channel ID;
    # then the bot's chat.update of it failed with channel_not_found.
    channel_id = fake_slack.add_channel("#team-payments")
    outbox = OutboxStore(db)
    outbox.record(key="anomaly:1", channel="#team-payments", text="spike v2")
    outbox.mark_sent("anomaly:1", channel_id="#team-payments", ts="1795831242.000001", sent_hash="v1 was printed")
    outbox.mark_failed("anomaly:1", error="channel_not_found")

    sent = on_slack(db, fake_slack).send(alert("spike v3"))
    assert [c["channel"] for c in fake_slack.calls("chat.postMessage")] == [channel_id]
    assert fake_slack.calls("chat.update") == []
    assert (sent.status, sent.channel_id, sent.ts) == ("sent", channel_id, fake_slack.messages(channel_id)[0]["ts"])


def test_the_terminal_keeps_editing_what_it_printed(db: Database) -> None:
    terminal, out = on_terminal(db)
    first = terminal.send(alert("EC2 spend is up 240 %"))
    second = terminal.send(alert("EC2 spend is up 310 %"))
    assert second.ts == first.ts and second.status == "sent" and not second.needs_sending
    assert terminal.message_link("anomaly:1") == ("#team-payments", first.ts)  # the demo's threads need it
    assert "#team-payments (message updated)" in out.getvalue()
