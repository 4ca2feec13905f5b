"""A fake Slack Web API server on 127.0.0.1 for tests.

Point the app's `WebClient(base_url=fake.base_url)` at it. Every call is recorded, checked against
the method specs in `methods/` (copied from Slack's published API reference, see its LICENSE file)
and against Block Kit limits, and answered from a small in-memory workspace (channels, messages,
users, views, files), so a test asserts on exactly what Slack would have received.

A call that breaks a rule is refused the way Slack refuses it AND appended to `violations`, so the
`fake_slack` fixture fails the test even when the app swallows the error.
"""

from __future__ import annotations

import base64
import copy
import itertools
import json
import re
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

METHODS_DIR = Path(__file__).with_name("methods")

# Slack's Block Kit limits, one row each: rule name -> maximum. Violation messages quote the name.
BLOCK_KIT_LIMITS: dict[str, int] = {
    "message.blocks": 50,  # blocks in one message (chat.postMessage/update/postEphemeral, response_url)
    "view.blocks": 100,  # blocks in one modal or Home tab
    "message.text": 40_000,  # top-level message `text`; longer is refused (msg_too_long)
    "text": 3_000,  # any text object (plain_text or mrkdwn), also at least 1 character
    "section.text": 3_000,  # a section's main text
    "section.fields": 10,  # fields in one section
    "section.field": 2_000,  # text of one section field
    "header.text": 150,  # a header's plain_text
    "context.elements": 10,  # images and texts in one context block
    "context.text": 3_000,  # a context text object: Slack documents only the text-object ceiling
    "actions.elements": 25,  # interactive elements in one actions block
    "markdown.text": 12_000,  # a markdown block's text
    "image.image_url": 3_000,  # image block or element URL
    "image.alt_text": 2_000,  # image block or element alt text
    "image.title": 2_000,  # image block title
    "input.label": 2_000,  # input block label
    "input.hint": 2_000,  # input block hint
    "block_id": 255,  # any block's block_id
    "action_id": 255,  # any interactive element's action_id
    "button.text": 75,  # a button's label
    "button.value": 2_000,  # the value sent back when the button is clicked
    "button.url": 3_000,  # a link button's URL
    "placeholder": 150,  # placeholder of a select, input or picker
    "select.options": 100,  # options in a static_select / multi_static_select
    "select.option_groups": 100,  # option groups in a static_select / multi_static_select
    "overflow.options": 5,  # options in an overflow menu
    "choices.options": 10,  # options in radio_buttons / checkboxes
    "option.text": 75,  # an option's label
    "option.value": 150,  # an option's value
    "option.description": 75,  # an option's description
    "confirm.title": 100,  # confirmation dialog title
    "confirm.text": 300,  # confirmation dialog text
    "confirm.confirm": 30,  # confirmation dialog confirm button
    "confirm.deny": 30,  # confirmation dialog deny button
    "plain_text_input.max_length": 3_000,  # the largest max_length a plain_text_input may declare
    "plain_text_input.min_length": 3_000,  # the largest min_length a plain_text_input may declare
    "modal.title": 24,  # modal title
    "modal.submit": 24,  # modal submit button
    "modal.close": 24,  # modal close button
    "view.private_metadata": 3_000,  # a view's private_metadata
    "view.callback_id": 255,  # a view's callback_id
    "view.external_id": 255,  # a view's external_id
}

# Block types the checker does not look inside (their limits are not ones costbot can hit).
UNCHECKED_BLOCK_TYPES = frozenset({"rich_text", "video", "file", "table", "call"})

MESSAGE_METHODS = frozenset({"chat.postMessage", "chat.update", "chat.postEphemeral"})
# A trigger_id opens a view only this long after the interaction (Slack: "expires in 3 seconds").
TRIGGER_TTL_SECONDS = 3.0
VIEW_METHODS = frozenset({"views.open", "views.push", "views.update", "views.publish"})

# Arguments that arrive as JSON strings in form-encoded calls (and sometimes in JSON bodies).
JSON_ENCODED_ARGS = ("blocks", "attachments", "metadata", "view", "files")

# Endpoints beside the Web API methods that fail_next / drop_response_next / delay accept.
EXTRA_ENDPOINTS = frozenset({"response_url", "upload"})

# Slack lets an app use one response_url at most five times (within 30 minutes).
RESPONSE_URL_MAX_USES = 5

# Channel names are lower case; IDs (C…, G…, D…) are upper case.
ID_PATTERN = re.compile(r"^[A-Z][A-Z0-9]+$")


@cache
def load_method_specs(methods_dir: Path = METHODS_DIR) -> dict[str, dict]:
    """Slack Web API method specs by method name, read once per process."""
    return {path.stem: json.loads(path.read_text()) for path in sorted(methods_dir.glob("*.json"))}


# ---------------------------------------------------------------------------------------------
# Block Kit checks


