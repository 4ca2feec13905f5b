"""One bot replica for tests/jobs/test_digest.py: the production scheduler (every job module, the
persistent job store) on a shared database, talking to the test's fake Slack.

    python -m tests.jobs.digest_replica DATABASE_URL SLACK_API_URL START_AT [scheduler|direct]

``direct`` skips the scheduler and calls the job's function at START_AT, as two replicas whose
schedulers both fired at 09:00 would. Otherwise it waits until the wall clock passes START_AT (a UNIX time, so several replicas start together),
starts the scheduler, waits until its weekly digest job has run or the week's digests are all
posted (by another replica), at most 60 s, and prints one JSON line:
``{"ran": bool, "posted": [message keys this process posted]}``.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from datetime import UTC, datetime

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED

from bot.config import Settings
from bot.context import build_context
from finops.digest import week_reported
from finops.teams import parse_teams
from jobs.digest import JOB_ID, scheduled_digests
from jobs.scheduler import build_scheduler
from storage.digests import DigestRunStore
from tests.jobs.digest_data import TEAMS_YAML

NOW = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)
EXPECTED_DIGESTS = 3  # the two teams of TEAMS_YAML and the org


def main(database_url: str, slack_api_url: str, start_at: float, mode: str = "scheduler") -> dict:
    settings = Settings(database_url=database_url, slack_bot_token="xoxb-test", slack_api_url=slack_api_url)
    ctx = build_context(settings, teams=parse_teams(TEAMS_YAML, file="teams.yml"), upgrade=False, now=lambda: NOW)
    if mode == "direct":
        time.sleep(max(0.0, start_at - time.time()))
        return {"ran": True, "posted": [digest.message.key for digest in scheduled_digests(ctx)]}
    scheduler = build_scheduler(ctx)
    done = threading.Event()
    outcome: dict = {"ran": False, "posted": []}

    def listen(event) -> None:
        if event.job_id != JOB_ID:
            return
        outcome["ran"] = True
        if event.exception is None:
            outcome["posted"] = [digest.message.key for digest in event.retval or []]
        else:
            outcome["error"] = repr(event.exception)
        done.set()

    scheduler.add_listener(listen, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
    time.sleep(max(0.0, start_at - time.time()))
    scheduler.start()
    runs = DigestRunStore(ctx.db)
    deadline = time.monotonic() + 60
    while not done.wait(0.2) and time.monotonic() < deadline:
        claims = runs.runs(week_reported(NOW.date()).label)
        if len(claims) == EXPECTED_DIGESTS and all(c.posted_at for c in claims):
            break
    scheduler.shutdown(wait=True)
    return outcome


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2], float(sys.argv[3]), *sys.argv[4:5])), flush=True)
