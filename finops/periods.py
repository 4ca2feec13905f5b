"""The one parser of cost questions: ``/cost why team=payments last quarter vs Q1 2026``.

:func:`parse_question` turns the text after ``why`` into a :class:`Question`: a scope (filters),
the period asked about (A), the comparison period (B), the cost metric and where to answer.
Words are case-insensitive and may come in any order; a period phrase (``Oct 2026``,
``last 30 days``) is contiguous. The grammar::

    question := ["why"] item*
    item     := filter | flag | period | ("vs" | "versus") period
    filter   := KEY=VALUE            KEY: team service account region provider sku resource tag:NAME
                                     VALUE: a word, or quoted: service="Amazon EC2" (also 'x', “x”)
                                     several keys combine with AND; the same key twice is an OR
    flag     := --effective | --billed | --list | metric=NAME | --metric=NAME | --metric NAME
              | public | --public | in-channel | --in-channel
    period   := 2026-10 | October | Oct 2026 | October 2026          (a month)
              | Q3 2026 | Q3 | 2026-Q3                              (a quarter)
              | 2026                                                 (a year)
              | 2026-W41                                             (an ISO week, Monday first)
              | 2026-10-05 | yesterday                               (a day)
              | 2026-09-01..2026-09-30                               (a range, both ends included)
              | last|previous month|quarter|year|week
              | this month|quarter|year|week                         (to date)
              | last|past N days                                     (the N complete days: to the
                                                                     last day of complete data)

A month or quarter named without a year is the most recent one that has started. Without a
period the question is about last month; without ``vs`` the comparison is the previous period of
the same kind (the previous month, quarter, ISO week, year, day, or the same number of days
just before a range or ``last N days``).

Incomplete data: days after ``complete_through`` (default: yesterday, since today's costs are
never final) are cut from both periods so that the comparison is like for like, and
:attr:`Question.note` says so. Anything not understood raises :class:`QuestionError` naming the
first word it could not place, with two example questions; the parser never guesses.
"""

from __future__ import annotations

import calendar
import difflib
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, replace
from datetime import date, timedelta

from finops.errors import QuestionError
from finops.model import DEFAULT_METRIC, METRICS, TEAM

# The filters a question may use, and the daily-frame column each one reads. ``account``
# matches SubAccountName too (people know accounts by name); ``tag:NAME`` reads ``Tags``.
SCOPE_COLUMNS: dict[str, str] = {
    "team": TEAM,
    "service": "ServiceName",
    "account": "SubAccountId",
    "region": "RegionId",
    "provider": "ProviderName",
    "sku": "SkuId",
    "resource": "ResourceId",
}
TAG_PREFIX = "tag:"
SCOPE_KEYS: tuple[str, ...] = (*SCOPE_COLUMNS, f"{TAG_PREFIX}NAME")

PERIOD_KINDS: tuple[str, ...] = ("day", "week", "month", "quarter", "year", "days", "range")

# Bounds that keep every date computable (datetime.date stops at 9999) and questions sensible.
MIN_YEAR, MAX_YEAR = 2000, 2999
MAX_DAYS = 3660

_DOUBLE_QUOTES = "\"“”„"
_SINGLE_QUOTES = "'‘’"
_QUOTES = _DOUBLE_QUOTES + _SINGLE_QUOTES

# A filter term; spaces around "=" are allowed. No nested quantifiers: linear on any input.
_FILTER = re.compile(
    rf"(?P<key>[A-Za-z][A-Za-z_]*(?::[^\s={_QUOTES}]+)?)\s*=\s*"
    rf"(?:[{_DOUBLE_QUOTES}](?P<dq>[^{_DOUBLE_QUOTES}]*)[{_DOUBLE_QUOTES}]"
    rf"|[{_SINGLE_QUOTES}](?P<sq>[^{_SINGLE_QUOTES}]*)[{_SINGLE_QUOTES}]"
    rf"|(?P<bare>[^\s{_QUOTES}]+))"
)
_WORD = re.compile(r"\S+")
_EMPTY_FILTER = re.compile(r"[A-Za-z][A-Za-z_]*(?::[^\s=]+)?=")
_TOKEN_END = re.compile(r"\s|$")

_MONTHS: dict[str, int] = {}
for _number in range(1, 13):
    _MONTHS[calendar.month_name[_number].lower()] = _number
    _MONTHS[calendar.month_abbr[_number].lower()] = _number
_MONTHS["sept"] = 9

