"""The fake Slack server, driven by the real slack_sdk WebClient."""

from __future__ import annotations

import json
import re
import threading
import time
from urllib.error import HTTPError

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import RateLimitErrorRetryHandler
from slack_sdk.webhook import WebhookClient

from tests.slack.fake_slack import BLOCK_KIT_LIMITS, FakeSlack
from tests.slack.fixtures import assert_no_violations


@pytest.fixture
def web(fake_slack: FakeSlack) -> WebClient:
    # No automatic retries: each test decides what a retry means.
    return WebClient(token="xoxb-test", base_url=fake_slack.base_url, retry_handlers=[])


def section(text: str, **extra: object) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}, **extra}


def button(text: str = "Go", action_id: str = "go", **extra: object) -> dict:
    return {"type": "button", "text": {"type": "plain_text", "text": text}, "action_id": action_id, **extra}


def option(text: str, value: str = "v") -> dict:
    return {"text": {"type": "plain_text", "text": text}, "value": value}


def plain(text: str) -> dict:
    return {"type": "plain_text", "text": text}


def refusal(call) -> dict:
    with pytest.raises(SlackApiError) as raised:
        call()
    return raised.value.response.data


# -- server basics ---------------------------------------------------------------------------------


def test_starts_fast_on_its_own_random_localhost_port():
    started = time.perf_counter()
    with FakeSlack() as first, FakeSlack() as second:
        startup = time.perf_counter() - started
        assert first.base_url.startswith("http://127.0.0.1:")
        assert first.base_url.endswith("/api/")
        assert first.base_url != second.base_url
        answer = WebClient(token="xoxb-test", base_url=first.base_url).auth_test()
        assert answer["user_id"] == "UBOT"
        assert answer["team_id"] == "T1"
    assert startup < 0.2


def test_every_call_is_recorded_in_order_without_the_token(fake_slack, web):
    channel = fake_slack.add_channel("#general")
    web.auth_test()
    web.chat_postMessage(channel=channel, text="hello")
    assert fake_slack.all_calls() == [
        ("auth.test", {}),
        ("chat.postMessage", {"channel": channel, "text": "hello"}),
    ]
    assert fake_slack.last("chat.postMessage") == {"channel": channel, "text": "hello"}
    assert fake_slack.calls("auth.test") == [{}]
    fake_slack.reset()
    assert fake_slack.all_calls() == []
    assert fake_slack.messages(channel)[0]["text"] == "hello"  # reset keeps the workspace


def test_last_names_the_calls_that_were_made_when_the_method_was_not_called(fake_slack, web):
    web.auth_test()
    with pytest.raises(AssertionError, match=r"no chat.update call was made; calls made: \['auth.test'\]"):
        fake_slack.last("chat.update")


def test_form_encoded_blocks_are_recorded_decoded(fake_slack, web):
    channel = fake_slack.add_channel("#general")
    blocks = [section("*Spend* up 12%")]
    web.api_call("chat.postMessage", params={"channel": channel, "blocks": json.dumps(blocks)})
    assert fake_slack.last("chat.postMessage")["blocks"] == blocks
    assert fake_slack.messages(channel)[0]["blocks"] == blocks


def test_blocks_that_are_not_json_are_refused(fake_slack, web):
    channel = fake_slack.add_channel("#general")
    answer = refusal(
        lambda: web.api_call("chat.postMessage", params={"channel": channel, "blocks": "[{oops"})
    )
    assert answer["error"] == "invalid_blocks_format"
    assert fake_slack.violations[0].startswith("chat.postMessage: blocks is not valid JSON")
    fake_slack.violations.clear()


