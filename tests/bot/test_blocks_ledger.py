"""``/cost savings``'s message (bot/blocks/findings.py ledger_message) on the savings ledger's rows:
a finding verification found not realized is shown on its own, not as an implemented saving."""

from __future__ import annotations

from datetime import date

from bot.blocks.findings import ledger_message
from bot.services.findings import Ledger
from finops.savings import savings_ledger

# The demo's three findings: payments' verified RDS, data-platform's snapshots not realized, search's
# Lambda in progress.
FINDINGS = [
    {"team": "payments", "state": "verified", "estimate_monthly": 5000.0, "identified_on": date(2026, 9, 22),
     "implemented_on": date(2026, 10, 9), "verified_on": date(2026, 11, 16), "realized_monthly": 5281.35},
    {"team": "data-platform", "state": "not_realized", "estimate_monthly": 3800.0,
     "identified_on": date(2026, 10, 1), "implemented_on": date(2026, 10, 22), "realized_monthly": 30.53},
    {"team": "search", "state": "in_progress", "estimate_monthly": 250.0, "identified_on": date(2026, 10, 20)},
]


def texts(message: dict) -> list[str]:
    return [block["text"]["text"] if "text" in block else block["elements"][0]["text"] for block in message["blocks"]]


def test_the_ledger_message_shows_not_realized_findings_apart_from_implemented_ones() -> None:
    rows = savings_ledger(FINDINGS).to_dict("records")
    (total,) = savings_ledger(FINDINGS, by=()).to_dict("records")
    header, head, rate, lines, note = texts(ledger_message(rows, total, team=None, quarter=None))
    assert head == ("*Identified* $9,050.00/mo (3) · *implemented* $5,000.00/mo (1) · *not realized* $3,800.00/mo (1) "
                    "· *verified* $5,281.35/mo realized (1), $63,376.20 a year")
    # 1 of 3 findings; $5,000.00 of $9,050.00 = 55 %.
    assert rate == ("Implementation rate: 33% of findings, 55% of estimated $ (rejected ones excluded; not realized "
                    "ones count as identified, not implemented)")
    assert lines.splitlines()[0] == ("*data-platform* 2026Q4: identified $3,800.00 (0% of it implemented to date) "
                                     "· implemented $0.00 · not realized $3,800.00 · realized $0.00")
    # Identified in Q3 and implemented in Q4: Q3 implemented nothing, but all of Q3's findings are
    # implemented by now; the rate says what it is a share of.
    assert lines.splitlines()[1] == ("*payments* 2026Q3: identified $5,000.00 (100% of it implemented to date) "
                                     "· implemented $0.00 · realized $0.00")
    assert lines.splitlines()[2] == "*payments* 2026Q4: identified $0.00 · implemented $5,000.00 · realized $5,281.35"
    assert note == ("Monthly amounts; each is booked in the quarter its event happened (identified, implemented, "
                    "verified; a not realized one in the quarter it was implemented).")


def test_without_a_finding_not_realized_the_ledger_message_does_not_mention_it() -> None:
    rows = savings_ledger([FINDINGS[0], FINDINGS[2]]).to_dict("records")
    (total,) = savings_ledger([FINDINGS[0], FINDINGS[2]], by=()).to_dict("records")
    message = ledger_message(rows, total, team=None, quarter=None)
    assert "not realized" not in "\n".join(texts(message))


def test_a_quarter_whose_only_event_is_a_finding_not_realized_is_not_an_empty_ledger() -> None:
    # data-platform's finding: identified in 2026Q4 like its implementation; one identified in Q3 and
    # implemented in Q4 leaves Q4 with nothing but the not-realized estimate.
    finding = {**FINDINGS[1], "identified_on": date(2026, 9, 30)}
    per_quarter = savings_ledger([finding], by=("quarter",))
    q4 = per_quarter[per_quarter["quarter"] == "2026Q4"].drop(columns="quarter").to_dict("records")[0]
    assert (q4["identified_count"], q4["implemented_count"], q4["verified_count"], q4["not_realized_count"]) == (
        0, 0, 0, 1)
    assert not Ledger(None, "2026Q4", [], q4).empty
