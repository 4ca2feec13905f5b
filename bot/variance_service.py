"""Variance answers end to end: question text -> parse -> SQL frame -> decomposition.

The CLI (``costbot why``), the ``/cost why`` handler, its "Show more" button and the demo all
answer through :func:`answer_question`, so they agree to the cent. The steps:

1. parse the text with the days the store knows to be complete (``CostStore.complete_through``,
   or the last day held when no source has recorded its freshness), so an incomplete period is
   compared like for like and the answer's note says so;
2. sum both periods in SQL by the variance keys (``storage.variance.VarianceStore``);
3. decompose the change (``finops.variance.explain_variance``) with the anomalies and verified
   findings that explain part of it: :func:`explainers_for` reads them from their stores.

A verified finding explains the saving it realized, from the day it was implemented on: its
realized monthly saving is spread over the average month (365.25 / 12 days, as verification
measures it), so over a question's days it removed ``realized_monthly / 30.4375`` a day.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

from finops.periods import Question, check_against_data, parse_question, with_service_names
from finops.savings import FindingState
from finops.variance import DEFAULT_TOP_N, Explainer, VarianceAnswer, explain_variance
from finops.verification import DAYS_PER_MONTH
from storage.anomalies import AnomalyRecord, AnomalyStore
from storage.costs import CostStore
from storage.db import Database
from storage.findings import FindingRecord, FindingStore
from storage.variance import VarianceStore

# Finding scope keys (storage/findings.py) under the question's filter keys.
_FINDING_KEYS = {"sub_account_id": "account", "resource_id": "resource", "sku_id": "sku"}


def complete_through(db: Database, today: date, *, held: tuple[date, date] | None = None) -> date:
    """The last day whose costs are final: the sources' freshness, else the last day held.

    Never later than yesterday (today's costs are never final). ``held`` is the store's
    ``date_range()`` when the caller has read it already.
    """
    store = CostStore(db)
    complete = store.complete_through()
    if complete is None:
        held = held or VarianceStore(db).days_held()
        complete = held[1] if held else None
    yesterday = today - timedelta(days=1)
    return yesterday if complete is None else min(complete, yesterday)


def parse_why(db: Database, text: str, *, today: date, metric: str | None = None) -> Question:
    """The question in ``text``, cut to complete days; raises ``QuestionError`` (one line).

    A question the data cannot answer is refused the same way (finops.periods.check_against_data):
    a filter value no cost data has (a typo: "did you mean payments?"), a period starting
    before the first day held, or one without any cost held (a gap: a month never ingested). ``metric`` is one chosen outside the text (``--metric``).
    """
    store = VarianceStore(db)
    held = store.days_held()
    question = parse_question(text, today=today, complete_through=complete_through(db, today, held=held),
                              metric=metric)
    known = store.known_scope_values(question.scope)
    # "Amazon EC2" asks about what the bills call "Amazon Elastic Compute Cloud".
    question = with_service_names(question, known.get("service", ()))
    check_against_data(question, today=today, first_day=held[0] if held else None,
                       known_values=known, has_costs=store.has_costs)
    return question


def explainers_for(db: Database, question: Question) -> list[Explainer]:
    """Anomalies and verified findings that may explain part of ``question``'s change.

    Verified findings come from the finding store; anomalies whose days overlap the question's
    periods from the anomaly store (costbot's own: AWS's imported ones would tell the same events
    twice). A drop that a verified finding caused is told once: the detector sees the saving as
    a drop in the finding's scope from its implementation on, so such an anomaly
    (:func:`drop_of_finding`) is left out and the finding's label names it.
    """
    first_day = min(question.period_a.start, question.period_b.start)
    last_day = max(question.period_a.end, question.period_b.end)
    verified = FindingStore(db).list_findings(states=[FindingState.VERIFIED])
    anomalies = [r for r in AnomalyStore(db).list_anomalies(open_only=False, start=first_day, end=last_day)
                 if r.source == "costbot"]
    names = VarianceStore(db).account_names({r.dimensions["sub_account_id"] for r in anomalies
                                             if r.dimensions.get("sub_account_id")}) \
        if "account" in question.scope else {}
    seen_as: dict[int, list[int]] = {}
    kept = []
    for anomaly in sorted(anomalies, key=lambda r: r.id):
        finding = next((f for f in verified if drop_of_finding(anomaly, f)), None)
        if finding is None:
            kept.append(anomaly_explainer(anomaly, account_name=names.get(anomaly.dimensions.get("sub_account_id", ""))))
        else:
            seen_as.setdefault(finding.id, []).append(anomaly.id)
    findings = [e for e in (finding_explainer(f, last_day, seen_as=seen_as.get(f.id, ())) for f in verified)
                if e is not None]
    return findings + kept


# A drop detected up to this many days before or after a finding's implementation date is the
# saving itself: the date is typed by a person, and detection may date the change a few days off.
DROP_MATCH_DAYS = 7


def drop_of_finding(anomaly: AnomalyRecord, finding: FindingRecord) -> bool:
    """True when ``anomaly`` is the drop that verified ``finding`` caused: a decrease of the same
    team, starting within :data:`DROP_MATCH_DAYS` of the implementation date, whose dimensions
    agree with every scope key of the finding that the anomaly has (and share at least one)."""
    start = finding.implemented_on or finding.verified_on
    if anomaly.impact >= 0 or anomaly.team != finding.team or start is None:
        return False
    if abs((anomaly.start - start).days) > DROP_MATCH_DAYS:
        return False
    shared = [key for key in finding.scope if key in anomaly.dimensions]
    return bool(shared) and all(anomaly.dimensions[key].casefold() in {v.casefold() for v in finding.scope[key]}
                                for key in shared)


def anomaly_explainer(anomaly: AnomalyRecord, *, account_name: str | None = None) -> Explainer:
    """An anomaly as the spend it added (or removed) from its first day to the last day its figures
    cover (its end, or the last complete day of the run that last updated it). ``account_name``
    lets a question naming the account by name find it."""
    dimensions = {key: value for key, value in anomaly.dimensions.items()
                  if key in ("provider", "sub_account_id", "service", "region")}
    if account_name:
        dimensions["sub_account_name"] = account_name
    return Explainer(kind="anomaly", id=anomaly.id, label=f"{anomaly.kind.replace('_', ' ')} in {anomaly.label}",
                     state=anomaly.state, amount=float(anomaly.impact), start=anomaly.start, end=anomaly.through,
                     dimensions={"team": anomaly.team, **dimensions})


def finding_explainer(finding: FindingRecord, last_day: date, *, seen_as: Iterable[int] = ()) -> Explainer | None:
    """A verified finding as the saving it realized from its implementation to ``last_day``.

    None when it has no realized saving or was implemented after ``last_day``. Scope keys with one
    value become dimensions (a key with several values cannot name one line of the answer).
    ``seen_as``: the drop anomalies it caused, named in its label (they are not counted again).
    """
    start = finding.implemented_on or finding.verified_on
    if finding.realized_monthly is None or not finding.realized_monthly or start is None or start > last_day:
        return None
    days = (last_day - start).days + 1
    saved = float(finding.realized_monthly) / DAYS_PER_MONTH * days
    dimensions = {"team": finding.team}
    for key, values in finding.scope.items():
        if len(values) == 1:
            dimensions[_FINDING_KEYS.get(key, key)] = values[0]
    label = finding.title
    drops = sorted(seen_as)
    if drops:
        label += f" (seen as the drop of anomaly {', '.join(f'#{i}' for i in drops)})"
    return Explainer(kind="finding", id=finding.id, label=label, state=str(finding.state), amount=-saved,
                     start=start, end=last_day, dimensions=dimensions)


def answer_question(db: Database, text: str, *, today: date, extra_explainers: Iterable[Explainer] = (),
                    top_n: int = DEFAULT_TOP_N, metric: str | None = None) -> VarianceAnswer:
    """Answer a ``why`` question (see the module docstring).

    ``extra_explainers`` are added to those :func:`explainers_for` reads; ``top_n`` caps the
    contributor lines before the "other" line; ``metric`` as in :func:`parse_why`.
    """
    question = parse_why(db, text, today=today, metric=metric)
    return answer_parsed(db, question, extra_explainers=extra_explainers, top_n=top_n)


def answer_parsed(db: Database, question: Question, *, extra_explainers: Iterable[Explainer] = (),
                  top_n: int = DEFAULT_TOP_N) -> VarianceAnswer:
    """:func:`answer_question` for a question already parsed."""
    frame = VarianceStore(db).variance_frame(question)
    explainers = [*explainers_for(db, question), *extra_explainers]
    return explain_variance(frame, question, explainers=explainers, top_n=top_n)