def test_thread_safe_under_concurrent_posts(fake_slack):
    channel = fake_slack.add_channel("#busy")
    client = WebClient(token="xoxb-test", base_url=fake_slack.base_url, retry_handlers=[])
    errors: list[Exception] = []

    def post_ten(worker: int) -> None:
        try:
            for i in range(10):
                client.chat_postMessage(channel=channel, text=f"{worker}-{i}")
        except Exception as error:  # noqa: BLE001 (reported below, with the worker's failure)
            errors.append(error)

    threads = [threading.Thread(target=post_ten, args=(w,)) for w in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    stored = fake_slack.messages(channel)
    assert len(stored) == 200
    assert len(fake_slack.calls("chat.postMessage")) == 200
    assert sorted(m["text"] for m in stored) == sorted(f"{w}-{i}" for w in range(20) for i in range(10))
    timestamps = [m["ts"] for m in stored]
    assert len(set(timestamps)) == 200
    assert timestamps == sorted(timestamps, key=lambda ts: tuple(int(p) for p in ts.split(".")))


# -- method spec checks ----------------------------------------------------------------------------


def test_unknown_method_is_refused_and_recorded_as_a_violation(fake_slack, web):
    answer = refusal(lambda: web.api_call("chat.postMesage", json={"channel": "C1", "text": "x"}))
    assert answer == {"ok": False, "error": "unknown_method"}
    assert fake_slack.violations == ["chat.postMesage: no such Slack Web API method"]
    fake_slack.violations.clear()


def test_missing_required_argument_is_refused_and_recorded(fake_slack, web):
    channel = fake_slack.add_channel("#general")
    answer = refusal(lambda: web.api_call("chat.update", json={"channel": channel, "text": "new"}))
    assert answer["error"] == "invalid_arguments"
    assert answer["response_metadata"]["messages"] == ["[ERROR] missing required field: ts"]
    assert fake_slack.violations == ["chat.update: missing required ts"]
    fake_slack.violations.clear()


def test_missing_token_is_not_authed(fake_slack):
    answer = refusal(lambda: WebClient(base_url=fake_slack.base_url).auth_test())
    assert answer["error"] == "not_authed"
    assert len(fake_slack.violations) == 1
    fake_slack.violations.clear()


def test_a_fixed_token_refuses_any_other():
    with FakeSlack(token="xoxb-right") as fake:
        assert WebClient(token="xoxb-right", base_url=fake.base_url).auth_test()["ok"] is True
        answer = refusal(lambda: WebClient(token="xoxb-wrong", base_url=fake.base_url).auth_test())
        assert answer["error"] == "invalid_auth"
        assert len(fake.violations) == 1


def test_a_trigger_id_expires_three_seconds_after_it_was_issued(fake_slack, web):
    modal = {"type": "modal", "title": plain("New finding"), "blocks": []}
    now_ms = time.time_ns() // 1_000_000
    assert web.views_open(trigger_id=f"{now_ms - 2500}.1.ab", view=modal)["ok"]
    answer = refusal(lambda: web.views_open(trigger_id=f"{now_ms - 3200}.2.ab", view=modal))
    assert answer["error"] == "expired_trigger_id"
    assert refusal(lambda: web.views_push(trigger_id=f"{now_ms - 3200}.3.ab", view=modal))["error"] == "expired_trigger_id"
    assert web.views_open(trigger_id="t1", view=modal)["ok"]  # not a SignedClient trigger_id: not timed
    # An expired trigger is the app's mistake (it waited too long): counted as a violation.
    assert len(fake_slack.violations) == 2
    assert all(re.fullmatch(r"views\.open/push: trigger_id used 3\.\d s after it was issued", v)
               for v in fake_slack.violations), fake_slack.violations
    fake_slack.violations.clear()


def test_views_open_needs_a_trigger_id(fake_slack, web):
    modal = {"type": "modal", "title": plain("New finding"), "blocks": []}
    answer = refusal(lambda: web.api_call("views.open", json={"view": modal}))
    assert answer["error"] == "invalid_arguments"
    assert fake_slack.violations == ["views.open: missing required trigger_id"]
    fake_slack.violations.clear()


def test_metadata_without_event_payload_is_refused(fake_slack, web):
    channel = fake_slack.add_channel("#general")
    answer = refusal(
        lambda: web.chat_postMessage(channel=channel, text="x", metadata={"event_type": "costbot"})
    )
    assert answer["error"] == "invalid_metadata_format"
    assert fake_slack.messages(channel) == []
    fake_slack.violations.clear()


# -- Block Kit limits ------------------------------------------------------------------------------

OVER_THE_LIMIT = {
    "51 blocks": (
        [section(f"line {i}") for i in range(51)],
        "blocks: 51 items, over the message.blocks limit of 50",
    ),
    "section text": (
        [section("x" * 3001)],
        "blocks[0].text.text: 3001 characters, over the section.text limit",
    ),
    "11 fields": (
        [{"type": "section", "fields": [plain("f")] * 11}],
        "blocks[0].fields: 11 items, over the section.fields limit of 10",
    ),
    "field text": (
        [{"type": "section", "fields": [plain("f"), plain("y" * 2001)]}],
        "blocks[0].fields[1].text: 2001 characters, over the section.field limit of 2000",
    ),
    "header": (
        [{"type": "header", "text": plain("h" * 151)}],
        "blocks[0].text.text: 151 characters, over the header.text",
    ),
    "button text": (
        [section("s"), {"type": "actions", "elements": [button("b" * 76)]}],
        "blocks[1].elements[0].text.text: 76 characters, over the button.text limit of 75",
    ),
    "button value": (
        [{"type": "actions", "elements": [button(value="v" * 2001)]}],
        "blocks[0].elements[0].value: 2001 characters, over the button.value limit of 2000",
    ),
    "button url": (
        [section("s", accessory=button(url="https://x/" + "u" * 2991))],
        "blocks[0].accessory.url: 3001 characters, over the button.url limit of 3000",
    ),
    "action_id": (
        [section("s", accessory=button(action_id="a" * 256))],
        "blocks[0].accessory.action_id: 256 characters, over the action_id limit of 255",
    ),
    "block_id": (
        [section("s", block_id="b" * 256)],
        "blocks[0].block_id: 256 characters, over the block_id limit",
    ),
    "context elements": (
        [{"type": "context", "elements": [plain("c")] * 11}],
        "blocks[0].elements: 11 items, over the context.elements limit of 10",
    ),
    "actions elements": (
        [{"type": "actions", "elements": [button(action_id=f"a{i}") for i in range(26)]}],
        "blocks[0].elements: 26 items, over the actions.elements limit of 25",
    ),
    "select options": (
        [
            section(
                "s",
                accessory={
                    "type": "static_select",
                    "action_id": "team",
                    "options": [option(f"team {i}", f"t{i}") for i in range(101)],
                },
            )
        ],
        "blocks[0].accessory.options: 101 items, over the select.options limit of 100",
    ),
    "option text": (
        [section("s", accessory={"type": "static_select", "action_id": "t", "options": [option("o" * 76)]})],
        "blocks[0].accessory.options[0].text.text: 76 characters, over the option.text limit of 75",
    ),
    "duplicate block_id": (
        [section("a", block_id="same"), section("b", block_id="same")],
        "blocks[1].block_id: duplicate block_id 'same'",
    ),
    "duplicate action_id": (
        [{"type": "actions", "elements": [button(action_id="ack"), button(action_id="ack")]}],
        "blocks[0].elements[1].action_id: duplicate action_id 'ack' in one block",
    ),
    "empty section text": ([section("")], "blocks[0].text.text: must be a non-empty string"),
    "unknown block type": ([{"type": "sektion"}], "blocks[0]: unknown block type 'sektion'"),
}


@pytest.mark.parametrize("blocks, expected", OVER_THE_LIMIT.values(), ids=OVER_THE_LIMIT.keys())
def test_block_kit_limit_is_refused_and_recorded_with_where_and_which_rule(fake_slack, web, blocks, expected):
    channel = fake_slack.add_channel("#general")
    answer = refusal(lambda: web.chat_postMessage(channel=channel, text="fallback", blocks=blocks))
    assert answer["error"] == "invalid_blocks"
    assert len(fake_slack.violations) == 1
    assert fake_slack.violations[0].startswith("chat.postMessage: ")
    assert expected in fake_slack.violations[0]
    assert fake_slack.messages(channel) == []
    fake_slack.violations.clear()


def test_a_message_exactly_at_every_limit_is_accepted(fake_slack, web):
    channel = fake_slack.add_channel("#general")
    at_limits = [
        {"type": "header", "text": plain("h" * 150)},
        section(
            "s" * 3000, block_id="b" * 255, accessory=button("b" * 75, action_id="a" * 255, value="v" * 2000)
        ),
        {"type": "section", "fields": [plain("f" * 2000)] * 10},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "c" * 3000}] * 10},
        {"type": "actions", "elements": [button(action_id=f"a{i}") for i in range(25)]},
        section(
            "pick", accessory={"type": "static_select", "action_id": "t", "options": [option("o" * 75)] * 100}
        ),
    ]
    blocks = at_limits + [section(f"filler {i}") for i in range(50 - len(at_limits))]
    answer = web.chat_postMessage(channel=channel, text="t" * 40_000, blocks=blocks)
    assert answer["ok"] is True
    assert fake_slack.messages(channel)[0]["blocks"] == blocks


