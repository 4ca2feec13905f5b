"""The question parser: periods, comparisons, incomplete data, filters, flags and corrections."""

from __future__ import annotations

import calendar
from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from finops.errors import QuestionError
from finops.periods import (
    Period,
    check_against_data,
    parse_question,
    question_text,
    scope_phrase,
    scope_text,
    service_key,
    with_service_names,
)

TODAY = date(2026, 10, 13)  # a Tuesday; data complete through Monday 2026-10-12 by default


def span(question):
    return ((question.period_a.start, question.period_a.end), (question.period_b.start, question.period_b.end))


def d(text: str) -> date:
    return date.fromisoformat(text)


@pytest.mark.parametrize(("text", "today", "a", "b"), [
    ("2026-09", TODAY, ("2026-09-01", "2026-09-30"), ("2026-08-01", "2026-08-31")),
    ("why last month", TODAY, ("2026-09-01", "2026-09-30"), ("2026-08-01", "2026-08-31")),
    ("", TODAY, ("2026-09-01", "2026-09-30"), ("2026-08-01", "2026-08-31")),
    ("March", TODAY, ("2026-03-01", "2026-03-31"), ("2026-02-01", "2026-02-28")),
    ("November", TODAY, ("2025-11-01", "2025-11-30"), ("2025-10-01", "2025-10-31")),
    ("Oct 2024", TODAY, ("2024-10-01", "2024-10-31"), ("2024-09-01", "2024-09-30")),
    ("sept 2025", TODAY, ("2025-09-01", "2025-09-30"), ("2025-08-01", "2025-08-31")),
    ("Q3 2026", TODAY, ("2026-07-01", "2026-09-30"), ("2026-04-01", "2026-06-30")),
    ("Q1 2026", TODAY, ("2026-01-01", "2026-03-31"), ("2025-10-01", "2025-12-31")),
    ("q2", TODAY, ("2026-04-01", "2026-06-30"), ("2026-01-01", "2026-03-31")),
    ("Q4", date(2026, 9, 30), ("2025-10-01", "2025-12-31"), ("2025-07-01", "2025-09-30")),
    ("2026-Q2", TODAY, ("2026-04-01", "2026-06-30"), ("2026-01-01", "2026-03-31")),
    ("last quarter", date(2026, 1, 10), ("2025-10-01", "2025-12-31"), ("2025-07-01", "2025-09-30")),
    ("2025", TODAY, ("2025-01-01", "2025-12-31"), ("2024-01-01", "2024-12-31")),
    ("last year", TODAY, ("2025-01-01", "2025-12-31"), ("2024-01-01", "2024-12-31")),
    ("last week", TODAY, ("2026-10-05", "2026-10-11"), ("2026-09-28", "2026-10-04")),
    ("2026-W01", TODAY, ("2025-12-29", "2026-01-04"), ("2025-12-22", "2025-12-28")),
    ("2026-09-01..2026-09-30", TODAY, ("2026-09-01", "2026-09-30"), ("2026-08-02", "2026-08-31")),
    ("last 30 days", TODAY, ("2026-09-13", "2026-10-12"), ("2026-08-14", "2026-09-12")),
    ("past 7 days", TODAY, ("2026-10-06", "2026-10-12"), ("2026-09-29", "2026-10-05")),
    ("yesterday", TODAY, ("2026-10-12", "2026-10-12"), ("2026-10-11", "2026-10-11")),
    ("2026-10-01", TODAY, ("2026-10-01", "2026-10-01"), ("2026-09-30", "2026-09-30")),
    ("Q3 2026 vs Q1 2026", TODAY, ("2026-07-01", "2026-09-30"), ("2026-01-01", "2026-03-31")),
    ("2026-09 versus 2025-09", TODAY, ("2026-09-01", "2026-09-30"), ("2025-09-01", "2025-09-30")),
    # Different lengths, asked for explicitly, are kept: the day-count effect reports them.
    ("2026-09 vs Q2 2026", TODAY, ("2026-09-01", "2026-09-30"), ("2026-04-01", "2026-06-30")),
])
def test_periods_and_default_comparisons(text, today, a, b):
    question = parse_question(text, today=today)
    assert span(question) == ((d(a[0]), d(a[1])), (d(b[0]), d(b[1])))
    assert question.note is None


