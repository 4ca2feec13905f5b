"""`costbot run` in Socket Mode, as a process, with Slack played on 127.0.0.1: the Web API by FakeSlack,
the WebSocket side by FakeSocketMode. The bot asks apps.connections.open for a URL with its app-level
token and connects; each envelope (slash command, button, event) is acked within Slack's 3 s and its
answer reaches Slack (in the ack, through response_url, with views.publish); a refused connection
stops the start-up with one line; after a `disconnect` or a closed connection the bot connects again
with a new URL and acks there."""

from __future__ import annotations

import calendar
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.blocks.digest import MORE_ACTION, more_button
from finops.digest import Week
from storage.db import Database
from tests.bot.test_run import free_port
from tests.handlers.test_commands import wait_for
from tests.jobs.digest_data import TEAMS_YAML, flat_history, teams_config
from tests.slack.fake_slack import FakeSlack
from tests.slack.fake_socket_mode import ACK_DEADLINE_SECONDS, Ack, FakeSocketMode
from tests.slack.fixtures import assert_no_violations

BOT_TOKEN = "xoxb-test"
APP_TOKEN = "xapp-1-A1-test"


@dataclass
class SocketModeBot:
    process: subprocess.Popen
    slack: FakeSlack
    socket_mode: FakeSocketMode
    output: Path  # the process's stdout and stderr

    def log(self) -> str:
        return self.output.read_text()

    def ack(self, envelope_id: str) -> Ack:
        """The ack of an envelope, which must come within Slack's deadline."""
        ack = self.socket_mode.wait_for_ack(envelope_id)
        assert ack.elapsed < ACK_DEADLINE_SECONDS, f"acked after {ack.elapsed:.2f} s\n{self.log()}"
        return ack

    def stop(self) -> int:
        """SIGTERM, as a container runtime stops it; the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                raise AssertionError(f"costbot run did not stop within 20 s of SIGTERM\n{self.log()}") from None
        return self.process.returncode


def bot_env(tmp_path: Path, slack: FakeSlack, *, port: int = 0) -> dict[str, str]:
    teams = tmp_path / "teams.yml"
    teams.write_text(TEAMS_YAML)
    # No proxy: slack_sdk's Socket Mode client would take 127.0.0.1 through one (it ignores NO_PROXY).
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SLACK_", "COSTBOT_")) and k.lower() not in ("http_proxy", "https_proxy")}
    env.update(SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_APP_TOKEN=APP_TOKEN, SLACK_API_URL=slack.base_url, PORT=str(port),
               COSTBOT_DATABASE_URL=f"sqlite:///{tmp_path}/bot.db", COSTBOT_TEAMS=str(teams))
    return env


def start_bot(tmp_path: Path, slack: FakeSlack, socket_mode: FakeSocketMode, *, port: int = 0) -> SocketModeBot:
    """`costbot run --no-scheduler` in Socket Mode, once its first connection has been greeted."""
    output = tmp_path / "costbot.log"
    costbot = Path(sys.executable).parent / "costbot"
    with output.open("w") as sink:  # a file, not a pipe: a full pipe would block the bot
        process = subprocess.Popen([str(costbot), "run", "--no-scheduler"], env=bot_env(tmp_path, slack, port=port),
                                   cwd=tmp_path, stdout=sink, stderr=subprocess.STDOUT)
    bot = SocketModeBot(process, slack, socket_mode, output)
    deadline = time.monotonic() + 60
    while process.poll() is None and time.monotonic() < deadline:
        if socket_mode.connection_count:
            return bot
        time.sleep(0.05)
    bot.stop()
    raise AssertionError(f"costbot run never connected (exit code {process.returncode})\n{bot.log()}")


def assert_slack_rules_kept(slack: FakeSlack, socket_mode: FakeSocketMode) -> None:
    assert_no_violations(slack)
    assert socket_mode.violations == [], "\n".join(socket_mode.violations)


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SocketModeBot]:
    """One bot process for the envelope tests (a start takes seconds), on the flat organisation of
    digest_data ($66 a day for payments, $100 for everyone) up to yesterday."""
    tmp_path = tmp_path_factory.mktemp("socket-mode")
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    db = Database(f"sqlite:///{tmp_path}/bot.db")
    db.upgrade()
    flat_history(db, teams_config(), start=yesterday - timedelta(days=120), through=yesterday)
    db.dispose()
    with FakeSlack(token=BOT_TOKEN, app_token=APP_TOKEN) as slack, FakeSocketMode() as socket_mode:
        slack.socket_mode_urls = socket_mode.issue_url
        bot = start_bot(tmp_path, slack, socket_mode)
        try:
            yield bot
        finally:
            bot.stop()


@pytest.fixture
def bot(running: SocketModeBot) -> Iterator[SocketModeBot]:
    """The running bot; each test must keep Slack's rules (a break fails that test, not the next)."""
    running.slack.reset()
    running.socket_mode.violations.clear()
    yield running
    assert running.process.poll() is None, f"costbot run exited\n{running.log()}"
    assert_slack_rules_kept(running.slack, running.socket_mode)


