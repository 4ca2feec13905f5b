"""Unit metric values in: ``/cost unit record TEAM METRIC PERIOD VALUE`` and the HTTP endpoint.

``/cost unit record payments orders 2026-11 31000`` records 31,000 orders for payments in November
2026 (periods: a day ``2026-11-03``, an ISO week ``2026-W45``, a month ``2026-11``). Who may: the
team's owners and members (and its channel's members when teams.yml says so) and finance
approvers; anyone else is told so and nothing is recorded. Recording a period again replaces it,
and the reply says which value it replaced.

The endpoint (``POST /units``, mounted by ``costbot run``) is for systems that know the volumes
(the order database, the analytics pipeline). It needs ``Authorization: Bearer
$COSTBOT_UNITS_TOKEN`` (the scheme in any case) and takes JSON, one value ``{"team", "metric",
"period", "value"}``, ``{"values": [...]}`` or a list ``[...]`` of values, or a CSV (``Content-Type:
text/csv`` or ``application/csv``, in any case; the columns of ``costbot units ingest``). A value is
a JSON number or a string holding a plain number (``"31000"``, not ``"31,000"``). All or nothing: a bad value answers 400 with
``{"error"}`` and where it is (``index`` in the JSON values, 0 for a single value; ``line`` and
``column`` in a CSV, the header being line 1), and nothing is written. Without a token configured
the endpoint is off (404). docs/units.md has examples.
"""

from __future__ import annotations

import hmac
import json
import math
import re
from collections.abc import Callable, Iterable
from typing import Any, NoReturn

from bot.context import AppContext
from bot.delivery import DeliveryError
from finops.errors import InputError, QuestionError
from finops.units import UnitValue, UnitValueError, read_unit_csv, unit_value
from handlers.checked_forms import members_check_failed_text
from handlers.commands import AfterAck, CommandRequest, Reply, needs_channel_members, subcommand
from storage.units import UnitStore

UNITS_PATH = "/units"
MAX_BODY_BYTES = 5 * 1024 * 1024
CSV_MEDIA_TYPES = ("text/csv", "application/csv")  # any other body is read as JSON
UNIT_WORDS = ("team", "metric", "period", "value")  # the words of /cost unit record, in order
_DIGIT_GROUP_RE = re.compile(r"[0-9]+(\.[0-9]+)?")
USAGE_EXAMPLES = ("/cost unit record payments orders 2026-11 31000", "/cost unit record web active_users 2026-W45 1200")


@subcommand("unit record", usage="/cost unit record TEAM METRIC PERIOD VALUE",
            summary="Record a unit metric value (orders, active users) for a team: period 2026-11, 2026-W45 "
                    "or 2026-11-03.")
def record_unit(request: CommandRequest) -> Reply | AfterAck:
    ctx = request.ctx
    words = request.args.split()
    if len(words) != 4:
        raise _arity_error(ctx, words)
    value = _checked_value(ctx, words)
    if ctx.teams.is_finance_approver(request.user_id) or not needs_channel_members(ctx, request.user_id, value.team):
        return record_if_allowed(request, value, frozenset())  # teams.yml decides: answered in the ack
    # Whether the user is in the team's channel is a Slack call: only after the ack.
    def record_after_lookup() -> Reply:
        try:
            members = frozenset(ctx.delivery.channel_members(ctx.teams.channel_for(value.team)))
        except DeliveryError as error:  # busy, or a channel the bot cannot read: say which, record nothing
            return Reply(text=members_check_failed_text(value.team, error))
        return record_if_allowed(request, value, members)

    return AfterAck(text=f"Recording {value.metric} for {value.team}…", work=record_after_lookup)


def _checked_value(ctx: AppContext, words: list[str]) -> UnitValue:
    """The value of team, metric, period and value ``words``; a QuestionError on the word refused."""
    try:
        return unit_value(ctx.teams, *words)
    except UnitValueError as error:
        word = words[UNIT_WORDS.index(error.column)]
        raise QuestionError(f"{error}.", word=word, examples=USAGE_EXAMPLES) from None