def test_over_long_message_text_is_msg_too_long(fake_slack, web):
    channel = fake_slack.add_channel("#general")
    answer = refusal(lambda: web.chat_postMessage(channel=channel, text="t" * 40_001))
    assert answer["error"] == "msg_too_long"
    assert "text: 40001 characters, over the message.text limit of 40000" in fake_slack.violations[0]
    fake_slack.violations.clear()


def test_chat_update_and_ephemeral_are_checked_too(fake_slack, web):
    channel = fake_slack.add_channel("#general")
    ts = web.chat_postMessage(channel=channel, text="ok")["ts"]
    too_many = [section(str(i)) for i in range(51)]
    assert (
        refusal(lambda: web.chat_update(channel=channel, ts=ts, text="x", blocks=too_many))["error"]
        == "invalid_blocks"
    )
    ephemeral = refusal(lambda: web.chat_postEphemeral(channel=channel, user="U1", text="x", blocks=too_many))
    assert ephemeral["error"] == "invalid_blocks"
    assert [v.split(":")[0] for v in fake_slack.violations] == ["chat.update", "chat.postEphemeral"]
    assert fake_slack.messages(channel)[0]["text"] == "ok"
    fake_slack.violations.clear()


def test_limits_table_has_the_documented_core_values():
    assert BLOCK_KIT_LIMITS["message.blocks"] == 50
    assert BLOCK_KIT_LIMITS["view.blocks"] == 100
    assert BLOCK_KIT_LIMITS["section.text"] == 3000
    assert BLOCK_KIT_LIMITS["section.fields"] == 10
    assert BLOCK_KIT_LIMITS["section.field"] == 2000
    assert BLOCK_KIT_LIMITS["header.text"] == 150
    assert BLOCK_KIT_LIMITS["button.text"] == 75
    assert BLOCK_KIT_LIMITS["action_id"] == 255


