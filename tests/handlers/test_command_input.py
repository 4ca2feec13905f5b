"""/cost with the input people really type: typos, odd case, quarters in two words, help about a typo.

Every answer is an ephemeral hint naming the word not understood and, where it is obvious, the
word meant; each goes through the real app over HTTP with signed requests.
"""

from __future__ import annotations

from tests.handlers.test_commands import wait_for
from tests.handlers.test_why import why_bot  # noqa: F401  (fixture)
from tests.harness import RunningBot


def first_line_acked(bot: RunningBot, text: str) -> str:
    response = bot.client.slash(text)
    assert response.elapsed < 3.0
    body = response.json()
    assert body["response_type"] == "ephemeral", text
    return body["text"].split("\n")[0]


def first_line_answered(bot: RunningBot, text: str) -> str:
    url = bot.slack.response_url()
    response = bot.client.slash(text, response_url=url)
    assert response.elapsed < 3.0
    answer = wait_for(lambda: bot.slack.response_url_calls(url))[0]
    assert answer.get("response_type", "ephemeral") == "ephemeral", text
    return answer["text"].split("\n")[0]


def test_help_about_a_misspelt_command_names_it_and_suggests_the_right_one(bot: RunningBot) -> None:
    assert first_line_acked(bot, "help forcast") == "I don't know `/cost forcast`. Did you mean `/cost forecast`?"
    assert first_line_acked(bot, "help anomolies") == "I don't know `/cost anomolies`. Did you mean `/cost anomalies`?"
    assert first_line_acked(bot, "help zzz") == "I don't know `/cost zzz`."


def test_a_misspelt_anomaly_filter_or_finding_state_gets_the_word_meant(bot: RunningBot) -> None:
    states = "identified, accepted, rejected, in_progress, implemented, verifying, verified, not_realized"
    assert first_line_acked(bot, "anomalies opne") == ":warning: `opne` is neither a team nor `open`/`all`. " \
                                                     "Did you mean `open`?"
    assert first_line_acked(bot, "anomalies payments al") == ":warning: `al` is neither a team nor `open`/`all`. " \
                                                             "Did you mean `all`?"
    assert first_line_acked(bot, "findings payments inprogress") == (
        f":warning: `inprogress` is neither a team nor a finding state (states: {states}). Did you mean `in_progress`?")
    assert first_line_acked(bot, "findings Verfied") == (
        f":warning: `Verfied` is neither a team nor a finding state (states: {states}). Did you mean `verified`?")


def test_savings_reads_a_quarter_written_in_two_words_and_says_how_to_write_one(bot: RunningBot) -> None:
    assert first_line_answered(bot, "savings Q4 2026") == "No savings findings (2026Q4)."
    assert first_line_answered(bot, "savings payments 2026 q3") == "No savings findings (payments · 2026Q3)."
    how = "A quarter is written like `2026Q4` or `Q4 2026` (Q1 to Q4)."
    assert first_line_answered(bot, "savings Q5 2026") == f":warning: `Q5` is neither a team nor a quarter. {how}"
    assert first_line_answered(bot, "savings q4") == f":warning: `q4` is neither a team nor a quarter. {how}"



def test_why_about_a_team_named_without_team_equals_says_how_to_ask_about_it(bot: RunningBot) -> None:
    def answer(text: str) -> list[str]:
        url = bot.slack.response_url()
        assert bot.client.slash(text, response_url=url).elapsed < 3.0
        return wait_for(lambda: bot.slack.response_url_calls(url))[0]["text"].split("\n")

    payments = answer("why Payments last month")
    assert payments[0].startswith(":warning: I didn't understand 'Payments' in 'Payments last month'. Try: ")
    assert payments[1:] == ["To ask about team payments, write `team=payments`, e.g. `/cost why team=payments last month`."]
    assert answer("why serch")[1:] == [
        "To ask about team search, write `team=search`, e.g. `/cost why team=search last month`."]
    assert answer("why banana")[1:] == []  # no team near it: the parser's line alone


def test_why_reads_a_dash_the_slack_client_autocorrected_and_hints_in_channel_and_colon_filters(
        why_bot: RunningBot) -> None:  # noqa: F811  (the imported fixture)
    def answer(text: str) -> list[str]:
        url = why_bot.slack.response_url()
        assert why_bot.client.slash(text, response_url=url).elapsed < 3.0
        return wait_for(lambda: why_bot.slack.response_url_calls(url))[0]["text"].split("\n")

    billed = "Billed spend for team=payments rose $775.00 (+50.0 %) from July 2026 to August 2026"
    assert answer("why team=payments last month \u2014billed")[0].startswith(billed)  # em dash
    assert answer("why team=payments last month \u2013billed")[0].startswith(billed)  # en dash
    assert answer("why team=payments last month in channel")[1:] == [
        "To post the answer in this channel, write `in-channel` (one word)."]
    assert answer("why team:payments last month")[1:] == ["Filters take `=`: write `team=payments`."]


