"""A client that posts to the app's real HTTP endpoint exactly as Slack does.

Slash commands and interactive payloads are form-encoded, Events API callbacks are JSON, and
every request carries Slack's v0 signature (X-Slack-Signature over "v0:<timestamp>:<body>",
HMAC-SHA256 with the signing secret). One new connection per request, so it is safe to share
between threads.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import itertools
import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

# Slack refuses requests whose timestamp is more than five minutes away from now.
STALE_AFTER_SECONDS = 5 * 60

# Where responses go when the test wired no response_url source: a closed local port, so an app
# that answers through response_url fails at once instead of reaching for the internet.
UNREACHABLE_RESPONSE_URL = "http://127.0.0.1:9/response/unrouted"

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"


@dataclass(frozen=True)
class SignedResponse:
    """The app's answer to one request, and what was sent."""

    status: int
    headers: dict[str, str]  # lower-cased names
    body: str
    elapsed: float  # seconds from sending the request to reading the whole answer
    sent: dict[str, Any] = field(default_factory=dict)  # the decoded payload that was posted

    def json(self) -> Any:
        """The body parsed as JSON (an empty body is None)."""
        return json.loads(self.body) if self.body else None


def slack_signature(signing_secret: str, timestamp: str, body: bytes) -> str:
    """Slack's v0 request signature: "v0=" + hex HMAC-SHA256 of "v0:<timestamp>:<body>"."""
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()


def state_values(values: dict[str, dict[str, Any]]) -> dict[str, dict[str, dict]]:
    """Slack's view `state.values` from a short form.

    {block_id: {action_id: "text"}} becomes a plain_text_input value; a dict leaf (already in
    Slack's shape, e.g. {"type": "static_select", "selected_option": {...}}) is kept as it is.
    """
    shaped: dict[str, dict[str, dict]] = {}
    for block_id, actions in values.items():
        shaped[block_id] = {}
        for action_id, leaf in actions.items():
            if isinstance(leaf, dict):
                shaped[block_id][action_id] = leaf
            else:
                shaped[block_id][action_id] = {"type": "plain_text_input", "value": leaf}
    return shaped


