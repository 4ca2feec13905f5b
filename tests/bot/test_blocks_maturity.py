"""The scorecard in Block Kit: within Slack's limits, with the next step whole even when the
findings it names have long titles full of characters mrkdwn escapes."""

from __future__ import annotations

from datetime import date

from bot.blocks.maturity import maturity_message
from finops.maturity import FindingSummary, maturity_scorecard
from tests.finops.test_maturity import inputs

TITLE = ("Rightsize the R&D <sandbox> fleet " * 9).strip()  # 305 characters, 27 of them escaped


def test_the_next_step_naming_six_long_findings_fits_its_section_whole() -> None:
    findings = tuple(FindingSummary(i, TITLE, "data-platform", "identified", 1000.0 + i, date(2026, 10, 1))
                     for i in range(1, 5))
    findings += tuple(FindingSummary(i, TITLE, "data-platform", "not_realized", 5000.0 + i, date(2026, 10, 1),
                                     date(2026, 10, 2), date(2026, 11, 1), 3.0) for i in range(11, 15))
    card = maturity_scorecard(inputs(findings=findings))
    message = maturity_message(card)
    assert len(message["blocks"]) == 8
    step = message["blocks"][6]["text"]["text"]
    assert len(step) <= 3000
    # Not cut: the step ends on what is still waiting (4 open and 4 not realized, $24,060.00 a month).
    assert step.endswith("(identified since 01 Oct). $24,060.00/month is still waiting.")
    assert step.count("\u2026") == 6  # the six titles named, each shortened, none of the step cut
    assert "#4 data-platform \u201cRightsize the R&amp;D &lt;sandbox&gt; fleet " in step
