"""The real app, served over HTTP on 127.0.0.1, wired to the fake Slack: what Slack flow tests drive.

``start_bot(db, fake_slack, teams_yaml)`` builds the production context (settings, database,
teams.yml, delivery through slack_sdk to the fake), the production Bolt app and the production
HTTP server; tests talk to it only through signed requests and read what Slack received.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bot.app import create_app
from bot.config import Settings
from bot.context import AppContext, build_context
from bot.http_server import ThreadingWSGIServer, make_wsgi_app, start_http_server
from finops.teams import parse_teams
from storage.db import Database
from tests.slack.fake_slack import FakeSlack
from tests.slack.signed_client import SignedSlackClient

SIGNING_SECRET = "test-signing-secret"
TEAMS_YAML = """\
default_channel: "#finops"
finance_approvers: [U_FINANCE]
teams:
  - name: payments
    channel: "#team-payments"
    owners: [U_PAY_OWNER]
    members: [U_PAY_DEV]
    match:
      - tag: {team: payments}
      - sub_account_id: "111222330440"
  - name: search
    channel: "#team-search"
    owners: [U_SEARCH_OWNER]
    match:
      - tag: {team: search}
      - sub_account_id: "111222331441"
"""


@dataclass
class RunningBot:
    ctx: AppContext
    server: ThreadingWSGIServer
    slack: FakeSlack
    client: SignedSlackClient

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def get(self, path: str) -> tuple[int, dict]:
        try:
            with urllib.request.urlopen(self.url + path, timeout=5) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"{}")

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def start_bot(db: Database, slack: FakeSlack, *, teams_yaml: str = TEAMS_YAML,
              now: Callable[[], datetime] | None = None, files_dir: Path | None = None) -> RunningBot:
    settings = Settings(database_url=db.url, slack_bot_token="xoxb-test", slack_signing_secret=SIGNING_SECRET,
                        slack_api_url=slack.base_url, port=0)
    teams = parse_teams(teams_yaml, file="teams.yml")
    ctx = build_context(settings, teams=teams, upgrade=False, now=now or (lambda: datetime.now(UTC)),
                        files_dir=files_dir)
    ctx.delivery.sleep = lambda seconds: None  # 429 tests assert the wait; they need not spend it
    app = create_app(ctx)
    server = start_http_server(make_wsgi_app(app, health=lambda: {"ok": True}), host="127.0.0.1", port=0)
    client = SignedSlackClient(f"http://127.0.0.1:{server.server_port}/slack/events", SIGNING_SECRET,
                               response_urls=slack.response_url, check_answer=slack.check_ack)
    return RunningBot(ctx, server, slack, client)