def test_cost_help_is_answered_in_the_ack(bot: SocketModeBot) -> None:
    ack = bot.ack(bot.socket_mode.slash_command("help", response_url=bot.slack.response_url()))
    assert ack.envelope_type == "slash_commands" and ack.connection == bot.socket_mode.connection_count
    assert ack.payload["text"].startswith("costbot commands:")
    assert "`/cost forecast [team]`" in ack.payload["text"]
    assert ack.payload["blocks"]


def test_cost_forecast_is_acked_at_once_and_answered_through_response_url(bot: SocketModeBot) -> None:
    url = bot.slack.response_url()
    ack = bot.ack(bot.socket_mode.slash_command("forecast", user_id="U_PAY_DEV", response_url=url))
    assert ack.payload == {"text": "Forecasting the month…", "response_type": "ephemeral"}
    (answer,) = wait_for(lambda: bot.slack.response_url_calls(url), timeout=30)
    assert answer["response_type"] == "ephemeral" and answer["replace_original"] is False
    # Flat spend, so the forecast is exact: $100 a day over the whole month (whichever month it is).
    found = re.fullmatch(r"Month-end forecast for (\w+) (\d{4}): \$([\d,]+)\.00 for the organisation", answer["text"])
    assert found, answer["text"]
    month, year, amount = found.groups()
    days = calendar.monthrange(int(year), list(calendar.month_name).index(month))[1]
    assert int(amount.replace(",", "")) == 100 * days
    assert any("*payments*" in b.get("text", {}).get("text", "") for b in answer["blocks"])


def test_a_digest_button_is_acked_and_answered_through_response_url(bot: SocketModeBot) -> None:
    week = Week.of(datetime.now(UTC).date() - timedelta(days=14))
    channel = bot.slack.add_channel("#finops")
    digest = WebClient(token=BOT_TOKEN, base_url=bot.slack.base_url).chat_postMessage(
        channel=channel, text="Weekly digest", blocks=[more_button("Every team", "teams", week.label)])
    posted = bot.slack.message(channel, digest["ts"])
    (button,) = posted["blocks"][0]["elements"]
    url = bot.slack.response_url(channel=channel, message_ts=posted["ts"])
    bot.slack.reset()  # the digest above was posted by the test, not the bot

    envelope = bot.socket_mode.button(MORE_ACTION, button["value"], user_id="U_PAY_OWNER", channel_id=channel,
                                      message_ts=posted["ts"], response_url=url)
    ack = bot.ack(envelope)
    assert ack.envelope_type == "interactive" and ack.payload is None  # Slack takes no payload here
    (answer,) = wait_for(lambda: bot.slack.response_url_calls(url), timeout=30)
    assert answer["text"] == f"Every team by its change, {week.title}"
    assert answer["response_type"] == "ephemeral" and answer["replace_original"] is False
    assert "*payments*" in json.dumps(answer["blocks"]) and "$462.00" in json.dumps(answer["blocks"])  # 7 × $66
    assert bot.slack.message(channel, posted["ts"])["blocks"] == posted["blocks"]  # the digest is left as it was


def test_app_home_opened_is_acked_and_publishes_the_viewers_home(bot: SocketModeBot) -> None:
    ack = bot.ack(bot.socket_mode.event({"type": "app_home_opened", "user": "U_PAY_DEV", "channel": "D1",
                                         "tab": "home"}))
    assert ack.envelope_type == "events_api" and ack.payload is None
    (published,) = wait_for(lambda: bot.slack.calls("views.publish"), timeout=30)
    assert published["user_id"] == "U_PAY_DEV"
    assert published["view"]["type"] == "home"
    assert published["view"]["blocks"][0]["text"]["text"] == "payments · cost dashboard"


