"""Unit values in through Slack (/cost unit record, for the team's people only) and through the
authenticated HTTP endpoint (JSON or CSV, all or nothing)."""

from __future__ import annotations

import dataclasses
import json
import urllib.error
import urllib.request
from datetime import UTC, date, datetime

import pytest

from bot.http_server import make_wsgi_app, start_http_server
from finops.teams import parse_teams
from finops.units import UnitValue
from handlers.units import UNITS_PATH, units_endpoint
from storage.audit import AuditLog
from storage.db import Database
from storage.units import UnitStore
from tests.handlers.test_commands import wait_for
from tests.harness import start_bot
from tests.jobs.digest_data import TEAMS_YAML

NOW = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)
TOKEN = "units-secret-token"
SERVER_TEAMS_PATH = "/srv/costbot/config/teams.yml"


@pytest.fixture
def bot(sqlite_db: Database, fake_slack):
    running = start_bot(sqlite_db, fake_slack, teams_yaml=TEAMS_YAML, now=lambda: NOW)
    running.slack.add_channel("#team-payments")  # a team channel Slack cannot find is an error
    try:
        yield running
    finally:
        running.stop()


def test_team_people_record_a_value_others_are_refused(bot) -> None:
    answer = bot.client.slash("unit record payments orders 2026-11 31000", user_id="U_PAY_DEV").json()
    assert answer["text"] == (":white_check_mark: Recorded 31,000 orders for payments, 2026-11-01 to 2026-11-30. "
                              "The weekly digest shows the cost per unit once the period's cost data is complete.")
    # U_SEARCH_OWNER is not listed for payments: whether they are in its channel is a Slack call,
    # made after the ack; the refusal follows through response_url.
    url = bot.slack.response_url()
    ack = bot.client.slash("unit record payments orders 2026-W46 7000", user_id="U_SEARCH_OWNER", response_url=url)
    assert ack.json() == {"text": "Recording orders for payments…", "response_type": "ephemeral"}
    (refused,) = wait_for(lambda: bot.slack.response_url_calls(url))
    assert refused["text"] == (":no_entry: Only payments's owners and members (or finance approvers) record its "
                               "unit metrics. Nothing was recorded.")
    assert refused["response_type"] == "ephemeral"
    assert UnitStore(bot.ctx.db).values() == [
        UnitValue("payments", "orders", date(2026, 11, 1), date(2026, 11, 30), 31000.0)]
    assert [a.actor for a in AuditLog(bot.ctx.db).history("unit_metric", "payments:orders")] == ["U_PAY_DEV"]


def test_recording_a_period_again_says_which_value_it_replaces(bot) -> None:
    bot.client.slash("unit record payments orders 2026-11 31000", user_id="U_PAY_DEV")
    # It said "Recorded 30,000 orders" as for a first value: the teammate's 31,000 went unseen.
    answer = bot.client.slash("unit record payments orders 2026-11 30000", user_id="U_PAY_OWNER").json()
    assert answer == {"response_type": "ephemeral", "text": (
        ":white_check_mark: Recorded 30,000 orders for payments, 2026-11-01 to 2026-11-30 (replacing 31,000). "
        "The weekly digest shows the cost per unit once the period's cost data is complete.")}
    answer = bot.client.slash("unit record payments orders 2026-11 30000.0", user_id="U_PAY_OWNER").json()
    assert answer["text"] == (":white_check_mark: 30,000 orders for payments, 2026-11-01 to 2026-11-30, was already "
                              "recorded: nothing changed.")
    # A week inside the month is another period: a new value, nothing replaced.
    answer = bot.client.slash("unit record payments orders 2026-W46 7000", user_id="U_PAY_OWNER").json()
    assert answer["text"].startswith(":white_check_mark: Recorded 7,000 orders for payments, 2026-11-09 to "
                                     "2026-11-15. The weekly")
    assert UnitStore(bot.ctx.db).values() == [
        UnitValue("payments", "orders", date(2026, 11, 1), date(2026, 11, 30), 30000.0),
        UnitValue("payments", "orders", date(2026, 11, 9), date(2026, 11, 15), 7000.0)]


