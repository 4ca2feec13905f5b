"""Slack's side of Socket Mode on 127.0.0.1 for tests: the WebSocket server the bot connects to.

FakeSlack answers ``apps.connections.open`` with a URL from :meth:`FakeSocketMode.issue_url` (set
``fake_slack.socket_mode_urls = socket_mode.issue_url``). The bot connects and gets ``hello``; the
test sends envelopes (``slash_commands``, ``interactive``, ``events_api``, ``disconnect``) and
reads the acks, each with the time it took. The payloads are the ones Slack posts over HTTP
(see signed_client.py), wrapped in Socket Mode's envelope.

Slack's rules, checked here: a URL is good for one connection (a reconnect asks for a new one); an
ack names an envelope that was sent, once, within 3 seconds; only envelopes that accept a
response payload get one, and its message keeps Block Kit limits. A break is appended to
``violations``, for the test to assert empty as it does FakeSlack's.
"""

from __future__ import annotations

import itertools
import json
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.exceptions import ConnectionClosed
from websockets.protocol import State
from websockets.sync.server import Server, ServerConnection, serve

from tests.slack.fake_slack import check_message, check_view

# Slack's deadline for an ack: later, an event is redelivered and a person sees an error.
ACK_DEADLINE_SECONDS = 3.0


@dataclass(frozen=True)
class Ack:
    """The bot's answer to one envelope."""

    envelope_id: str
    envelope_type: str  # slash_commands, interactive, events_api
    payload: dict | None  # what Slack shows for a slash command (or a view_submission's response_action)
    elapsed: float  # seconds from sending the envelope to receiving this ack
    connection: int  # which connection carried it: 1 for the first, 2 after one reconnect, ...


@dataclass
class _Sent:
    envelope: dict
    at: float  # time.monotonic() when it was sent
    acked: bool = False