_UNITS = ("month", "quarter", "year", "week")
_LAST = ("last", "previous")
_VS = ("vs", "vs.", "versus")
_IN_CHANNEL = ("public", "--public", "in-channel", "--in-channel")
_METRIC_FLAGS = {f"--{name}": name for name in METRICS}

_YEAR = re.compile(r"[0-9]{4}", re.ASCII)
_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})", re.ASCII)
_DAY = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})", re.ASCII)
_RANGE = re.compile(r"([0-9]{4}-[0-9]{2}-[0-9]{2})\.\.([0-9]{4}-[0-9]{2}-[0-9]{2})", re.ASCII)
_QUARTER = re.compile(r"q([1-4])", re.ASCII | re.IGNORECASE)
_YEAR_QUARTER = re.compile(r"([0-9]{4})-?q([1-4])", re.ASCII | re.IGNORECASE)
_WEEK = re.compile(r"([0-9]{4})-?w([0-9]{2})", re.ASCII | re.IGNORECASE)
_COUNT = re.compile(r"[0-9]{1,6}", re.ASCII)
_METRIC_OPTION = re.compile(r"--metric=(.*)", re.IGNORECASE)
# Near misses that get a specific reason: Q0 or Q5 (2026-Q7), and a tag filter without its name.
_NOT_A_QUARTER = re.compile(r"(?:[0-9]{4}-?)?q[05-9]", re.ASCII | re.IGNORECASE)
_NAMELESS_TAG = re.compile(r"tag:\s*=", re.IGNORECASE)


@dataclass(frozen=True)
class Period:
    """An inclusive range of days with a label a person reads ("October 2026", "Q3 2026").

    ``kind`` is one of :data:`PERIOD_KINDS`; it decides the default comparison and stays the same
    when incomplete data shortens the period (the label then says "the first N days of ...").
    """

    start: date
    end: date
    label: str
    kind: str

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"period {self.label!r} ends ({self.end}) before it starts ({self.start})")
        if self.kind not in PERIOD_KINDS:
            raise ValueError(f"unknown period kind {self.kind!r}: use one of {', '.join(PERIOD_KINDS)}")

    @property
    def days(self) -> int:
        """Number of days, both ends included."""
        return (self.end - self.start).days + 1

    def to_json(self) -> dict[str, object]:
        """``{"label", "kind", "start", "end", "days"}`` with ISO dates."""
        return {"label": self.label, "kind": self.kind, "start": self.start.isoformat(),
                "end": self.end.isoformat(), "days": self.days}


@dataclass(frozen=True)
class Question:
    """A parsed ``why`` question.

    ``scope`` maps a filter key (:data:`SCOPE_KEYS`, tags as ``"tag:NAME"``) to the values
    accepted for it: keys combine with AND, the values of one key with OR. ``period_a`` is the
    period asked about, ``period_b`` the comparison; the change reported is A minus B.
    ``note`` explains any adjustment made for incomplete data (None when there was none).
    """

    text: str
    scope: dict[str, tuple[str, ...]]
    period_a: Period
    period_b: Period
    metric: str = DEFAULT_METRIC
    in_channel: bool = False
    note: str | None = None


@dataclass(frozen=True)
class _Token:
    text: str  # exactly as typed, for error messages
    key: str | None = None  # set for filter terms
    value: str = ""
    detached: bool = False  # an unquoted value written after a space: "team= payments"


def _grammar_word(word: str) -> bool:
    """True for a word the grammar reads outside filters (period words, vs, flags)."""
    lowered = word.lower()
    if lowered in (*_LAST, "past", "this", "yesterday", *_VS, *_IN_CHANNEL, *_METRIC_FLAGS, "--metric", *_MONTHS):
        return True
    return any(pattern.fullmatch(lowered) for pattern in (_YEAR, _MONTH, _DAY, _RANGE, _QUARTER, _YEAR_QUARTER,
                                                           _WEEK, _METRIC_OPTION))


# ---------------------------------------------------------------------------------------------
# Calendar arithmetic


def month_period(year: int, month: int) -> Period:
    """The calendar month ``year-month``."""
    last = calendar.monthrange(year, month)[1]
    return Period(date(year, month, 1), date(year, month, last), f"{calendar.month_name[month]} {year}", "month")


def quarter_period(year: int, quarter: int) -> Period:
    """Calendar quarter ``quarter`` (1-4) of ``year``."""
    first = 3 * (quarter - 1) + 1
    end = month_period(year, first + 2).end
    return Period(date(year, first, 1), end, f"Q{quarter} {year}", "quarter")