def _arity_error(ctx: AppContext, words: list[str]) -> QuestionError:
    """What is missing, or which words come after the value ("31 000" is five words, not a number)."""
    takes = "`/cost unit record` takes a team, a metric, a period and a value"
    if not words:
        return QuestionError(f"{takes}.", examples=USAGE_EXAMPLES)
    if len(words) < len(UNIT_WORDS):
        missing = [f"the {name}" for name in UNIT_WORDS[len(words):]]
        listed = missing[0] if len(missing) == 1 else f"{', '.join(missing[:-1])} and {missing[-1]}"
        return QuestionError(f"{takes}: after `{' '.join(words)}`, {listed} {'is' if len(missing) == 1 else 'are'} "
                             "missing.", examples=USAGE_EXAMPLES)
    _checked_value(ctx, [*words[:3], "0"])  # a period of two words ("November 2026") is the word to correct
    extra = " ".join(words[4:])
    hint = ""
    if all(_DIGIT_GROUP_RE.fullmatch(word) for word in words[3:]):
        hint = f" A value is one number, with no spaces: {''.join(words[3:])}."
    return QuestionError(f"{takes}: `{extra}` after the value `{words[3]}` is not understood.{hint}",
                         word=words[4], examples=USAGE_EXAMPLES)


def record_if_allowed(request: CommandRequest, value: UnitValue, channel_members: frozenset[str]) -> Reply:
    """Record ``value`` if the user may (``channel_members``: of the team's channel, when it counts)."""
    ctx = request.ctx
    if not ctx.teams.may_act(request.user_id, value.team, channel_members):
        return Reply(text=f":no_entry: Only {value.team}'s owners and members (or finance approvers) record its "
                          "unit metrics. Nothing was recorded.")
    # Recording a period again replaces its value: say which value goes, so a teammate's is not overwritten unseen.
    before = UnitStore(ctx.db).record_one(value, source="slack", by=request.user_id, at=ctx.now())
    span = value.start.isoformat() if value.start == value.end else f"{value.start} to {value.end}"
    if before == value.value:
        return Reply(text=f":white_check_mark: {_units_text(value.value)} {value.metric} for {value.team}, {span}, "
                          "was already recorded: nothing changed.")
    replaced = "" if before is None else f" (replacing {_units_text(before)})"
    return Reply(text=f":white_check_mark: Recorded {_units_text(value.value)} {value.metric} for {value.team}, "
                      f"{span}{replaced}. The weekly digest shows the cost per unit once the period's cost data is "
                      "complete.")


def _units_text(number: float) -> str:
    return f"{number:,.10g}"


# ---------------------------------------------------------------------------------------------
# The HTTP endpoint

WsgiApp = Callable[[dict, Callable], Iterable[bytes]]


def _answer(start_response: Callable, status: str, document: dict[str, Any]) -> list[bytes]:
    body = json.dumps(document).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


class BadRequest(Exception):
    """A request the endpoint refuses with 400: ``body`` is the JSON answer (``error`` and where)."""

    def __init__(self, error: str, **where: object) -> None:
        super().__init__(error)
        self.body = {"error": error, **where}


def _json_spelling(item: object) -> str:
    """How JSON writes ``item`` (``true``, ``null``, ``"x"``), for messages to JSON clients."""
    text = json.dumps(item, ensure_ascii=False)
    return text if len(text) <= 40 else text[:37] + "..."


def _refuse_constant(name: str) -> NoReturn:
    # Python's json reads NaN and Infinity, which JSON does not have.
    raise BadRequest(f"not JSON: {name} is not a JSON number")


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):  # 1e400 would be read as inf, and shown as Python spells it
        raise BadRequest(f"the number {text} is too large")
    return number


def _media_type(content_type: str) -> str:
    """``text/csv`` of ``Text/CSV; charset=utf-8``: media types are case-insensitive (RFC 9110, 8.3.1)."""
    return content_type.split(";")[0].strip().lower()


def _is_json_type(media_type: str) -> bool:
    return media_type == "application/json" or media_type.endswith("+json")