def test_a_members_lookup_that_cannot_succeed_says_what_to_fix_and_records_nothing(bot) -> None:
    bot.slack.fail_next("conversations.members", error="channel_not_found")  # the bot was removed from it
    url = bot.slack.response_url()
    bot.client.slash("unit record payments orders 2026-W46 7000", user_id="U_SEARCH_OWNER", response_url=url)
    (answer,) = wait_for(lambda: bot.slack.response_url_calls(url))
    assert answer["text"] == (
        ":warning: costbot cannot read who is in the channel of *payments* (`channel_not_found`), so it cannot "
        "tell whether you are on the team. An admin can check that the app is in that channel and has its "
        "scopes; teams.yml can also list you as a member. Nothing was changed.")
    assert UnitStore(bot.ctx.db).values() == []


def test_mistakes_get_a_correction_with_examples(bot) -> None:
    cases = {
        "unit record payments orders 2026-11": ("takes a team, a metric, a period and a value: after "
                                                "`payments orders 2026-11`, the value is missing."),
        "unit record payments visits 2026-11 5": "team payments has no unit metric 'visits' (declared: orders)",
        "unit record payments orders November 5": "'November' is not a period",
        # "1,5" was recorded as 15.
        "unit record payments orders 2026-11 1,5": "'1,5' is not a plain number (use a dot for decimals and no "
                                                   "thousands separators).\nFor example:",
    }
    for text, message in cases.items():
        answer = bot.client.slash(text, user_id="U_PAY_OWNER").json()
        assert answer["response_type"] == "ephemeral"
        assert message in answer["text"], answer["text"]
        assert "`/cost unit record payments orders 2026-11 31000`" in answer["text"]
    assert UnitStore(bot.ctx.db).values() == []


def test_a_wrong_number_of_words_says_what_is_missing_or_which_words_are_extra(bot) -> None:
    # Each answer said only "got N words", leaving the user to count which one was wrong.
    takes = ":warning: `/cost unit record` takes a team, a metric, a period and a value"
    usage = ("\nFor example: `/cost unit record payments orders 2026-11 31000` · `/cost unit record web active_users "
             "2026-W45 1200`\nUsage: `/cost unit record TEAM METRIC PERIOD VALUE`")
    cases = {
        "unit record": f"{takes}.",
        "unit record payments": f"{takes}: after `payments`, the metric, the period and the value are missing.",
        "unit record payments orders": f"{takes}: after `payments orders`, the period and the value are missing.",
        # A thousands separator typed as a space: five words.
        "unit record payments orders 2026-11 31 000": (
            f"{takes}: `000` after the value `31` is not understood. A value is one number, with no spaces: 31000."),
        "unit record payments orders 2026-11 31000 orders please": (
            f"{takes}: `orders please` after the value `31000` is not understood."),
        # A period of two words: the period is the word to correct, not the count.
        "unit record payments orders November 2026 31000": (
            ":warning: 'November' is not a period: use a day (2026-11-03), an ISO week (2026-W45) or a month "
            "(2026-11)."),
    }
    for text, message in cases.items():
        answer = bot.client.slash(text, user_id="U_PAY_OWNER").json()
        assert answer == {"response_type": "ephemeral", "text": message + usage}, text
    assert UnitStore(bot.ctx.db).values() == []