# -- views -----------------------------------------------------------------------------------------


def modal(**extra: object) -> dict:
    return {
        "type": "modal",
        "callback_id": "finding_new",
        "title": plain("New finding"),
        "blocks": [],
        **extra,
    }


def test_modal_takes_100_blocks_not_101(fake_slack, web):
    opened = web.views_open(trigger_id="t1", view=modal(blocks=[section(str(i)) for i in range(100)]))
    assert len(fake_slack.view(opened["view"]["id"])["blocks"]) == 100
    too_many = modal(blocks=[section(str(i)) for i in range(101)])
    assert refusal(lambda: web.views_open(trigger_id="t2", view=too_many))["error"] == "invalid_blocks"
    assert "view.blocks: 101 items, over the view.blocks limit of 100" in fake_slack.violations[0]
    fake_slack.violations.clear()


VIEW_PROBLEMS = {
    "title": (
        modal(title=plain("t" * 25)),
        "view.title.text: 25 characters, over the modal.title limit of 24",
    ),
    "submit": (
        modal(submit=plain("s" * 25)),
        "view.submit.text: 25 characters, over the modal.submit limit of 24",
    ),
    "private_metadata": (modal(private_metadata="m" * 3001), "over the view.private_metadata limit of 3000"),
    "callback_id": (modal(callback_id="c" * 256), "over the view.callback_id limit of 255"),
    "input label": (
        modal(
            submit=plain("Save"),
            blocks=[{"type": "input", "label": plain("l" * 2001), "element": {"type": "plain_text_input"}}],
        ),
        "view.blocks[0].label.text: 2001 characters, over the input.label limit of 2000",
    ),
    "max_length": (
        modal(
            submit=plain("Save"),
            blocks=[
                {
                    "type": "input",
                    "label": plain("Why"),
                    "element": {"type": "plain_text_input", "action_id": "why", "max_length": 3001},
                }
            ],
        ),
        "view.blocks[0].element.max_length: is 3001, over the plain_text_input.max_length limit of 3000",
    ),
    "input without submit": (
        modal(blocks=[{"type": "input", "label": plain("Why"), "element": {"type": "plain_text_input"}}]),
        "view.submit: a modal with input blocks needs a submit button",
    ),
}


@pytest.mark.parametrize("view, expected", VIEW_PROBLEMS.values(), ids=VIEW_PROBLEMS.keys())
def test_view_limits_are_refused_and_recorded(fake_slack, web, view, expected):
    assert refusal(lambda: web.views_open(trigger_id="t1", view=view))["error"] == "invalid_blocks"
    assert len(fake_slack.violations) == 1
    assert expected in fake_slack.violations[0]
    fake_slack.violations.clear()


def test_views_update_replaces_the_view_and_checks_the_hash(fake_slack, web):
    opened = web.views_open(trigger_id="t1", view=modal(private_metadata="finding:7"))["view"]
    updated = web.views_update(
        view_id=opened["id"], hash=opened["hash"], view=modal(blocks=[section("saved")])
    )
    assert updated["view"]["id"] == opened["id"]
    assert fake_slack.view(opened["id"])["blocks"] == [section("saved")]
    stale = refusal(lambda: web.views_update(view_id=opened["id"], hash=opened["hash"], view=modal()))
    assert stale["error"] == "hash_conflict"
    assert refusal(lambda: web.views_update(view_id="V404", view=modal()))["error"] == "not_found"


def test_views_publish_keeps_one_home_tab_per_user(fake_slack, web):
    assert fake_slack.home_view("U1") is None
    first = web.views_publish(user_id="U1", view={"type": "home", "blocks": [section("week 1")]})["view"]
    second = web.views_publish(user_id="U1", view={"type": "home", "blocks": [section("week 2")]})["view"]
    web.views_publish(user_id="U2", view={"type": "home", "blocks": [section("other team")]})
    assert second["id"] == first["id"]
    assert fake_slack.home_view("U1")["blocks"] == [section("week 2")]
    assert fake_slack.home_view("U2")["blocks"] == [section("other team")]
    wrong_type = refusal(lambda: web.views_publish(user_id="U1", view=modal()))
    assert wrong_type["error"] == "invalid_arguments"
    fake_slack.violations.clear()


