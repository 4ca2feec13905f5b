"""Ack latency of signed `/cost help` requests through the real HTTP endpoint.

Starts the production app (HTTP mode, SQLite, the fake Slack Web API on 127.0.0.1), fires N signed
slash commands from C concurrent clients and prints p50/p90/p99/max. The baseline, measured in the
same run under the same load: GET /health on the same server (the HTTP floor without Bolt).
Target (issue 2): p99 < 200 ms with 20 concurrent on this 2-core machine.

usage: python bench/ack_latency.py [--requests 400] [--concurrency 20] [--smoke]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from storage.db import Database  # noqa: E402
from tests.harness import start_bot  # noqa: E402
from tests.slack.fake_slack import FakeSlack  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def measure(call, requests: int, concurrency: int) -> list[float]:
    with ThreadPoolExecutor(concurrency) as pool:
        return list(pool.map(lambda _: call(), range(requests)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--smoke", action="store_true", help="a few requests, to prove the script runs")
    args = parser.parse_args()
    if args.smoke:
        args.requests, args.concurrency = 20, 4

    with tempfile.TemporaryDirectory() as tmp, FakeSlack() as slack:
        db = Database(f"sqlite:///{tmp}/bench.db")
        db.upgrade()
        bot = start_bot(db, slack)
        try:
            def slash() -> float:
                response = bot.client.slash("help")
                assert response.status == 200 and "/cost help" in response.body, response.body[:200]
                return response.elapsed

            def health() -> float:
                started = time.perf_counter()
                with urllib.request.urlopen(bot.url + "/health", timeout=10) as response:
                    response.read()
                return time.perf_counter() - started

            measure(slash, min(40, args.requests), args.concurrency)  # warm-up: imports, pools, caches
            # The machine is shared and noisy: alternate floor and subject in rounds so both see the
            # same load, and compare them round by round.
            rounds = 1 if args.smoke else 4
            per_round = max(1, args.requests // rounds)
            collected: dict[str, list[float]] = {"GET /health (floor)": [], "signed /cost help": []}
            walls: dict[str, float] = dict.fromkeys(collected, 0.0)
            ratios = []
            for _ in range(rounds):
                p99s = {}
                for name, call in (("GET /health (floor)", health), ("signed /cost help", slash)):
                    started = time.perf_counter()
                    samples = [s * 1000 for s in measure(call, per_round, args.concurrency)]
                    walls[name] += time.perf_counter() - started
                    collected[name] += samples
                    p99s[name] = percentile(samples, 99)
                ratios.append(p99s["signed /cost help"] / p99s["GET /health (floor)"])
            rows = [(name, samples, len(samples) / walls[name]) for name, samples in collected.items()]
        finally:
            bot.stop()

    print(f"{args.requests} requests per endpoint, {args.concurrency} concurrent, in {len(ratios)} alternating "
          f"round(s); load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"{'endpoint':<22} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'max ms':>8} {'req/s':>8}")
    for name, samples, rate in rows:
        print(f"{name:<22} {statistics.median(samples):8.1f} {percentile(samples, 90):8.1f} "
              f"{percentile(samples, 99):8.1f} {max(samples):8.1f} {rate:8.0f}")
    p99 = percentile(rows[1][1], 99)
    floor = percentile(rows[0][1], 99)
    print(f"p99 of /cost help = {p99:.1f} ms (target < 200 ms: {'met' if p99 < 200 else 'MISSED'}); "
          f"{p99 / floor:.1f}x the /health floor overall, {statistics.median(ratios):.1f}x median per round")
    return 0


if __name__ == "__main__":
    sys.exit(main())