def _values_from_json(ctx: AppContext, body: bytes, media_type: str) -> list[UnitValue]:
    try:
        document = json.loads(body, parse_constant=_refuse_constant, parse_float=_finite_float)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        if _is_json_type(media_type):
            raise BadRequest(f"not JSON: {error}") from None
        # A CSV posted as application/csv, or by curl -d (form-urlencoded), is read as JSON: say why.
        sent = f"Content-Type {media_type}" if media_type else "no Content-Type"
        raise BadRequest(f"not JSON: {error}; the request has {sent}: send JSON with Content-Type: "
                         f"application/json, or a CSV with Content-Type: {CSV_MEDIA_TYPES[0]}") from None
    if isinstance(document, dict):
        items = document["values"] if "values" in document else [document]
    elif isinstance(document, list):
        items = document
    else:
        raise BadRequest(f'the body must be a JSON object {{"team", "metric", "period", "value"}}, '
                         f'{{"values": [...]}} or a list of such objects, not {_json_spelling(document)}')
    if not isinstance(items, list):
        raise BadRequest(f'"values" must be a list of objects {{"team", "metric", "period", "value"}}, '
                         f"not {_json_spelling(items)}")
    if not items:
        raise BadRequest('no values: send at least one {"team", "metric", "period", "value"}')
    values, seen = [], set()
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise BadRequest(f'values[{index}]: needs an object {{"team", "metric", "period", "value"}}, '
                             f"not {_json_spelling(item)}", index=index)
        missing = [f'"{key}"' for key in ("team", "metric", "period", "value") if key not in item]
        if missing:
            raise BadRequest(f"values[{index}]: missing {', '.join(missing)}", index=index)
        for key in ("team", "metric", "period"):
            if not isinstance(item[key], str):
                raise BadRequest(f'values[{index}]: "{key}" must be a string, '
                                 f"not {_json_spelling(item[key])}", index=index)
        number = item["value"]
        if isinstance(number, bool) or not isinstance(number, int | float | str):
            raise BadRequest(f"values[{index}]: value {_json_spelling(number)} is not a number", index=index)
        try:
            value = unit_value(ctx.teams, item["team"], item["metric"], item["period"], number)
        except ValueError as error:
            raise BadRequest(f"values[{index}]: {error}", index=index) from None
        if (value.team, value.metric, value.start, value.end) in seen:
            raise BadRequest(f"values[{index}]: {value.team} {value.metric} for {item['period']} is given twice",
                             index=index)
        seen.add((value.team, value.metric, value.start, value.end))
        values.append(value)
    return values


def _bearer_token(header: str) -> str:
    """The credentials of an ``Authorization: Bearer ...`` header ("" for any other scheme).

    The scheme is case-insensitive (RFC 9110, section 11.1).
    """
    scheme, _, credentials = header.strip().partition(" ")
    return credentials.strip() if scheme.casefold() == "bearer" else ""


def units_endpoint(ctx: AppContext) -> WsgiApp:
    """The WSGI app of ``POST /units`` (see the module docstring)."""

    def application(environ: dict, start_response: Callable) -> Iterable[bytes]:
        token = ctx.settings.units_api_token
        if not token:
            return _answer(start_response, "404 Not Found",
                           {"error": "the units endpoint is off: set COSTBOT_UNITS_TOKEN to turn it on"})
        given = _bearer_token(environ.get("HTTP_AUTHORIZATION", ""))
        if not hmac.compare_digest(given.encode(), token.encode()):
            return _answer(start_response, "401 Unauthorized", {"error": "missing or wrong bearer token"})
        if environ.get("REQUEST_METHOD") != "POST":
            return _answer(start_response, "405 Method Not Allowed", {"error": "POST unit values here"})
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = -1
        if not 0 < length <= MAX_BODY_BYTES:
            return _answer(start_response, "413 Content Too Large" if length > MAX_BODY_BYTES else "400 Bad Request",
                           {"error": f"send a body of 1 byte to {MAX_BODY_BYTES // (1024 * 1024)} MB"})
        body = environ["wsgi.input"].read(length)
        try:
            media_type = _media_type(environ.get("CONTENT_TYPE", ""))
            if media_type in CSV_MEDIA_TYPES:
                values = read_unit_csv(body.decode("utf-8-sig"), ctx.teams, file="request")
            else:
                values = _values_from_json(ctx, body, media_type)
        except UnicodeDecodeError:
            return _answer(start_response, "400 Bad Request", {"error": "the CSV is not UTF-8"})
        except BadRequest as error:
            return _answer(start_response, "400 Bad Request", error.body)
        except InputError as error:  # a CSV line: the message names the line and column too
            where = {key: value for key, value in (("line", error.line), ("column", error.column)) if value}
            return _answer(start_response, "400 Bad Request", {"error": str(error), **where})
        changed = UnitStore(ctx.db).record(values, source="api", by="api", at=ctx.now())
        return _answer(start_response, "200 OK", {"recorded": len(values), "changed": changed})

    return application
