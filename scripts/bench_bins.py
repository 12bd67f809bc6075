"""Latency of the nearby collection-point query against a real Redis GEO index.

    python -m scripts.bench_bins [--queries 10000]

Starts its own Valkey on a free port, loads data/bins/bins.csv and runs
`BinFinder.search` (one pipelined GEOSEARCH per bin type, then one HMGET) for
random points across Seoul, each for a random category that has bins.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

import redis

from jobs.bins import DATASET_PATH, BinFinder, load_index, read_dataset
from jobs.messages import Messages
from scripts.local_services import free_port, start_redis

SEOUL_BOX = (37.43, 37.70, 126.80, 127.18)
CATEGORIES = ("clothing", "battery", "pet_bottle", "general", "can_metal", "e_waste")


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description="Measure nearby-query latency over the real dataset.")
    parser.add_argument("--queries", type=int, default=10_000, help="number of queries (default: %(default)s)")
    args = parser.parse_args()

    port = free_port()
    server = start_redis(port, Path(tempfile.mkdtemp()) / "redis.log")
    try:
        connection = redis.Redis(host="127.0.0.1", port=port)
        records = read_dataset(DATASET_PATH)
        started = time.perf_counter()
        load_index(connection, records, "bench")
        load_ms = (time.perf_counter() - started) * 1000
        finder = BinFinder.load(connection, Messages.load())
        rng = random.Random(42)
        latencies_ms = []
        found = 0
        for _ in range(args.queries):
            lat = rng.uniform(SEOUL_BOX[0], SEOUL_BOX[1])
            lon = rng.uniform(SEOUL_BOX[2], SEOUL_BOX[3])
            category = rng.choice(CATEGORIES)
            started = time.perf_counter()
            answer = finder.search(category, lat, lon, "ko")
            latencies_ms.append((time.perf_counter() - started) * 1000)
            found += bool(answer.bins)
        print(f"bins index: {len(records)} points loaded in {load_ms:.0f} ms")
        print(
            f"nearby query over {args.queries} queries: p50 {percentile(latencies_ms, 0.5):.3f} ms, "
            f"p99 {percentile(latencies_ms, 0.99):.3f} ms, mean {statistics.mean(latencies_ms):.3f} ms "
            f"({found} answers had bins)"
        )
    finally:
        server.stop()


if __name__ == "__main__":
    main()
