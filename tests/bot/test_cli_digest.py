"""``costbot digest [--team NAME] [--dry-run]``: prints without posting, posts once per week."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from bot.cli import digest as digest_cli
from bot.cli import main
from storage.db import Database
from storage.digests import DigestRunStore
from tests.jobs.digest_data import (
    TEAMS_YAML,
    break_digest_of,
    cost_rows,
    flat_history,
    store_costs,
    teams_config,
)


@pytest.fixture
def cli(sqlite_db: Database, monkeypatch, capsys, tmp_path: Path):
    return digest_command(sqlite_db, monkeypatch, capsys, tmp_path, monday=datetime(2026, 11, 16, 9, 0, tzinfo=UTC))


def digest_command(sqlite_db: Database, monkeypatch, capsys, tmp_path: Path, *, monday: datetime):
    """``costbot digest`` on the flat org's costs through 15 Nov, its clock at ``monday``."""
    teams_file = tmp_path / "teams.yml"
    teams_file.write_text(TEAMS_YAML)
    for name in ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("COSTBOT_DATABASE_URL", sqlite_db.url)
    monkeypatch.setenv("COSTBOT_TEAMS", str(teams_file))
    real_open = digest_cli.open_context

    def pinned_context(args, **kwargs):
        ctx = real_open(args, **kwargs)
        ctx.now = lambda: monday  # 16 Nov reports week 46, 23 Nov week 47
        return ctx

    monkeypatch.setattr(digest_cli, "open_context", pinned_context)
    flat_history(sqlite_db, teams_config(), through=date(2026, 11, 15))

    def run(*args: str) -> tuple[int, str]:
        capsys.readouterr()
        code = main(list(args))
        return code, capsys.readouterr().out

    return run


def test_dry_run_prints_and_posts_nothing(cli, sqlite_db: Database) -> None:
    code, out = cli("digest", "--team", "payments", "--dry-run")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("── #team-payments (digest:payments:2026-W46) ")
    assert lines[1] == "PAYMENTS · WEEK 46 · 9–15 NOV 2026"
    assert "Last week $462.00 ($0.00, +0.0 % vs $462.00)" in out
    assert "(chart in the thread: digest-payments-2026-W46.png)" in out
    assert DigestRunStore(sqlite_db).runs() == []


def test_unallocated_is_not_a_team_and_has_no_digest_of_its_own(cli, sqlite_db: Database, capsys) -> None:
    # The flat org (its data loaded by the fixture): a usage error like an unknown team's, exit code 2.
    teams_file = os.environ["COSTBOT_TEAMS"]
    for args in (("--team", "unallocated", "--dry-run"), ("--team", "Unallocated")):
        capsys.readouterr()
        code = main(["digest", *args])
        printed = capsys.readouterr()
        assert (code, printed.out) == (2, "")
        assert printed.err == (f"costbot: no team {args[1]!r} in {teams_file} (teams: payments, search); "
                               "unallocated spend is in the org digest (costbot digest without --team)\n")
    assert DigestRunStore(sqlite_db).runs() == []  # nothing claimed, nothing posted
    # An empty name (a script's unset "$TEAM") is no team either, not "every team".
    capsys.readouterr()
    assert main(["digest", "--team", ""]) == 2
    assert capsys.readouterr().err == f"costbot: no team '' in {teams_file} (teams: payments, search)\n"
    assert DigestRunStore(sqlite_db).runs() == []


def test_posting_twice_posts_once(cli, sqlite_db: Database) -> None:
    code, out = cli("digest")
    assert code == 0
    # No Slack token: "posting" prints each digest under its channel, then the summary.
    assert "── #team-payments " in out and "── #finops " in out
    assert out.splitlines()[-4:] == ["Week 46 · 9–15 Nov 2026: 3 digests posted", "  #team-payments: "
                                     "digest:payments:2026-W46", "  #team-search: digest:search:2026-W46",
                                     "  #finops: digest-org:2026-W46"]
    code, out = cli("digest")
    # Nothing new: each digest is named with its key, already posted, and this is no error.
    assert code == 0
    assert out.splitlines() == ["Week 46 · 9–15 Nov 2026: 0 digests posted; 3 already posted this week",
                                "  #team-payments: digest:payments:2026-W46 (already posted)",
                                "  #team-search: digest:search:2026-W46 (already posted)",
                                "  #finops: digest-org:2026-W46 (already posted)"]
    assert len(DigestRunStore(sqlite_db).runs("2026-W46")) == 3
    code, out = cli("digest", "--team", "search")
    assert (code, out.splitlines()) == (0, ["Week 46 · 9–15 Nov 2026: 0 digests posted; 1 already posted this week",
                                            "  #team-search: digest:search:2026-W46 (already posted)"])