def test_after_a_disconnect_envelope_the_bot_connects_again_and_acks_there(bot: SocketModeBot) -> None:
    before = bot.socket_mode.connection_count
    bot.socket_mode.request_reconnect("refresh_requested")
    bot.socket_mode.wait_for_connections(before + 1)
    # A new URL for the new connection (FakeSocketMode refuses one used before), asked with the app token.
    assert bot.slack.calls("apps.connections.open") == [{}]
    # slack_sdk's built-in client reads the new connection only once it has closed the old one, and
    # that waits out the old one's blocked read (its 3 s receive timeout): an envelope sent in that
    # window is acked about 3 s late. So the next envelope goes once the old connection is let go.
    bot.socket_mode.wait_for_open_connections(1)
    ack = bot.ack(bot.socket_mode.slash_command("help", response_url=bot.slack.response_url()))
    assert ack.connection == before + 1 and ack.payload["text"].startswith("costbot commands:")


def test_a_connection_slack_closes_is_replaced(bot: SocketModeBot) -> None:
    before = bot.socket_mode.connection_count
    bot.socket_mode.close_newest()
    # slack_sdk reconnects from its connection monitor, which looks every 10 s (Bolt's ping_interval).
    bot.socket_mode.wait_for_connections(before + 1, timeout=40)
    ack = bot.ack(bot.socket_mode.event({"type": "app_home_opened", "user": "U_SEARCH_OWNER", "tab": "home"}))
    assert ack.connection == before + 1
    wait_for(lambda: bot.slack.home_view("U_SEARCH_OWNER"), timeout=30)


def test_the_bot_connects_with_its_app_token_reports_socket_mode_health_and_stops_on_sigterm(
        tmp_path: Path) -> None:
    port = free_port()
    with FakeSlack(token=BOT_TOKEN, app_token=APP_TOKEN) as slack, FakeSocketMode() as socket_mode:
        slack.socket_mode_urls = socket_mode.issue_url
        bot = start_bot(tmp_path, slack, socket_mode, port=port)
        try:
            # Only the app token opens a connection (FakeSlack refuses the bot token, as Slack does).
            assert slack.calls("apps.connections.open") == [{}]
            assert slack.calls("auth.test")  # the bot token, checked first
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as response:
                assert json.loads(response.read()) == {"ok": True, "database": "ok", "mode": "socket"}
        finally:
            assert bot.stop() == 0, bot.log()
        assert_slack_rules_kept(slack, socket_mode)


def test_a_socket_mode_connection_slack_refuses_stops_the_start_up_with_one_line(tmp_path: Path) -> None:
    with FakeSlack(token=BOT_TOKEN, app_token=APP_TOKEN) as slack, FakeSocketMode() as socket_mode:
        slack.socket_mode_urls = socket_mode.issue_url
        slack.fail_next("apps.connections.open", error="invalid_auth")  # e.g. a revoked app token
        costbot = Path(sys.executable).parent / "costbot"
        result = subprocess.run([str(costbot), "run"], env=bot_env(tmp_path, slack), cwd=tmp_path,
                                capture_output=True, text=True, timeout=60)
        assert socket_mode.connection_count == 0
        assert_slack_rules_kept(slack, socket_mode)
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines() == [
        "costbot: configuration error: SLACK_APP_TOKEN: Slack refused the Socket Mode connection (invalid_auth)"]


def test_the_fake_slack_takes_the_app_token_only_for_apps_connections_open(fake_slack: FakeSlack) -> None:
    with pytest.raises(SlackApiError) as refused:
        WebClient(base_url=fake_slack.base_url).apps_connections_open(app_token=BOT_TOKEN)
    assert refused.value.response["error"] == "not_allowed_token_type"
    with pytest.raises(SlackApiError) as refused:
        WebClient(token=APP_TOKEN, base_url=fake_slack.base_url).auth_test()
    assert refused.value.response["error"] == "not_allowed_token_type"
    assert len(fake_slack.violations) == 2  # each would be an app bug
    fake_slack.violations.clear()