def test_labels_and_kinds():
    question = parse_question("Q3 2026", today=TODAY)
    assert question.period_a == Period(d("2026-07-01"), d("2026-09-30"), "Q3 2026", "quarter")
    assert question.period_b.label == "Q2 2026"
    assert parse_question("October 2025", today=TODAY).period_a.label == "October 2025"
    assert parse_question("last week", today=TODAY).period_a.label == "2026-W41"
    assert parse_question("last 30 days", today=TODAY).period_b.label == "the 30 days to 2026-09-12"
    assert parse_question("last 30 days", today=TODAY).period_a.days == 30


def test_this_month_is_cut_to_complete_days_and_compared_like_for_like():
    question = parse_question("this month", today=TODAY)
    assert span(question) == ((d("2026-10-01"), d("2026-10-12")), (d("2026-09-01"), d("2026-09-12")))
    assert question.period_a.label == "the first 12 days of October 2026"
    assert question.period_b.label == "the first 12 days of September 2026"
    assert question.note == ("October 2026 has 12 complete days (data complete through 2026-10-12); "
                             "compared with the first 12 days of September 2026.")


def test_provider_lag_cuts_a_past_period_too():
    question = parse_question("October", today=date(2026, 11, 2), complete_through=date(2026, 10, 29))
    assert span(question) == ((d("2026-10-01"), d("2026-10-29")), (d("2026-09-01"), d("2026-09-29")))
    assert question.note == ("October 2026 has 29 complete days (data complete through 2026-10-29); "
                             "compared with the first 29 days of September 2026.")


def test_last_n_days_are_the_n_complete_days_when_the_provider_lags():
    question = parse_question("last 30 days", today=date(2026, 11, 27), complete_through=date(2026, 10, 31))
    assert span(question) == ((d("2026-10-02"), d("2026-10-31")), (d("2026-09-02"), d("2026-10-01")))
    assert question.period_a.label == "the 30 days to 2026-10-31"
    assert question.note == "The last 30 days end on 2026-10-31, the last day with complete cost data."
    assert parse_question("past 7 days", today=TODAY).note is None  # complete through yesterday: nothing to say


def test_a_shorter_comparison_month_is_compared_whole():
    question = parse_question("this month", today=date(2026, 3, 31))
    assert span(question) == ((d("2026-03-01"), d("2026-03-30")), (d("2026-02-01"), d("2026-02-28")))
    assert question.note == ("March 2026 has 30 complete days (data complete through 2026-03-30); "
                             "compared with all 28 days of February 2026.")


def test_this_quarter_against_an_explicit_quarter_keeps_the_same_number_of_days():
    question = parse_question("this quarter vs Q2", today=TODAY)
    assert span(question) == ((d("2026-10-01"), d("2026-10-12")), (d("2026-04-01"), d("2026-04-12")))


def test_explicit_comparison_of_another_kind_is_not_cut():
    question = parse_question("this month vs Q2 2026", today=TODAY)
    assert span(question) == ((d("2026-10-01"), d("2026-10-12")), (d("2026-04-01"), d("2026-06-30")))
    assert question.note == "October 2026 has 12 complete days (data complete through 2026-10-12)."


def test_this_week_on_a_monday_has_one_complete_day():
    question = parse_question("this week", today=date(2026, 10, 13))
    assert span(question) == ((d("2026-10-12"), d("2026-10-12")), (d("2026-10-05"), d("2026-10-05")))
    assert question.note == ("2026-W42 has 1 complete day (data complete through 2026-10-12); "
                             "compared with the first day of 2026-W41.")


def test_filters_quotes_and_flags():
    question = parse_question('why team=payments service="Amazon EC2" team=search region = eu-west-1 '
                              "tag:CostCenter='cc 42' last quarter --billed public", today=TODAY)
    assert question.scope == {"team": ("payments", "search"), "service": ("Amazon EC2",),
                              "region": ("eu-west-1",), "tag:CostCenter": ("cc 42",)}
    assert question.metric == "billed"
    assert question.in_channel is True
    assert span(question)[0] == (d("2026-07-01"), d("2026-09-30"))