# -- channels, messages, history -------------------------------------------------------------------


def test_post_to_a_channel_name_answers_with_its_id_and_history_needs_that_id(fake_slack, web):
    posted = web.chat_postMessage(
        channel="#team-payments",
        text="EC2 spend is up",
        metadata={"event_type": "costbot_message", "event_payload": {"key": "anomaly:42"}},
    )
    channel_id = posted["channel"]
    assert channel_id == fake_slack.channel_id("#team-payments")
    assert channel_id.startswith("C")

    plain_history = web.conversations_history(channel=channel_id)
    assert [m["text"] for m in plain_history["messages"]] == ["EC2 spend is up"]
    assert "metadata" not in plain_history["messages"][0]

    with_metadata = web.conversations_history(channel=channel_id, include_all_metadata=True)
    assert with_metadata["messages"][0]["metadata"] == {
        "event_type": "costbot_message",
        "event_payload": {"key": "anomaly:42"},
    }
    assert with_metadata["messages"][0]["ts"] == posted["ts"]

    by_name = refusal(lambda: web.conversations_history(channel="#team-payments"))
    assert by_name["error"] == "channel_not_found"
    assert fake_slack.violations == [
        "conversations.history: `channel` must be a channel ID, got the name '#team-payments'"
    ]
    fake_slack.violations.clear()


def test_unknown_channel_names_are_refused_when_creation_is_off():
    with FakeSlack(create_channels_on_post=False) as fake:
        client = WebClient(token="xoxb-test", base_url=fake.base_url)
        answer = refusal(lambda: client.chat_postMessage(channel="#nowhere", text="x"))
        assert answer["error"] == "channel_not_found"
        assert fake.violations == []  # the workspace decides this, not a broken call


def test_history_pages_newest_first_with_limit_and_cursor(fake_slack, web):
    channel = fake_slack.add_channel("#general")
    sent = [web.chat_postMessage(channel=channel, text=f"m{i}")["ts"] for i in range(5)]
    first = web.conversations_history(channel=channel, limit=2)
    assert [m["text"] for m in first["messages"]] == ["m4", "m3"]
    assert first["has_more"] is True
    second = web.conversations_history(
        channel=channel, limit=2, cursor=first["response_metadata"]["next_cursor"]
    )
    assert [m["text"] for m in second["messages"]] == ["m2", "m1"]
    third = web.conversations_history(
        channel=channel, limit=2, cursor=second["response_metadata"]["next_cursor"]
    )
    assert [m["text"] for m in third["messages"]] == ["m0"]
    assert third["has_more"] is False
    assert third["response_metadata"]["next_cursor"] == ""

    window = web.conversations_history(channel=channel, oldest=sent[1], latest=sent[4])
    assert [m["text"] for m in window["messages"]] == ["m3", "m2"]  # both bounds exclusive
    inclusive = web.conversations_history(channel=channel, oldest=sent[1], latest=sent[4], inclusive=True)
    assert [m["text"] for m in inclusive["messages"]] == ["m4", "m3", "m2", "m1"]
    assert (
        refusal(lambda: web.conversations_history(channel=channel, cursor="not-a-cursor"))["error"]
        == "invalid_cursor"
    )


def test_thread_replies_stay_out_of_history_and_come_back_from_replies(fake_slack, web):
    channel = fake_slack.add_channel("#general")
    parent = web.chat_postMessage(channel=channel, text="anomaly")["ts"]
    web.chat_postMessage(channel=channel, text="acknowledged by U1", thread_ts=parent)
    web.chat_postMessage(channel=channel, text="next")
    history = web.conversations_history(channel=channel)["messages"]
    assert [m["text"] for m in history] == ["next", "anomaly"]
    assert history[1]["reply_count"] == 1
    replies = web.conversations_replies(channel=channel, ts=parent)["messages"]
    assert [m["text"] for m in replies] == ["anomaly", "acknowledged by U1"]
    assert (
        refusal(lambda: web.conversations_replies(channel=channel, ts="1.000001"))["error"]
        == "thread_not_found"
    )