def test_teams_finds_a_team_by_its_channel_typed_or_as_slack_escapes_it(bot: RunningBot) -> None:
    assert first_line_answered(bot, "teams #team-payments") == "Team payments: $0.00 this month"
    assert first_line_answered(bot, "teams <#C0123|team-search>") == "Team search: $0.00 this month"
    assert first_line_answered(bot, "teams #nowhere") == ":warning: No team called `#nowhere` in teams.yml."


def test_finding_new_with_words_after_it_fills_them_in_as_the_title(bot: RunningBot) -> None:
    response = bot.client.slash("finding new Rightsize the payments RDS", user_id="U_PAY_OWNER")
    assert response.elapsed < 3.0 and response.json()["response_type"] == "ephemeral"
    form = wait_for(lambda: bot.slack.calls("views.open"))[-1]["view"]
    title = next(b for b in form["blocks"] if b.get("block_id") == "title")
    assert title["element"]["initial_value"] == "Rightsize the payments RDS"


def test_two_teams_states_or_quarters_are_refused_by_name_instead_of_the_last_one_winning(bot: RunningBot) -> None:
    assert first_line_acked(bot, "anomalies payments search") == \
        ":warning: One team at a time, not both `payments` and `search`."
    assert first_line_acked(bot, "anomalies open all") == \
        ":warning: One of `open`/`all` at a time, not both `open` and `all`."
    assert first_line_acked(bot, "findings Payments search") == \
        ":warning: One team at a time, not both `payments` and `search`."
    assert first_line_acked(bot, "findings verified identified") == \
        ":warning: One state at a time, not both `verified` and `identified`."
    assert first_line_answered(bot, "savings payments search") == \
        ":warning: One team at a time, not both `payments` and `search`."
    assert first_line_answered(bot, "savings 2026Q4 Q3 2026") == \
        ":warning: One quarter at a time, not both `2026Q4` and `2026Q3`."
    # the same value twice is no conflict
    assert first_line_acked(bot, "anomalies payments Payments") == "No open anomalies of payments."


def test_findings_reads_a_state_written_in_two_words_and_help_words_alone_show_the_list(bot: RunningBot) -> None:
    assert first_line_acked(bot, "findings in progress") == "No savings findings (in progress)."
    assert first_line_acked(bot, "findings payments Not Realized") == "No savings findings (payments not realized)."
    for text in ("?", "-h", "--help"):
        assert first_line_acked(bot, text) == "costbot commands:", text


def test_why_says_how_to_write_a_month_or_period_word_it_did_not_read(why_bot: RunningBot) -> None:  # noqa: F811
    def hint(text: str) -> list[str]:
        url = why_bot.slack.response_url()
        why_bot.client.slash(text, response_url=url)
        return wait_for(lambda: why_bot.slack.response_url_calls(url))[0]["text"].split("\n")[1:]

    assert hint("why team=payments 2026-8") == ["Write a month as `2026-08`."]
    assert hint("why 2026/08") == ["Write a month as `2026-08`."]
    assert hint("why 08/2026") == ["Write a month as `2026-08`."]
    assert hint("why last moth") == ["Did you mean `month`?"]
    assert hint("why last quater") == ["Did you mean `quarter`?"]
    assert hint("why 2026/13") == []


def test_forecast_and_budget_suggest_the_team_meant_and_echo_a_paste_cut_and_escaped(bot: RunningBot) -> None:
    # "No team called `paymnts` in teams.yml." gave no suggestion, "payments search" none either,
    # and a pasted paragraph or <!channel> came back whole and live.
    assert first_line_answered(bot, "forecast paymnts") == (
        ":warning: No team called `paymnts` in teams.yml. Did you mean `payments`?")
    assert first_line_answered(bot, "budget payments search") == (
        ":warning: No team called `payments search` in teams.yml. One team at a time: `/cost budget payments`.")
    assert first_line_answered(bot, "forecast <!channel>") == (
        ":warning: No team called `&lt;!channel&gt;` in teams.yml.")
    assert len(first_line_answered(bot, "forecast " + "x" * 4000)) < 200


def test_the_command_text_is_read_as_typed_not_as_slack_escaped_it(bot: RunningBot) -> None:
    # Slack sends "A & B" as "A &amp; B": the entity was read as the word typed (a service called
    # "A &amp; B" matches nothing) and echoed back as "&amp;amp;".
    assert first_line_acked(bot, "anomalies R&amp;D") == (
        ":warning: `R&amp;D` is neither a team nor `open`/`all`.")
