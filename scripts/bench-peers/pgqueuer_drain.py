"""Drains N no-op jobs with PgQueuer (the PyPI package), for scripts/bench-queue.

    pgqueuer_drain.py --dsn postgresql://postgres@/pgqueuer?host=/path/run&port=5440 --jobs 20000

The database named in --dsn should be empty (bench_pgqueuer in scripts/bench-peers.sh
drops and recreates it before each run). Steps:

  1. installs PgQueuer's schema (what `pgq install` does: Queries.install(), durability
     "durable", i.e. every table LOGGED, as `pgq install` defaults to);
  2. enqueues --jobs jobs for one entrypoint in bulk (Queries.enqueue with lists, one
     INSERT ... UNNEST per chunk of 10,000); timed separately, reported on stderr; then
     ANALYZEs the queue table (untimed; see prepare());
  3. drains them with one PgQueuer consumer in this one process, and times it from the
     call of PgQueuer.run() until PgQueuer's queue table is empty (it deletes a job from
     `pgqueuer` when it logs the job's completion in `pgqueuer_log`, so an empty table
     means every job ran and was recorded).

Prints the drain rate (jobs/s, an integer) alone on stdout; details go to stderr.
Exits 1 if any job is left over or did not end 'successful'.

Tested with PgQueuer 1.6.0 and asyncpg 0.32.0 (Python 3.11); scripts/bench-peers.sh pins
those versions. "Default settings" means the consumer as PgQueuer's README shows it
(`pgq run module:factory`: one asyncpg connection wrapped in AsyncpgDriver, one
`@pgq.entrypoint(...)` with nothing but the handler) and PgQueuer.run() called with no
arguments, so for 1.6.0:

  - batch_size = 10            (jobs claimed per dequeue query; also the size at which the
                                completion-log buffer flushes; else every 0.1 s)
  - max_concurrent_tasks = None (no global cap on jobs in flight in this worker)
  - entrypoint concurrency_limit = 0 (unlimited), on_failure = "delete"
  - mode = continuous, dequeue_timeout = 30 s, heartbeat_timeout = 30 s,
    log_aggregation_interval = 30 s, shutdown_on_listener_failure = False
  - uvloop as the event loop when it is installed, as `pgq run` does (PgQueuer depends on
    it on Linux)

Continuous mode is left as is; instead of PgQueuer's `--mode drain` (which changes the
loop's exit test), a watcher on a second connection polls the queue table every 20 ms and
sets `pgq.shutdown` once it is empty: how PgQueuer's own CLI stops a worker (its SIGINT/
SIGTERM handler in pgqueuer.adapters.cli.supervisor sets that same event).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time

import asyncpg

import pgqueuer
from pgqueuer import PgQueuer
from pgqueuer.db import AsyncpgDriver
from pgqueuer.models import Job
from pgqueuer.queries import Queries

ENTRYPOINT = "noop"
ENQUEUE_CHUNK = 10_000
POLL_SECONDS = 0.02


def say(message: str) -> None:
    print(f"pgqueuer_drain: {message}", file=sys.stderr, flush=True)


async def prepare(dsn: str, jobs: int) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        queries = Queries(AsyncpgDriver(connection))
        if not await queries.schema_is_installed():
            await queries.install()
        leftover = await connection.fetchval("SELECT count(*) FROM pgqueuer")
        if leftover:
            raise SystemExit(f"pgqueuer_drain: the queue already holds {leftover} jobs; start from an empty database")
        t0 = time.perf_counter()
        done = 0
        while done < jobs:
            n = min(ENQUEUE_CHUNK, jobs - done)
            await queries.enqueue([ENTRYPOINT] * n, [None] * n, [0] * n)
            done += n
        seconds = time.perf_counter() - t0
        say(f"enqueued {jobs} jobs in {seconds:.3f} s ({jobs / seconds:.0f} jobs/s)")
        # Planner statistics for the freshly filled table, as autovacuum would have them in a
        # database in use: without them PgQueuer's dequeue runs at about half speed until
        # autoanalyze comes by, some seconds into the drain. Not timed.
        await connection.execute("ANALYZE pgqueuer")
    finally:
        await connection.close()


async def drain(dsn: str, jobs: int) -> tuple[float, float]:
    """Returns (seconds from PgQueuer.run() until the queue was empty, seconds until run() returned)."""
    # The consumer, as in PgQueuer's README.
    connection = await asyncpg.connect(dsn)
    pgq = PgQueuer(AsyncpgDriver(connection))

    @pgq.entrypoint(ENTRYPOINT)
    async def process(job: Job) -> None:
        pass

    watcher_connection = await asyncpg.connect(dsn)
    emptied_at: list[float] = []

    async def watch() -> None:
        while not pgq.shutdown.is_set():
            if not await watcher_connection.fetchval("SELECT EXISTS (SELECT 1 FROM pgqueuer)"):
                emptied_at.append(time.perf_counter())
                pgq.shutdown.set()
                return
            await asyncio.sleep(POLL_SECONDS)

    t0 = time.perf_counter()
    watcher = asyncio.create_task(watch())
    try:
        await pgq.run()
    finally:
        t_returned = time.perf_counter()
        watcher.cancel()
        try:
            await watcher
        except asyncio.CancelledError:
            pass
        await watcher_connection.close()
        if not connection.is_closed():
            await connection.close()
    if not emptied_at:
        raise SystemExit("pgqueuer_drain: PgQueuer stopped before the queue was empty")
    return emptied_at[0] - t0, t_returned - t0


async def check(dsn: str, jobs: int) -> float | None:
    """Verifies every job ran once and succeeded; returns the server's first-pick-to-last-completion span."""
    connection = await asyncpg.connect(dsn)
    try:
        left = await connection.fetchval("SELECT count(*) FROM pgqueuer")
        ok = await connection.fetchval("SELECT count(*) FROM pgqueuer_log WHERE status = 'successful'")
        bad = await connection.fetchval(
            "SELECT count(*) FROM pgqueuer_log WHERE status NOT IN ('queued', 'picked', 'successful')"
        )
        if left or ok != jobs or bad:
            raise SystemExit(
                f"pgqueuer_drain: {left} jobs left in the queue, {ok} of {jobs} successful, {bad} other outcomes"
            )
        return await connection.fetchval(
            """SELECT extract(epoch FROM max(created) FILTER (WHERE status = 'successful')
                                       - min(created) FILTER (WHERE status = 'picked'))::float8
               FROM pgqueuer_log"""
        )
    finally:
        await connection.close()


def run_loop(coro):  # type: ignore[no-untyped-def]
    # `pgq run` runs on uvloop when it is importable (pgqueuer.adapters.cli.cli.asyncio_run).
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dsn", required=True, help="a libpq-style URL for an empty database")
    parser.add_argument("--jobs", type=int, required=True, help="no-op jobs to enqueue and drain")
    args = parser.parse_args()
    if args.jobs < 1:
        parser.error("--jobs must be >= 1")

    say(f"PgQueuer {pgqueuer.__version__}, asyncpg {asyncpg.__version__}, Python {sys.version.split()[0]}")
    run_loop(prepare(args.dsn, args.jobs))
    to_empty, to_return = run_loop(drain(args.dsn, args.jobs))
    span = run_loop(check(args.dsn, args.jobs))
    rate = int(args.jobs / to_empty) if to_empty > 0 else 0
    span_text = f"; first pick to last completion {span:.3f} s in the database" if span else ""
    say(
        f"drained {args.jobs} jobs: queue empty after {to_empty:.3f} s ({rate} jobs/s), "
        f"PgQueuer.run() returned after {to_return:.3f} s{span_text}"
    )
    print(rate)


if __name__ == "__main__":
    main()