class SignedSlackClient:
    """Posts signed slash commands, block actions, view submissions and events to the app."""

    def __init__(
        self,
        url: str,
        signing_secret: str,
        *,
        team_id: str = "T1",
        team_domain: str = "costbot-test",
        api_app_id: str = "A1",
        bot_user_id: str = "UBOT",
        response_urls: Callable[..., str] | None = None,
        timeout: float = 10.0,
        check_answer: Callable[[SignedResponse], None] | None = None,
    ) -> None:
        """`url`: the app's events endpoint, e.g. http://127.0.0.1:PORT/slack/events.

        `response_urls`: makes the response_url of each request that gets one when the caller
        gives none; pass `fake_slack.response_url` so responses land in the fake. It is called
        with channel= (and message_ts= for actions) so replace_original can edit that message.
        """
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"expected an http:// URL, got {url!r}")
        self.url = url
        self.signing_secret = signing_secret
        self.team_id = team_id
        self.team_domain = team_domain
        self.api_app_id = api_app_id
        self.bot_user_id = bot_user_id
        self.response_urls = response_urls
        self.timeout = timeout
        # Called with every answer (e.g. FakeSlack.check_ack: acks carry messages and views too).
        self.check_answer = check_answer
        self._host = parts.hostname
        self._port = parts.port or 80
        self._path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._counter = itertools.count(1)
        self._counter_lock = threading.Lock()

    # -- Slack's request kinds ------------------------------------------------------------------

    def slash(
        self,
        text: str,
        *,
        command: str = "/cost",
        user_id: str = "U1",
        user_name: str | None = None,
        channel_id: str = "C1",
        channel_name: str = "general",
        response_url: str | None = None,
        trigger_id: str | None = None,
    ) -> SignedResponse:
        """A slash command, form-encoded with the fields Slack sends."""
        fields = self._slash_fields(
            text,
            command=command,
            user_id=user_id,
            user_name=user_name,
            channel_id=channel_id,
            channel_name=channel_name,
            response_url=response_url,
            trigger_id=trigger_id,
        )
        return self.post_signed(urlencode(fields).encode(), FORM, sent=fields)

    def action(
        self,
        action_id: str,
        value: str | None = None,
        *,
        user_id: str = "U1",
        channel_id: str | None = None,
        message_ts: str | None = None,
        block_id: str | None = None,
        response_url: str | None = None,
        container: dict | None = None,
        message: dict | None = None,
        view: dict | None = None,
        trigger_id: str | None = None,
        action_type: str = "button",
        action_fields: dict | None = None,
    ) -> SignedResponse:
        """A block_actions payload for one clicked element (a button unless action_type says else).

        From a message: give channel_id and message_ts (and `message`, e.g. fake.message(...),
        for the message body Slack echoes back). From a view (modal or Home tab): give `view`.
        """
        action = {
            "action_id": action_id,
            "block_id": block_id or f"b-{action_id}",
            "type": action_type,
            "action_ts": self._ts(),
        }
        if action_type == "button":
            action["text"] = {"type": "plain_text", "text": action_id, "emoji": True}
        if value is not None:
            action["value"] = value
        action.update(action_fields or {})
        payload: dict[str, Any] = {
            "type": "block_actions",
            "user": self._user(user_id),
            "api_app_id": self.api_app_id,
            "token": "unused-verification-token",
            "trigger_id": trigger_id or self._trigger_id(),
            "team": {"id": self.team_id, "domain": self.team_domain},
            "enterprise": None,
            "is_enterprise_install": False,
            "state": {"values": {}},
            "actions": [action],
        }
        if view is not None:
            payload["container"] = container or {"type": "view", "view_id": view.get("id", "")}
            payload["view"] = view
        else:
            payload["container"] = container or {
                "type": "message",
                "message_ts": message_ts,
                "channel_id": channel_id,
                "is_ephemeral": False,
            }
            if channel_id is not None:
                payload["channel"] = {"id": channel_id, "name": "channel"}
            if message_ts is not None or message is not None:
                payload["message"] = message or {
                    "type": "message",
                    "ts": message_ts,
                    "text": "",
                    "blocks": [],
                }
            payload["response_url"] = response_url or self._response_url(
                channel=channel_id, message_ts=message_ts
            )
        return self._post_payload(payload)

    def select_action(
        self, action_id: str, selected_value: str, *, selected_text: str | None = None, **kwargs: Any
    ) -> SignedResponse:
        """A static_select choice; takes the same keyword arguments as action()."""
        option = {
            "text": {"type": "plain_text", "text": selected_text or selected_value},
            "value": selected_value,
        }
        return self.action(
            action_id, action_type="static_select", action_fields={"selected_option": option}, **kwargs
        )

    def view_submission(
        self,
        callback_id: str,
        values: dict[str, dict[str, Any]],
        *,
        user_id: str = "U1",
        private_metadata: str | None = None,
        view_id: str | None = None,
        view: dict | None = None,
        trigger_id: str | None = None,
    ) -> SignedResponse:
        """A modal's submit: `values` in Slack's state.values shape or the short form of state_values().

        `view`: the view the app opened (e.g. from fake.calls("views.open")), echoed back as Slack does.
        """
        base = dict(view or {})
        submitted = {
            "type": "modal",
            "blocks": [],
            "title": {"type": "plain_text", "text": "costbot"},
            **base,
            "id": view_id or base.get("id") or f"V{self._next():08d}",
            "team_id": self.team_id,
            "callback_id": callback_id,
            "private_metadata": private_metadata
            if private_metadata is not None
            else base.get("private_metadata", ""),
            "state": {"values": state_values(values)},
            "hash": base.get("hash", f"{int(time.time())}.{self._next():08x}"),
            "app_id": self.api_app_id,
            "app_installed_team_id": self.team_id,
            "bot_id": base.get("bot_id", "BBOT"),
        }
        payload = {
            "type": "view_submission",
            "team": {"id": self.team_id, "domain": self.team_domain},
            "user": self._user(user_id),
            "api_app_id": self.api_app_id,
            "token": "unused-verification-token",
            "trigger_id": trigger_id or self._trigger_id(),
            "view": submitted,
            "response_urls": [],
            "is_enterprise_install": False,
            "enterprise": None,
        }
        return self._post_payload(payload)

    def event(
        self, event: dict, *, event_id: str | None = None, retry_num: int | None = None
    ) -> SignedResponse:
        """An Events API callback (e.g. {"type": "app_home_opened", "user": "U1", "tab": "home"}).

        `retry_num` adds Slack's X-Slack-Retry-Num header, as on a redelivery.
        """
        envelope = {
            "token": "unused-verification-token",
            "team_id": self.team_id,
            "api_app_id": self.api_app_id,
            "event": {"event_ts": self._ts(), **event},
            "type": "event_callback",
            "event_id": event_id or f"Ev{self._next():010d}",
            "event_time": int(time.time()),
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": self.team_id,
                    "user_id": self.bot_user_id,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
        }
        headers = {}
        if retry_num is not None:
            headers = {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": "http_timeout"}
        return self.post_signed(json.dumps(envelope).encode(), JSON, headers=headers, sent=envelope)

    def url_verification(self, challenge: str = "challenge-token") -> SignedResponse:
        """The handshake Slack sends when the events URL is configured."""
        body = {"token": "unused-verification-token", "challenge": challenge, "type": "url_verification"}
        return self.post_signed(json.dumps(body).encode(), JSON, sent=body)

    # -- forged and stale requests --------------------------------------------------------------

    def post_with_bad_signature(self, text: str = "help", **slash_kwargs: Any) -> SignedResponse:
        """A slash command (same keywords as slash()) signed with the wrong secret: must get 401."""
        fields = self._slash_fields(text, **slash_kwargs)
        body = urlencode(fields).encode()
        timestamp = str(int(time.time()))
        forged = slack_signature(self.signing_secret + "-forged", timestamp, body)
        return self._post(body, FORM, timestamp, forged, {}, fields)

    def post_with_stale_timestamp(self, text: str = "help", **slash_kwargs: Any) -> SignedResponse:
        """A slash command signed correctly but six minutes ago: must get 401."""
        fields = self._slash_fields(text, **slash_kwargs)
        body = urlencode(fields).encode()
        timestamp = str(int(time.time()) - STALE_AFTER_SECONDS - 60)
        return self._post(
            body, FORM, timestamp, slack_signature(self.signing_secret, timestamp, body), {}, fields
        )

    # -- the wire -------------------------------------------------------------------------------

    def post_signed(
        self,
        body: bytes,
        content_type: str,
        *,
        headers: dict[str, str] | None = None,
        sent: dict | None = None,
    ) -> SignedResponse:
        """POST any body with a valid signature and the current timestamp."""
        timestamp = str(int(time.time()))
        signature = slack_signature(self.signing_secret, timestamp, body)
        return self._post(body, content_type, timestamp, signature, headers or {}, sent or {})

    def _post(
        self,
        body: bytes,
        content_type: str,
        timestamp: str,
        signature: str,
        extra: dict[str, str],
        sent: dict,
    ) -> SignedResponse:
        headers = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": signature,
            "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
            **extra,
        }
        connection = http.client.HTTPConnection(self._host, self._port, timeout=self.timeout)
        try:
            started = time.perf_counter()
            connection.request("POST", self._path, body=body, headers=headers)
            response = connection.getresponse()
            text = response.read().decode("utf-8", "replace")
            elapsed = time.perf_counter() - started
            answer_headers = {name.lower(): value for name, value in response.getheaders()}
            answer = SignedResponse(response.status, answer_headers, text, elapsed, sent)
            if self.check_answer is not None:
                self.check_answer(answer)
            return answer
        finally:
            connection.close()

    def _post_payload(self, payload: dict) -> SignedResponse:
        # Interactive payloads arrive as one form field, payload=<json>.
        body = urlencode({"payload": json.dumps(payload)}).encode()
        return self.post_signed(body, FORM, sent=payload)

    # -- pieces ---------------------------------------------------------------------------------

    def _slash_fields(
        self,
        text: str,
        *,
        command: str = "/cost",
        user_id: str = "U1",
        user_name: str | None = None,
        channel_id: str = "C1",
        channel_name: str = "general",
        response_url: str | None = None,
        trigger_id: str | None = None,
    ) -> dict[str, str]:
        return {
            "token": "unused-verification-token",
            "team_id": self.team_id,
            "team_domain": self.team_domain,
            "channel_id": channel_id,
            "channel_name": channel_name,
            "user_id": user_id,
            "user_name": user_name or user_id.lower(),
            "command": command,
            "text": text,
            "api_app_id": self.api_app_id,
            "is_enterprise_install": "false",
            "response_url": response_url or self._response_url(channel=channel_id),
            "trigger_id": trigger_id or self._trigger_id(),
        }

    def _response_url(self, **where: Any) -> str:
        return self.response_urls(**where) if self.response_urls is not None else UNREACHABLE_RESPONSE_URL

    def _user(self, user_id: str) -> dict:
        return {"id": user_id, "username": user_id.lower(), "name": user_id.lower(), "team_id": self.team_id}

    def _next(self) -> int:
        with self._counter_lock:
            return next(self._counter)

    def _trigger_id(self) -> str:
        # Issued now, in milliseconds: FakeSlack refuses it 3 s later, as Slack does.
        return f"{time.time_ns() // 1_000_000}.{self._next()}.{secrets.token_hex(16)}"

    @staticmethod
    def _ts() -> str:
        now = time.time()
        return f"{int(now)}.{int(now * 1_000_000) % 1_000_000:06d}"