class _Problems:
    """Collects Block Kit rule breaks as readable lines: where, what, which limit."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(self, where: str, message: str) -> None:
        self.lines.append(f"{where}: {message}")

    def length(self, where: str, value: Any, rule: str) -> None:
        limit = BLOCK_KIT_LIMITS[rule]
        if isinstance(value, str) and len(value) > limit:
            self.add(where, f"{len(value)} characters, over the {rule} limit of {limit}")

    def count(self, where: str, items: Any, rule: str) -> None:
        limit = BLOCK_KIT_LIMITS[rule]
        if not isinstance(items, list):
            self.add(where, "must be a list")
        elif len(items) > limit:
            self.add(where, f"{len(items)} items, over the {rule} limit of {limit}")

    def at_most(self, where: str, number: Any, rule: str) -> None:
        limit = BLOCK_KIT_LIMITS[rule]
        if isinstance(number, int) and number > limit:
            self.add(where, f"is {number}, over the {rule} limit of {limit}")

    def text(self, where: str, obj: Any, rule: str = "text", *, plain: bool = False) -> None:
        """A text object: {"type": "plain_text"|"mrkdwn", "text": "1..limit characters"}."""
        if obj is None:
            return
        if not isinstance(obj, dict) or obj.get("type") not in ("plain_text", "mrkdwn"):
            self.add(where, "must be a text object with type plain_text or mrkdwn")
            return
        if plain and obj["type"] != "plain_text":
            self.add(where, "must be plain_text")
        text = obj.get("text")
        if not isinstance(text, str) or text == "":
            self.add(f"{where}.text", "must be a non-empty string")
            return
        self.length(f"{where}.text", text, rule)

    def required_text(self, where: str, obj: Any, rule: str, *, plain: bool = False) -> None:
        if obj is None:
            self.add(where, "is required")
        else:
            self.text(where, obj, rule, plain=plain)


def _check_option(p: _Problems, where: str, option: Any) -> None:
    if not isinstance(option, dict):
        p.add(where, "must be an option object")
        return
    p.required_text(f"{where}.text", option.get("text"), "option.text")
    p.length(f"{where}.value", option.get("value"), "option.value")
    p.text(f"{where}.description", option.get("description"), "option.description", plain=True)


def _check_options(p: _Problems, where: str, options: Any, rule: str) -> None:
    p.count(where, options, rule)
    if isinstance(options, list):
        for i, option in enumerate(options):
            _check_option(p, f"{where}[{i}]", option)


def _check_confirm(p: _Problems, where: str, confirm: Any) -> None:
    if not isinstance(confirm, dict):
        p.add(where, "must be a confirmation object")
        return
    for part in ("title", "confirm", "deny"):
        p.text(f"{where}.{part}", confirm.get(part), f"confirm.{part}", plain=True)
    p.text(f"{where}.text", confirm.get("text"), "confirm.text")


def _check_element(p: _Problems, where: str, element: Any) -> None:
    """An interactive element (button, select, input, ...) or an image element."""
    if not isinstance(element, dict) or not isinstance(element.get("type"), str):
        p.add(where, "must be an element object with a type")
        return
    kind = element["type"]
    p.length(f"{where}.action_id", element.get("action_id"), "action_id")
    p.text(f"{where}.placeholder", element.get("placeholder"), "placeholder", plain=True)
    if "confirm" in element:
        _check_confirm(p, f"{where}.confirm", element["confirm"])
    if kind == "button":
        p.required_text(f"{where}.text", element.get("text"), "button.text", plain=True)
        p.length(f"{where}.value", element.get("value"), "button.value")
        p.length(f"{where}.url", element.get("url"), "button.url")
    elif kind in ("static_select", "multi_static_select"):
        if "options" in element:
            _check_options(p, f"{where}.options", element["options"], "select.options")
        if "option_groups" in element:
            groups = element["option_groups"]
            p.count(f"{where}.option_groups", groups, "select.option_groups")
            for i, group in enumerate(groups if isinstance(groups, list) else []):
                group_options = group.get("options") if isinstance(group, dict) else None
                _check_options(p, f"{where}.option_groups[{i}].options", group_options, "select.options")
        if "options" not in element and "option_groups" not in element:
            p.add(where, "a static select needs options or option_groups")
    elif kind == "overflow":
        _check_options(p, f"{where}.options", element.get("options"), "overflow.options")
    elif kind in ("radio_buttons", "checkboxes"):
        _check_options(p, f"{where}.options", element.get("options"), "choices.options")
    elif kind == "plain_text_input":
        max_length = element.get("max_length")
        p.at_most(f"{where}.max_length", max_length, "plain_text_input.max_length")
        p.at_most(f"{where}.min_length", element.get("min_length"), "plain_text_input.min_length")
        initial = element.get("initial_value")
        if isinstance(max_length, int) and isinstance(initial, str) and len(initial) > max_length:
            p.add(
                f"{where}.initial_value", f"{len(initial)} characters, over its own max_length {max_length}"
            )
    elif kind == "image":
        p.length(f"{where}.image_url", element.get("image_url"), "image.image_url")
        p.length(f"{where}.alt_text", element.get("alt_text"), "image.alt_text")


def _check_unique_action_ids(p: _Problems, where: str, elements: list) -> None:
    seen: set[str] = set()
    for i, element in enumerate(elements):
        action_id = element.get("action_id") if isinstance(element, dict) else None
        if action_id is None:
            continue
        if action_id in seen:
            p.add(f"{where}[{i}].action_id", f"duplicate action_id {action_id!r} in one block")
        seen.add(action_id)


def _check_block(p: _Problems, where: str, block: Any) -> None:
    if not isinstance(block, dict) or not isinstance(block.get("type"), str):
        p.add(where, "must be a block object with a type")
        return
    kind = block["type"]
    p.length(f"{where}.block_id", block.get("block_id"), "block_id")
    if kind == "section":
        if "text" not in block and "fields" not in block:
            p.add(where, "a section needs text or fields")
        p.text(f"{where}.text", block.get("text"), "section.text")
        if "fields" in block:
            fields = block["fields"]
            p.count(f"{where}.fields", fields, "section.fields")
            for i, item in enumerate(fields if isinstance(fields, list) else []):
                p.text(f"{where}.fields[{i}]", item, "section.field")
        if "accessory" in block:
            _check_element(p, f"{where}.accessory", block["accessory"])
    elif kind == "header":
        p.required_text(f"{where}.text", block.get("text"), "header.text", plain=True)
    elif kind == "context":
        elements = block.get("elements")
        p.count(f"{where}.elements", elements, "context.elements")
        for i, element in enumerate(elements if isinstance(elements, list) else []):
            if isinstance(element, dict) and element.get("type") == "image":
                _check_element(p, f"{where}.elements[{i}]", element)
            else:
                p.text(f"{where}.elements[{i}]", element, "context.text")
    elif kind == "actions":
        elements = block.get("elements")
        p.count(f"{where}.elements", elements, "actions.elements")
        if isinstance(elements, list):
            for i, element in enumerate(elements):
                _check_element(p, f"{where}.elements[{i}]", element)
            _check_unique_action_ids(p, f"{where}.elements", elements)
    elif kind == "image":
        p.length(f"{where}.image_url", block.get("image_url"), "image.image_url")
        p.length(f"{where}.alt_text", block.get("alt_text"), "image.alt_text")
        p.text(f"{where}.title", block.get("title"), "image.title", plain=True)
    elif kind == "input":
        p.required_text(f"{where}.label", block.get("label"), "input.label", plain=True)
        p.text(f"{where}.hint", block.get("hint"), "input.hint", plain=True)
        if "element" not in block:
            p.add(where, "an input block needs an element")
        else:
            _check_element(p, f"{where}.element", block["element"])
    elif kind == "markdown":
        text = block.get("text")
        if not isinstance(text, str) or text == "":
            p.add(f"{where}.text", "must be a non-empty string")
        p.length(f"{where}.text", text, "markdown.text")
    elif kind != "divider" and kind not in UNCHECKED_BLOCK_TYPES:
        p.add(where, f"unknown block type {kind!r}")


def _check_blocks(p: _Problems, blocks: Any, rule: str, where: str = "blocks") -> None:
    p.count(where, blocks, rule)
    if not isinstance(blocks, list):
        return
    seen: set[str] = set()
    for i, block in enumerate(blocks):
        _check_block(p, f"{where}[{i}]", block)
        block_id = block.get("block_id") if isinstance(block, dict) else None
        if block_id is not None:
            if block_id in seen:
                p.add(f"{where}[{i}].block_id", f"duplicate block_id {block_id!r}")
            seen.add(block_id)


def check_message(message: dict) -> tuple[str | None, list[str]]:
    """Block Kit problems of a message body (chat.* args or a response_url payload).

    Returns the Slack error code to answer with (None when the message is fine) and the problems.
    """
    p = _Problems()
    p.length("text", message.get("text"), "message.text")
    if p.lines:
        return "msg_too_long", p.lines
    if message.get("blocks") is not None:
        _check_blocks(p, message["blocks"], "message.blocks")
    return ("invalid_blocks" if p.lines else None), p.lines


def check_view(view: Any) -> list[str]:
    """Block Kit problems of a modal or Home tab view."""
    p = _Problems()
    if not isinstance(view, dict):
        p.add("view", "must be a JSON object")
        return p.lines
    kind = view.get("type")
    if kind not in ("modal", "home"):
        p.add("view.type", f"must be modal or home, got {kind!r}")
    _check_blocks(p, view.get("blocks"), "view.blocks", where="view.blocks")
    if kind == "modal":
        p.required_text("view.title", view.get("title"), "modal.title", plain=True)
        p.text("view.submit", view.get("submit"), "modal.submit", plain=True)
        p.text("view.close", view.get("close"), "modal.close", plain=True)
        blocks = view.get("blocks") if isinstance(view.get("blocks"), list) else []
        has_input = any(isinstance(b, dict) and b.get("type") == "input" for b in blocks)
        if has_input and "submit" not in view:
            p.add("view.submit", "a modal with input blocks needs a submit button")
    p.length("view.private_metadata", view.get("private_metadata"), "view.private_metadata")
    p.length("view.callback_id", view.get("callback_id"), "view.callback_id")
    p.length("view.external_id", view.get("external_id"), "view.external_id")
    return p.lines


# ---------------------------------------------------------------------------------------------
# Workspace state


@dataclass
class UploadedFile:
    """A file uploaded through files.getUploadURLExternal + upload URL + files.completeUploadExternal."""

    id: str
    filename: str
    length: int
    alt_txt: str | None = None
    content: bytes | None = None
    title: str | None = None
    channel: str | None = None
    thread_ts: str | None = None
    initial_comment: str | None = None
    completed: bool = False


@dataclass
class _Channel:
    id: str
    name: str
    is_private: bool = False
    is_im: bool = False
    members: list[str] = field(default_factory=list)
    messages: list[dict] = field(default_factory=list)


@dataclass
class _ResponseUrl:
    name: str
    channel: str | None
    message_ts: str | None
    uses: int = 0


@dataclass
class _Failure:
    status: int
    error: str
    retry_after: int | None


class SlackError(Exception):
    """An API error answered as {"ok": false, "error": code}; `violation` also fails the test."""

    def __init__(self, code: str, violation: str | None = None, messages: list[str] | None = None):
        super().__init__(code)
        self.code = code
        self.violation = violation
        self.messages = messages or []


def _truthy(value: Any) -> bool:
    # JSON bodies carry real booleans; form bodies carry "1"/"true" (slack_sdk sends "1").
    return value is True or (isinstance(value, (str, int)) and str(value).lower() in ("1", "true"))


def _trigger_issued_ms(trigger_id: str) -> int | None:
    """When a trigger_id made by SignedClient was issued (its first part, in ms), else None (not checked)."""
    first = trigger_id.split(".", 1)[0]
    return int(first) if first.isdigit() and len(first) >= 13 else None


def _ts_key(ts: Any) -> tuple[int, int]:
    seconds, _, micros = str(ts).partition(".")
    return int(seconds or 0), int((micros or "0").ljust(6, "0")[:6])


def _encode_cursor(kind: str, value: str) -> str:
    return base64.b64encode(f"{kind}:{value}".encode()).decode()


def _decode_cursor(cursor: Any, kind: str) -> str | None:
    if not cursor:
        return None
    try:
        decoded = base64.b64decode(str(cursor).encode(), validate=True).decode()
    except ValueError as error:
        raise SlackError("invalid_cursor") from error
    prefix, _, value = decoded.partition(":")
    if prefix != kind:
        raise SlackError("invalid_cursor")
    return value


def _limit(args: dict, default: int = 100) -> int:
    try:
        limit = int(args.get("limit") or default)
    except ValueError as error:
        raise SlackError("invalid_limit") from error
    return max(1, min(limit, 999))


# ---------------------------------------------------------------------------------------------
# The server


class FakeSlack:
    """A fake Slack Web API on 127.0.0.1 (random port) with a small in-memory workspace.

    Use as a context manager or call start()/stop(). All public methods are thread-safe and
    return copies, never live state.
    """

    def __init__(
        self,
        *,
        token: str | None = None,
        app_token: str | None = None,
        team_id: str = "T1",
        bot_user_id: str = "UBOT",
        bot_id: str = "BBOT",
        app_id: str = "A1",
        create_channels_on_post: bool = True,
        methods_dir: Path = METHODS_DIR,
    ) -> None:
        """`token`: when set, only that token is accepted (else any non-empty token is).

        `app_token`: when set, the only token apps.connections.open accepts (else any xapp- token).

        `create_channels_on_post`: chat.postMessage to an unknown `#name` creates the channel.
        """
        self.specs = load_method_specs(methods_dir)
        self.token = token
        self.app_token = app_token
        # What apps.connections.open answers with, one URL per call: FakeSocketMode.issue_url.
        self.socket_mode_urls: Callable[[], str] | None = None
        self.team_id = team_id
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.app_id = app_id
        self.create_channels_on_post = create_channels_on_post
        self.violations: list[str] = []
        self._lock = threading.RLock()
        self._ids = itertools.count(1)
        self._last_ts_micros = 0
        self._calls: list[tuple[str, dict]] = []
        self._channels: dict[str, _Channel] = {}
        self._channel_ids_by_name: dict[str, str] = {}
        self._dm_channel_by_user: dict[str, str] = {}
        self._users: dict[str, dict] = {}
        self._usergroups: dict[str, list[str]] = {}
        self._ephemerals: list[dict] = []
        self._views: dict[str, dict] = {}
        self._home_view_by_user: dict[str, str] = {}
        self._files: dict[str, UploadedFile] = {}
        self._response_urls: dict[str, _ResponseUrl] = {}
        self._response_calls: dict[str, list[dict]] = defaultdict(list)
        self._failures: dict[str, deque[_Failure]] = defaultdict(deque)
        self._drops: dict[str, int] = defaultdict(int)
        self._delays: dict[str, float] = {}
        self._request_local = threading.local()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._executors = {
            "auth.test": self._auth_test,
            "apps.connections.open": self._apps_connections_open,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "chat.delete": self._chat_delete,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.getPermalink": self._chat_get_permalink,
            "conversations.history": self._conversations_history,
            "conversations.replies": self._conversations_replies,
            "conversations.info": self._conversations_info,
            "conversations.join": self._conversations_join,
            "conversations.list": self._conversations_list,
            "conversations.members": self._conversations_members,
            "users.info": self._users_info,
            "users.lookupByEmail": self._users_lookup_by_email,
            "usergroups.users.list": self._usergroups_users_list,
            "views.open": self._views_open,
            "views.push": self._views_open,
            "views.update": self._views_update,
            "views.publish": self._views_publish,
            "files.getUploadURLExternal": self._files_get_upload_url,
            "files.completeUploadExternal": self._files_complete_upload,
        }

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> FakeSlack:
        """Bind a random port on 127.0.0.1 and serve in a daemon thread."""
        if self._server is not None:
            return self
        self._server = _Server(self)
        # A short poll interval keeps stop() fast; the default would make it wait up to 0.5 s.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, name="fake-slack", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> FakeSlack:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The server root, e.g. http://127.0.0.1:PORT."""
        if self._server is None:
            raise RuntimeError("FakeSlack is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def base_url(self) -> str:
        """What `slack_sdk.WebClient(base_url=...)` takes: http://127.0.0.1:PORT/api/."""
        return f"{self.url}/api/"

    # -- recorded calls -------------------------------------------------------------------------

    def calls(self, method: str) -> list[dict]:
        """Args of every call to `method` in order, refused ones included.

        JSON-string fields (blocks, metadata, view, ...) come back decoded; the token is left out.

        "response_url" gives the bodies posted to any response_url.
        """
        with self._lock:
            return [copy.deepcopy(args) for name, args in self._calls if name == method]

    def last(self, method: str) -> dict:
        """Args of the latest call to `method`; AssertionError naming what was called if none."""
        with self._lock:
            for name, args in reversed(self._calls):
                if name == method:
                    return copy.deepcopy(args)
            called = sorted({name for name, _ in self._calls})
        raise AssertionError(f"no {method} call was made; calls made: {called or 'none'}")

    def all_calls(self) -> list[tuple[str, dict]]:
        """Every (method, args) in arrival order."""
        with self._lock:
            return copy.deepcopy(self._calls)

    def reset(self) -> None:
        """Forget recorded calls and violations; the workspace, failures and delays stay."""
        with self._lock:
            self._calls.clear()
            self._response_calls.clear()
            self.violations.clear()

    # -- workspace set-up and inspection --------------------------------------------------------

    def add_channel(
        self,
        name: str,
        *,
        channel_id: str | None = None,
        is_private: bool = False,
        members: tuple[str, ...] = (),
    ) -> str:
        """Create a channel (name with or without '#') and return its ID."""
        with self._lock:
            bare = name.lstrip("#")
            if bare in self._channel_ids_by_name:
                raise ValueError(f"channel #{bare} already exists")
            new_id = channel_id or f"{'G' if is_private else 'C'}{next(self._ids):08X}"
            self._channels[new_id] = _Channel(
                id=new_id, name=bare, is_private=is_private, members=list(members)
            )
            self._channel_ids_by_name[bare] = new_id
            return new_id

    def channel_id(self, name: str) -> str:
        """The ID of an existing channel, by name (with or without '#')."""
        with self._lock:
            bare = name.lstrip("#")
            if bare not in self._channel_ids_by_name:
                raise KeyError(f"no channel #{bare}; channels: {sorted(self._channel_ids_by_name)}")
            return self._channel_ids_by_name[bare]

    def add_members(self, channel: str, *user_ids: str) -> None:
        """Add users to a channel (ID or name)."""
        with self._lock:
            members = self._channel(channel).members
            members.extend(u for u in user_ids if u not in members)

    def add_user(
        self,
        user_id: str,
        *,
        name: str,
        email: str | None = None,
        real_name: str | None = None,
        is_bot: bool = False,
        tz: str = "Etc/UTC",
    ) -> dict:
        """Add a workspace member; users.info and users.lookupByEmail then find them."""
        user = {
            "id": user_id,
            "team_id": self.team_id,
            "name": name,
            "real_name": real_name or name,
            "deleted": False,
            "is_bot": is_bot,
            "tz": tz,
            "profile": {"real_name": real_name or name, "display_name": name, "email": email},
        }
        with self._lock:
            self._users[user_id] = user
        return copy.deepcopy(user)

    def add_usergroup(self, usergroup_id: str, user_ids: list[str]) -> None:
        """A user group (S…) whose members usergroups.users.list returns."""
        with self._lock:
            self._usergroups[usergroup_id] = list(user_ids)

    def messages(self, channel: str) -> list[dict]:
        """Every message in a channel (ID or name), thread replies included, oldest first."""
        with self._lock:
            return copy.deepcopy(self._channel(channel).messages)

    def message(self, channel: str, ts: str) -> dict:
        """One stored message by channel (ID or name) and ts."""
        with self._lock:
            found = self._find_message(self._channel(channel), ts)
            if found is None:
                raise KeyError(f"no message {ts} in {channel}")
            return copy.deepcopy(found)

    def dm_channel(self, user_id: str) -> str:
        """The ID of the bot's DM channel with a user (created by posting to the user ID)."""
        with self._lock:
            return self._dm_channel_by_user[user_id]

    def ephemerals(self, user: str | None = None) -> list[dict]:
        """Ephemeral messages sent with chat.postEphemeral, optionally for one user."""
        with self._lock:
            return [copy.deepcopy(e) for e in self._ephemerals if user is None or e["user"] == user]

    def view(self, view_id: str) -> dict:
        """A view as last opened, pushed, updated or published."""
        with self._lock:
            return copy.deepcopy(self._views[view_id])

    def home_view(self, user_id: str) -> dict | None:
        """The Home tab last published for a user, or None."""
        with self._lock:
            view_id = self._home_view_by_user.get(user_id)
            return copy.deepcopy(self._views[view_id]) if view_id else None

    def files(self, channel: str | None = None) -> list[UploadedFile]:
        """Completed uploads (bytes, filename, title, channel ID, thread_ts), optionally in one channel."""
        with self._lock:
            wanted = self._channel(channel).id if channel is not None else None
            return [
                copy.deepcopy(f)
                for f in self._files.values()
                if f.completed and (wanted is None or f.channel == wanted)
            ]

    def response_url(
        self, name: str | None = None, *, channel: str | None = None, message_ts: str | None = None
    ) -> str:
        """A response_url served by the fake: http://127.0.0.1:PORT/response/<name>.

        Bound to a message (channel + message_ts), `replace_original`/`delete_original` edit it;
        bound to a channel, `response_type: in_channel` posts there.
        """
        with self._lock:
            name = name or f"R{next(self._ids):08X}"
            if name in self._response_urls:
                raise ValueError(f"response_url {name!r} already exists")
            channel_id = (
                self._channel(channel).id if channel is not None and self._has_channel(channel) else None
            )
            self._response_urls[name] = _ResponseUrl(name=name, channel=channel_id, message_ts=message_ts)
        return f"{self.url}/response/{quote(name, safe='')}"

    def response_url_calls(self, url_or_name: str) -> list[dict]:
        """Bodies posted to one response_url (given as the URL or its name)."""
        name = unquote(url_or_name.rstrip("/").rsplit("/", 1)[-1])
        with self._lock:
            return copy.deepcopy(self._response_calls.get(name, []))

    def check_ack(self, answer: Any) -> None:
        """Check an app's HTTP answer to Slack like the messages it sends: a slash command's ack
        carries a message, a view_submission's ``response_action`` a view. Problems become
        violations (Slack would refuse the answer just the same)."""
        if answer.status != 200 or "json" not in answer.headers.get("content-type", ""):
            return
        try:
            body = json.loads(answer.body or "{}")
        except ValueError:
            self.violations.append(f"ack: not JSON: {answer.body[:100]!r}")
            return
        if not isinstance(body, dict):
            return
        problems: list[str] = []
        if body.get("response_action") in ("update", "push"):
            problems = check_view(body.get("view"))
        elif body.get("response_action") == "errors":
            if not isinstance(body.get("errors"), dict):
                problems = ["ack: response_action errors needs an errors object"]
        elif "text" in body or "blocks" in body:
            problems = check_message(body)[1]
        with self._lock:
            self.violations.extend(f"ack: {p}" for p in problems)

    # -- failure injection ----------------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        *,
        status: int | None = None,
        error: str | None = None,
        retry_after: int = 1,
        times: int = 1,
    ) -> None:
        """Make the next `times` calls to `method` fail instead of running.

        No status and no error: HTTP 429 with Retry-After and error "ratelimited". `status` alone:
        that HTTP status (e.g. 500). `error`: {"ok": false, "error": error} (HTTP 200 unless a
        status is given). Injected failures are not violations. `method` may also be
        "response_url" or "upload" (the files_upload_v2 byte upload).
        """
        self._check_endpoint(method)
        http_status = status if status is not None else (200 if error else 429)
        code = error or ("ratelimited" if http_status == 429 else "internal_error")
        with self._lock:
            for _ in range(times):
                self._failures[method].append(
                    _Failure(
                        status=http_status,
                        error=code,
                        retry_after=retry_after if http_status == 429 else None,
                    )
                )

    def drop_response_next(self, method: str, *, times: int = 1) -> None:
        """Run the next `times` calls to `method` normally, then close the connection unanswered.

        Simulates "Slack accepted the message but the client never saw the answer".
        """
        self._check_endpoint(method)
        with self._lock:
            self._drops[method] += times

    def apply_response_update(self, view_id: str, view: dict) -> None:
        """What Slack does with a view_submission answered ``response_action: update``: the modal
        now holds ``view``, under a new hash (so an update sent with the old hash is refused)."""
        with self._lock:
            current = self._views.get(view_id)
            if current is None:
                raise KeyError(f"no view {view_id}")
            self._store_view(view, view_id=view_id, previous=current)

    def delay(self, method: str, seconds: float) -> None:
        """Answer every later call to `method` after `seconds` (0 removes the delay)."""
        self._check_endpoint(method)
        with self._lock:
            if seconds > 0:
                self._delays[method] = seconds
            else:
                self._delays.pop(method, None)

    def _check_endpoint(self, method: str) -> None:
        if method not in self.specs and method not in EXTRA_ENDPOINTS:
            raise ValueError(f"unknown Slack method {method!r}; known: {sorted(self.specs)}")

    # -- request handling (called from server threads) ------------------------------------------

    def _serve(self, request: _Handler) -> None:
        # When the request arrived: a trigger_id's age is judged then, not after an injected delay
        # (a delay stands for a slow answer, not a late request).
        self._request_local.received_ms = time.time_ns() // 1_000_000
        path = urlsplit(request.path).path
        if path.startswith("/api/"):
            self._serve_api(request, path.removeprefix("/api/"))
        elif path.startswith("/upload/"):
            self._serve_upload(request, unquote(path.removeprefix("/upload/")))
        elif path.startswith("/response/"):
            self._serve_response_url(request, unquote(path.removeprefix("/response/")))
        else:
            request.send_json(404, {"ok": False, "error": "not_found"})

    def _interfere(self, request: _Handler, endpoint: str) -> bool:
        """Apply an injected delay; answer an injected failure. True when the call was answered."""
        with self._lock:
            delay = self._delays.get(endpoint, 0.0)
            failure = self._failures[endpoint].popleft() if self._failures.get(endpoint) else None
        if delay:
            time.sleep(delay)
        if failure is None:
            return False
        headers = {"Retry-After": str(failure.retry_after)} if failure.retry_after is not None else {}
        request.send_json(failure.status, {"ok": False, "error": failure.error}, headers)
        return True

    def _take_drop(self, endpoint: str) -> bool:
        with self._lock:
            if self._drops.get(endpoint, 0) > 0:
                self._drops[endpoint] -= 1
                return True
            return False

    def _serve_api(self, request: _Handler, method: str) -> None:
        args, token = request.read_args()
        args, decode_problems = self._decode_json_args(args)
        with self._lock:
            self._calls.append((method, copy.deepcopy(args)))
        if method in self.specs and self._interfere(request, method):
            return
        try:
            with self._lock:
                self._check_call(method, args, token, decode_problems)
                payload = {"ok": True, **self._executors[method](args)}
        except SlackError as refusal:
            if refusal.violation:
                with self._lock:
                    self.violations.append(refusal.violation)
            payload = {"ok": False, "error": refusal.code}
            if refusal.messages:
                payload["response_metadata"] = {"messages": refusal.messages}
        if self._take_drop(method):
            request.drop()
            return
        request.send_json(200, payload)

    @staticmethod
    def _decode_json_args(args: dict) -> tuple[dict, list[str]]:
        problems = []
        for name in JSON_ENCODED_ARGS:
            value = args.get(name)
            if isinstance(value, str) and value:
                try:
                    args[name] = json.loads(value)
                except json.JSONDecodeError as error:
                    problems.append(f"{name} is not valid JSON ({error})")
        return args, problems

    def _check_call(self, method: str, args: dict, token: str | None, decode_problems: list[str]) -> None:
        """The checks Slack makes before running a method; raises SlackError with a violation."""
        if method not in self.specs:
            raise SlackError("unknown_method", f"{method}: no such Slack Web API method")
        if "_invalid_json" in args:
            raise SlackError("invalid_json", f"{method}: the JSON body does not parse")
        if not token:
            raise SlackError("not_authed", f"{method}: no token (neither Authorization header nor token arg)")
        # Of the methods here, only apps.connections.open takes an app-level token, and nothing else.
        socket_mode = method == "apps.connections.open"
        if token.startswith("xapp-") != socket_mode:
            needed = "the app-level token (xapp-...)" if socket_mode else "a bot or user token, not an app-level one"
            raise SlackError("not_allowed_token_type", f"{method}: needs {needed}, got {token[:5]}...")
        expected = self.app_token if socket_mode else self.token
        if expected is not None and token != expected:
            raise SlackError("invalid_auth", f"{method}: token {token[:8]}... is not the workspace's token")
        missing = [
            name
            for name in self.specs[method]["args"].get("required", [])
            if name != "token" and args.get(name) in (None, "")
        ]
        if method in ("views.open", "views.push") and not (
            args.get("trigger_id") or args.get("interactivity_pointer")
        ):
            missing.append("trigger_id")  # the spec lists it as optional, but Slack refuses a view without it
        if missing:
            messages = [f"[ERROR] missing required field: {name}" for name in missing]
            raise SlackError(
                "invalid_arguments", f"{method}: missing required {', '.join(missing)}", messages
            )
        if decode_problems:
            code = "invalid_arguments" if method in VIEW_METHODS else "invalid_blocks_format"
            raise SlackError(code, f"{method}: {'; '.join(decode_problems)}")
        if method in MESSAGE_METHODS:
            code, problems = check_message(args)
            if code:
                raise SlackError(code, f"{method}: {'; '.join(problems)}", problems)
        if method in VIEW_METHODS:
            problems = check_view(args.get("view"))
            if problems:
                raise SlackError("invalid_blocks", f"{method}: {'; '.join(problems)}", problems)
        metadata = args.get("metadata")
        if metadata is not None and not (
            isinstance(metadata, dict)
            and isinstance(metadata.get("event_type"), str)
            and isinstance(metadata.get("event_payload"), dict)
        ):
            raise SlackError(
                "invalid_metadata_format",
                f"{method}: metadata needs event_type (string) and event_payload (object)",
            )

    def _serve_upload(self, request: _Handler, file_id: str) -> None:
        content = request.read_body()
        if self._interfere(request, "upload"):
            return
        with self._lock:
            upload = self._files.get(file_id)
            if upload is None:
                self.violations.append(
                    f"upload: no file {file_id} was requested with files.getUploadURLExternal"
                )
                request.send_text(404, "file not found")
                return
            if len(content) != upload.length:
                self.violations.append(
                    f"upload: {file_id} got {len(content)} bytes, files.getUploadURLExternal announced {upload.length}"
                )
            upload.content = content
        if self._take_drop("upload"):
            request.drop()
            return
        request.send_text(200, f"OK - {len(content)}")

    def _serve_response_url(self, request: _Handler, name: str) -> None:
        raw = request.read_body()
        try:
            body = json.loads(raw or b"{}")
        except json.JSONDecodeError:
            body = None
        with self._lock:
            recorded = (
                copy.deepcopy(body) if isinstance(body, dict) else {"_raw": raw.decode("utf-8", "replace")}
            )
            self._calls.append(("response_url", recorded))
            self._response_calls[name].append(copy.deepcopy(recorded))
        if self._interfere(request, "response_url"):
            return
        with self._lock:
            status, payload = self._respond(name, body)
        if self._take_drop("response_url"):
            request.drop()
            return
        request.send_json(status, payload)

    def _respond(self, name: str, body: Any) -> tuple[int, dict]:
        target = self._response_urls.get(name)
        if target is None:
            self.violations.append(f"response_url {name}: no such response_url")
            return 404, {"ok": False, "error": "no_such_url"}
        if not isinstance(body, dict):
            self.violations.append(f"response_url {name}: body is not a JSON object")
            return 400, {"ok": False, "error": "invalid_payload"}
        target.uses += 1
        if target.uses > RESPONSE_URL_MAX_USES:
            self.violations.append(
                f"response_url {name}: used {target.uses} times, Slack allows {RESPONSE_URL_MAX_USES}"
            )
            return 404, {"ok": False, "error": "used_url"}
        code, problems = check_message(body)
        if code:
            self.violations.append(f"response_url {name}: {'; '.join(problems)}")
            return 400, {"ok": False, "error": code}
        channel = self._channels.get(target.channel) if target.channel else None
        original = self._find_message(channel, target.message_ts) if channel and target.message_ts else None
        if original is not None and _truthy(body.get("delete_original")):
            channel.messages.remove(original)
        elif original is not None and _truthy(body.get("replace_original")):
            for key in ("text", "blocks"):
                if key in body:
                    original[key] = body[key]
            original["edited"] = {"user": self.bot_user_id, "ts": self._next_ts()}
        elif channel is not None and body.get("response_type") == "in_channel":
            self._store_message(channel, {k: body[k] for k in ("text", "blocks", "thread_ts") if k in body})
        return 200, {"ok": True}

    # -- workspace helpers (lock held) ----------------------------------------------------------

    def _next_ts(self) -> str:
        # Real Slack ts are wall-clock seconds with microseconds; keep them unique and increasing.
        micros = max(int(time.time() * 1_000_000), self._last_ts_micros + 1)
        self._last_ts_micros = micros
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def _has_channel(self, ref: str) -> bool:
        return ref in self._channels or ref.lstrip("#") in self._channel_ids_by_name

    def _channel(self, ref: str) -> _Channel:
        """A channel by ID or name, for the test-side API."""
        if ref in self._channels:
            return self._channels[ref]
        bare = ref.lstrip("#")
        if bare in self._channel_ids_by_name:
            return self._channels[self._channel_ids_by_name[bare]]
        raise KeyError(f"no channel {ref!r}; channels: {sorted(self._channel_ids_by_name)}")

    def _channel_by_id(self, method: str, value: Any, arg: str = "channel") -> _Channel:
        """Methods that need a channel ID refuse names, like Slack (and flag it as an app bug)."""
        value = str(value)
        if value in self._channels:
            return self._channels[value]
        if not ID_PATTERN.match(value):
            raise SlackError(
                "channel_not_found", f"{method}: `{arg}` must be a channel ID, got the name {value!r}"
            )
        raise SlackError("channel_not_found")

    def _channel_for_posting(self, value: Any, *, create: bool) -> _Channel:
        """chat.postMessage and friends take an ID, a #name, or a user ID (the bot's DM with them)."""
        value = str(value)
        if value in self._channels:
            return self._channels[value]
        if value in self._users or value in self._dm_channel_by_user:
            return self._dm_channel(value)
        if ID_PATTERN.match(value):
            raise SlackError("channel_not_found")
        bare = value.lstrip("#")
        if bare in self._channel_ids_by_name:
            return self._channels[self._channel_ids_by_name[bare]]
        if not create:
            raise SlackError("channel_not_found")
        return self._channels[self.add_channel(bare)]

    def _dm_channel(self, user_id: str) -> _Channel:
        if user_id not in self._dm_channel_by_user:
            dm_id = f"D{next(self._ids):08X}"
            self._channels[dm_id] = _Channel(
                id=dm_id, name=user_id, is_im=True, members=[user_id, self.bot_user_id]
            )
            self._dm_channel_by_user[user_id] = dm_id
        return self._channels[self._dm_channel_by_user[user_id]]

    @staticmethod
    def _find_message(channel: _Channel | None, ts: Any) -> dict | None:
        if channel is None:
            return None
        return next((m for m in channel.messages if m["ts"] == str(ts)), None)

    def _store_message(self, channel: _Channel, fields: dict) -> dict:
        message = {
            "type": "message",
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "app_id": self.app_id,
            "team": self.team_id,
            "ts": self._next_ts(),
            "text": fields.get("text") or "",
        }
        message.update({k: v for k, v in fields.items() if k != "text" and v is not None})
        channel.messages.append(message)
        return message

    def _public_message(self, channel: _Channel, message: dict, with_metadata: bool) -> dict:
        out = copy.deepcopy(message)
        if not with_metadata:
            out.pop("metadata", None)
        replies = [m for m in channel.messages if m.get("thread_ts") == message["ts"] and m is not message]
        if replies:
            out["thread_ts"] = message["ts"]
            out["reply_count"] = len(replies)
            out["latest_reply"] = replies[-1]["ts"]
        return out

    def _channel_info(self, channel: _Channel) -> dict:
        return {
            "id": channel.id,
            "name": channel.name,
            "is_channel": not channel.is_im and not channel.is_private,
            "is_group": channel.is_private,
            "is_im": channel.is_im,
            "is_private": channel.is_private or channel.is_im,
            "is_archived": False,
            "is_member": self.bot_user_id in channel.members,
            "num_members": len(channel.members),
        }

    # -- Web API methods (lock held; return the answer without "ok") -----------------------------

    def _auth_test(self, args: dict) -> dict:
        return {
            "url": "https://costbot-test.slack.com/",
            "team": "Costbot Test",
            "user": "costbot",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _apps_connections_open(self, args: dict) -> dict:
        if self.socket_mode_urls is None:
            raise SlackError("internal_error", "apps.connections.open: no Socket Mode server "
                             "(set socket_mode_urls, e.g. to FakeSocketMode.issue_url)")
        return {"url": self.socket_mode_urls()}

    def _chat_post_message(self, args: dict) -> dict:
        if not any(args.get(k) for k in ("text", "blocks", "attachments", "markdown_text")):
            raise SlackError("no_text")
        channel = self._channel_for_posting(args["channel"], create=self.create_channels_on_post)
        fields = {k: args.get(k) for k in ("text", "blocks", "attachments", "metadata", "thread_ts")}
        if args.get("thread_ts") and _truthy(args.get("reply_broadcast")):
            fields["subtype"] = "thread_broadcast"
        message = self._store_message(channel, fields)
        return {"channel": channel.id, "ts": message["ts"], "message": copy.deepcopy(message)}

    def _chat_update(self, args: dict) -> dict:
        channel = self._channel_by_id("chat.update", args["channel"])
        message = self._find_message(channel, args["ts"])
        if message is None:
            raise SlackError("message_not_found")
        # Fields left out keep their old values, as in Slack; an empty blocks list removes the blocks.
        for key in ("text", "blocks", "attachments", "metadata"):
            if key in args:
                message[key] = args[key]
        message["edited"] = {"user": self.bot_user_id, "ts": self._next_ts()}
        return {
            "channel": channel.id,
            "ts": message["ts"],
            "text": message.get("text", ""),
            "message": copy.deepcopy(message),
        }

    def _chat_delete(self, args: dict) -> dict:
        channel = self._channel_by_id("chat.delete", args["channel"])
        message = self._find_message(channel, args["ts"])
        if message is None:
            raise SlackError("message_not_found")
        channel.messages.remove(message)
        return {"channel": channel.id, "ts": message["ts"]}

    def _chat_post_ephemeral(self, args: dict) -> dict:
        if not any(args.get(k) for k in ("text", "blocks", "attachments", "markdown_text")):
            raise SlackError("no_text")
        channel = self._channel_for_posting(args["channel"], create=False)
        ts = self._next_ts()
        ephemeral = {"channel": channel.id, "user": args["user"], "ts": ts}
        ephemeral.update({k: args[k] for k in ("text", "blocks", "thread_ts") if k in args})
        self._ephemerals.append(ephemeral)
        return {"message_ts": ts}

    def _chat_get_permalink(self, args: dict) -> dict:
        channel = self._channel_by_id("chat.getPermalink", args["channel"])
        if self._find_message(channel, args["message_ts"]) is None:
            raise SlackError("message_not_found")
        return {
            "channel": channel.id,
            "permalink": f"https://costbot-test.slack.com/archives/{channel.id}/p{str(args['message_ts']).replace('.', '')}",
        }

    @staticmethod
    def _in_window(ts: str, args: dict) -> bool:
        # Slack's oldest/latest bounds are exclusive unless inclusive=true.
        inclusive = _truthy(args.get("inclusive"))
        key = _ts_key(ts)
        if args.get("oldest"):
            oldest = _ts_key(args["oldest"])
            if key < oldest or (key == oldest and not inclusive):
                return False
        if args.get("latest"):
            latest = _ts_key(args["latest"])
            if key > latest or (key == latest and not inclusive):
                return False
        return True

    def _conversations_history(self, args: dict) -> dict:
        channel = self._channel_by_id("conversations.history", args["channel"])
        with_metadata = _truthy(args.get("include_all_metadata"))
        top_level = [
            m
            for m in channel.messages
            if m.get("thread_ts") in (None, m["ts"]) or m.get("subtype") == "thread_broadcast"
        ]
        newest_first = sorted(
            (m for m in top_level if self._in_window(m["ts"], args)),
            key=lambda m: _ts_key(m["ts"]),
            reverse=True,
        )
        cursor_ts = _decode_cursor(args.get("cursor"), "next_ts")
        if cursor_ts is not None:
            newest_first = [m for m in newest_first if _ts_key(m["ts"]) <= _ts_key(cursor_ts)]
        limit = _limit(args)
        page, rest = newest_first[:limit], newest_first[limit:]
        return {
            "messages": [self._public_message(channel, m, with_metadata) for m in page],
            "has_more": bool(rest),
            "pin_count": 0,
            "response_metadata": {"next_cursor": _encode_cursor("next_ts", rest[0]["ts"]) if rest else ""},
        }

    def _conversations_replies(self, args: dict) -> dict:
        channel = self._channel_by_id("conversations.replies", args["channel"])
        asked = self._find_message(channel, args["ts"])
        if asked is None:
            raise SlackError("thread_not_found")
        root_ts = asked.get("thread_ts") or asked["ts"]
        root = self._find_message(channel, root_ts)
        replies = [m for m in channel.messages if m.get("thread_ts") == root_ts and m is not root]
        thread = ([root] if root is not None else []) + replies
        thread = [m for m in thread if self._in_window(m["ts"], args)]
        cursor_ts = _decode_cursor(args.get("cursor"), "next_ts")
        if cursor_ts is not None:
            thread = [m for m in thread if _ts_key(m["ts"]) >= _ts_key(cursor_ts)]
        limit = _limit(args, default=1000)
        page, rest = thread[:limit], thread[limit:]
        with_metadata = _truthy(args.get("include_all_metadata"))
        return {
            "messages": [self._public_message(channel, m, with_metadata) for m in page],
            "has_more": bool(rest),
            "response_metadata": {"next_cursor": _encode_cursor("next_ts", rest[0]["ts"]) if rest else ""},
        }

    def _conversations_info(self, args: dict) -> dict:
        return {"channel": self._channel_info(self._channel_by_id("conversations.info", args["channel"]))}

    def _conversations_join(self, args: dict) -> dict:
        channel = self._channel_by_id("conversations.join", args["channel"])
        if self.bot_user_id not in channel.members:
            channel.members.append(self.bot_user_id)
        return {"channel": self._channel_info(channel)}

    def _conversations_list(self, args: dict) -> dict:
        types = {t.strip() for t in str(args.get("types") or "public_channel").split(",") if t.strip()}
        unknown = types - {"public_channel", "private_channel", "mpim", "im"}
        if unknown:
            raise SlackError("invalid_types")

        def listed(channel: _Channel) -> bool:
            if channel.is_im:
                return "im" in types
            if channel.is_private:  # a bot sees only the private channels it is in
                return "private_channel" in types and self.bot_user_id in channel.members
            return "public_channel" in types

        channels = [c for c in self._channels.values() if listed(c)]
        start = int(_decode_cursor(args.get("cursor"), "offset") or 0)
        limit = _limit(args)
        page = channels[start : start + limit]
        more = start + limit < len(channels)
        return {
            "channels": [self._channel_info(c) for c in page],
            "response_metadata": {"next_cursor": _encode_cursor("offset", str(start + limit)) if more else ""},
        }

    def _conversations_members(self, args: dict) -> dict:
        channel = self._channel_by_id("conversations.members", args["channel"])
        start = int(_decode_cursor(args.get("cursor"), "offset") or 0)
        limit = _limit(args)
        page = channel.members[start : start + limit]
        more = start + limit < len(channel.members)
        return {
            "members": list(page),
            "response_metadata": {
                "next_cursor": _encode_cursor("offset", str(start + limit)) if more else ""
            },
        }

    def _users_info(self, args: dict) -> dict:
        user = self._users.get(str(args["user"]))
        if user is None:
            raise SlackError("user_not_found")
        return {"user": copy.deepcopy(user)}

    def _users_lookup_by_email(self, args: dict) -> dict:
        email = str(args["email"]).lower()
        for user in self._users.values():
            if (user["profile"].get("email") or "").lower() == email:
                return {"user": copy.deepcopy(user)}
        raise SlackError("users_not_found")

    def _usergroups_users_list(self, args: dict) -> dict:
        users = self._usergroups.get(str(args["usergroup"]))
        if users is None:
            raise SlackError("no_such_subteam")
        return {"users": list(users)}

    def _store_view(self, view: dict, *, view_id: str | None = None, previous: dict | None = None) -> dict:
        stored = copy.deepcopy(view)
        stored.setdefault("private_metadata", "")
        stored.setdefault("callback_id", "")
        stored.setdefault("external_id", "")
        stored["id"] = view_id or f"V{next(self._ids):08X}"
        stored.update(
            {
                "team_id": self.team_id,
                "app_id": self.app_id,
                "bot_id": self.bot_id,
                "hash": f"{int(time.time())}.{next(self._ids):08x}",
                "state": {"values": {}},
                "root_view_id": (previous or {}).get("root_view_id", stored["id"]),
                "previous_view_id": (previous or {}).get("previous_view_id"),
            }
        )
        if stored["external_id"] and any(
            v["external_id"] == stored["external_id"] and v["id"] != stored["id"]
            for v in self._views.values()
        ):
            raise SlackError("duplicate_external_id")
        self._views[stored["id"]] = stored
        return stored

    def _views_open(self, args: dict) -> dict:
        issued_ms = _trigger_issued_ms(str(args.get("trigger_id") or ""))
        received_ms = getattr(self._request_local, "received_ms", time.time_ns() // 1_000_000)
        if issued_ms is not None and received_ms - issued_ms > TRIGGER_TTL_SECONDS * 1000:
            raise SlackError("expired_trigger_id", f"views.open/push: trigger_id used "
                             f"{(received_ms - issued_ms) / 1000:.1f} s after it was issued")
        if args["view"].get("type") != "modal":
            raise SlackError("invalid_arguments", "views.open/push: view type must be modal")
        return {"view": copy.deepcopy(self._store_view(args["view"]))}

    def _views_update(self, args: dict) -> dict:
        view_id = args.get("view_id")
        if not view_id and args.get("external_id"):
            view_id = next(
                (v["id"] for v in self._views.values() if v["external_id"] == args["external_id"]), None
            )
            if view_id is None:
                raise SlackError("not_found")
        if not view_id:
            raise SlackError("invalid_arguments", "views.update: needs view_id or external_id")
        current = self._views.get(str(view_id))
        if current is None:
            raise SlackError("not_found")
        if args.get("hash") and args["hash"] != current["hash"]:
            raise SlackError("hash_conflict")
        return {
            "view": copy.deepcopy(self._store_view(args["view"], view_id=current["id"], previous=current))
        }

    def _views_publish(self, args: dict) -> dict:
        if args["view"].get("type") != "home":
            raise SlackError("invalid_arguments", "views.publish: view type must be home")
        user_id = str(args["user_id"])
        current = self._views.get(self._home_view_by_user.get(user_id, ""))
        if current is not None and args.get("hash") and args["hash"] != current["hash"]:
            raise SlackError("hash_conflict")
        stored = self._store_view(args["view"], view_id=current["id"] if current else None, previous=current)
        self._home_view_by_user[user_id] = stored["id"]
        return {"view": copy.deepcopy(stored)}

    def _files_get_upload_url(self, args: dict) -> dict:
        try:
            length = int(args["length"])
        except ValueError as error:
            raise SlackError(
                "invalid_arguments", f"files.getUploadURLExternal: length {args['length']!r}"
            ) from error
        file_id = f"F{next(self._ids):08X}"
        self._files[file_id] = UploadedFile(
            id=file_id, filename=str(args["filename"]), length=length, alt_txt=args.get("alt_txt")
        )
        return {"upload_url": f"{self.url}/upload/{file_id}", "file_id": file_id}

    def _files_complete_upload(self, args: dict) -> dict:
        entries = args["files"]
        if not isinstance(entries, list) or not all(isinstance(e, dict) and e.get("id") for e in entries):
            raise SlackError(
                "invalid_arguments", "files.completeUploadExternal: files must be a list of {id, title}"
            )
        uploads = [self._files.get(str(e["id"])) for e in entries]
        if any(u is None or u.content is None for u in uploads):
            raise SlackError("file_not_found")
        channel_ids = [args["channel_id"]] if args.get("channel_id") else []
        channel_ids += [c for c in str(args.get("channels") or "").split(",") if c]
        channels = [self._channel_by_id("files.completeUploadExternal", c, "channel_id") for c in channel_ids]
        for entry, upload in zip(entries, uploads, strict=True):
            upload.title = entry.get("title") or upload.filename
            upload.channel = channels[0].id if channels else None
            upload.thread_ts = args.get("thread_ts")
            upload.initial_comment = args.get("initial_comment")
            upload.completed = True
        shared = [{"id": u.id, "name": u.filename, "title": u.title} for u in uploads]
        for channel in channels:
            self._store_message(
                channel,
                {
                    "text": args.get("initial_comment") or "",
                    "files": shared,
                    "upload": True,
                    "thread_ts": args.get("thread_ts"),
                },
            )
        return {"files": shared}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # Many concurrent clients (the ack benchmark uses 20) must not overflow the listen backlog.
    request_queue_size = 128

    def __init__(self, fake: FakeSlack) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.fake = fake


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self.server.fake._serve(self)

    def do_POST(self) -> None:  # noqa: N802
        self.server.fake._serve(self)

    def log_message(self, format: str, *args: Any) -> None:
        """Silence per-request logging."""

    def read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def read_args(self) -> tuple[dict, str | None]:
        """Query string and body args (form or JSON) merged; the token taken out of them."""
        args: dict[str, Any] = dict(parse_qsl(urlsplit(self.path).query, keep_blank_values=True))
        body = self.read_body()
        content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if content_type == "application/json":
            try:
                decoded = json.loads(body or b"{}")
            except json.JSONDecodeError:
                decoded = {"_invalid_json": body.decode("utf-8", "replace")}
            if isinstance(decoded, dict):
                args.update(decoded)
        elif body:
            args.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        token = args.pop("token", None)
        authorization = self.headers.get("Authorization") or ""
        if authorization.startswith("Bearer "):
            token = authorization.removeprefix("Bearer ").strip()
        return args, token

    def send_json(self, status: int, payload: dict, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(payload).encode(), "application/json; charset=utf-8", headers)

    def send_text(self, status: int, text: str) -> None:
        self._send(status, text.encode(), "text/plain; charset=utf-8")

    def _send(
        self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def drop(self) -> None:
        """Close the connection without an answer: the client sees RemoteDisconnected."""
        self.close_connection = True
