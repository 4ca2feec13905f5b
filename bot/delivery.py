"""The one place that sends anything to Slack (or, without a token, to the terminal).

Every channel message goes through the outbox (storage/outbox.py) under a stable key such as
``anomaly:41``: it is recorded before it is sent, its ``ts`` is kept, and a later ``send`` with the
same key edits that message instead of posting a new one. The key also travels in the message's
``metadata``, so when a post's answer was lost (crash, dropped connection) the next attempt first
looks for the key in the channel's history and adopts that message rather than posting twice.

Rate limits: a 429 is waited out for its Retry-After; other transient failures retry with
exponential backoff, then stay in the outbox for ``flush()`` (run by the scheduler). Permanent
failures (channel_not_found, invalid_blocks...) are kept as ``failed`` with the reason, logged, and
reported once in the default channel.

Without a token, messages are printed on the terminal and recorded all the same, with a ts marked
``terminal:`` (storage/outbox.py). A run with Slack on the same database never edits such a
message, which Slack does not have: it posts it (and its thread's parent first) and keeps Slack's ts.

Request-scoped calls (modals, App Home, ephemeral messages, channel members) are here too, so no
other module holds a Slack client.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Protocol

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.blocks.text import blocks_to_text
from storage.outbox import TERMINAL_TS_PREFIX, OutboxRecord, OutboxStore
from storage.tables.core import utcnow

log = logging.getLogger(__name__)

METADATA_EVENT = "costbot_message"
# Slack answers these when the request was fine but Slack itself failed: worth retrying.
TRANSIENT_ERRORS = frozenset({"ratelimited", "internal_error", "fatal_error", "service_unavailable",
                              "request_timeout", "team_added_to_org"})
# The bot's own credentials or scopes are wrong: every message would fail the same way. Messages
# wait (nothing is lost) until an operator fixes the token; one loud log line per attempt.
AUTH_ERRORS = frozenset({"invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive",
                         "missing_scope", "no_permission", "not_allowed_token_type", "ekm_access_denied"})
AUTH_RETRY = timedelta(minutes=15)


@dataclass(frozen=True)
class Message:
    """A channel message (or DM, with a user ID as channel) with its stable key."""

    key: str
    channel: str
    text: str
    blocks: list[dict] = field(default_factory=list)
    thread_key: str | None = None  # reply in the thread of the message with this key


@dataclass(frozen=True)
class FileUpload:
    """A file (a chart) shared in a channel, usually in the thread of a keyed message."""

    key: str
    channel: str
    filename: str
    content: bytes
    title: str = ""
    thread_key: str | None = None
    comment: str = ""


class DeliveryError(Exception):
    """A Slack call failed. ``transient`` failures are retried; ``posted`` is None when we
    cannot know whether Slack acted on the request (no answer came back)."""

    def __init__(self, error: str, *, transient: bool, retry_after: float | None = None,
                 posted: bool | None = False) -> None:
        super().__init__(error)
        self.error, self.transient, self.retry_after, self.posted = error, transient, retry_after, posted


class Transport(Protocol):
    reaches_slack: bool  # False: messages are only printed (their ts is marked terminal:)

    def post(self, *, channel: str, text: str, blocks: list[dict] | None, thread_ts: str | None,
             key: str) -> tuple[str, str]: ...

    def update(self, *, channel_id: str, ts: str, text: str, blocks: list[dict] | None) -> None: ...

    def find(self, *, channel_id: str, key: str, since: datetime, thread_ts: str | None) -> str | None: ...

    def upload(self, *, channel_id: str, filename: str, content: bytes, title: str,
               thread_ts: str | None, comment: str) -> str: ...

    def join(self, channel_id: str) -> None: ...

    def open_view(self, trigger_id: str, view: dict) -> dict: ...

    def push_view(self, trigger_id: str, view: dict) -> dict: ...

    def update_view(self, view_id: str, view: dict, view_hash: str | None = None) -> dict: ...

    def publish_home(self, user_id: str, view: dict) -> dict: ...

    def post_ephemeral(self, channel: str, user: str, text: str, blocks: list[dict] | None) -> None: ...

    def channel_members(self, channel_id: str) -> set[str]: ...

    def find_file(self, *, channel_id: str, filename: str, title: str, since: datetime,
                  thread_ts: str | None) -> str | None: ...

    def lookup_channel(self, name: str) -> str | None: ...

    def identity(self) -> dict: ...


class SlackTransport:
    """Slack's Web API through slack_sdk."""

    reaches_slack = True

    def __init__(self, client: WebClient) -> None:
        # The SDK's own connection-error retry would re-post a message Slack may already have
        # accepted; we retry ourselves, after looking for the message first.
        client.retry_handlers = []
        self.client = client

    def _call(self, method: Callable[..., object], **kwargs: object) -> dict:
        try:
            response = method(**kwargs)
        except SlackApiError as e:
            status = e.response.status_code
            error = e.response.get("error", f"http_{status}") if isinstance(e.response.data, dict) else f"http_{status}"
            retry_after = e.response.headers.get("Retry-After") or e.response.headers.get("retry-after")
            transient = status == 429 or status >= 500 or error in TRANSIENT_ERRORS or error in AUTH_ERRORS
            # A 5xx may come after Slack acted; a 429 or an `ok: false` answer means it did not.
            posted = None if status >= 500 else False
            raise DeliveryError(error, transient=transient,
                                retry_after=float(retry_after) if retry_after else None, posted=posted) from e
        except (OSError, TimeoutError) as e:  # connection refused/reset, timeouts, URLError
            raise DeliveryError(f"connection: {e}", transient=True, posted=None) from e
        return response.data if hasattr(response, "data") else response  # type: ignore[return-value]

    def post(self, *, channel: str, text: str, blocks: list[dict] | None, thread_ts: str | None,
             key: str) -> tuple[str, str]:
        data = self._call(self.client.chat_postMessage, channel=channel, text=text, blocks=blocks or None,
                          thread_ts=thread_ts, unfurl_links=False, unfurl_media=False,
                          metadata={"event_type": METADATA_EVENT, "event_payload": {"key": key}})
        return data["channel"], data["ts"]

    def update(self, *, channel_id: str, ts: str, text: str, blocks: list[dict] | None) -> None:
        self._call(self.client.chat_update, channel=channel_id, ts=ts, text=text, blocks=blocks or [])

    def find(self, *, channel_id: str, key: str, since: datetime, thread_ts: str | None) -> str | None:
        oldest = f"{since.timestamp() - 60:.6f}"
        cursor = None
        for _ in range(10):  # bounded: the message, if posted, is among the newest
            kwargs: dict = {"channel": channel_id, "oldest": oldest, "include_all_metadata": True, "limit": 200}
            if cursor:
                kwargs["cursor"] = cursor
            if thread_ts:
                data = self._call(self.client.conversations_replies, ts=thread_ts, **kwargs)
            else:
                data = self._call(self.client.conversations_history, **kwargs)
            for message in data.get("messages", []):
                metadata = message.get("metadata") or {}
                if metadata.get("event_type") == METADATA_EVENT and \
                        (metadata.get("event_payload") or {}).get("key") == key:
                    return message["ts"]
            cursor = (data.get("response_metadata") or {}).get("next_cursor")
            if not data.get("has_more") or not cursor:
                return None
        return None

    def find_file(self, *, channel_id: str, filename: str, title: str, since: datetime,
                  thread_ts: str | None) -> str | None:
        """The ID of a file share with this name and title posted since ``since`` (file shares
        carry no metadata, so a lost upload answer is recognised by its name and title)."""
        oldest = f"{since.timestamp() - 60:.6f}"
        kwargs: dict = {"channel": channel_id, "oldest": oldest, "limit": 200}
        if thread_ts:
            data = self._call(self.client.conversations_replies, ts=thread_ts, **kwargs)
        else:
            data = self._call(self.client.conversations_history, **kwargs)
        for message in data.get("messages", []):
            for shared in message.get("files") or []:
                if shared.get("name") == filename and shared.get("title") in (title, filename):
                    return shared.get("id")
        return None

    def lookup_channel(self, name: str) -> str | None:
        """A channel's ID from its name (``#team-x``), or None when the bot cannot see it."""
        wanted = name.lstrip("#").lower()
        cursor = None
        for _ in range(50):  # 50 pages of 1,000 channels
            kwargs: dict = {"types": "public_channel,private_channel", "exclude_archived": True, "limit": 1000}
            if cursor:
                kwargs["cursor"] = cursor
            data = self._call(self.client.conversations_list, **kwargs)
            for channel in data.get("channels", []):
                if str(channel.get("name", "")).lower() == wanted:
                    return channel["id"]
            cursor = (data.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return None
        return None

    def identity(self) -> dict:
        """Who the token belongs to (auth.test): workspace and bot user."""
        return self._call(self.client.auth_test)

    def upload(self, *, channel_id: str, filename: str, content: bytes, title: str,
               thread_ts: str | None, comment: str) -> str:
        kwargs: dict = {"channel": channel_id, "filename": filename, "content": content, "title": title or filename}
        if thread_ts:
            kwargs["thread_ts"] = thread_ts
        if comment:
            kwargs["initial_comment"] = comment
        data = self._call(self.client.files_upload_v2, **kwargs)
        files = data.get("files") or [data.get("file") or {}]
        return files[0].get("id", "")

    def join(self, channel_id: str) -> None:
        self._call(self.client.conversations_join, channel=channel_id)

    # request-scoped calls -------------------------------------------------------------------
    def open_view(self, trigger_id: str, view: dict) -> dict:
        return self._call(self.client.views_open, trigger_id=trigger_id, view=view)

    def push_view(self, trigger_id: str, view: dict) -> dict:
        return self._call(self.client.views_push, trigger_id=trigger_id, view=view)

    def update_view(self, view_id: str, view: dict, view_hash: str | None = None) -> dict:
        if view_hash:  # Slack refuses the update (hash_conflict) if the view changed since that hash
            return self._call(self.client.views_update, view_id=view_id, view=view, hash=view_hash)
        return self._call(self.client.views_update, view_id=view_id, view=view)

    def publish_home(self, user_id: str, view: dict) -> dict:
        return self._call(self.client.views_publish, user_id=user_id, view=view)

    def post_ephemeral(self, channel: str, user: str, text: str, blocks: list[dict] | None) -> None:
        self._call(self.client.chat_postEphemeral, channel=channel, user=user, text=text, blocks=blocks or None)

    def channel_members(self, channel_id: str) -> set[str]:
        members: set[str] = set()
        cursor = None
        while True:
            kwargs: dict = {"channel": channel_id, "limit": 1000}
            if cursor:
                kwargs["cursor"] = cursor
            data = self._call(self.client.conversations_members, **kwargs)
            members.update(data.get("members", []))
            cursor = (data.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return members


class TerminalTransport:
    """Renders each message as text: channel, then the message. Files go to ``files_dir``."""

    reaches_slack = False

    def __init__(self, stream: IO[str] | None = None, files_dir: Path | None = None) -> None:
        self.stream = stream or sys.stdout
        self.files_dir = files_dir
        self._counter = 0
        self._lock = threading.Lock()

    def _next_ts(self) -> str:
        with self._lock:
            self._counter += 1
            return f"{TERMINAL_TS_PREFIX}{int(time.time())}.{self._counter:06d}"

    def _print(self, heading: str, body: str) -> None:
        with self._lock:
            print(f"\n── {heading} " + "─" * max(3, 68 - len(heading)), file=self.stream)
            print(body, file=self.stream, flush=True)

    def post(self, *, channel: str, text: str, blocks: list[dict] | None, thread_ts: str | None,
             key: str) -> tuple[str, str]:
        heading = f"{channel} (reply in thread)" if thread_ts else channel
        self._print(heading, blocks_to_text(blocks, text))
        return channel, self._next_ts()

    def update(self, *, channel_id: str, ts: str, text: str, blocks: list[dict] | None) -> None:
        self._print(f"{channel_id} (message updated)", blocks_to_text(blocks, text))

    def find(self, *, channel_id: str, key: str, since: datetime, thread_ts: str | None) -> str | None:
        return None

    def upload(self, *, channel_id: str, filename: str, content: bytes, title: str,
               thread_ts: str | None, comment: str) -> str:
        where = "(not saved)"
        if self.files_dir:
            self.files_dir.mkdir(parents=True, exist_ok=True)
            path = self.files_dir / filename
            path.write_bytes(content)
            where = str(path)
        self._print(f"{channel_id} (file)", f"{title or filename}: {where}")
        file_id = self._next_ts().removeprefix(TERMINAL_TS_PREFIX).replace(".", "")[-12:]
        return f"{TERMINAL_TS_PREFIX}F{file_id}"  # a short file ID, like Slack's

    def join(self, channel_id: str) -> None:
        return None

    def open_view(self, trigger_id: str, view: dict) -> dict:
        self._print("modal", blocks_to_text(view.get("blocks"), ""))
        return {"view": {"id": "V_TERMINAL"}}

    push_view = open_view

    def update_view(self, view_id: str, view: dict, view_hash: str | None = None) -> dict:
        return self.open_view(view_id, view)

    def publish_home(self, user_id: str, view: dict) -> dict:
        self._print(f"App Home of {user_id}", blocks_to_text(view.get("blocks"), ""))
        return {"view": {"id": "V_HOME"}}

    def post_ephemeral(self, channel: str, user: str, text: str, blocks: list[dict] | None) -> None:
        self._print(f"{channel} (only {user} sees this)", blocks_to_text(blocks, text))

    def channel_members(self, channel_id: str) -> set[str]:
        return set()

    def find_file(self, *, channel_id: str, filename: str, title: str, since: datetime,
                  thread_ts: str | None) -> str | None:
        return None

    def lookup_channel(self, name: str) -> str | None:
        return None

    def identity(self) -> dict:
        return {"team": "(terminal)", "user": "costbot"}


# How old an App Home's reading of a channel's members may be (seconds); see Delivery.channel_members.
HOME_MEMBERS_MAX_AGE = 60.0


class Delivery:
    """Sends keyed messages exactly once and keeps them up to date."""

    def __init__(self, outbox: OutboxStore, transport: Transport, *, default_channel: str | None = None,
                 max_inline_attempts: int = 5, max_inline_wait: float = 60.0,
                 sleep: Callable[[float], None] = time.sleep,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.outbox = outbox
        self.transport = transport
        self.default_channel = default_channel
        self.max_inline_attempts = max_inline_attempts
        self.max_inline_wait = max_inline_wait
        self.sleep = sleep
        self._paused_until = 0.0  # monotonic time before which no call is made (after a 429)
        self._pause_lock = threading.Lock()
        self._monotonic = monotonic
        self._members: dict[str, tuple[float, frozenset[str]]] = {}  # channel ID -> (read at, members)
        self._members_lock = threading.Lock()

    # keyed channel messages ------------------------------------------------------------------
    def send(self, message: Message) -> OutboxRecord:
        """Post ``message``, or edit the one already posted under its key if the content changed."""
        self.outbox.record(key=message.key, channel=message.channel, text=message.text,
                           blocks=list(message.blocks) or None, thread_key=message.thread_key)
        return self._deliver(message.key)

    def upload(self, upload: FileUpload) -> OutboxRecord:
        """Share a file once under its key (a re-send with the same content does nothing)."""
        self.outbox.record(key=upload.key, channel=upload.channel, text=upload.comment, kind="file",
                           file_name=upload.filename, file_title=upload.title or None, file_content=upload.content,
                           thread_key=upload.thread_key)
        return self._deliver(upload.key)

    def flush(self, now: datetime | None = None) -> int:
        """Deliver everything still owed and due at ``now`` (after a restart, or deferred
        retries); returns how many messages this brought up to date in Slack."""
        delivered = 0
        for record in self.outbox.due(now):
            result = self._deliver(record.key)
            delivered += int(result.status == "sent" and not result.needs_sending)
        return delivered

    def _printed_only(self, record: OutboxRecord) -> bool:
        """Delivered to the terminal only, while this delivery talks to Slack."""
        return self.transport.reaches_slack and record.printed_only

    def message_link(self, key: str) -> tuple[str, str] | None:
        """(channel_id, ts) of a delivered message, for thread replies and permalinks."""
        record = self.outbox.get(key)
        if record and record.ts and record.channel_id and not self._printed_only(record):
            return record.channel_id, record.ts
        return None

    def _deliver(self, key: str) -> OutboxRecord:
        for attempt in range(self.max_inline_attempts):
            record = self.outbox.claim(key)
            if record is None:  # another thread or replica holds it; it will finish the job
                return self.outbox.get(key)  # type: ignore[return-value]
            if self._printed_only(record):  # Slack never had it: from here on it is a message to post
                record = self.outbox.forget_printed(key)
            if not record.needs_sending:
                self.outbox.release(key)
                return record
            try:
                self._wait_for_rate_limit()
                self._deliver_claimed(record)
                latest = self.outbox.get(key)
                if latest is not None and latest.needs_sending:
                    continue  # newer content arrived while we were sending: send that too
                return latest  # type: ignore[return-value]
            except ParentNotSent as e:
                if e.parent_failed:
                    self.outbox.mark_failed(key, error=str(e))
                else:  # no point sleeping here: the parent's own retry comes first
                    self.outbox.defer(key, error=str(e), retry_at=utcnow() + timedelta(seconds=60), maybe_sent=False)
                return self.outbox.get(key)  # type: ignore[return-value]
            except DeliveryError as e:
                if e.error in AUTH_ERRORS:
                    log.error("Slack refused costbot's token (%s): message %s waits until it is fixed "
                              "(check SLACK_BOT_TOKEN and the app's scopes)", e.error, key)
                    self.outbox.defer(key, error=e.error, retry_at=utcnow() + AUTH_RETRY, maybe_sent=e.posted is None)
                    return self.outbox.get(key)  # type: ignore[return-value]
                if e.error == "not_in_channel" and attempt == 0:
                    self._try_join(record)
                    self.outbox.defer(key, error=e.error, retry_at=utcnow(), maybe_sent=False)
                    continue
                if not e.transient:
                    log.error("Slack refused message %s for %s: %s", key, record.channel, e.error)
                    self.outbox.mark_failed(key, error=e.error)
                    self._report_failure(record, e.error)
                    return self.outbox.get(key)  # type: ignore[return-value]
                wait = e.retry_after if e.retry_after is not None else min(2.0 ** attempt, 30.0)
                if e.retry_after is not None:
                    self._pause(e.retry_after)
                maybe_sent = e.posted is None
                last = attempt == self.max_inline_attempts - 1
                if last or wait > self.max_inline_wait:
                    retry_at = utcnow() + timedelta(seconds=max(wait, 60.0))
                    log.warning("message %s deferred until %s: %s", key, retry_at.isoformat(), e.error)
                    self.outbox.defer(key, error=e.error, retry_at=retry_at, maybe_sent=maybe_sent)
                    return self.outbox.get(key)  # type: ignore[return-value]
                self.outbox.defer(key, error=e.error, retry_at=utcnow(), maybe_sent=maybe_sent)
                log.info("message %s: %s, retrying in %.1fs", key, e.error, wait)
                self.sleep(wait)
        return self.outbox.get(key)  # type: ignore[return-value]

    def _deliver_claimed(self, record: OutboxRecord) -> None:
        ts, thread_ts = record.ts, None
        channel_id = record.channel_id or self._resolve_channel_id(record.channel)
        if record.thread_key:
            parent = self.outbox.get(record.thread_key)
            if parent is not None and self._printed_only(parent):  # the parent first, then the reply
                parent = self._deliver(parent.key)
            if parent is None or parent.ts is None or self._printed_only(parent):
                raise ParentNotSent(record.thread_key, failed=parent is not None and parent.status == "failed")
            thread_ts, channel_id = parent.ts, parent.channel_id
        if ts is None and record.maybe_sent:
            ts = self._recover(record, channel_id, thread_ts)
        if record.kind == "file":
            if ts is None:
                if not channel_id:
                    raise DeliveryError(f"no channel ID known for {record.channel}", transient=False)
                self.outbox.mark_in_flight(record.key)
                file_id = self.transport.upload(channel_id=channel_id, filename=record.file_name or "file",
                                                content=record.file_content or b"",
                                                title=record.file_title or record.file_name or "",
                                                thread_ts=thread_ts, comment=record.text)
                self.outbox.mark_sent(record.key, channel_id=channel_id, ts=file_id, sent_hash=record.content_hash)
            else:  # files are immutable in Slack; a changed chart gets a new key from its caller
                self.outbox.mark_sent(record.key, channel_id=channel_id or "", ts=ts, sent_hash=record.content_hash)
            return
        if ts is None:
            self.outbox.mark_in_flight(record.key)
            posted_channel, ts = self.transport.post(channel=channel_id or record.channel, text=record.text,
                                                     blocks=record.blocks, thread_ts=thread_ts, key=record.key)
            self.outbox.mark_sent(record.key, channel_id=posted_channel, ts=ts, sent_hash=record.content_hash)
            self.outbox.remember_channel(record.channel, posted_channel)
        else:
            assert channel_id is not None
            self.transport.update(channel_id=channel_id, ts=ts, text=record.text, blocks=record.blocks)
            self.outbox.mark_sent(record.key, channel_id=channel_id, ts=ts, sent_hash=record.content_hash)

    def _recover(self, record: OutboxRecord, channel_id: str | None, thread_ts: str | None) -> str | None:
        """An earlier attempt may have reached Slack unanswered: look for it before sending again.

        Messages carry their key in metadata; files are recognised by name and title. If the
        channel cannot be searched (no ID, no history scope), the message is sent again: a rare
        duplicate is better than a lost alert.
        """
        if not channel_id:
            log.warning("message %s may already be in %s, which cannot be searched: sending it", record.key,
                        record.channel)
            return None
        try:
            if record.kind == "file":
                found = self.transport.find_file(channel_id=channel_id, filename=record.file_name or "file",
                                                 title=record.file_title or record.file_name or "",
                                                 since=record.created_at, thread_ts=thread_ts)
            else:
                found = self.transport.find(channel_id=channel_id, key=record.key, since=record.created_at,
                                            thread_ts=thread_ts)
        except DeliveryError as e:
            if e.transient:
                raise  # rate limited or Slack trouble: look again on the next attempt
            log.warning("could not search %s for message %s (%s): sending it", record.channel, record.key, e.error)
            return None
        if found:
            log.info("message %s was already in Slack (%s): not sending it again", record.key, found)
            self.outbox.mark_found(record.key, channel_id=channel_id, ts=found)
        return found

    def _resolve_channel_id(self, channel: str, *, lasting_errors: bool = False) -> str | None:
        """The conversation ID for a configured channel: IDs as given, names looked up once (and
        kept), users' DMs once the bot has written to them. None if not known (yet). A lookup
        Slack refuses for good (a missing scope) is None too, or raised with ``lasting_errors``."""
        if _is_conversation_id(channel):
            return channel
        known = self.outbox.channel_id(channel)
        if known or _is_user_id(channel):
            return known
        try:
            found = self.transport.lookup_channel(channel)
        except DeliveryError as e:
            if e.transient or lasting_errors:
                raise
            log.warning("could not look up channel %s: %s", channel, e.error)
            return None
        if found:
            self.outbox.remember_channel(channel, found)
        return found

    def _try_join(self, record: OutboxRecord) -> None:
        channel_id = record.channel_id or self._resolve_channel_id(record.channel)
        if not channel_id:
            return
        try:
            self.transport.join(channel_id)
        except DeliveryError as e:
            log.warning("could not join %s: %s", record.channel, e.error)

    def _report_failure(self, record: OutboxRecord, error: str) -> None:
        """Tell the default channel once, so a misconfigured channel is noticed and fixed."""
        if not self.default_channel or record.channel == self.default_channel or \
                record.key.startswith("delivery-failure:"):
            return
        self.send(Message(key=f"delivery-failure:{record.key}", channel=self.default_channel,
                          text=f":warning: costbot could not post `{record.key}` to {record.channel}: "
                               f"`{error}`. Check the channel in teams.yml and invite the bot; the message "
                               f"is kept: run `costbot outbox retry` once it is fixed."))

    def retry_failed(self) -> int:
        """Put permanently failed messages back in the queue (after the config was fixed)."""
        return self.flush() if self.outbox.requeue_failed() else 0

    def _pause(self, seconds: float) -> None:
        with self._pause_lock:
            self._paused_until = max(self._paused_until, time.monotonic() + seconds)

    def _wait_for_rate_limit(self) -> None:
        remaining = self._paused_until - time.monotonic()
        if remaining > 0:
            self.sleep(remaining)

    # request-scoped calls (not queued: they answer a person who is waiting) --------------------
    def open_view(self, trigger_id: str, view: dict) -> dict:
        return self.transport.open_view(trigger_id, view)

    def push_view(self, trigger_id: str, view: dict) -> dict:
        return self.transport.push_view(trigger_id, view)

    def update_view(self, view_id: str, view: dict, view_hash: str | None = None) -> dict:
        """views.update; with ``view_hash`` (from the answer that showed the view), only if the view
        has not changed since: a late update must not undo what the person did meanwhile."""
        return self.transport.update_view(view_id, view, view_hash)

    def publish_home(self, user_id: str, view: dict) -> dict:
        return self.transport.publish_home(user_id, view)

    def post_ephemeral(self, channel: str, user: str, text: str, blocks: list[dict] | None = None) -> None:
        self.transport.post_ephemeral(channel, user, text, blocks)

    def identity(self) -> dict:
        """auth.test: the workspace and bot user the token belongs to."""
        return self.transport.identity()

    def channel_members(self, channel: str, *, max_age: float = 0.0) -> set[str]:
        """Who is in a configured channel (an ID, or a name looked up once).

        Read from Slack, or, with ``max_age`` (seconds), from a reading that recent: an App Home
        visit reads up to 20 channels and conversations.members is rate-limited, while a decision
        on who may act reads fresh (someone just removed from the channel must not act).

        DeliveryError ``channel_not_found`` (lasting) when Slack has no channel the bot can see by that
        name: an empty set would tell every member they are not on the team. A transport that only
        prints has no members.
        """
        channel_id = self._resolve_channel_id(channel, lasting_errors=True)  # the real cause, if Slack gave one
        if not channel_id:
            if not self.transport.reaches_slack:
                return set()
            raise DeliveryError("channel_not_found", transient=False)
        now = self._monotonic()
        with self._members_lock:
            cached = self._members.get(channel_id)
        if max_age > 0 and cached is not None and now - cached[0] < max_age:
            return set(cached[1])
        members = self.transport.channel_members(channel_id)  # failures raise: nothing is kept
        with self._members_lock:
            self._members[channel_id] = (now, frozenset(members))
        return set(members)


def _looks_like_id(channel: str) -> bool:
    # Slack IDs are upper-case letters and digits (C…, G…, D…, U…, W…); names are lower-case.
    return len(channel) > 1 and channel[1:].isalnum() and channel.upper() == channel


def _is_conversation_id(channel: str) -> bool:
    """C… (channel), G… (private channel), D… (DM): what conversations.history accepts."""
    return _looks_like_id(channel) and channel[0] in "CGD"


def _is_user_id(channel: str) -> bool:
    """U…/W…: posting to a user opens the bot's DM with them; the DM's D… ID comes back."""
    return _looks_like_id(channel) and channel[0] in "UW"


class ParentNotSent(Exception):
    """A thread reply whose parent message is not in Slack (yet, or ever)."""

    def __init__(self, parent_key: str, *, failed: bool) -> None:
        super().__init__(f"parent message {parent_key} {'failed' if failed else 'is not sent yet'}")
        self.parent_failed = failed