def test_a_metric_chosen_outside_the_text():
    assert parse_question("last month", today=TODAY, metric="list").metric == "list"
    assert parse_question("last month --billed", today=TODAY, metric="billed").metric == "billed"
    with pytest.raises(QuestionError, match="the question says billed but the option says effective"):
        parse_question("last month --billed", today=TODAY, metric="effective")
    with pytest.raises(QuestionError, match="Unknown metric 'net': metrics are effective, billed, list"):
        parse_question("last month", today=TODAY, metric="net")


def test_slack_smart_quotes_and_other_metric_spellings():
    question = parse_question("Service=“Amazon EC2” account=111222330440 metric=billed Q3", today=TODAY)
    assert question.scope == {"service": ("Amazon EC2",), "account": ("111222330440",)}
    assert question.metric == "billed"
    assert parse_question("--metric effective", today=TODAY).metric == "effective"
    assert parse_question("--metric=list 2026-09", today=TODAY).metric == "list"
    assert parse_question("last month", today=TODAY).metric == "effective"
    assert parse_question("last month --in-channel", today=TODAY).in_channel is True
    assert parse_question("last month", today=TODAY).in_channel is False


def test_the_word_the_parser_did_not_understand_is_named_with_two_examples():
    with pytest.raises(QuestionError) as caught:
        parse_question("why lsat month", today=TODAY)
    error = caught.value
    assert error.word == "lsat"
    assert str(error) == ("I didn't understand 'lsat' in 'why lsat month'. "
                          "Try: `last month` or `Q3 2026 vs Q2 2026`")
    assert error.examples == ("last month", "Q3 2026 vs Q2 2026")


def test_an_unknown_filter_names_the_key_and_lists_the_valid_ones():
    with pytest.raises(QuestionError) as caught:
        parse_question("teem=payments last month", today=TODAY)
    assert caught.value.word == "teem"
    assert str(caught.value).startswith(
        "I don't know the filter 'teem' in 'teem=payments last month' "
        "(filters: team, service, account, region, provider, sku, resource, tag:NAME). Try: `team=payments")


@pytest.mark.parametrize(("text", "word", "reason"), [
    ("last", "last", "say last month, quarter, week, year or last N days"),
    ("last 30 dayz", "dayz", "say last 30 days"),
    ("past month", "month", "say past N days, or last month, quarter, week or year"),
    ("last 0 days", "0", "the number of days goes from 1 to 3660"),
    ("this decade", "decade", "say this month, this quarter, this week or this year"),
    ("2026-13", "2026-13", "there is no month 13"),
    ("2026-02-30", "2026-02-30", "2026-02-30 is not a date"),
    ("2026-09-30..2026-09-01", "2026-09-30..2026-09-01", "the range ends before it starts"),
    ("1999", "1999", "years go from 2000 to 2999"),
    ("2025-W53", "2025-W53", "2025 has no ISO week 53"),
    ("Q3 Q2", "Q2", "one period to explain, and one after vs to compare with"),
    ("vs Q3", "vs", "name the period to explain before vs, e.g. Q3 2026 vs Q2 2026"),
    ("Q3 vs", "vs", "name the period to compare with after vs"),
    ("Q3 vs Q2 vs Q1", "vs", "one vs per question"),
    ("--billed last month --effective", "--effective", "the metric is already set"),
    ("metric=cheap", "metric=cheap", "metrics are effective, billed, list"),
    ('service="Amazon EC2 last month', 'service="Amazon', "a quote is not closed"),
    ("=payments", "=payments", "write filters as key=value"),
    ("tag:=prod last month", "tag:=prod", "a tag filter names its tag: tag:NAME=VALUE, e.g. tag:env=prod"),
    ("Q5 2026", "Q5", "quarters are Q1 to Q4"),
    ("2026-Q0", "2026-Q0", "quarters are Q1 to Q4"),
    ("team= last month", "team=", 'team has no value; write team=NAME (a value that reads like a period goes in '
                                  'quotes: team="last")'),
    ("last month team=", "team=", "team has no value; write team=NAME"),
])
def test_corrections_name_the_word_and_say_why(text, word, reason):
    with pytest.raises(QuestionError) as caught:
        parse_question(text, today=TODAY)
    assert caught.value.word == word
    assert f"'{word}'" in str(caught.value)
    assert f": {reason}. Try: `" in str(caught.value)


