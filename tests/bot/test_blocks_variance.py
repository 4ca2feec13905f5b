"""Block Kit of a variance answer: what the "Explained by" section says of each anomaly and finding."""

from __future__ import annotations

from bot.blocks.variance import variance_message
from finops.variance import explain_variance
from tests.finops.test_variance import ANOMALY, FINDING, ask, quarter_costs


def test_explainers_say_which_increase_or_decrease_they_are_part_of() -> None:
    answer = explain_variance(quarter_costs(), ask("Q3 2026"), explainers=[FINDING, ANOMALY])
    blocks = variance_message(answer)["blocks"]
    (explained,) = [b for b in blocks if b.get("text", {}).get("text", "").startswith("*Explained by*")]
    assert explained["text"]["text"] == (
        "*Explained by*\n"
        "• $1,500.00 of the increase: anomaly #41 (open) EC2 spike in payments\n"
        "• $920.00 of the decrease in search / Amazon OpenSearch: finding #17 (verified) Rightsize the search cluster")
    assert blocks[-1]["elements"][0]["text"] == "metric: effective · explained: 100 % of the movement"
