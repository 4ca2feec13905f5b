"""`costbot run` as a process, in HTTP mode, against the fake Slack; and its health report."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from bot.http_server import health_report
from storage.db import Database
from tests.harness import SIGNING_SECRET
from tests.slack.fake_slack import FakeSlack
from tests.slack.signed_client import SignedSlackClient


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_bot_process_serves_signed_requests_and_health_then_stops_on_sigterm(
        tmp_path: Path, fake_slack: FakeSlack) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "COSTBOT_"))}
    env.update(SLACK_BOT_TOKEN="xoxb-test", SLACK_SIGNING_SECRET=SIGNING_SECRET, SLACK_API_URL=fake_slack.base_url,
               PORT=str(port), COSTBOT_DATABASE_URL=f"sqlite:///{tmp_path}/bot.db")
    costbot = Path(sys.executable).parent / "costbot"
    process = subprocess.Popen([str(costbot), "run", "--no-scheduler"], env=env, cwd=tmp_path,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        health = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as response:
                    health = json.loads(response.read())
                    break
            except OSError:
                time.sleep(0.2)
        assert health == {"ok": True, "database": "ok", "mode": "http"}, process.stdout.read() if process.poll() else ""
        assert fake_slack.calls("auth.test")  # the token was checked at start-up
        client = SignedSlackClient(f"http://127.0.0.1:{port}/slack/events", SIGNING_SECRET)
        answer = client.slash("help")
        assert answer.status == 200 and "`/cost help`" in answer.json()["text"]
        assert client.post_with_bad_signature("help").status == 401
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
        # `run` logs at INFO by default (the README): what it serves and where.
        assert f"INFO bot.cli.run: HTTP mode: Slack requests on :{port}/slack/events" in process.stdout.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_health_reports_a_database_that_does_not_answer(tmp_path: Path) -> None:
    good = Database(f"sqlite:///{tmp_path}/ok.db")
    good.upgrade()
    assert health_report(good, mode="http") == {"ok": True, "database": "ok", "mode": "http"}
    broken = Database("postgresql://postgres@127.0.0.1:5999/nope")
    report = health_report(broken, mode="socket")
    assert report["ok"] is False and report["mode"] == "socket"
    assert report["database"].startswith("OperationalError")


def test_a_port_already_taken_stops_the_start_up_with_one_line(tmp_path: Path, fake_slack: FakeSlack) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "COSTBOT_"))}
        env.update(SLACK_BOT_TOKEN="xoxb-test", SLACK_SIGNING_SECRET=SIGNING_SECRET,
                   SLACK_API_URL=fake_slack.base_url, PORT=str(port), COSTBOT_DATABASE_URL=f"sqlite:///{tmp_path}/bot.db")
        costbot = Path(sys.executable).parent / "costbot"
        result = subprocess.run([str(costbot), "run"], env=env, cwd=tmp_path, capture_output=True, text=True,
                                timeout=60)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"costbot: configuration error: PORT: cannot listen on port {port}: Address already in use"], result.stderr