def test_a_period_without_complete_data_is_refused():
    with pytest.raises(QuestionError) as caught:
        parse_question("2026-11", today=TODAY)
    assert str(caught.value).startswith(
        "There is no complete cost data for '2026-11' (November 2026) yet: data is complete through 2026-10-12.")
    with pytest.raises(QuestionError) as caught:
        parse_question("this month", today=date(2026, 10, 1))
    assert caught.value.word == "this"


KNOWN = {"team": {"payments", "search", "unallocated"}, "account": {"111222330440", "payments-prod"},
         "tag:env": {"prod", "dev"}, "region": set()}


def refusal(text: str, *, first_day: date | None = date(2025, 6, 1)) -> QuestionError:
    question = parse_question(text, today=TODAY)
    with pytest.raises(QuestionError) as caught:
        check_against_data(question, today=TODAY, first_day=first_day, known_values=KNOWN)
    return caught.value


def test_a_filter_value_no_data_has_is_refused_with_the_closest_known_one():
    error = refusal("team=paymnts last month")
    assert str(error) == ("I don't know team 'paymnts' in 'team=paymnts last month' (did you mean payments?). "
                          "Try: `team=payments last month` or `team=payments Q3 2026 vs Q2 2026`")
    assert (error.word, error.examples) == ("team=paymnts", ("team=payments last month",
                                                             "team=payments Q3 2026 vs Q2 2026"))
    several = refusal("team=payments,search last month")
    assert "(to ask about several, repeat the filter: team=payments team=search)" in str(several)
    assert several.examples[0] == "team=payments team=search last month"
    assert "(did you mean prod?)" in str(refusal("tag:ENV=prdo last month"))
    assert "(no cost data has a region)" in str(refusal("region=mars last month"))
    far = refusal("team=zzzzzz last month")
    assert "(no cost data has that team)" in str(far) and far.examples[0] == "team=payments last month"


def test_known_values_any_case_and_a_missing_tag_are_accepted():
    for text in ("team=PAYMENTS last month", "account=Payments-Prod last month", "account=111222330440 last month",
                 'tag:env="" last month', "tag:Env=Prod team=search last month", "last month"):
        check_against_data(parse_question(text, today=TODAY), today=TODAY, first_day=date(2025, 6, 1),
                           known_values=KNOWN)


def test_a_period_before_the_first_day_of_data_is_refused():
    assert str(refusal("September 2025 vs September 2024")) == (
        "Cost data starts on 2025-06-01, so there is none for September 2024 (the comparison in 'September 2025 "
        "vs September 2024'). Ask about periods from 2025-06-01 on. Try: `last month` or `Q3 2026 vs Q2 2026`")
    assert "so it covers only part of Q2 2025 (the period asked about in 'Q2 2025')" in str(refusal("Q2 2025"))
    assert "none for May 2025 (the comparison" in str(refusal("2025-06"))
    check_against_data(parse_question("2025-07", today=TODAY), today=TODAY, first_day=date(2025, 6, 1),
                       known_values=KNOWN)
    assert str(refusal("last month", first_day=None)).startswith("There is no cost data yet")