def post(url: str, body: bytes, *, token: str | None = TOKEN, content_type: str = "application/json",
         method: str = "POST", scheme: str = "Bearer") -> tuple[int, dict]:
    headers = {"Content-Type": content_type}
    if token is not None:
        headers["Authorization"] = f"{scheme} {token}"
    request = urllib.request.Request(url, data=body if method == "POST" else None, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.fixture
def endpoint(bot):
    ctx = dataclasses.replace(bot.ctx, settings=dataclasses.replace(bot.ctx.settings, units_api_token=TOKEN),
                              teams=parse_teams(TEAMS_YAML, file=SERVER_TEAMS_PATH))
    server = start_http_server(make_wsgi_app(None, health=lambda: {"ok": True},
                                             routes={UNITS_PATH: units_endpoint(ctx)}), host="127.0.0.1", port=0)
    try:
        yield f"http://127.0.0.1:{server.server_port}{UNITS_PATH}", ctx
    finally:
        server.shutdown()
        server.server_close()


def test_endpoint_takes_json_and_csv_with_the_token(endpoint) -> None:
    url, ctx = endpoint
    one = json.dumps({"team": "payments", "metric": "orders", "period": "2026-W46", "value": 7000}).encode()
    assert post(url, one) == (200, {"recorded": 1, "changed": 1})
    # The scheme of the Authorization header is case-insensitive; the token is not.
    assert post(url, one, scheme="bearer") == (200, {"recorded": 1, "changed": 0})
    assert post(url, one, scheme="BEARER") == (200, {"recorded": 1, "changed": 0})
    assert post(url, one, token=TOKEN.upper())[0] == 401
    assert post(url, one, scheme="Basic")[0] == 401
    assert post(url, one) == (200, {"recorded": 1, "changed": 0})
    csv = b"team,metric,period,value\npayments,orders,2026-11-09,1000\npayments,orders,2026-11-10,1100\n"
    assert post(url, csv, content_type="text/csv") == (200, {"recorded": 2, "changed": 2})
    assert [(v.start, v.end, v.value) for v in UnitStore(ctx.db).values()] == [
        (date(2026, 11, 9), date(2026, 11, 9), 1000.0), (date(2026, 11, 9), date(2026, 11, 15), 7000.0),
        (date(2026, 11, 10), date(2026, 11, 10), 1100.0)]
    assert AuditLog(ctx.db).history("unit_metric", "payments:orders")[0].actor == "api"


def test_endpoint_refuses_bad_requests_and_writes_nothing(endpoint) -> None:
    url, ctx = endpoint
    good = {"team": "payments", "metric": "orders", "period": "2026-11", "value": 1}
    assert post(url, json.dumps(good).encode(), token=None)[0] == 401
    assert post(url, json.dumps(good).encode(), token="wrong")[0] == 401
    assert post(url, b"", method="GET")[0] == 405
    status, answer = post(url, json.dumps({"values": [good, {**good, "period": "2026-13"}]}).encode())
    assert (status, answer) == (400, {"error": "values[1]: '2026-13' is not a date in the calendar: use a day "
                                               "(2026-11-03), an ISO week (2026-W45) or a month (2026-11)",
                                      "index": 1})
    status, answer = post(url, json.dumps({"values": [{"team": "payments"}]}).encode())
    assert (status, answer["index"]) == (400, 0)
    status, answer = post(url, b"team,metric,period,value\npayments,orders,2026-11,1\nsearch,orders,2026-11,2\n",
                          content_type="text/csv")
    assert (status, answer["line"], answer["column"]) == (400, 3, "metric")
    assert "team search has no unit metric 'orders'" in answer["error"]
    # An unknown team is named with the teams file's name, never the server's path to it.
    status, answer = post(url, json.dumps({**good, "team": "nosuch"}).encode())
    assert (status, answer) == (400, {"error": "values[0]: no team 'nosuch' in teams.yml (teams: payments, search)",
                                      "index": 0})
    assert ctx.teams.file == SERVER_TEAMS_PATH
    assert post(url, b"{not json")[0] == 400
    assert UnitStore(ctx.db).values() == []


def test_endpoint_takes_a_list_and_answers_json_mistakes_in_json_terms(endpoint) -> None:
    url, ctx = endpoint
    good = {"team": "payments", "metric": "orders", "period": "2026-11", "value": 1}
    cases = {
        # "1,5" was stored as 15.
        json.dumps({**good, "value": "1,5"}): ("values[0]: '1,5' is not a plain number (use a dot for decimals "
                                               "and no thousands separators)", 0),
        json.dumps([good, {**good, "period": "2026-10", "value": True}]): ("values[1]: value true is not a number", 1),
        json.dumps({"values": [{**good, "value": None}]}): ("values[0]: value null is not a number", 0),
        json.dumps([{**good, "team": None}]): ('values[0]: "team" must be a string, not null', 0),
        json.dumps([{"team": "payments", "period": "2026-11"}]): ('values[0]: missing "metric", "value"', 0),
        json.dumps(["payments"]): ('values[0]: needs an object {"team", "metric", "period", "value"}, '
                                   'not "payments"', 0),
        json.dumps("hello"): ('the body must be a JSON object {"team", "metric", "period", "value"}, '
                              '{"values": [...]} or a list of such objects, not "hello"', None),
        json.dumps([]): ('no values: send at least one {"team", "metric", "period", "value"}', None),
        '{"team": "payments", "metric": "orders", "period": "2026-11", "value": NaN}': (
            "not JSON: NaN is not a JSON number", None),
        '[{"team": "payments", "metric": "orders", "period": "2026-11", "value": 1e400}]': (
            "the number 1e400 is too large", None),
    }
    for body, (error, index) in cases.items():
        expected = {"error": error} if index is None else {"error": error, "index": index}
        assert post(url, body.encode()) == (400, expected), body
    assert UnitStore(ctx.db).values() == []
    # The list docs/units.md promises (it was refused as 'values[0]: needs "team", "metric", "period" and "value"').
    assert post(url, json.dumps([good, {**good, "period": "2026-10", "value": "2.5e3"}]).encode()) == (
        200, {"recorded": 2, "changed": 2})
    assert [(v.start, v.value) for v in UnitStore(ctx.db).values()] == [
        (date(2026, 10, 1), 2500.0), (date(2026, 11, 1), 1.0)]


def test_endpoint_csv_errors_name_the_line(endpoint) -> None:
    url, ctx = endpoint
    cases = {
        b"team,metric,period,value\npayments,orders,2026-11,1,5\n": (
            "request, line 2: 5 fields where the header has 4", 2, None),
        b"team,metric,period,value\npayments,orders,2026-11,\"1,5\"\n": (
            "request, line 2, column 'value': '1,5' is not a plain number (use a dot for decimals and no "
            "thousands separators)", 2, "value"),
        b"team;metric;period;value\npayments;orders;2026-11;1\n": (
            "request, line 1: the header 'team;metric;period;value' is separated by semicolons: the file must "
            "be comma-separated (columns team, metric, period, value)", 1, None),
        # A header alone is refused as an empty JSON list is (it answered 200 {"recorded": 0}).
        b"team,metric,period,value\n": (
            "request, line 2: no values after the header: the file needs a line team,metric,period,value per "
            "value", 2, None),
    }
    for body, (error, line, column) in cases.items():
        expected = {"error": error, "line": line, **({"column": column} if column else {})}
        assert post(url, body, content_type="text/csv") == (400, expected), body
    assert UnitStore(ctx.db).values() == []


def test_endpoint_reads_csv_by_its_media_type_in_any_case_and_says_which_content_type_was_sent(endpoint) -> None:
    url, ctx = endpoint
    csv = b"team,metric,period,value\npayments,orders,2026-11,31000\npayments,orders,2026-10,30000\n"
    # Media types are case-insensitive: both were read as JSON, 'not JSON: Expecting value: line 1 column 1 (char 0)'.
    assert post(url, csv, content_type="Text/CSV; charset=utf-8") == (200, {"recorded": 2, "changed": 2})
    assert post(url, csv, content_type="application/csv") == (200, {"recorded": 2, "changed": 0})
    # curl -d sends application/x-www-form-urlencoded: the answer says what was sent and what to send.
    assert post(url, csv, content_type="application/x-www-form-urlencoded") == (400, {
        "error": "not JSON: Expecting value: line 1 column 1 (char 0); the request has Content-Type "
                 "application/x-www-form-urlencoded: send JSON with Content-Type: application/json, or a CSV with "
                 "Content-Type: text/csv"})
    assert post(url, b"{not json") == (400, {
        "error": "not JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"})
    # JSON sent as text/plain is still read.
    value = {"team": "payments", "metric": "orders", "period": "2026-09", "value": 29000}
    assert post(url, json.dumps(value).encode(), content_type="text/plain") == (200, {"recorded": 1, "changed": 1})
    assert [(v.start, v.value) for v in UnitStore(ctx.db).values()] == [
        (date(2026, 9, 1), 29000.0), (date(2026, 10, 1), 30000.0), (date(2026, 11, 1), 31000.0)]


def test_endpoint_is_off_without_a_token(bot) -> None:
    server = start_http_server(make_wsgi_app(None, health=lambda: {"ok": True},
                                             routes={UNITS_PATH: units_endpoint(bot.ctx)}), host="127.0.0.1", port=0)
    try:
        status, answer = post(f"http://127.0.0.1:{server.server_port}{UNITS_PATH}", b"{}")
        assert status == 404 and "COSTBOT_UNITS_TOKEN" in answer["error"]
    finally:
        server.shutdown()
        server.server_close()


def test_a_week_past_the_calendars_end_is_a_400_and_a_correction_not_a_crash(bot, endpoint) -> None:
    # 9999-W52 ends in the year 10000: computing its Sunday overflowed, a 500 with no body for
    # the endpoint and no answer in Slack.
    url, ctx = endpoint
    value = {"team": "payments", "metric": "orders", "period": "9999-W52", "value": 1}
    assert post(url, json.dumps(value).encode()) == (400, {
        "error": "values[0]: '9999-W52' is not a date in the calendar: use a day (2026-11-03), an ISO week "
                 "(2026-W45) or a month (2026-11)", "index": 0})
    answer = bot.client.slash("unit record payments orders 9999-W52 5", user_id="U_PAY_OWNER").json()
    assert answer["response_type"] == "ephemeral"
    assert "'9999-W52' is not a date in the calendar" in answer["text"]
    assert UnitStore(ctx.db).values() == []
