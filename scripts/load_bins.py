"""Load the committed collection-point dataset into the Redis GEO index.

    python -m scripts.load_bins [--wait] [--force]

The production Procfile runs it as the `release` step; `make run` runs it before
the API starts. A reload swaps the whole index atomically. It skips the work
when the index already contains this exact dataset, unless --force is given.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import time

from jobs import keys
from jobs.bins import DATASET_PATH, load_index, read_dataset
from jobs.connection import connect_redis, wait_for_redis
from jobs.settings import load_settings_or_exit

logger = logging.getLogger(__name__)


def main() -> None:
    parser = argparse.ArgumentParser(description="Load data/bins/bins.csv into the Redis GEO index.")
    parser.add_argument("--wait", action="store_true", help="wait up to 60 s for Redis to come up")
    parser.add_argument("--force", action="store_true", help="reload even when this dataset is already loaded")
    args = parser.parse_args()
    logging.basicConfig(level="INFO", format="%(asctime)s %(levelname)s %(name)s %(message)s")

    settings = load_settings_or_exit()
    connection = connect_redis(settings)
    wait_for_redis(connection, timeout_s=60 if args.wait else 5)
    version = hashlib.sha256(DATASET_PATH.read_bytes()).hexdigest()[:16]
    loaded = connection.get(keys.BINS_VERSION_KEY)
    if loaded is not None and loaded.decode() == version and not args.force:
        logger.info("bin index already contains dataset version=%s, nothing to load", version)
        return

    started = time.monotonic()
    records = read_dataset(DATASET_PATH)
    counts = load_index(connection, records, version)
    elapsed_ms = round((time.monotonic() - started) * 1000)
    logger.info("bin index loaded version=%s points=%d per_type=%s elapsed_ms=%d", version, len(records), counts, elapsed_ms)


if __name__ == "__main__":
    main()
