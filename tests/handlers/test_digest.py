"""/cost digest preview through the real app: the asker's team digest (or a named team's, or the
org's), ephemeral, nothing posted or claimed."""

from __future__ import annotations

import pytest

from storage.db import Database
from storage.digests import DigestRunStore
from tests.handlers.test_commands import wait_for
from tests.jobs.digest_data import MONDAY_9AM, TWO_TEAMS_YAML, running_org

NOW = MONDAY_9AM  # the org fixture's clock


@pytest.fixture
def org(sqlite_db: Database, fake_slack):
    with running_org(sqlite_db, fake_slack, payments_rose_last_week=True) as running:
        yield running


def preview(bot, text: str, user: str) -> dict:
    url = bot.slack.response_url()
    ack = bot.client.slash(text, user_id=user, response_url=url)
    assert ack.json()["text"] == "Building the digest…"
    return wait_for(lambda: bot.slack.response_url_calls(url), timeout=30)[0]


def test_preview_of_my_team_a_named_team_and_the_org(org) -> None:
    mine = preview(org, "digest preview", "U_PAY_DEV")
    assert mine["response_type"] == "ephemeral"
    assert mine["text"] == ("Preview: payments weekly digest, Week 46 · 9–15 Nov 2026: $890.40 "
                            "(+$428.40 vs the week before)")
    assert mine["blocks"][-1]["elements"][0]["text"] == (
        "Preview, not posted. The digest goes to #team-payments at `0 9 * * MON` (UTC), with its chart in the thread.")
    search = preview(org, "digest preview Search", "U_PAY_DEV")
    assert search["text"].startswith("Preview: search weekly digest, Week 46")
    whole = preview(org, "digest preview", "U_STRANGER")
    assert whole["text"].startswith("Preview: Weekly digest, Week 46 · 9–15 Nov 2026: $1,120.00")
    unallocated = preview(org, "digest preview unallocated", "U_PAY_DEV")  # a section of the org's
    assert unallocated["text"] == whole["text"]
    assert len(whole["blocks"]) <= 50
    assert org.slack.calls("chat.postMessage") == [] and org.slack.files() == []
    assert DigestRunStore(org.ctx.db).runs() == []
    wrong = preview(org, "digest preview paymnts", "U_PAY_DEV")
    assert wrong["text"].startswith(":warning: No team called `paymnts` in teams.yml.")


def test_a_preview_of_a_digest_already_posted_says_so(org) -> None:
    from datetime import timedelta

    from jobs.digest import post_weekly_digests

    post_weekly_digests(org.ctx, org=False)
    org.ctx.now = lambda: NOW + timedelta(hours=2)  # Monday 11:00: week 46 is still the one reported
    calls = len(org.slack.calls("chat.postMessage"))
    mine = preview(org, "digest preview", "U_PAY_DEV")
    # It said "Preview, not posted. The digest goes to #team-payments at ..." of a digest in the channel since 09:00.
    assert mine["blocks"][-1]["elements"][0]["text"] == (
        "Already posted in #team-payments on Mon 16 Nov 09:00 (UTC); this preview is that digest as it would "
        "read now. The next one goes at `0 9 * * MON` (UTC).")
    # The org digest, not posted yet, is still announced for the schedule.
    whole = preview(org, "digest preview", "U_STRANGER")
    assert whole["blocks"][-1]["elements"][0]["text"] == (
        "Preview, not posted. The digest goes to #finops at `0 9 * * MON` (UTC), with its chart in the thread.")
    assert len(org.slack.calls("chat.postMessage")) == calls


def test_someone_on_two_teams_is_told_why_the_preview_is_the_orgs(sqlite_db: Database, fake_slack) -> None:
    with running_org(sqlite_db, fake_slack, teams_yaml=TWO_TEAMS_YAML) as running:
        whole = preview(running, "digest preview", "U_BOTH")
    assert whole["text"].startswith("Preview: Weekly digest, Week 46")
    assert whole["blocks"][-1]["elements"][0]["text"].endswith(
        " You are on 2 teams (payments, search), so this is the organisation's digest; "
        "`/cost digest preview payments` shows a team's.")
