"""``cut``: text shortened to Slack's limits never ends inside an escape or a reference."""

from __future__ import annotations

from bot.blocks.costs import cut


def test_a_cut_moves_back_before_an_escape_it_would_split() -> None:
    assert cut("a &gt; b", 100) == "a &gt; b"
    assert cut("abc &gt; def", 7) == "abc …"  # not "abc &g…"
    assert cut("abc &amp; def", 9) == "abc …"  # "&amp" without its ";"
    assert cut("abc &amp; def", 10) == "abc &amp;…"  # whole, kept
    assert cut("R&D costs a lot", 5) == "R&D …"  # a bare "&" (plain text) is no escape


def test_a_cut_moves_back_before_a_slack_reference_it_would_split() -> None:
    assert cut("owner <@U0123ABCD> and more", 12) == "owner …"
    assert cut("in <#C0123> now", 8) == "in …"
    assert cut("see <https://example.com|the bill> please", 20) == "see …"
    assert cut("owner <@U0123ABCD> and more", 22) == "owner <@U0123ABCD> an…"
    assert cut("exactly", 7) == "exactly"
