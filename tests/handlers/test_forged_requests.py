"""Forged interactive requests (button presses, modal submissions) get 401 and change nothing."""

from __future__ import annotations

from datetime import UTC, datetime

from finops.savings import FindingState
from jobs.verify import publish_finding
from storage.findings import FindingStore, NewFinding
from tests.handlers.test_findings import NEW_FORM, main_message
from tests.harness import RunningBot
from tests.slack.signed_client import SignedSlackClient


def forger(bot: RunningBot) -> SignedSlackClient:
    """Same endpoint, same payloads, but signed with a secret that is not the app's."""
    return SignedSlackClient(bot.client.url, "not-the-signing-secret", response_urls=bot.slack.response_url)


def test_a_forged_button_press_gets_401_and_the_finding_stays_as_it_was(bot: RunningBot) -> None:
    bot.slack.add_channel("#team-payments")
    store = FindingStore(bot.ctx.db)
    finding = store.create(NewFinding("Delete idle volumes", "payments", {"service": "Amazon EBS"}, 200),
                           by="U_PAY_OWNER", at=datetime.now(UTC))
    publish_finding(bot.ctx, finding.id)
    message = main_message(bot, finding.id)
    history_before = [e.action for e in store.history(finding.id)]
    calls_before = len(bot.slack.all_calls())
    answer = forger(bot).action("finding_accept", f"{finding.id}:{finding.version}", user_id="U_PAY_OWNER",
                                channel_id=bot.slack.channel_id("#team-payments"), message_ts=message["ts"])
    assert answer.status == 401
    after = store.get(finding.id)
    assert (after.state, after.version) == (FindingState.IDENTIFIED, finding.version)
    assert [e.action for e in store.history(finding.id)] == history_before
    assert len(bot.slack.all_calls()) == calls_before


def test_a_forged_modal_submission_gets_401_and_creates_nothing(bot: RunningBot) -> None:
    answer = forger(bot).view_submission("finding_new", NEW_FORM, user_id="U_PAY_OWNER")
    assert answer.status == 401
    assert FindingStore(bot.ctx.db).list_findings() == []
    assert bot.slack.all_calls() == []