def year_period(year: int) -> Period:
    """The calendar year."""
    return Period(date(year, 1, 1), date(year, 12, 31), str(year), "year")


def week_period(monday: date) -> Period:
    """The ISO week (Monday to Sunday) that starts on ``monday``."""
    iso = monday.isocalendar()
    return Period(monday, monday + timedelta(days=6), f"{iso.year}-W{iso.week:02d}", "week")


def day_period(day: date) -> Period:
    """One day."""
    return Period(day, day, day.isoformat(), "day")


def days_period(end: date, count: int) -> Period:
    """The ``count`` days ending on ``end``."""
    start = end - timedelta(days=count - 1)
    label = f"the {count} days to {end.isoformat()}" if count > 1 else end.isoformat()
    return Period(start, end, label, "days")


def range_period(start: date, end: date) -> Period:
    """An explicit inclusive date range."""
    return Period(start, end, f"{start.isoformat()}..{end.isoformat()}", "range")


def previous_period(period: Period) -> Period:
    """The default comparison: the period of the same kind (and length) just before ``period``."""
    if period.kind == "month":
        before = period.start - timedelta(days=1)
        return month_period(before.year, before.month)
    if period.kind == "quarter":
        before = period.start - timedelta(days=1)
        return quarter_period(before.year, (before.month - 1) // 3 + 1)
    if period.kind == "year":
        return year_period(period.start.year - 1)
    if period.kind == "week":
        return week_period(period.start - timedelta(days=7))
    if period.kind == "day":
        return day_period(period.start - timedelta(days=1))
    end = period.start - timedelta(days=1)
    if period.kind == "days":
        return days_period(end, period.days)
    return range_period(end - timedelta(days=period.days - 1), end)


def _quarter_of(day: date) -> int:
    return (day.month - 1) // 3 + 1


def _relative_period(unit: str, today: date, offset: int) -> Period:
    """``this`` (offset 0) or ``last`` (offset -1) month/quarter/year/week, relative to today."""
    if unit == "month":
        current = month_period(today.year, today.month)
    elif unit == "quarter":
        current = quarter_period(today.year, _quarter_of(today))
    elif unit == "year":
        current = year_period(today.year)
    else:
        current = week_period(today - timedelta(days=today.weekday()))
    return previous_period(current) if offset else current


def _truncated(period: Period, days: int) -> Period:
    """The first ``days`` days of ``period``, labelled as such."""
    if days >= period.days:
        return period
    end = period.start + timedelta(days=days - 1)
    if period.kind in ("days", "range"):
        return Period(period.start, end, range_period(period.start, end).label, period.kind)
    label = f"the first {days} days of {period.label}" if days > 1 else f"the first day of {period.label}"
    return Period(period.start, end, label, period.kind)


# ---------------------------------------------------------------------------------------------
# Rendering a question back to text (for "Show more" buttons and re-asking)


def scope_text(scope: dict[str, tuple[str, ...]]) -> str:
    """The filters as the grammar writes them: ``team=payments service="Amazon EC2"``."""
    terms = []
    for key, values in scope.items():
        for value in values:
            if value and not any(ch.isspace() or ch in _QUOTES for ch in value):
                terms.append(f"{key}={value}")
            elif '"' not in value:
                terms.append(f'{key}="{value}"')
            elif "'" not in value:
                terms.append(f"{key}='{value}'")
            else:
                raise ValueError(f"value {value!r} of {key!r} has both quote kinds: it cannot be written")
    return " ".join(terms)


def scope_phrase(scope: dict[str, tuple[str, ...]]) -> str:
    """The filters for a sentence: ``team=payments or search, service="Amazon EC2"`` (the values
    of one key are alternatives; the keys all apply)."""
    phrases = []
    for key, values in scope.items():
        written = [scope_text({key: (value,)})[len(key) + 1:] for value in values]
        phrases.append(f"{key}={' or '.join(written)}")
    return ", ".join(phrases)


def period_text(period: Period) -> str:
    """The shortest text the grammar parses back to exactly ``period`` (absolute dates only)."""
    start = period.start
    if period.kind == "month" and period == month_period(start.year, start.month):
        return f"{start.year}-{start.month:02d}"
    if period.kind == "quarter" and period == quarter_period(start.year, _quarter_of(start)):
        return f"{start.year}-Q{_quarter_of(start)}"
    if period.kind == "year" and period == year_period(start.year):
        return str(start.year)
    if period.kind == "week" and period.days == 7 and start.weekday() == 0:
        iso = start.isocalendar()
        return f"{iso.year}-W{iso.week:02d}"
    if period.days == 1:
        return start.isoformat()
    return f"{start.isoformat()}..{period.end.isoformat()}"


def question_text(question: Question) -> str:
    """A question text that parses back to the same scope, periods, metric and channel choice."""
    words = [scope_text(question.scope), period_text(question.period_a), "vs", period_text(question.period_b)]
    if question.metric != DEFAULT_METRIC:
        words.append(f"--{question.metric}")
    if question.in_channel:
        words.append("--in-channel")
    return " ".join(w for w in words if w)


# ---------------------------------------------------------------------------------------------
# Parsing


def _one_line(text: str, limit: int = 80) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _tokens(text: str) -> list[_Token]:
    """Split into words and ``key=value`` filter terms (quotes keep spaces inside a value)."""
    tokens: list[_Token] = []
    position = 0
    while True:
        word = _WORD.search(text, position)
        if word is None:
            return tokens
        start = word.start()
        term = _FILTER.match(text, start)
        if term and _TOKEN_END.match(text, term.end()):
            value = next(v for v in (term.group("dq"), term.group("sq"), term.group("bare")) if v is not None)
            detached = term.group("bare") is not None and term.group(0)[:term.start("bare") - start].endswith(
                tuple(" \t\n\r\f\v"))
            tokens.append(_Token(term.group(0), key=term.group("key"), value=value, detached=detached))
            position = term.end()
        else:
            tokens.append(_Token(word.group(0)))
            position = word.end()


class _Parser:
    """One parse of one question; keeps the text and ``today`` for messages and relative periods."""

    def __init__(self, text: str, today: date, complete_through: date) -> None:
        self.text, self.today, self.complete_through = text, today, complete_through
        self.tokens = _tokens(text)
        last_quarter = _relative_period("quarter", today, -1)
        before = previous_period(last_quarter)
        last_month = _relative_period("month", today, -1)
        month_before = previous_period(last_month)
        self.period_examples = ("last month", f"{last_quarter.label} vs {before.label}")
        self.scope_examples = ("team=payments last month",
                               f'service="Amazon EC2" {period_text(last_month)} vs {period_text(month_before)}')

    # -- errors ----------------------------------------------------------------------------

    def error(self, word: str, reason: str | None = None, *, scope: bool = False,
              message: str | None = None) -> QuestionError:
        """The one-line correction: the word, why (when known), and two questions that work."""
        examples = self.scope_examples if scope else self.period_examples
        detail = f": {reason}" if reason else ""
        text = message or f"I didn't understand '{_one_line(word, 40)}' in '{_one_line(self.text)}'{detail}"
        return QuestionError(f"{text}. Try: `{examples[0]}` or `{examples[1]}`", word=word, examples=examples)

    def unknown_filter(self, token: _Token) -> QuestionError:
        key = token.key or token.text
        return self.error(key, scope=True, message=(
            f"I don't know the filter '{_one_line(key, 40)}' in '{_one_line(self.text)}' "
            f"(filters: {', '.join(SCOPE_KEYS)})"))

    # -- small readers -----------------------------------------------------------------------

    def word(self, index: int) -> str | None:
        """The lower-cased plain word at ``index`` (None past the end or for a filter term)."""
        if index < len(self.tokens) and self.tokens[index].key is None:
            return self.tokens[index].text.lower()
        return None

    def year(self, index: int) -> int | None:
        """A 4-digit year at ``index``, or None when the word there is not one."""
        word = self.word(index)
        if word is None or not _YEAR.fullmatch(word):
            return None
        return self.checked_year(int(word), self.tokens[index].text)

    def checked_year(self, year: int, word: str) -> int:
        if not MIN_YEAR <= year <= MAX_YEAR:
            raise self.error(word, f"years go from {MIN_YEAR} to {MAX_YEAR}")
        return year

    def date(self, text: str, word: str) -> date:
        match = _DAY.fullmatch(text)
        if match is None:
            raise self.error(word, "write dates as YYYY-MM-DD")
        year = self.checked_year(int(match.group(1)), word)
        try:
            return date(year, int(match.group(2)), int(match.group(3)))
        except ValueError:
            raise self.error(word, f"{text} is not a date") from None

    # -- periods -----------------------------------------------------------------------------

    def period(self, index: int) -> tuple[Period, int] | None:
        """The period phrase starting at ``index`` and the index after it; None if none starts there."""
        word = self.word(index)
        if word is None:
            return None
        raw = self.tokens[index].text
        if word in _LAST or word == "past":
            return self.last_period(index)
        if word == "this":
            unit = self.word(index + 1)
            if unit not in _UNITS:
                bad = self.tokens[index + 1].text if index + 1 < len(self.tokens) else raw
                raise self.error(bad, "say this month, this quarter, this week or this year")
            return _relative_period(unit, self.today, 0), index + 2
        if word == "yesterday":
            return day_period(self.today - timedelta(days=1)), index + 1
        if word in _MONTHS:
            return self.named_month(_MONTHS[word], index)
        if match := _QUARTER.fullmatch(word):
            quarter = int(match.group(1))
            year = self.year(index + 1)
            if year is not None:
                return quarter_period(year, quarter), index + 2
            started = self.today.year if _quarter_of(self.today) >= quarter else self.today.year - 1
            return quarter_period(started, quarter), index + 1
        if match := _YEAR_QUARTER.fullmatch(word):
            return quarter_period(self.checked_year(int(match.group(1)), raw), int(match.group(2))), index + 1
        if match := _WEEK.fullmatch(word):
            year = self.checked_year(int(match.group(1)), raw)
            try:
                monday = date.fromisocalendar(year, int(match.group(2)), 1)
            except ValueError:
                raise self.error(raw, f"{year} has no ISO week {match.group(2)}") from None
            return week_period(monday), index + 1
        if match := _RANGE.fullmatch(word):
            start, end = self.date(match.group(1), raw), self.date(match.group(2), raw)
            if end < start:
                raise self.error(raw, "the range ends before it starts")
            return range_period(start, end), index + 1
        if _DAY.fullmatch(word):
            return day_period(self.date(word, raw)), index + 1
        if match := _MONTH.fullmatch(word):
            year, month = self.checked_year(int(match.group(1)), raw), int(match.group(2))
            if not 1 <= month <= 12:
                raise self.error(raw, f"there is no month {match.group(2)}")
            return month_period(year, month), index + 1
        if _YEAR.fullmatch(word):
            return year_period(self.checked_year(int(word), raw)), index + 1
        return None

    def named_month(self, month: int, index: int) -> tuple[Period, int]:
        year = self.year(index + 1)
        if year is not None:
            return month_period(year, month), index + 2
        started = self.today.year if self.today.month >= month else self.today.year - 1
        return month_period(started, month), index + 1

    def last_period(self, index: int) -> tuple[Period, int]:
        first = self.tokens[index].text
        unit = self.word(index + 1)
        if unit in _UNITS and first.lower() != "past":
            return _relative_period(unit, self.today, -1), index + 2
        if unit is not None and _COUNT.fullmatch(unit):
            count = int(unit)
            days = self.word(index + 2)
            if days not in ("day", "days"):
                bad = self.tokens[index + 2].text if index + 2 < len(self.tokens) else self.tokens[index + 1].text
                raise self.error(bad, f"say {first} {unit} days")
            if not 1 <= count <= MAX_DAYS:
                raise self.error(self.tokens[index + 1].text, f"the number of days goes from 1 to {MAX_DAYS}")
            # The N days with complete data: with a provider's lag, "last 30 days" cut to the
            # complete days would compare a few days with 30 days, weeks apart.
            return days_period(self.complete_through, count), index + 3
        bad = self.tokens[index + 1].text if index + 1 < len(self.tokens) else first
        if first.lower() == "past":
            raise self.error(bad, "say past N days, or last month, quarter, week or year")
        raise self.error(bad, f"say {first} month, quarter, week, year or {first} N days")

    # -- the whole question ------------------------------------------------------------------

    def parse(self, complete_through: date, metric_option: str | None = None) -> Question:
        scope: dict[str, list[str]] = {}
        periods: list[tuple[Period, str]] = []  # (period, first word) for A, then B
        saw_vs: str | None = None
        metric: str | None = None
        in_channel = False
        index = 0

        def set_metric(name: str, word: str) -> None:
            nonlocal metric
            if name.lower() not in METRICS:
                raise self.error(word, f"metrics are {', '.join(METRICS)}")
            if metric is not None:
                raise self.error(word, "the metric is already set")
            metric = name.lower()

        while index < len(self.tokens):
            token = self.tokens[index]
            word = token.text.lower()
            if token.key is not None:
                key = token.key.lower()
                if token.detached and _grammar_word(token.value):
                    # "team= last month": the value was left out, the next word is the question's.
                    raise self.error(f"{token.key}=", f"{token.key} has no value; write {token.key}=NAME (a value "
                                     f"that reads like a period goes in quotes: {token.key}=\"{token.value}\")",
                                     scope=True)
                if key == "metric":
                    set_metric(token.value, token.text)
                elif key in SCOPE_COLUMNS:
                    values = scope.setdefault(key, [])
                    if token.value not in values:
                        values.append(token.value)
                elif key.startswith(TAG_PREFIX):
                    name = f"{TAG_PREFIX}{token.key[len(TAG_PREFIX):]}"
                    values = scope.setdefault(name, [])
                    if token.value not in values:
                        values.append(token.value)
                else:
                    raise self.unknown_filter(token)
                index += 1
                continue
            if index == 0 and word == "why":
                index += 1
                continue
            if word in _VS:
                if not periods:
                    raise self.error(token.text, "name the period to explain before vs, e.g. Q3 2026 vs Q2 2026")
                if saw_vs is not None:
                    raise self.error(token.text, "one vs per question")
                saw_vs = token.text
                index += 1
                continue
            if word in _METRIC_FLAGS:
                set_metric(_METRIC_FLAGS[word], token.text)
                index += 1
                continue
            if word == "--metric":
                name = self.word(index + 1)
                if name is None:
                    raise self.error(token.text, f"say --metric {' or --metric '.join(METRICS)}")
                set_metric(name, self.tokens[index + 1].text)
                index += 2
                continue
            if match := _METRIC_OPTION.fullmatch(word):
                set_metric(match.group(1), token.text)
                index += 1
                continue
            if word in _IN_CHANNEL:
                in_channel = True
                index += 1
                continue
            found = self.period(index)
            if found is None:
                if _EMPTY_FILTER.fullmatch(token.text):
                    key = token.text[:-1]
                    if key.lower() not in SCOPE_COLUMNS and key.lower() != "metric" \
                            and not key.lower().startswith(TAG_PREFIX):
                        raise self.unknown_filter(_Token(token.text, key=key))
                    raise self.error(token.text, f"{key} has no value; write {key}=NAME", scope=True)
                if _NAMELESS_TAG.match(token.text):
                    raise self.error(token.text, "a tag filter names its tag: tag:NAME=VALUE, e.g. tag:env=prod",
                                     scope=True)
                if "=" in token.text:
                    quote = any(ch in _QUOTES for ch in token.text)
                    reason = "a quote is not closed" if quote else "write filters as key=value"
                    raise self.error(token.text, reason, scope=True)
                if _NOT_A_QUARTER.fullmatch(token.text):
                    raise self.error(token.text, "quarters are Q1 to Q4")
                raise self.error(token.text)
            period, after = found
            expected = 2 if saw_vs else 1
            if len(periods) >= expected:
                raise self.error(token.text, "one period to explain, and one after vs to compare with")
            periods.append((period, token.text))
            index = after

        if metric_option is not None:
            if metric_option not in METRICS:
                raise QuestionError(f"Unknown metric '{metric_option}': metrics are {', '.join(METRICS)}",
                                    word=metric_option, examples=self.period_examples)
            if metric is not None and metric != metric_option:
                raise self.error(f"--{metric}", f"the question says {metric} but the option says {metric_option}")
            metric = metric_option
        if saw_vs is not None and len(periods) < 2:
            raise self.error(saw_vs, "name the period to compare with after vs")
        if not periods:
            periods.append((_relative_period("month", self.today, -1), "last month"))
        (period_a, word_a), comparison_given = periods[0], len(periods) == 2
        period_b, word_b = periods[1] if comparison_given else (previous_period(period_a), word_a)
        period_a, period_b, note = self.complete_only(period_a, word_a, period_b, word_b,
                                                     complete_through, like_for_like=(not comparison_given
                                                                                      or period_a.kind == period_b.kind))
        if period_a.kind == "days" and complete_through < self.today - timedelta(days=1):
            days = f"{period_a.days} days end" if period_a.days > 1 else "day ends"
            lag = f"The last {days} on {complete_through.isoformat()}, the last day with complete cost data."
            note = f"{note} {lag}" if note else lag
        return Question(text=self.text, scope={k: tuple(v) for k, v in scope.items()},
                        period_a=period_a, period_b=period_b, metric=metric or DEFAULT_METRIC,
                        in_channel=in_channel, note=note)

    def complete_only(self, a: Period, word_a: str, b: Period, word_b: str, complete_through: date, *,
                      like_for_like: bool) -> tuple[Period, Period, str | None]:
        """Cut both periods to complete days; like-for-like periods keep the same day count."""
        for period, word in ((a, word_a), (b, word_b)):
            if period.start > complete_through:
                raise self.error(word, message=(
                    f"There is no complete cost data for '{_one_line(word, 40)}' ({period.label}) yet: "
                    f"data is complete through {complete_through.isoformat()}"))
        if a.end <= complete_through and b.end <= complete_through:
            return a, b, None
        days_a = (min(a.end, complete_through) - a.start).days + 1
        days_b = (min(b.end, complete_through) - b.start).days + 1
        a_short, b_short = days_a < a.days, days_b < b.days
        if like_for_like:
            # Compare the same number of days from each period's start: the first 12 days of
            # October against the first 12 of September, not against all of September.
            if a_short:
                days_b = min(days_b, days_a)
            if b_short:
                days_a = min(days_a, days_b)
        sentences = []
        for period, days, short, other, other_days in ((a, days_a, a_short, b, days_b),
                                                        (b, days_b, b_short, a, days_a)):
            if not short:
                continue
            sentence = (f"{period.label} has {days} complete day{'s' if days != 1 else ''} "
                        f"(data complete through {complete_through.isoformat()})")
            if other_days < other.days:
                first = f"first {other_days} days" if other_days > 1 else "first day"
                sentence += f"; compared with the {first} of {other.label}"
            elif like_for_like:
                sentence += f"; compared with all {other.days} days of {other.label}"
            sentences.append(sentence)
        return _truncated(a, days_a), _truncated(b, days_b), ". ".join(sentences) + "."


def _scope_examples(today: date, term: str) -> tuple[str, str]:
    """Two questions about ``term`` (``team=payments``, or "" for none) that parse: last month,
    and last quarter against the one before."""
    last_quarter = _relative_period("quarter", today, -1)
    return (f"{term} last month".strip(),
            f"{term} {last_quarter.label} vs {previous_period(last_quarter).label}".strip())


def _closest(value: str, known: Collection[str]) -> str | None:
    """The known value most like ``value`` (case-insensitively), None when none is close."""
    by_folded = {k.casefold(): k for k in sorted(known)}
    match = difflib.get_close_matches(value.casefold(), list(by_folded), n=1, cutoff=0.6)
    return by_folded[match[0]] if match else None


# The short names people say for AWS services, and the long names the bills use ("Amazon EC2" is
# "Amazon Elastic Compute Cloud" in a CUR or FOCUS export).
AWS_SERVICE_SHORT_NAMES: dict[str, str] = {
    "ec2": "elastic compute cloud", "s3": "simple storage service", "rds": "relational database service",
    "ebs": "elastic block store", "eks": "elastic kubernetes service", "ecs": "elastic container service",
    "ecr": "elastic container registry", "efs": "elastic file system", "elb": "elastic load balancing",
    "vpc": "virtual private cloud", "sqs": "simple queue service", "sns": "simple notification service",
    "ses": "simple email service", "msk": "managed streaming for apache kafka", "emr": "elastic mapreduce",
}
_VENDOR_PREFIX = re.compile(r"^(amazon|aws)\s*")


def service_key(name: str) -> str:
    """What a service name means, however it is written: ``Amazon EC2``, ``AmazonEC2``, ``EC2``,
    ``Amazon Elastic Compute Cloud`` and Cost Explorer's ``Amazon Elastic Compute Cloud - Compute``
    all give ``elastic compute cloud``."""
    key = _VENDOR_PREFIX.sub("", " ".join(name.casefold().split()))
    key = key.removesuffix(" - compute")
    return AWS_SERVICE_SHORT_NAMES.get(key, key)


def with_service_names(question: Question, known_services: Collection[str]) -> Question:
    """``question`` with each service it names that the data does not spell that way replaced by
    the data's names for it (``service="Amazon EC2"`` asks about "Amazon Elastic Compute Cloud").
    A value the data has as written, or that means no service held, is left for
    :func:`check_against_data` to accept or refuse."""
    asked = question.scope.get("service")
    if not asked:
        return question
    folded = {k.casefold() for k in known_services}
    by_key: dict[str, list[str]] = {}
    for known in sorted(known_services):
        by_key.setdefault(service_key(known), []).append(known)
    names: list[str] = []
    for value in asked:
        meant = by_key.get(service_key(value)) if value.casefold() not in folded else None
        names.extend(meant or [value])
    if tuple(names) == asked:
        return question
    return replace(question, scope={**question.scope, "service": tuple(dict.fromkeys(names))})


def check_against_data(question: Question, *, today: date, first_day: date | None,
                       known_values: Mapping[str, Collection[str]],
                       has_costs: Callable[[date, date], bool] | None = None) -> None:
    """Refuse a question the data cannot answer, rather than answer "$0.00 -> $0.00".

    ``first_day`` is the first day of cost data held (None: none held); ``known_values`` maps a
    scope key of the question to every value the data has for it (``account``: IDs and names;
    ``tag:NAME``: the tag's values). Raises :class:`QuestionError` naming the filter value no cost
    data has (with the closest known value: a typo gets "did you mean payments?"), or the period
    that starts before the data does (its comparison would be all "new spend"). Values compare
    case-insensitively; ``tag:NAME=""`` (series without the tag) is always accepted.
    ``has_costs(start, end)`` tells whether any cost (of any scope) is held for those days: a
    period inside the data with none at all is a gap (a month never ingested), refused too, since
    its answer would call all of the other period's spend new or gone.
    """
    text = _one_line(question.text)
    if first_day is None:
        raise QuestionError("There is no cost data yet: ingest some first (`costbot ingest file PATH`, or a "
                            "connector)", word=question.text, examples=())
    # Tag names compare case-insensitively: tag:ENV and tag:env are the same filter.
    by_key = {(k.casefold() if k.startswith(TAG_PREFIX) else k): v for k, v in known_values.items()}
    for key, values in question.scope.items():
        known = by_key.get(key.casefold() if key.startswith(TAG_PREFIX) else key)
        if known is None:
            continue
        folded = {k.casefold() for k in known}
        for value in values:
            if value.casefold() in folded or (value == "" and key.startswith(TAG_PREFIX)):
                continue
            term = scope_text({key: (value,)})
            pieces = [p.strip() for p in value.split(",") if p.strip()]
            suggestion = None
            if len(pieces) > 1 and all(p.casefold() in folded for p in pieces):
                terms = scope_text({key: tuple(pieces)})
                reason = f"to ask about several, repeat the filter: {terms}"
                examples = _scope_examples(today, terms)
            else:
                suggestion = _closest(value, known)
                reason = f"did you mean {suggestion}?" if suggestion else (
                    f"no cost data has that {key}" if known else f"no cost data has a {key}")
                example = suggestion or (sorted(known)[0] if known else None)
                examples = _scope_examples(today, scope_text({key: (example,)}) if example else "")
            raise QuestionError(f"I don't know {key} '{_one_line(value, 40)}' in '{text}' ({reason}). "
                                f"Try: `{examples[0]}` or `{examples[1]}`", word=term, examples=examples)
    for period, role in ((question.period_a, "the period asked about"), (question.period_b, "the comparison")):
        if period.start >= first_day:
            continue
        later = _relative_period("quarter", today, -1)
        examples = ("last month", f"{later.label} vs {previous_period(later).label}")
        held = f"there is none for {period.label}" if period.end < first_day else \
            f"it covers only part of {period.label}"
        raise QuestionError(f"Cost data starts on {first_day.isoformat()}, so {held} ({role} in "
                            f"'{text}'). Ask about periods from {first_day.isoformat()} on. "
                            f"Try: `{examples[0]}` or `{examples[1]}`", word=period.label, examples=examples)
    if has_costs is None:
        return
    for period, role in ((question.period_a, "the period asked about"), (question.period_b, "the comparison")):
        if has_costs(period.start, period.end):
            continue
        later = _relative_period("quarter", today, -1)
        examples = ("last month", f"{later.label} vs {previous_period(later).label}")
        raise QuestionError(f"No cost data is held for {period.label} ({period.start.isoformat()} to "
                            f"{period.end.isoformat()}, {role} in '{text}'): were its costs ingested? "
                            f"Try: `{examples[0]}` or `{examples[1]}`", word=period.label, examples=examples)


def parse_question(text: str, *, today: date, complete_through: date | None = None,
                   metric: str | None = None) -> Question:
    """Parse a ``why`` question (the grammar is in this module's docstring).

    ``today`` resolves relative periods; ``complete_through`` is the last day whose costs are
    final (default: yesterday); ``metric`` is one chosen outside the text (``costbot why
    --metric``): the text may name the same one, not another. Raises :class:`QuestionError` (one
    line, naming the first word not understood, with two example questions in ``examples``) for
    anything it cannot place.
    """
    complete = complete_through if complete_through is not None else today - timedelta(days=1)
    return _Parser(text, today, complete).parse(complete, metric)
