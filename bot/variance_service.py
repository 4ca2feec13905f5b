"""Variance answers end to end: question text -> parse -> SQL frame -> decomposition.

The CLI (``costbot why``), the ``/cost why`` handler, its "Show more" button and the demo all
answer through :func:`answer_question`, so they agree to the cent. The steps:

1. parse the text with the days the store knows to be complete (``CostStore.complete_through``,
   or the last day held when no source has recorded its freshness), so an incomplete period is
   compared like for like and the answer's note says so;
2. sum both periods in SQL by the variance keys (``storage.variance.VarianceStore``);
3. decompose the change (``finops.variance.explain_variance``) with the anomalies and verified
   findings that explain part of it: :func:`explainers_for` reads them from their stores.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

from finops.periods import Question, parse_question
from finops.variance import DEFAULT_TOP_N, Explainer, VarianceAnswer, explain_variance
from storage.costs import CostStore
from storage.db import Database
from storage.variance import VarianceStore


def complete_through(db: Database, today: date) -> date:
    """The last day whose costs are final: the sources' freshness, else the last day held.

    Never later than yesterday (today's costs are never final).
    """
    store = CostStore(db)
    complete = store.complete_through()
    if complete is None:
        held = store.date_range()
        complete = held[1] if held else None
    yesterday = today - timedelta(days=1)
    return yesterday if complete is None else min(complete, yesterday)


def parse_why(db: Database, text: str, *, today: date) -> Question:
    """The question in ``text``, cut to complete days; raises ``QuestionError`` (one line)."""
    return parse_question(text, today=today, complete_through=complete_through(db, today))


def explainers_for(db: Database, question: Question) -> list[Explainer]:
    """Anomalies and verified findings that may explain part of ``question``'s change.

    The anomaly and finding stores are not part of the code base yet: until they are, nothing is
    read here and answers name no explainers. Callers that know of some pass them to
    :func:`answer_question` directly.
    """
    return []


def answer_question(db: Database, text: str, *, today: date, explainers: Iterable[Explainer] | None = None,
                    top_n: int = DEFAULT_TOP_N) -> VarianceAnswer:
    """Answer a ``why`` question (see the module docstring).

    ``explainers`` replaces what :func:`explainers_for` would read (tests, callers with their own);
    ``top_n`` caps the contributor lines before the "other" line.
    """
    question = parse_why(db, text, today=today)
    return answer_parsed(db, question, explainers=explainers, top_n=top_n)


def answer_parsed(db: Database, question: Question, *, explainers: Iterable[Explainer] | None = None,
                  top_n: int = DEFAULT_TOP_N) -> VarianceAnswer:
    """:func:`answer_question` for a question already parsed."""
    frame = VarianceStore(db).variance_frame(question)
    found = explainers_for(db, question) if explainers is None else list(explainers)
    return explain_variance(frame, question, explainers=found, top_n=top_n)