class FakeSocketMode:
    """A Socket Mode server on a random port of 127.0.0.1; use as a context manager."""

    def __init__(self, *, app_id: str = "A1", team_id: str = "T1", team_domain: str = "costbot-test",
                 bot_user_id: str = "UBOT") -> None:
        self.app_id = app_id
        self.team_id = team_id
        self.team_domain = team_domain
        self.bot_user_id = bot_user_id
        self.violations: list[str] = []
        self._changed = threading.Condition()  # guards everything below; notified on each change
        self._tickets: set[str] = set()  # issued, not yet used
        self._connections: list[ServerConnection] = []  # in order of arrival; index + 1 is its number
        self._sent: dict[str, _Sent] = {}
        self._acks: list[Ack] = []
        self._counter = itertools.count(1)
        self._server: Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> FakeSocketMode:
        # compression=None: Slack does not negotiate permessage-deflate with slack_sdk's client.
        self._server = serve(self._serve_connection, "127.0.0.1", 0, compression=None)
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-socket-mode", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> FakeSocketMode:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def issue_url(self) -> str:
        """A one-use WebSocket URL, as apps.connections.open answers (wss://wss.slack.com/link/?ticket=...)."""
        if self._server is None:
            raise RuntimeError("FakeSocketMode is not started")
        port = self._server.socket.getsockname()[1]
        ticket = secrets.token_hex(8)
        with self._changed:
            self._tickets.add(ticket)
        return f"ws://127.0.0.1:{port}/link/?ticket={ticket}&app_id={self.app_id}"

    # -- connections ----------------------------------------------------------------------------

    @property
    def connection_count(self) -> int:
        """Connections greeted with ``hello`` so far, open or not."""
        with self._changed:
            return len(self._connections)

    def wait_for_connections(self, count: int, timeout: float = 20.0) -> None:
        """Wait until ``count`` connections in all have been greeted with ``hello``."""
        self._wait(lambda: len(self._connections) >= count, timeout,
                   lambda: f"{len(self._connections)} of {count} Socket Mode connections")

    def wait_for_open_connections(self, count: int, timeout: float = 20.0) -> None:
        """Wait until exactly ``count`` connections are open (e.g. 1 once an old one is let go)."""
        self._wait(lambda: len(self._open()) == count, timeout,
                   lambda: f"{len(self._open())} open Socket Mode connections, expected {count}")

    def request_reconnect(self, reason: str = "refresh_requested") -> None:
        """Send ``disconnect`` on the newest connection, as Slack does before it rotates one."""
        self._send_on_newest({"type": "disconnect", "reason": reason, "debug_info": {"host": "fake-socket-mode"}})

    def close_newest(self) -> None:
        """Close the newest connection with a close frame (1001, going away), no ``disconnect`` first."""
        with self._changed:
            newest = self._open()[-1]
        newest.close(1001, "server going away")

    # -- envelopes ------------------------------------------------------------------------------

    def send(self, envelope_type: str, payload: dict, *, accepts_response_payload: bool) -> str:
        """Send one envelope on the newest open connection; returns its envelope_id."""
        envelope_id = str(uuid.uuid4())
        envelope: dict[str, Any] = {"envelope_id": envelope_id, "type": envelope_type, "payload": payload,
                                    "accepts_response_payload": accepts_response_payload}
        if envelope_type == "events_api":
            envelope.update(retry_attempt=0, retry_reason="")
        with self._changed:
            self._sent[envelope_id] = _Sent(envelope, time.monotonic())
        self._send_on_newest(envelope)
        return envelope_id

    def slash_command(self, text: str, *, command: str = "/cost", user_id: str = "U1", channel_id: str = "C1",
                      response_url: str) -> str:
        """A slash command: the fields Slack would form-encode over HTTP, as a JSON object."""
        payload = {
            "token": "unused-verification-token", "team_id": self.team_id, "team_domain": self.team_domain,
            "channel_id": channel_id, "channel_name": "general", "user_id": user_id,
            "user_name": user_id.lower(), "command": command, "text": text, "api_app_id": self.app_id,
            "is_enterprise_install": "false", "response_url": response_url, "trigger_id": self._trigger_id(),
        }
        return self.send("slash_commands", payload, accepts_response_payload=True)

    def button(self, action_id: str, value: str, *, user_id: str = "U1", channel_id: str, message_ts: str,
               response_url: str) -> str:
        """A click on a button of a message (block_actions); Slack takes no payload in its ack."""
        payload = {
            "type": "block_actions",
            "user": {"id": user_id, "username": user_id.lower(), "name": user_id.lower(), "team_id": self.team_id},
            "api_app_id": self.app_id, "token": "unused-verification-token",
            "container": {"type": "message", "message_ts": message_ts, "channel_id": channel_id,
                          "is_ephemeral": False},
            "trigger_id": self._trigger_id(),
            "team": {"id": self.team_id, "domain": self.team_domain},
            "enterprise": None, "is_enterprise_install": False,
            "channel": {"id": channel_id, "name": "channel"},
            "message": {"type": "message", "ts": message_ts, "text": "", "blocks": []},
            "state": {"values": {}},
            "response_url": response_url,
            "actions": [{"action_id": action_id, "block_id": f"b-{action_id}", "type": "button", "value": value,
                         "text": {"type": "plain_text", "text": action_id}, "action_ts": self._ts()}],
        }
        return self.send("interactive", payload, accepts_response_payload=False)

    def event(self, event: dict) -> str:
        """An Events API event (e.g. app_home_opened) in its event_callback."""
        payload = {
            "token": "unused-verification-token", "team_id": self.team_id, "api_app_id": self.app_id,
            "event": {"event_ts": self._ts(), **event}, "type": "event_callback",
            "event_id": f"Ev{next(self._counter):010d}", "event_time": int(time.time()),
            "authorizations": [{"enterprise_id": None, "team_id": self.team_id, "user_id": self.bot_user_id,
                                "is_bot": True, "is_enterprise_install": False}],
            "is_ext_shared_channel": False,
        }
        return self.send("events_api", payload, accepts_response_payload=False)

    def wait_for_ack(self, envelope_id: str, timeout: float = 20.0) -> Ack:
        """The ack of one envelope (AssertionError if none comes within ``timeout``)."""
        found: list[Ack] = []

        def arrived() -> bool:
            found[:] = [a for a in self._acks if a.envelope_id == envelope_id]
            return bool(found)

        self._wait(arrived, timeout, lambda: f"an ack of envelope {envelope_id}")
        return found[0]

    # -- the server side (websockets' connection threads) -----------------------------------------

    def _serve_connection(self, connection: ServerConnection) -> None:
        ticket = parse_qs(urlsplit(connection.request.path).query).get("ticket", [""])[0]
        with self._changed:
            if ticket not in self._tickets:
                self.violations.append(f"connected to {connection.request.path}: not a URL from "
                                       "apps.connections.open, or one already used (Slack refuses it)")
                refused = True
            else:
                self._tickets.discard(ticket)
                refused = False
        if refused:
            connection.close(1008, "invalid ticket")
            return
        with self._changed:
            self._connections.append(connection)
            number = len(self._connections)
            hello = {"type": "hello", "num_connections": len(self._open()),
                     "debug_info": {"host": "fake-socket-mode", "build_number": 1,
                                    "approximate_connection_time": 18060},
                     "connection_info": {"app_id": self.app_id}}
            # Sent under the lock: nothing else goes out on this connection before hello.
            connection.send(json.dumps(hello))
            self._changed.notify_all()
        try:
            for message in connection:
                self._receive(number, message)
        except ConnectionClosed:
            pass  # the bot went away (e.g. it dropped this connection for a new one)
        finally:
            with self._changed:
                self._changed.notify_all()

    def _receive(self, connection: int, message: str | bytes) -> None:
        received = time.monotonic()
        try:
            ack = json.loads(message)
            envelope_id = ack["envelope_id"]
        except (ValueError, TypeError, KeyError):
            with self._changed:
                self.violations.append(f"connection {connection}: not an ack: {message[:200]!r}")
            return
        with self._changed:
            sent = self._sent.get(envelope_id)
            if sent is None:
                self.violations.append(f"ack of an envelope never sent: {envelope_id}")
                return
            envelope_type = sent.envelope["type"]
            if sent.acked:
                self.violations.append(f"{envelope_type} envelope {envelope_id} acked twice")
            sent.acked = True
            payload = ack.get("payload")
            elapsed = received - sent.at
            if elapsed > ACK_DEADLINE_SECONDS:
                self.violations.append(f"{envelope_type} envelope acked after {elapsed:.2f} s, "
                                       f"past Slack's {ACK_DEADLINE_SECONDS:.0f} s")
            self.violations.extend(f"ack of {envelope_type}: {p}" for p in self._payload_problems(sent, payload))
            self._acks.append(Ack(envelope_id, envelope_type, payload, elapsed, connection))
            self._changed.notify_all()

    @staticmethod
    def _payload_problems(sent: _Sent, payload: Any) -> list[str]:
        if payload is None:
            return []
        if not sent.envelope["accepts_response_payload"]:
            return [f"a payload Slack drops (this envelope accepts none): {json.dumps(payload)[:200]}"]
        if not isinstance(payload, dict):
            return ["the payload must be a JSON object"]
        if payload.get("response_action") in ("update", "push"):
            return check_view(payload.get("view"))
        if "text" in payload or "blocks" in payload:
            return check_message(payload)[1]
        return []

    # -- helpers --------------------------------------------------------------------------------

    def _open(self) -> list[ServerConnection]:
        """Connections not yet closed, oldest first (lock held)."""
        return [c for c in self._connections if c.state is State.OPEN]

    def _send_on_newest(self, message: dict) -> None:
        with self._changed:
            open_now = self._open()
            if not open_now:
                raise AssertionError("no open Socket Mode connection to send on")
            open_now[-1].send(json.dumps(message))

    def _wait(self, done: Callable[[], bool], timeout: float, what: Callable[[], str]) -> None:
        deadline = time.monotonic() + timeout
        with self._changed:
            while not done():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"waited {timeout:.0f} s for {what()}")
                # Polls too: a connection's state changes in websockets' own threads.
                self._changed.wait(min(left, 0.05))

    def _trigger_id(self) -> str:
        # Issued now, in ms: FakeSlack refuses a views.open with it after 3 s, as Slack does.
        return f"{time.time_ns() // 1_000_000}.{next(self._counter)}.{secrets.token_hex(16)}"

    @staticmethod
    def _ts() -> str:
        now = time.time_ns() // 1000
        return f"{now // 1_000_000}.{now % 1_000_000:06d}"