def test_chat_update_edits_in_place(fake_slack, web):
    channel = fake_slack.add_channel("#team-payments")
    posted = web.chat_postMessage(
        channel=channel,
        text="open",
        blocks=[section("open")],
        metadata={"event_type": "costbot_message", "event_payload": {"key": "anomaly:1"}},
    )
    web.chat_update(channel=channel, ts=posted["ts"], text="acknowledged", blocks=[section("acknowledged")])
    stored = fake_slack.messages(channel)
    assert len(stored) == 1
    assert stored[0]["ts"] == posted["ts"]
    assert stored[0]["text"] == "acknowledged"
    assert stored[0]["blocks"] == [section("acknowledged")]
    assert stored[0]["metadata"]["event_payload"] == {"key": "anomaly:1"}  # left out, so kept
    assert (
        refusal(lambda: web.chat_update(channel=channel, ts="1.000001", text="x"))["error"]
        == "message_not_found"
    )
    by_name = refusal(lambda: web.chat_update(channel="#team-payments", ts=posted["ts"], text="x"))
    assert by_name["error"] == "channel_not_found"
    fake_slack.violations.clear()


def test_chat_delete_removes_the_message(fake_slack, web):
    channel = fake_slack.add_channel("#general")
    ts = web.chat_postMessage(channel=channel, text="bye")["ts"]
    web.chat_delete(channel=channel, ts=ts)
    assert fake_slack.messages(channel) == []


def test_post_to_a_user_id_lands_in_the_bots_dm_with_them(fake_slack, web):
    fake_slack.add_user("U7", name="dana")
    posted = web.chat_postMessage(channel="U7", text="Finding 12 is past due")
    assert posted["channel"] == fake_slack.dm_channel("U7")
    assert posted["channel"].startswith("D")
    assert fake_slack.messages(posted["channel"])[0]["text"] == "Finding 12 is past due"
    assert refusal(lambda: web.chat_postMessage(channel="U404", text="x"))["error"] == "channel_not_found"


def test_ephemeral_and_permalink(fake_slack, web):
    channel = fake_slack.add_channel("#general")
    answer = web.chat_postEphemeral(channel=channel, user="U1", text="only you")
    assert fake_slack.ephemerals("U1") == [
        {"channel": channel, "user": "U1", "ts": answer["message_ts"], "text": "only you"}
    ]
    assert fake_slack.ephemerals("U2") == []
    assert fake_slack.messages(channel) == []
    ts = web.chat_postMessage(channel=channel, text="linked")["ts"]
    link = web.chat_getPermalink(channel=channel, message_ts=ts)["permalink"]
    assert link.endswith(f"/archives/{channel}/p{ts.replace('.', '')}")


def test_users_members_and_usergroups(fake_slack, web):
    fake_slack.add_user("U1", name="ana", email="Ana@example.com", real_name="Ana Silva")
    channel = fake_slack.add_channel("#team-data", members=("U1", "U2", "U3"))
    fake_slack.add_usergroup("S1", ["U1", "U3"])
    assert web.users_info(user="U1")["user"]["profile"]["email"] == "Ana@example.com"
    assert web.users_lookupByEmail(email="ana@example.com")["user"]["id"] == "U1"
    assert refusal(lambda: web.users_info(user="U404"))["error"] == "user_not_found"
    assert refusal(lambda: web.users_lookupByEmail(email="no@example.com"))["error"] == "users_not_found"
    page = web.conversations_members(channel=channel, limit=2)
    assert page["members"] == ["U1", "U2"]
    rest = web.conversations_members(
        channel=channel, limit=2, cursor=page["response_metadata"]["next_cursor"]
    )
    assert rest["members"] == ["U3"]
    assert rest["response_metadata"]["next_cursor"] == ""
    assert web.usergroups_users_list(usergroup="S1")["users"] == ["U1", "U3"]
    assert refusal(lambda: web.usergroups_users_list(usergroup="S404"))["error"] == "no_such_subteam"


def test_conversations_info_and_join(fake_slack, web):
    channel = fake_slack.add_channel("#finops")
    assert web.conversations_info(channel=channel)["channel"]["is_member"] is False
    assert web.conversations_join(channel=channel)["channel"]["is_member"] is True
    info = web.conversations_info(channel=channel)["channel"]
    assert (info["name"], info["is_member"], info["num_members"]) == ("finops", True, 1)


# -- files_upload_v2 -------------------------------------------------------------------------------


def test_files_upload_v2_stores_the_bytes_and_shares_them_in_the_thread(fake_slack, web):
    channel = fake_slack.add_channel("#team-payments")
    parent = web.chat_postMessage(channel=channel, text="Weekly digest")["ts"]
    chart = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40
    answer = web.files_upload_v2(
        channel=channel,
        thread_ts=parent,
        content=chart,
        filename="spend.png",
        title="Spend by week",
        initial_comment="This week's spend",
    )
    (uploaded,) = fake_slack.files(channel)
    assert uploaded.content == chart
    assert (uploaded.filename, uploaded.title, uploaded.channel, uploaded.thread_ts) == (
        "spend.png",
        "Spend by week",
        channel,
        parent,
    )
    assert uploaded.initial_comment == "This week's spend"
    assert answer["file"]["id"] == uploaded.id
    share = fake_slack.messages(channel)[-1]
    assert (share["text"], share["thread_ts"], share["files"][0]["id"]) == (
        "This week's spend",
        parent,
        uploaded.id,
    )
    assert [name for name, _ in fake_slack.all_calls()] == [
        "chat.postMessage",
        "files.getUploadURLExternal",
        "files.completeUploadExternal",
    ]
    assert fake_slack.last("files.getUploadURLExternal")["length"] == str(len(chart))