def test_a_period_inside_the_data_without_any_cost_is_refused_as_a_gap():
    # Costs held from June 2025, but none for August 2026 (a month never ingested).
    def has_costs(start: date, end: date) -> bool:
        return not (date(2026, 8, 1) <= start and end <= date(2026, 8, 31))

    def check(text: str) -> None:
        check_against_data(parse_question(text, today=TODAY), today=TODAY, first_day=date(2025, 6, 1),
                           known_values=KNOWN, has_costs=has_costs)

    check("2026-07 vs 2026-06")
    with pytest.raises(QuestionError) as caught:
        check("2026-09")
    assert str(caught.value) == (
        "No cost data is held for August 2026 (2026-08-01 to 2026-08-31, the comparison in '2026-09'): were its "
        "costs ingested? Try: `last month` or `Q3 2026 vs Q2 2026`")
    assert caught.value.word == "August 2026"
    with pytest.raises(QuestionError, match=r"^No cost data is held for August 2026 .* the period asked about"):
        check("2026-08 vs 2026-07")


def test_corrections_are_one_line_even_for_multi_line_text():
    with pytest.raises(QuestionError) as caught:
        parse_question("last month\n\nplease", today=TODAY)
    assert str(caught.value).splitlines() == [str(caught.value)]
    assert "in 'last month please'" in str(caught.value)


def test_a_value_after_a_space_is_still_the_filters_value():
    assert parse_question("team= payments service = EC2 last month", today=TODAY).scope == {
        "team": ("payments",), "service": ("EC2",)}
    assert parse_question('team="last" last month', today=TODAY).scope == {"team": ("last",)}


def test_scope_phrase_says_or_between_the_values_of_one_key():
    question = parse_question('team=payments team=search service="Amazon EC2" last month', today=TODAY)
    assert scope_phrase(question.scope) == 'team=payments or search, service="Amazon EC2"'


def test_question_text_round_trips():
    for text in ['team=payments service="Amazon EC2" this month --billed public', "last week",
                 'tag:env="" region=us-east-1 2026-09 vs 2025-09', "Q2 2026", "last 30 days", "2025"]:
        question = parse_question(text, today=TODAY)
        again = parse_question(question_text(question), today=TODAY)
        assert (again.scope, span(again), again.metric, again.in_channel) == (
            question.scope, span(question), question.metric, question.in_channel)


def test_scope_text_quotes_what_needs_quotes():
    assert scope_text({"team": ("payments",), "service": ("Amazon EC2",), "tag:env": ("",)}) == (
        'team=payments service="Amazon EC2" tag:env=""')
    assert scope_text({"service": ('say "hi"',)}) == "service='say \"hi\"'"


# ---------------------------------------------------------------------------------------------
# Property-based: random text, and generated valid grammar against periods computed here.

VOCABULARY = ["why", "last", "this", "past", "previous", "month", "quarter", "year", "week", "days", "day",
              "vs", "versus", "yesterday", "Q3", "q5", "2026", "2026-10", "2026-13", "2026-W40", "October",
              "oct", "30", "99999999", "2026-09-01..2026-09-30", "team=payments", 'service="Amazon EC2"',
              "tag:env=prod", "teem=x", "--billed", "--metric", "metric=billed", "public", "=", '"', "'",
              "“", "..", "tag:", "9999-12-31", "0000-01", "2999-12", "last 3660 days"]


@settings(max_examples=200, deadline=500, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.one_of(st.text(max_size=60),
                      st.lists(st.one_of(st.sampled_from(VOCABULARY), st.text(max_size=6)), max_size=8)
                      .map(" ".join)),
       today=st.dates(min_value=date(2001, 1, 1), max_value=date(2998, 12, 31)))
def test_random_text_only_ever_raises_a_question_error(text, today):
    try:
        question = parse_question(text, today=today)
    except QuestionError as error:
        message = str(error)
        assert message.splitlines() == [message]
        assert error.word and error.word in text
        assert len(error.examples) == 2
        for example in error.examples:
            parse_question(example, today=today)
    else:
        assert question.period_a.start <= question.period_a.end < today
        assert question.period_b.start <= question.period_b.end < today


def test_a_long_question_is_answered_quickly():
    text = "team=payments " * 3000 + "last month"
    assert parse_question(text, today=TODAY).scope == {"team": ("payments",)}


def _month(year: int, month: int) -> tuple[date, date, str]:
    return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1]), "month"


