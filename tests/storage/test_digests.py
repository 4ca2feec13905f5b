"""Digest claims (one poster per week and audience, even under concurrency) and budget alert state."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from storage.db import Database
from storage.digests import ORG_AUDIENCE, TEAM_AUDIENCE, BudgetAlertStore, DigestRunStore, scheduled_next_run

NOW = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)


def test_a_week_is_claimed_once_per_audience(db: Database) -> None:
    runs = DigestRunStore(db)
    key = "digest:payments:2026-W46"
    assert runs.claim("2026-W46", TEAM_AUDIENCE, "payments", channel="#team-payments", message_key=key,
                      by="replica-a", at=NOW)
    assert not runs.claim("2026-W46", TEAM_AUDIENCE, "payments", channel="#team-payments", message_key=key,
                          by="replica-b", at=NOW)
    # Another team, the org digest and another week are other claims.
    assert runs.claim("2026-W46", TEAM_AUDIENCE, "search", channel="#team-search", message_key="s", by="b", at=NOW)
    assert runs.claim("2026-W46", ORG_AUDIENCE, "", channel="#finops", message_key="o", by="b", at=NOW)
    assert runs.claim("2026-W47", TEAM_AUDIENCE, "payments", channel="#team-payments", message_key="p",
                      by="b", at=NOW)
    runs.mark_posted("2026-W46", TEAM_AUDIENCE, "payments", at=NOW + timedelta(seconds=3))
    week = runs.runs("2026-W46")
    assert [(r.audience, r.team, r.claimed_by) for r in week] == [
        ("team", "payments", "replica-a"), ("team", "search", "b"), ("org", "", "b")]
    assert week[0].posted_at == NOW + timedelta(seconds=3) and week[1].posted_at is None


def test_a_stale_unposted_claim_is_taken_over_once_a_posted_one_never(db: Database) -> None:
    runs = DigestRunStore(db)
    assert runs.claim("2026-W46", TEAM_AUDIENCE, "ml", channel="#team-ml", message_key="k", by="dead", at=NOW)
    later = NOW + timedelta(hours=1)
    assert runs.claim("2026-W46", TEAM_AUDIENCE, "ml", channel="#team-ml", message_key="k", by="alive", at=later)
    assert not runs.claim("2026-W46", TEAM_AUDIENCE, "ml", channel="#team-ml", message_key="k", by="third",
                          at=later + timedelta(minutes=1))
    runs.mark_posted("2026-W46", TEAM_AUDIENCE, "ml", at=later)
    assert not runs.claim("2026-W46", TEAM_AUDIENCE, "ml", channel="#team-ml", message_key="k", by="late",
                          at=later + timedelta(days=2))
    assert [r.claimed_by for r in runs.runs("2026-W46")] == ["alive"]


def test_release_lets_the_next_run_claim_again_and_stays_pending(db: Database) -> None:
    runs = DigestRunStore(db)
    assert runs.claim("2026-W46", ORG_AUDIENCE, "", channel="#finops", message_key="o", by="a", at=NOW)
    runs.release("2026-W46", ORG_AUDIENCE, "", by="someone-else")  # not theirs: nothing happens
    assert not runs.claim("2026-W46", ORG_AUDIENCE, "", channel="#finops", message_key="o", by="b", at=NOW)
    runs.release("2026-W46", ORG_AUDIENCE, "", by="a")
    # Released, the row stays among the week's pending digests until someone posts it.
    assert [(r.audience, r.claimed_by, r.posted_at) for r in runs.pending("2026-W46")] == [("org", "", None)]
    assert runs.claim("2026-W46", ORG_AUDIENCE, "", channel="#finops", message_key="o", by="b", at=NOW)
    assert not runs.claim("2026-W46", ORG_AUDIENCE, "", channel="#finops", message_key="o", by="c", at=NOW)
    runs.mark_posted("2026-W46", ORG_AUDIENCE, "", at=NOW)
    assert runs.pending("2026-W46") == []


def test_concurrent_claims_have_exactly_one_winner(db: Database) -> None:
    runs = DigestRunStore(db)
    winners: list[str] = []
    barrier = threading.Barrier(6)

    def contend(name: str) -> None:
        barrier.wait()
        if runs.claim("2026-W46", TEAM_AUDIENCE, "web", channel="#team-web", message_key="w", by=name, at=NOW):
            winners.append(name)

    threads = [threading.Thread(target=contend, args=(f"replica-{i}",)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(winners) == 1
    assert [r.claimed_by for r in runs.runs("2026-W46")] == winners


def test_budget_alert_state_round_trips_in_micro_dollars(db: Database) -> None:
    alerts = BudgetAlertStore(db)
    assert alerts.get("payments", "2026-11") is None
    first = alerts.save("payments", "2026-11", message_key="budget:payments:2026-11", level="warning",
                        announced_level="warning", forecast=41_600.125, budget=52_000, at=NOW)
    assert (first.forecast, first.budget, first.first_alerted_at) == (Decimal("41600.125"), Decimal("52000"), NOW)
    later = NOW + timedelta(days=1)
    alerts.save("payments", "2026-11", message_key="budget:payments:2026-11", level="over", announced_level="over",
                forecast=53_010.5, budget=52_000, at=later)
    saved = alerts.get("payments", "2026-11")
    assert saved is not None
    assert (saved.level, saved.announced_level, saved.forecast) == ("over", "over", Decimal("53010.5"))
    assert (saved.first_alerted_at, saved.updated_at) == (NOW, later)
    assert [a.team for a in alerts.for_month("2026-11")] == ["payments"]
    assert alerts.for_month("2026-10") == []


def test_no_scheduled_job_means_no_next_run(db: Database) -> None:
    assert scheduled_next_run(db, "weekly_digest") is None
