"""The signed client against a minimal Bolt app served over real HTTP."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient
from slack_sdk.signature import SignatureVerifier

from tests.slack.fake_slack import FakeSlack
from tests.slack.signed_client import SignedSlackClient, slack_signature, state_values

SIGNING_SECRET = "test-signing-secret"
WAIT = 5.0  # seconds to wait for a listener that runs after the ack


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    request_queue_size = 64


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        """No per-request logging."""


@contextmanager
def serve_over_http(app: App) -> Iterator[str]:
    """Serve a Bolt app on 127.0.0.1 (random port); yields its events URL."""
    server = make_server(
        "127.0.0.1",
        0,
        SlackRequestHandler(app),
        server_class=_ThreadingWSGIServer,
        handler_class=_QuietHandler,
    )
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/slack/events"
    finally:
        server.shutdown()
        server.server_close()


class BoltProbe:
    """A minimal Bolt app whose listeners report what they received."""

    def __init__(self, fake: FakeSlack) -> None:
        self.received: queue.Queue[tuple[str, dict]] = queue.Queue()
        self.app = App(
            signing_secret=SIGNING_SECRET,
            client=WebClient(token="xoxb-test", base_url=fake.base_url, retry_handlers=[]),
        )
        app = self.app

        @app.command("/cost")
        def on_cost(ack, command, respond):
            ack(text=f"working on: {command['text']}")
            self.received.put(("command", command))
            try:
                respond(text=f"done: {command['text']}")
            except OSError as error:
                self.received.put(("respond_failed", {"error": str(error)}))

        @app.action("anomaly_ack")
        def on_acknowledge(ack, body, action):
            ack()
            self.received.put(("action", {"body": body, "action": action}))

        @app.action("pick_team")
        def on_pick_team(ack, action):
            ack()
            self.received.put(("select", action))

        @app.view("finding_new")
        def on_finding_submitted(ack, view, body):
            reason = view["state"]["values"]["reason"]["reason_input"]["value"]
            if not reason:
                ack(response_action="errors", errors={"reason": "Say why"})
                return
            ack()
            self.received.put(("view", {"view": view, "user": body["user"]}))

        @app.action("open_finding")
        def on_open_finding(ack, body):
            ack()
            self.received.put(("view_action", body))

        @app.event("app_home_opened")
        def on_home_opened(event, client, request):
            client.views_publish(user_id=event["user"], view={"type": "home", "blocks": []})
            self.received.put(("event", {**event, "retry_num": request.headers.get("x-slack-retry-num")}))

    def next(self) -> tuple[str, dict]:
        return self.received.get(timeout=WAIT)


@pytest.fixture
def probe(fake_slack: FakeSlack) -> BoltProbe:
    return BoltProbe(fake_slack)


@pytest.fixture
def slack(probe: BoltProbe, fake_slack: FakeSlack) -> Iterator[SignedSlackClient]:
    with serve_over_http(probe.app) as url:
        yield SignedSlackClient(url, SIGNING_SECRET, response_urls=fake_slack.response_url)


def test_signature_matches_slacks_own_verifier():
    body = b"command=%2Fcost&text=help"
    timestamp = str(int(time.time()))
    signature = slack_signature(SIGNING_SECRET, timestamp, body)
    assert SignatureVerifier(SIGNING_SECRET).is_valid(body, timestamp, signature)
    assert not SignatureVerifier("another-secret").is_valid(body, timestamp, signature)


def test_slash_command_reaches_the_listener_with_slacks_fields(slack, probe, fake_slack):
    response = slack.slash("why last month", user_id="U42", channel_id="C9")
    assert response.status == 200
    assert response.body == "working on: why last month"  # Bolt answers a text-only ack as plain text
    assert 0 < response.elapsed < 3
    kind, command = probe.next()
    assert kind == "command"
    assert (
        command["command"],
        command["text"],
        command["user_id"],
        command["channel_id"],
        command["team_id"],
    ) == (
        "/cost",
        "why last month",
        "U42",
        "C9",
        "T1",
    )
    assert command["response_url"] == response.sent["response_url"]
    assert command["trigger_id"] == response.sent["trigger_id"]
    deadline = time.monotonic() + WAIT
    while not fake_slack.response_url_calls(response.sent["response_url"]) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert fake_slack.response_url_calls(response.sent["response_url"]) == [{"text": "done: why last month"}]


def test_button_click_reaches_the_action_listener_shaped_like_slacks(slack, probe, fake_slack):
    channel = fake_slack.add_channel("#team-payments")
    posted = WebClient(token="xoxb-test", base_url=fake_slack.base_url).chat_postMessage(
        channel=channel, text="EC2 up"
    )
    response = slack.action(
        "anomaly_ack",
        "42",
        user_id="U7",
        channel_id=channel,
        message_ts=posted["ts"],
        block_id="anomaly-42",
        message=fake_slack.message(channel, posted["ts"]),
    )
    assert response.status == 200
    kind, received = probe.next()
    body, action = received["body"], received["action"]
    assert kind == "action"
    assert (action["action_id"], action["value"], action["block_id"], action["type"]) == (
        "anomaly_ack",
        "42",
        "anomaly-42",
        "button",
    )
    assert body["type"] == "block_actions"
    assert body["user"] == {"id": "U7", "username": "u7", "name": "u7", "team_id": "T1"}
    assert body["container"] == {
        "type": "message",
        "message_ts": posted["ts"],
        "channel_id": channel,
        "is_ephemeral": False,
    }
    assert body["channel"]["id"] == channel
    assert body["message"]["text"] == "EC2 up"
    assert body["response_url"].startswith(f"{fake_slack.url}/response/")


def test_select_action_carries_the_selected_option(slack, probe):
    response = slack.select_action(
        "pick_team", "payments", selected_text="Payments", channel_id="C1", message_ts="1.2"
    )
    assert response.status == 200
    kind, action = probe.next()
    assert kind == "select"
    assert action["type"] == "static_select"
    assert action["selected_option"] == {
        "text": {"type": "plain_text", "text": "Payments"},
        "value": "payments",
    }


def test_view_submission_reaches_the_view_listener_with_state_values(slack, probe):
    response = slack.view_submission(
        "finding_new",
        {"reason": {"reason_input": "Idle RDS replicas"}},
        user_id="U3",
        private_metadata="anomaly:42",
    )
    assert response.status == 200
    assert response.body == ""
    kind, received = probe.next()
    assert kind == "view"
    assert received["user"]["id"] == "U3"
    assert received["view"]["callback_id"] == "finding_new"
    assert received["view"]["private_metadata"] == "anomaly:42"
    assert received["view"]["state"]["values"] == {
        "reason": {"reason_input": {"type": "plain_text_input", "value": "Idle RDS replicas"}}
    }


def test_view_submission_errors_come_back_in_the_http_answer(slack, probe):
    response = slack.view_submission("finding_new", {"reason": {"reason_input": ""}})
    assert response.status == 200
    assert response.json() == {"response_action": "errors", "errors": {"reason": "Say why"}}
    assert probe.received.empty()


def test_state_values_keeps_slack_shaped_leaves():
    selected = {"type": "static_select", "selected_option": {"value": "payments"}}
    assert state_values({"team": {"pick": selected}, "why": {"text": "because"}}) == {
        "team": {"pick": selected},
        "why": {"text": {"type": "plain_text_input", "value": "because"}},
    }


def test_event_callback_reaches_the_event_listener(slack, probe, fake_slack):
    response = slack.event({"type": "app_home_opened", "user": "U5", "channel": "D1", "tab": "home"})
    assert response.status == 200
    kind, event = probe.next()
    assert (kind, event["type"], event["user"], event["tab"]) == ("event", "app_home_opened", "U5", "home")
    assert fake_slack.home_view("U5")["type"] == "home"


def test_a_redelivered_event_carries_slacks_retry_header(slack, probe):
    assert slack.event({"type": "app_home_opened", "user": "U5", "tab": "home"}, retry_num=1).status == 200
    _, event = probe.next()
    assert event["retry_num"] == ["1"]


def test_a_click_in_a_view_carries_the_view_instead_of_a_message(slack, probe, fake_slack):
    home = WebClient(token="xoxb-test", base_url=fake_slack.base_url).views_publish(
        user_id="U5", view={"type": "home", "blocks": []}
    )["view"]
    assert slack.action("open_finding", "12", user_id="U5", view=home).status == 200
    kind, body = probe.next()
    assert kind == "view_action"
    assert body["container"] == {"type": "view", "view_id": home["id"]}
    assert body["view"]["id"] == home["id"]
    assert "message" not in body and "response_url" not in body


def test_url_verification_echoes_the_challenge(slack):
    response = slack.url_verification("abc123")
    assert response.status == 200
    assert response.json() == {"challenge": "abc123"}


def test_bad_signature_gets_401_and_the_listener_never_runs(slack, probe, fake_slack):
    response = slack.post_with_bad_signature("help")
    assert response.status == 401
    assert probe.received.empty()
    assert fake_slack.all_calls() == [("auth.test", {})]  # Bolt's own start-up check, nothing after


def test_stale_timestamp_gets_401_and_the_listener_never_runs(slack, probe, fake_slack):
    response = slack.post_with_stale_timestamp("help")
    assert response.status == 401
    assert probe.received.empty()
    assert fake_slack.all_calls() == [("auth.test", {})]


def test_twenty_threads_share_one_client(slack, probe):
    statuses: list[int] = []
    lock = threading.Lock()

    def send_five(worker: int) -> None:
        for i in range(5):
            status = slack.slash(f"help {worker}-{i}").status
            with lock:
                statuses.append(status)

    threads = [threading.Thread(target=send_five, args=(w,)) for w in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * 100
    texts = sorted(probe.next()[1]["text"] for _ in range(100))
    assert texts == sorted(f"help {w}-{i}" for w in range(20) for i in range(5))


def test_without_a_response_url_source_responses_go_nowhere_reachable(probe):
    with serve_over_http(probe.app) as url:
        response = SignedSlackClient(url, SIGNING_SECRET).slash("help")
    assert response.status == 200
    assert response.sent["response_url"].startswith("http://127.0.0.1:9/")
    assert response.body == "working on: help"
    assert probe.next()[0] == "command"
    kind, failure = probe.next()
    assert kind == "respond_failed"
    assert "Connection refused" in failure["error"]