def test_completing_an_upload_that_never_sent_bytes_is_file_not_found(fake_slack, web):
    channel = fake_slack.add_channel("#general")
    pending = web.files_getUploadURLExternal(filename="a.png", length=3)
    answer = refusal(
        lambda: web.files_completeUploadExternal(files=[{"id": pending["file_id"]}], channel_id=channel)
    )
    assert answer["error"] == "file_not_found"
    assert fake_slack.files() == []


# -- response_url ----------------------------------------------------------------------------------


def test_response_url_posts_are_recorded_and_checked(fake_slack):
    url = fake_slack.response_url("slash-1")
    assert url == f"{fake_slack.url}/response/slash-1"
    answer = WebhookClient(url).send(text="Usage: /cost why [scope] [period]", response_type="ephemeral")
    assert answer.status_code == 200
    body = {"text": "Usage: /cost why [scope] [period]", "response_type": "ephemeral"}
    assert fake_slack.calls("response_url") == [body]
    assert fake_slack.response_url_calls(url) == [body]
    assert fake_slack.response_url_calls("slash-1") == [body]

    too_long = WebhookClient(url).send(text="t", blocks=[section("x" * 3001)])
    assert too_long.status_code == 400
    assert json.loads(too_long.body)["error"] == "invalid_blocks"
    assert fake_slack.violations == [
        "response_url slash-1: blocks[0].text.text: 3001 characters, over the section.text limit of 3000"
    ]
    fake_slack.violations.clear()


def test_response_url_bound_to_a_message_replaces_or_deletes_it(fake_slack, web):
    channel = fake_slack.add_channel("#team-payments")
    ts = web.chat_postMessage(channel=channel, text="open", blocks=[section("open")])["ts"]
    url = fake_slack.response_url(channel=channel, message_ts=ts)
    WebhookClient(url).send(text="acknowledged", blocks=[section("acknowledged")], replace_original=True)
    assert fake_slack.message(channel, ts)["blocks"] == [section("acknowledged")]
    WebhookClient(url).send(text="", delete_original=True)
    assert fake_slack.messages(channel) == []


def test_response_url_in_channel_posts_a_new_message(fake_slack):
    channel = fake_slack.add_channel("#general")
    WebhookClient(fake_slack.response_url(channel=channel)).send(
        text="for everyone", response_type="in_channel"
    )
    assert [m["text"] for m in fake_slack.messages(channel)] == ["for everyone"]


def test_response_url_allows_five_uses(fake_slack):
    url = fake_slack.response_url()
    statuses = [WebhookClient(url).send(text=f"answer {i}").status_code for i in range(6)]
    assert statuses == [200, 200, 200, 200, 200, 404]
    assert fake_slack.violations == [f"response_url {url.rsplit('/', 1)[1]}: used 6 times, Slack allows 5"]
    fake_slack.violations.clear()


# -- failure injection -----------------------------------------------------------------------------


def test_429_answers_with_retry_after_and_the_next_call_succeeds(fake_slack, web):
    channel = fake_slack.add_channel("#general")
    fake_slack.fail_next("chat.postMessage", retry_after=7)
    with pytest.raises(SlackApiError) as raised:
        web.chat_postMessage(channel=channel, text="digest")
    assert raised.value.response.status_code == 429
    assert raised.value.response.headers["Retry-After"] == "7"
    assert raised.value.response["error"] == "ratelimited"
    assert web.chat_postMessage(channel=channel, text="digest")["ok"] is True
    assert len(fake_slack.calls("chat.postMessage")) == 2
    assert [m["text"] for m in fake_slack.messages(channel)] == ["digest"]
    assert fake_slack.violations == []  # injected failures are not the app's fault


def test_the_sdk_rate_limit_handler_waits_out_a_429(fake_slack):
    channel = fake_slack.add_channel("#general")
    client = WebClient(
        token="xoxb-test",
        base_url=fake_slack.base_url,
        retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=1)],
    )
    fake_slack.fail_next("chat.postMessage", retry_after=0)
    assert client.chat_postMessage(channel=channel, text="digest")["ok"] is True
    assert len(fake_slack.calls("chat.postMessage")) == 2
    assert [m["text"] for m in fake_slack.messages(channel)] == ["digest"]