def _shift_month(year: int, month: int, by: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + by
    return index // 12, index % 12 + 1


def _quarter(year: int, quarter: int) -> tuple[date, date, str]:
    start, _, _ = _month(year, 3 * quarter - 2)
    _, end, _ = _month(year, 3 * quarter)
    return start, end, "quarter"


@st.composite
def period_phrases(draw, today: date):
    """(text, (start, end, kind), previous (start, end)) computed without finops.periods."""
    choice = draw(st.sampled_from(["iso_month", "named_month", "quarter", "year", "week", "range", "day",
                                   "last_unit", "this_unit", "last_days", "yesterday"]))
    if choice == "iso_month":
        year, month = draw(st.integers(2000, today.year)), draw(st.integers(1, 12))
        text, full = f"{year}-{month:02d}", _month(year, month)
    elif choice == "named_month":
        month = draw(st.integers(1, 12))
        name = draw(st.sampled_from([calendar.month_name[month], calendar.month_abbr[month].upper()]))
        if draw(st.booleans()):
            year = draw(st.integers(2000, today.year))
            text = f"{name} {year}"
        else:
            year = today.year if month <= today.month else today.year - 1
            text = name
        full = _month(year, month)
    elif choice == "quarter":
        quarter = draw(st.integers(1, 4))
        if draw(st.booleans()):
            year = draw(st.integers(2000, today.year))
            text = draw(st.sampled_from([f"Q{quarter} {year}", f"{year}-Q{quarter}", f"q{quarter} {year}"]))
        else:
            year = today.year if 3 * quarter - 2 <= today.month else today.year - 1
            text = f"Q{quarter}"
        full = _quarter(year, quarter)
    elif choice == "year":
        year = draw(st.integers(2000, today.year))
        text, full = str(year), (date(year, 1, 1), date(year, 12, 31), "year")
    elif choice == "week":
        monday = draw(st.dates(date(2000, 1, 3), today))
        monday -= timedelta(days=monday.weekday())
        iso = monday.isocalendar()
        text, full = f"{iso.year}-W{iso.week:02d}", (monday, monday + timedelta(days=6), "week")
    elif choice == "range":
        start = draw(st.dates(date(2000, 1, 1), today))
        end = start + timedelta(days=draw(st.integers(0, 400)))
        text, full = f"{start}..{end}", (start, end, "range")
    elif choice == "day":
        day = draw(st.dates(date(2000, 1, 1), today))
        text, full = day.isoformat(), (day, day, "day")
    elif choice == "yesterday":
        day = today - timedelta(days=1)
        text, full = "yesterday", (day, day, "day")
    elif choice == "last_days":
        count = draw(st.integers(1, 400))
        end = today - timedelta(days=1)
        text, full = f"last {count} days", (end - timedelta(days=count - 1), end, "days")
    else:
        unit = draw(st.sampled_from(["month", "quarter", "year", "week"]))
        back = 1 if choice == "last_unit" else 0
        text = f"{'last' if back else 'this'} {unit}"
        if unit == "month":
            full = _month(*_shift_month(today.year, today.month, -back))
        elif unit == "quarter":
            year, month = _shift_month(today.year, today.month - (today.month - 1) % 3, -3 * back)
            full = _quarter(year, (month - 1) // 3 + 1)
        elif unit == "year":
            full = (date(today.year - back, 1, 1), date(today.year - back, 12, 31), "year")
        else:
            monday = today - timedelta(days=today.weekday() + 7 * back)
            full = (monday, monday + timedelta(days=6), "week")
    return text, full


def _previous(full: tuple[date, date, str]) -> tuple[date, date, str]:
    start, end, kind = full
    if kind == "month":
        return _month(*_shift_month(start.year, start.month, -1))
    if kind == "quarter":
        year, month = _shift_month(start.year, start.month, -3)
        return _quarter(year, (month - 1) // 3 + 1)
    if kind == "year":
        return date(start.year - 1, 1, 1), date(start.year - 1, 12, 31), kind
    length = end - start
    return start - length - timedelta(days=1), start - timedelta(days=1), kind


@settings(max_examples=200, deadline=500, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), today=st.dates(min_value=date(2001, 1, 1), max_value=date(2098, 12, 31)))
def test_generated_questions_parse_to_the_expected_periods(data, today):
    complete = today - timedelta(days=1)
    text_a, full_a = data.draw(period_phrases(today))
    compare = data.draw(st.booleans())
    if compare:
        text_b, full_b = data.draw(period_phrases(today))
    else:
        text_b, full_b = None, _previous(full_a)
    if full_a[0] > complete or full_b[0] > complete:
        with pytest.raises(QuestionError):
            parse_question(f"{text_a} vs {text_b}" if compare else text_a, today=today)
        return

    # Like for like: the same kind (or the default comparison) keeps the same day count.
    days_a = (min(full_a[1], complete) - full_a[0]).days + 1
    days_b = (min(full_b[1], complete) - full_b[0]).days + 1
    if not compare or full_a[2] == full_b[2]:
        if full_a[1] > complete:
            days_b = min(days_b, days_a)
        if full_b[1] > complete:
            days_a = min(days_a, days_b)
    expected = ((full_a[0], full_a[0] + timedelta(days=days_a - 1)),
                (full_b[0], full_b[0] + timedelta(days=days_b - 1)))

    filters = data.draw(st.lists(st.tuples(st.sampled_from(["team", "service", "region", "tag:env"]),
                                           st.text("abc xyz-_.", min_size=1, max_size=8)), max_size=3))
    flags = data.draw(st.lists(st.sampled_from(["--billed", "public"]), max_size=2, unique=True))
    extras = [f'{key}="{value}"' for key, value in filters] + flags
    items = data.draw(st.permutations([text_a, *extras]))
    words = list(items)
    if compare:
        position = data.draw(st.integers(words.index(text_a) + 1, len(words)))
        words[position:position] = ["vs", text_b]
    question = parse_question(" ".join(words), today=today)

    assert span(question) == expected
    assert (question.period_a.kind, question.period_b.kind) == (full_a[2], full_b[2])
    scope: dict[str, list[str]] = {}
    for key, value in filters:
        if value not in scope.setdefault(key, []):
            scope[key].append(value)
    assert {key: sorted(values) for key, values in question.scope.items()} == {
        key: sorted(values) for key, values in scope.items()}
    assert question.metric == ("billed" if "--billed" in flags else "effective")
    assert question.in_channel == ("public" in flags)
    assert (question.note is not None) == (expected != ((full_a[0], full_a[1]), (full_b[0], full_b[1])))


@pytest.mark.parametrize("name", ["Amazon EC2", "AmazonEC2", "ec2", "AWS EC2", "Amazon Elastic Compute Cloud",
                                  "Amazon Elastic Compute Cloud - Compute", "amazon  elastic compute cloud"])
def test_the_ways_a_service_is_written_mean_one_service(name):
    assert service_key(name) == "elastic compute cloud"
    assert service_key("Amazon S3") == service_key("Amazon Simple Storage Service") != service_key(name)


def test_a_service_named_short_asks_about_the_names_the_bills_use():
    # SPEC's own example, `service="Amazon EC2" 2026-10 vs 2026-09`, was refused on data that
    # calls it "Amazon Elastic Compute Cloud" ("did you mean Amazon SageMaker?").
    known = {"Amazon Elastic Compute Cloud", "Amazon Elastic Compute Cloud - Compute", "Amazon SageMaker"}
    question = parse_question('service="Amazon EC2" 2026-10 vs 2026-09', today=TODAY)
    assert with_service_names(question, known).scope["service"] == (
        "Amazon Elastic Compute Cloud", "Amazon Elastic Compute Cloud - Compute")
    # As written in the data, or unknown: left as asked (the check refuses the unknown one).
    exact = parse_question('service="amazon sagemaker" 2026-10 vs 2026-09', today=TODAY)
    assert with_service_names(exact, known) is exact
    unknown = parse_question('service="Amazon EKS" 2026-10 vs 2026-09', today=TODAY)
    assert with_service_names(unknown, known).scope["service"] == ("Amazon EKS",)
