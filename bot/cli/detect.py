"""``costbot detect [--as-of DATE] [--json]`` and ``costbot detect --replay FROM..TO [--json]``.

``detect`` is one daily run (jobs/detect.py): the data complete through ``--as-of`` (default
today), anomalies raised, updated and ended in the store, and each alert posted in its owner's
channel or brought up to date (to the terminal without a Slack token). When earlier runs missed
days (the bot was down), those days are detected too, each reading only the data up to it, so
nothing that happened meanwhile goes unseen and nothing is raised twice. It prints the anomalies the
run touched; ``--json`` prints them as a list of anomaly objects (SPEC "Command-line contract":
``id``, ``detected_on``, ``start``, ``end`` (null while open), ``dimensions``, ``expected_cost``,
``actual_cost``, ``impact``, ``team``, ``channel``, and ``status``: new, updated or ended).

``--replay FROM..TO`` runs the daily detection for every day of the range as it would have run
then, each day reading only the data up to that day, and prints every anomaly raised with its
``detected_on`` (the day it was raised), in its final state. A replay is an analysis: it neither
writes the store nor posts anything, so it can be run at any time on a live installation; its
``id`` is the anomaly's stable key (the same key a daily run stores).
"""

from __future__ import annotations

import argparse
from datetime import date

from bot.cli._common import UsageError, open_context, parse_date, print_json, print_table
from bot.context import AppContext
from finops.anomaly_model import Anomaly
from finops.money import format_usd
from jobs.detect import replay_anomalies, run_detection
from storage.anomalies import AnomalyRecord, scope_label

JSON_FIELDS = ("detected_on", "start", "end", "last_seen", "dimensions", "level", "kind", "direction",
               "expected_cost", "actual_cost", "impact", "impact_pct", "team", "alert", "root_cause", "source")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("detect", help="one daily anomaly detection run (or a replay of many days)")
    parser.add_argument("--as-of", type=parse_date, metavar="DATE",
                        help="run as on this day, with the data complete up to it (default: today)")
    parser.add_argument("--replay", metavar="FROM..TO",
                        help="run the daily detection for every day of the range; stores and posts nothing")
    parser.add_argument("--teams", metavar="FILE", help="teams.yml (default: COSTBOT_TEAMS)")
    parser.add_argument("--json", action="store_true", help="print one JSON document (a list of anomalies)")
    parser.set_defaults(func=run_detect)


def parse_range(text: str) -> tuple[date, date]:
    """``2026-01-01..2026-03-31`` -> the two days (in order)."""
    start, sep, end = text.partition("..")
    if not sep:
        raise UsageError(f"--replay wants FROM..TO (e.g. 2026-01-01..2026-03-31), not {text!r}")
    try:
        first, last = date.fromisoformat(start.strip()), date.fromisoformat(end.strip())
    except ValueError:
        raise UsageError(f"--replay wants two dates YYYY-MM-DD..YYYY-MM-DD, not {text!r}") from None
    if last < first:
        raise UsageError(f"--replay {text}: the range ends before it starts")
    return first, last


def replay_json(ctx: AppContext, anomaly: Anomaly) -> dict:
    """A replayed anomaly as the CLI prints it (its id is its stable key)."""
    data = anomaly.to_dict()
    # ``key`` as well as ``id``: a script joins a replay with a daily run's output on ``key`` (a
    # daily run's ``id`` is the store's number, which a replay, storing nothing, does not have).
    out = {"id": anomaly.key, "key": anomaly.key, **{k: data[k] for k in JSON_FIELDS}}
    out["dimensions"] = {**anomaly.dimensions, "team": anomaly.team}
    out["channel"] = ctx.teams.channel_for(anomaly.team)
    return out


def run_detect(args: argparse.Namespace) -> int:
    if args.replay and args.as_of:
        raise UsageError("use --as-of or --replay, not both")
    ctx = open_context(args, json_output=args.json)
    if args.replay:
        start, end = parse_range(args.replay)
        anomalies = replay_anomalies(ctx, start, end)
        if args.json:
            print_json([replay_json(ctx, a) for a in anomalies])
            return 0
        print(f"replay {start}..{end}: {len(anomalies)} anomalies raised")
        print_table(["detected", "start", "end", "team", "kind", "impact", "scope"],
                    [[a.detected_on, a.start, a.end or "open", a.team, a.kind, format_usd(a.impact, signed=True),
                      scope_label(a.dimensions, a.level)] for a in anomalies], right={5})
        return 0
    run = run_detection(ctx, as_of=args.as_of)
    touched: list[tuple[str, AnomalyRecord]] = [(status, r) for status, records in
                                                (("new", run.saved.new), ("updated", run.saved.updated),
                                                 ("ended", run.saved.ended)) for r in records]
    if args.json:
        print_json([{**r.to_json(r.channel or ctx.teams.channel_for(r.team)), "status": status}
                    for status, r in touched])
        return 0
    if run.complete_through is None:
        print("no cost data yet: ingest some first (costbot ingest file PATH)")
        return 0
    print(f"detection as of {run.as_of} (data complete through {run.complete_through}): "
          f"{len(run.saved.new)} new, {len(run.saved.updated)} updated, {len(run.saved.ended)} ended")
    if touched:
        print_table(["id", "status", "alert", "team", "kind", "start", "impact", "scope"],
                    [[r.id, status, run.alerts.get(r.id, "-"), r.team, r.kind, r.start,
                      format_usd(r.impact, signed=True), r.label] for status, r in touched], right={0, 6})
    return 0