def test_a_placeholder_is_completed_in_place_by_the_next_run_once_the_data_is_in(sqlite_db: Database, monkeypatch,
                                                                                   capsys, tmp_path: Path) -> None:
    cli = digest_command(sqlite_db, monkeypatch, capsys, tmp_path, monday=datetime(2026, 11, 23, 9, 0, tzinfo=UTC))
    code, out = cli("digest", "--team", "payments")
    assert code == 0 and "No cost data for this week yet" in out
    assert out.splitlines()[-2:] == [
        "Week 47 · 16–22 Nov 2026: 1 digest posted (1 without the week's cost data yet: once it is in, the bot's "
        "hourly catch-up or `costbot digest` again completes it in place)",
        "  #team-payments: digest:payments:2026-W47 (no cost data yet)"]
    # Again before the data is in: the placeholder is there already and nothing is sent (it said
    # "1 digest posted" again).
    code, out = cli("digest", "--team", "payments")
    assert (code, out.splitlines()) == (0, [
        "Week 47 · 16–22 Nov 2026: 0 digests posted; 1 already posted, unchanged (1 without the week's cost data "
        "yet: once it is in, the bot's hourly catch-up or `costbot digest` again completes it in place)",
        "  #team-payments: digest:payments:2026-W47 (already posted, unchanged: no cost data yet)"])
    store_costs(sqlite_db, teams_config(), cost_rows(date(2026, 11, 16), date(2026, 11, 22)),
                complete_through=date(2026, 11, 22))
    code, out = cli("digest", "--team", "payments")
    # The terminal stands for Slack: the placeholder is edited, not posted again, and the chart follows.
    assert "── #team-payments (message updated) " in out and "── #team-payments (file) " in out
    assert "── #team-payments ──" not in out and "Last week $462.00" in out
    # Edited, not posted: the summary says so (it said "1 digest posted").
    assert out.splitlines()[-2:] == ["Week 47 · 16–22 Nov 2026: 0 digests posted; 1 updated in place",
                                     "  #team-payments: digest:payments:2026-W47 (updated in place, now with the "
                                     "week's cost data)"]
    code, out = cli("digest", "--team", "payments")
    assert (code, out.splitlines()) == (0, ["Week 47 · 16–22 Nov 2026: 0 digests posted; 1 already posted this week",
                                            "  #team-payments: digest:payments:2026-W47 (already posted)"])


def test_a_digest_that_fails_is_named_and_the_exit_code_is_1(cli, sqlite_db: Database, monkeypatch) -> None:
    mend = break_digest_of(monkeypatch, "search")
    code, out = cli("digest")
    # A failed operation: exit code 1 (it was 0, the failure counted among "already posted").
    assert code == 1
    assert out.splitlines()[-4:] == [
        "Week 46 · 9–15 Nov 2026: 2 digests posted; 1 failed (see the log)",
        "  #team-payments: digest:payments:2026-W46",
        "  #team-search: digest:search:2026-W46 (not posted: failed, see the log; `costbot digest` again (or the "
        "bot's hourly catch-up) retries it)",
        "  #finops: digest-org:2026-W46"]
    mend()
    code, out = cli("digest")
    assert code == 0
    assert out.splitlines()[-4:] == ["Week 46 · 9–15 Nov 2026: 1 digest posted; 2 already posted this week",
                                     "  #team-payments: digest:payments:2026-W46 (already posted)",
                                     "  #team-search: digest:search:2026-W46",
                                     "  #finops: digest-org:2026-W46 (already posted)"]


def test_a_dry_run_says_which_digests_are_already_posted(cli) -> None:
    cli("digest", "--team", "payments")
    code, out = cli("digest", "--dry-run")
    assert code == 0
    # It printed the posted digest like the others, as if a run would post it.
    assert [line for line in out.splitlines() if line.startswith("(")] == [
        "(chart in the thread: digest-payments-2026-W46.png; already posted in #team-payments on Mon 16 Nov 09:00 "
        "(UTC): `costbot digest` does not post it again)",
        "(chart in the thread: digest-search-2026-W46.png)",
        "(chart in the thread: digest-org-2026-W46.png)"]


def test_a_digest_another_run_holds_says_whose_claim_and_when_it_can_be_taken_over(cli, sqlite_db: Database) -> None:
    # A run that claimed the search digest at 08:55 and was stopped (killed) before posting it.
    DigestRunStore(sqlite_db).claim("2026-W46", "team", "search", channel="#team-search",
                                    message_key="digest:search:2026-W46", by="ops-box:4242",
                                    at=datetime(2026, 11, 16, 8, 55, tzinfo=UTC))
    code, out = cli("digest", "--team", "search")
    assert (code, out.splitlines()) == (0, [
        "Week 46 · 9–15 Nov 2026: 0 digests posted; 1 being posted by another run",
        "  #team-search: digest:search:2026-W46 (being posted by another run: ops-box:4242 since 08:55 (UTC); if "
        "that run stopped, `costbot digest` takes it over from 09:25)"])


def test_a_dry_run_prints_plain_text_without_slack_markup(cli) -> None:
    code, out = cli("digest", "--dry-run")
    assert code == 0
    assert "── #team-payments (digest:payments:2026-W46) " in out and "── #finops (digest-org:2026-W46) " in out
    # Slack markup a terminal reader would see raw: links, mentions, bold markers, entities, emoji codes.
    for raw in ("<http", "<@", "<#", "*", "&amp;", "&lt;", "&gt;", ":hourglass", ":red_circle:"):
        assert raw not in out, raw
    assert "Last week $462.00 ($0.00, +0.0 % vs $462.00)" in out