def test_server_errors_and_api_errors_can_be_injected_several_times(fake_slack, web):
    channel = fake_slack.add_channel("#general")
    fake_slack.fail_next("chat.postMessage", status=500)
    with pytest.raises(SlackApiError) as raised:
        web.chat_postMessage(channel=channel, text="x")
    assert raised.value.response.status_code == 500
    fake_slack.fail_next("chat.postMessage", error="channel_not_found", times=2)
    for _ in range(2):
        assert (
            refusal(lambda: web.chat_postMessage(channel=channel, text="x"))["error"] == "channel_not_found"
        )
    assert web.chat_postMessage(channel=channel, text="x")["ok"] is True
    assert len(fake_slack.messages(channel)) == 1


def test_failures_can_be_injected_into_response_urls_and_uploads(fake_slack, web):
    fake_slack.fail_next("response_url", status=500)
    url = fake_slack.response_url()
    assert WebhookClient(url).send(text="x").status_code == 500
    assert WebhookClient(url).send(text="x").status_code == 200
    channel = fake_slack.add_channel("#general")
    fake_slack.fail_next("upload", status=500)
    # slack_sdk lets the upload step's urllib HTTPError through instead of a SlackApiError.
    with pytest.raises(HTTPError) as raised:
        web.files_upload_v2(channel=channel, content=b"png", filename="a.png")
    assert raised.value.code == 500
    assert fake_slack.files() == []


def test_failure_injection_refuses_unknown_method_names(fake_slack):
    with pytest.raises(ValueError, match="chat.post"):
        fake_slack.fail_next("chat.post")


def test_dropped_answer_after_the_message_was_stored_raises_promptly(fake_slack, web):
    channel = fake_slack.add_channel("#team-payments")
    fake_slack.drop_response_next("chat.postMessage")
    started = time.perf_counter()
    with pytest.raises(ConnectionError):
        web.chat_postMessage(
            channel=channel,
            text="anomaly",
            metadata={"event_type": "costbot_message", "event_payload": {"key": "anomaly:9"}},
        )
    assert time.perf_counter() - started < 1.0
    history = web.conversations_history(channel=channel, include_all_metadata=True)["messages"]
    assert [m["metadata"]["event_payload"]["key"] for m in history] == ["anomaly:9"]


def test_default_sdk_client_silently_reposts_after_a_dropped_answer(fake_slack):
    # slack_sdk's default ConnectionErrorRetryHandler retries once on RemoteDisconnected, so a
    # message Slack accepted is sent again: costbot's delivery must not rely on the default client.
    channel = fake_slack.add_channel("#team-payments")
    client = WebClient(token="xoxb-test", base_url=fake_slack.base_url)
    fake_slack.drop_response_next("chat.postMessage")
    assert client.chat_postMessage(channel=channel, text="anomaly")["ok"] is True
    assert [m["text"] for m in fake_slack.messages(channel)] == ["anomaly", "anomaly"]


def test_delay_slows_one_method_only_until_removed(fake_slack, web):
    fake_slack.delay("auth.test", 0.3)
    started = time.perf_counter()
    web.auth_test()
    assert time.perf_counter() - started >= 0.3
    fake_slack.delay("auth.test", 0)
    started = time.perf_counter()
    web.auth_test()
    assert time.perf_counter() - started < 0.3


# -- the fixture's teardown check ------------------------------------------------------------------


def test_teardown_check_lists_every_violation():
    with FakeSlack() as fake:
        assert_no_violations(fake)  # nothing wrong yet
        client = WebClient(token="xoxb-test", base_url=fake.base_url, retry_handlers=[])
        for call in (
            lambda: client.chat_postMessage(channel="#general", text="x", blocks=[section("y" * 3001)]),
            lambda: client.api_call("chat.nope"),
        ):
            with pytest.raises(SlackApiError):
                call()
        with pytest.raises(AssertionError) as raised:
            assert_no_violations(fake)
    message = str(raised.value)
    assert message.startswith("the app made 2 call(s) Slack would refuse:\n")
    assert "  - chat.postMessage: blocks[0].text.text: 3001 characters" in message
    assert "  - chat.nope: no such Slack Web API method" in message


def test_an_over_long_ack_is_a_violation() -> None:
    from tests.slack.signed_client import SignedResponse

    with FakeSlack() as fake:
        long_section = {"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3500}}
        body = json.dumps({"text": "t", "blocks": [long_section] * 60})
        fake.check_ack(SignedResponse(200, {"content-type": "application/json"}, body, 0.01, {}))
        assert any("50" in v for v in fake.violations) and any("3,000" in v or "3000" in v for v in fake.violations)
        fake.violations.clear()
        fine = json.dumps({"text": "ok", "response_type": "ephemeral"})
        fake.check_ack(SignedResponse(200, {"content-type": "application/json"}, fine, 0.01, {}))
        assert fake.violations == []
