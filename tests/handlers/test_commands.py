"""/cost through the real HTTP endpoint, signed like Slack signs it."""

from __future__ import annotations

from handlers import commands
from handlers.commands import Reply
from tests.harness import RunningBot


def test_signed_help_is_acked_within_3_seconds_with_the_command_list(bot: RunningBot) -> None:
    response = bot.client.slash("help")
    assert response.status == 200
    assert response.elapsed < 3.0
    body = response.json()
    assert body["response_type"] == "ephemeral"
    assert "`/cost help`" in body["text"]
    assert body["blocks"][0]["type"] == "header"
    assert bot.slack.violations == []


def test_empty_command_shows_help(bot: RunningBot) -> None:
    assert "`/cost help`" in bot.client.slash("").json()["text"]


def test_unknown_subcommand_gets_a_short_ephemeral_usage_hint(bot: RunningBot) -> None:
    body = bot.client.slash("hepl me").json()
    assert body["response_type"] == "ephemeral"
    assert body["text"].startswith("I don't know `/cost hepl`. Did you mean `/cost help`?")
    assert "Traceback" not in body["text"]


def test_forged_or_stale_requests_get_401_and_change_nothing(bot: RunningBot) -> None:
    forged = bot.client.post_with_bad_signature("help")
    stale = bot.client.post_with_stale_timestamp("help")
    assert (forged.status, stale.status) == (401, 401)
    assert bot.slack.all_calls() == []


def test_a_failing_slow_subcommand_answers_with_a_reference_not_a_stack_trace(bot: RunningBot, monkeypatch) -> None:
    def explode(request: commands.CommandRequest) -> Reply:
        raise ZeroDivisionError("division by zero")

    monkeypatch.setitem(commands.SUBCOMMANDS, "explode", commands.Subcommand(
        "explode", "/cost explode", "test only", explode, slow=True))
    response_url = bot.slack.response_url()
    ack = bot.client.slash("explode", response_url=response_url)
    assert ack.status == 200 and ack.json()["text"] == "Working on it…"
    answers = wait_for(lambda: bot.slack.response_url_calls(response_url))
    assert "Something went wrong on our side" in answers[0]["text"]
    assert "ZeroDivisionError" not in answers[0]["text"] and "Traceback" not in answers[0]["text"]


def test_health_endpoint(bot: RunningBot) -> None:
    assert bot.get("/health") == (200, {"ok": True})


def wait_for(probe, timeout: float = 5.0):
    """Poll ``probe`` until it returns something truthy (work after the ack runs in a thread)."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = probe()
        if result:
            return result
        time.sleep(0.02)
    raise AssertionError(f"nothing arrived within {timeout}s")


def test_help_after_a_subcommand_shows_its_usage_instead_of_reading_help_as_a_team(bot: RunningBot) -> None:
    for text in ("forecast help", "budget HELP", "anomalies --help", "why help", "digest preview help",
                 "unit record help", "help forecast"):
        response = bot.client.slash(text, response_url=bot.slack.response_url())
        assert response.elapsed < 3.0
        body = response.json()
        command = commands.SUBCOMMANDS[" ".join(w for w in text.lower().split() if w not in ("help", "--help"))]
        assert body == {"response_type": "ephemeral",
                        "text": f"`{command.usage}`\n{command.summary}\n`/cost help` lists every command."}, text


def test_a_two_word_command_missing_or_misspelling_its_second_word_is_suggested(bot: RunningBot) -> None:
    hints = {text: bot.client.slash(text).json()["text"].split("\n")[0]
             for text in ("digest", "digest previw", "finding neu", "unit", "dgest preview")}
    assert hints == {
        "digest": "I don't know `/cost digest`. Did you mean `/cost digest preview`?",
        "digest previw": "I don't know `/cost digest previw`. Did you mean `/cost digest preview`?",
        "finding neu": "I don't know `/cost finding neu`. Did you mean `/cost finding new` or `/cost findings`?",
        "unit": "I don't know `/cost unit`. Did you mean `/cost unit record`?",
        "dgest preview": "I don't know `/cost dgest`. Did you mean `/cost digest preview`?",
    }


def test_team_names_in_any_case_are_understood_and_a_misspelt_one_gets_the_right_name(bot: RunningBot) -> None:
    acked = {text: bot.client.slash(text).json()["text"].split("\n")[0]
             for text in ("anomalies Payments", "anomalies PAYMENTS all", "findings Payments", "anomalies paymnts",
                          "findings paymnts", "findings new")}
    assert acked == {
        "anomalies Payments": "No open anomalies of payments.",
        "anomalies PAYMENTS all": "No anomalies of payments.",
        "findings Payments": "No savings findings (payments).",
        "anomalies paymnts": ":warning: `paymnts` is neither a team nor `open`/`all`. Did you mean `payments`?",
        "findings paymnts": ":warning: `paymnts` is neither a team nor a finding state (states: identified, accepted, "
                            "rejected, in_progress, implemented, verifying, verified, not_realized). "
                            "Did you mean `payments`?",
        "findings new": ":warning: `new` is neither a team nor a finding state (states: identified, accepted, "
                        "rejected, in_progress, implemented, verifying, verified, not_realized). "
                        "Did you mean `/cost finding new`?",
    }
    later = {}
    for text in ("savings Payments", "savings paymnts"):
        url = bot.slack.response_url()
        bot.client.slash(text, response_url=url)
        later[text] = wait_for(lambda url=url: bot.slack.response_url_calls(url))[0]["text"].split("\n")[0]
    assert later["savings Payments"] == "No savings findings (payments)."
    assert later["savings paymnts"] == ":warning: `paymnts` is neither a team nor a quarter. Did you mean `payments`?"


def test_the_word_not_understood_is_echoed_short_and_cannot_mention_or_break_the_formatting(bot: RunningBot) -> None:
    assert bot.client.slash("anomalies <@U1>").json()["text"].split("\n")[0] == (
        ":warning: `&lt;@U1&gt;` is neither a team nor `open`/`all`.")
    assert bot.client.slash("findings `x`").json()["text"].startswith(
        ":warning: `'x'` is neither a team nor a finding state")
    later = {}
    for text in ("maturity <!channel>", "digest preview <!here>", "savings " + "q" * 500, "digest preview paymnts",
                 "teams <!channel>", "coverage <@U1>"):
        url = bot.slack.response_url()
        bot.client.slash(text, response_url=url)
        later[text[:20]] = wait_for(lambda url=url: bot.slack.response_url_calls(url))[0]["text"].split("\n")[0]
    assert later == {
        "maturity <!channel>": ":warning: `/cost maturity` takes no options (got `&lt;!channel&gt;`).",
        "digest preview <!her": ":warning: No team called `&lt;!here&gt;` in teams.yml.",
        "savings " + "q" * 12: f":warning: `{'q' * 39}…` is neither a team nor a quarter.",
        "digest preview paymn": ":warning: No team called `paymnts` in teams.yml. Did you mean `payments`?",
        "teams <!channel>": ":warning: No team called `&lt;!channel&gt;` in teams.yml.",
        "coverage <@U1>": ":warning: `/cost coverage` takes no options (got `&lt;@U1&gt;`).",
    }


def test_missing_cost_data_is_not_answered_as_a_mistyped_command(bot: RunningBot) -> None:
    url = bot.slack.response_url()
    bot.client.slash("forecast", response_url=url)
    (answer,) = wait_for(lambda: bot.slack.response_url_calls(url))
    assert answer["text"] == ":warning: no cost data yet: ingest some first (costbot ingest file PATH)"
