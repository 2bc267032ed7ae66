import Foundation
import Postgres

/// Every statement the queue runs — the worker's, the elected daemon's and the operators'
/// (`JobAdmin`, `QueueHealth`) — in one place. Each completion checks that the job is still
/// running under the caller's lease, so a worker that lost a job can never complete it twice.
enum JobStatements {
    /// The channel that INSERTs on `jobs` notify, the queue as payload (sql/010_jobs_control.sql),
    /// and hand-backs and resumes too.
    static let channel = "jobs_available"

    // MARK: Enqueue

    static func insert(_ job: NewJob) -> Query {
        """
        INSERT INTO jobs (queue, kind, args, priority, run_at, max_attempts)
        VALUES (\(job.queue), \(job.kind), \(job.arguments)::jsonb, \(job.priority),
                coalesce(\(job.runAt), now()), coalesce(\(job.maxAttempts)::integer, jobs_default_max_attempts()))
        RETURNING id
        """
    }

    static func insertUnique(_ job: NewJob) -> Query {
        """
        INSERT INTO jobs (queue, kind, args, priority, run_at, max_attempts, unique_key)
        VALUES (\(job.queue), \(job.kind), \(job.arguments)::jsonb, \(job.priority),
                coalesce(\(job.runAt), now()), coalesce(\(job.maxAttempts)::integer, jobs_default_max_attempts()),
                \(job.uniqueKey))
        ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL AND state IN ('scheduled', 'available', 'retryable', 'running')
        DO NOTHING
        RETURNING id
        """
    }

    /// The bulk enqueue's COPY: into this table, these columns, one row per job in this order
    /// (the server fills in every other default).
    static let copyTable = "jobs"
    static let copyColumns = ["queue", "kind", "args", "priority"]
    static func copyRow(_ job: NewJob) -> [(any PostgresEncodable)?] { [job.queue, job.kind, job.arguments, Int32(job.priority)] }

    /// One multi-row INSERT from parallel arrays ('' and 0 stand for "the default").
    static func insertMany(_ jobs: [NewJob]) -> Query {
        """
        INSERT INTO jobs (queue, kind, args, priority, run_at, max_attempts, unique_key)
        SELECT q, k, a::jsonb, p, coalesce(nullif(r, '')::timestamptz, now()),
               coalesce(nullif(m, 0)::integer, jobs_default_max_attempts()), nullif(u, '')
        FROM unnest(\(jobs.map(\.queue)), \(jobs.map(\.kind)), \(jobs.map(\.arguments)), \(jobs.map(\.priority)),
                    \(jobs.map { $0.runAt?.postgresText ?? "" }), \(jobs.map { $0.maxAttempts ?? 0 }),
                    \(jobs.map { $0.uniqueKey ?? "" })) AS job(q, k, a, p, r, m, u)
        ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL AND state IN ('scheduled', 'available', 'retryable', 'running')
        DO NOTHING
        """
    }

    // MARK: Claim

    /// Claims up to `limit` ready jobs of the queues that are not paused, in priority, run_at, id
    /// order, skipping rows other workers are claiming: one statement, one round trip.
    static func claim(owner: String, lease: Duration, queues: [String], limit: Int) -> Query {
        if queues.count == 1 {
            return """
                UPDATE jobs SET state = 'running', attempt = attempt + 1, lease_owner = \(owner), claimed_by = session_user,
                    lease_expires_at = now() + \(lease.milliseconds)::float8 * interval '1 millisecond',
                    attempted_at = clock_timestamp()
                WHERE id = ANY(ARRAY(
                    SELECT id FROM jobs
                    WHERE state = 'available' AND queue = \(queues[0]) AND run_at <= now()
                      AND NOT EXISTS (SELECT 1 FROM job_queue_pauses WHERE queue = \(queues[0]))
                    ORDER BY priority DESC, run_at, id
                    LIMIT \(limit)
                    FOR UPDATE SKIP LOCKED))
                RETURNING id, queue, kind, args::text AS args, priority, attempt, max_attempts, run_at, created_at
                """
        }
        return """
            UPDATE jobs SET state = 'running', attempt = attempt + 1, lease_owner = \(owner), claimed_by = session_user,
                lease_expires_at = now() + \(lease.milliseconds)::float8 * interval '1 millisecond',
                attempted_at = clock_timestamp()
            WHERE id = ANY(ARRAY(
                SELECT id FROM jobs
                WHERE state = 'available' AND run_at <= now()
                  AND queue = ANY(ARRAY(SELECT unnest(\(queues)::text[]) EXCEPT SELECT queue FROM job_queue_pauses))
                ORDER BY priority DESC, run_at, id
                LIMIT \(limit)
                FOR UPDATE SKIP LOCKED))
            RETURNING id, queue, kind, args::text AS args, priority, attempt, max_attempts, run_at, created_at
            """
    }

    // MARK: Completion

    static func succeedMany(ids: [Int64], owner: String) -> Query {
        """
        UPDATE jobs SET state = 'succeeded', finished_at = now(), lease_expires_at = NULL
        WHERE id = ANY(\(ids)) AND state = 'running' AND lease_owner = \(owner)
        """
    }

    /// Locks a running job's row for the caller's transaction, if this worker still holds it.
    static func lockOne(id: Int64, owner: String) -> Query {
        "SELECT id FROM jobs WHERE id = \(id) AND state = 'running' AND lease_owner = \(owner) FOR UPDATE"
    }

    static func succeedOne(id: Int64, owner: String) -> Query {
        """
        UPDATE jobs SET state = 'succeeded', finished_at = now(), lease_expires_at = NULL
        WHERE id = \(id) AND state = 'running' AND lease_owner = \(owner)
        """
    }

    /// Failed attempts: each retryable after its delay, or discarded when it was the last
    /// attempt, its message in the history. One statement for many jobs.
    static func failMany(_ failures: [(id: Int64, message: String, delay: Duration)], owner: String) -> Query {
        """
        UPDATE jobs j SET
            state = CASE WHEN j.attempt >= j.max_attempts THEN 'discarded' ELSE 'retryable' END,
            run_at = CASE WHEN j.attempt >= j.max_attempts THEN j.run_at
                          ELSE now() + f.delay_ms * interval '1 millisecond' END,
            finished_at = CASE WHEN j.attempt >= j.max_attempts THEN now() END,
            errors = j.errors || jsonb_build_array(jsonb_build_object(
                'at', now(), 'attempt', j.attempt, 'message', f.message, 'worker', j.lease_owner)),
            lease_expires_at = NULL
        FROM unnest(\(failures.map(\.id)), \(failures.map(\.message)), \(failures.map { $0.delay.milliseconds })) AS f(id, message, delay_ms)
        WHERE j.id = f.id AND j.state = 'running' AND j.lease_owner = \(owner)
        RETURNING j.id, j.state
        """
    }

    /// Discarded or cancelled by their handlers, each with its reason in the history.
    static func finishMany(_ finished: [(id: Int64, state: JobState, message: String)], owner: String) -> Query {
        """
        UPDATE jobs j SET state = f.state, finished_at = now(), lease_expires_at = NULL,
            errors = j.errors || jsonb_build_array(jsonb_build_object(
                'at', now(), 'attempt', j.attempt, 'message', f.message, 'worker', j.lease_owner))
        FROM unnest(\(finished.map(\.id)), \(finished.map(\.state.rawValue)), \(finished.map(\.message))) AS f(id, state, message)
        WHERE j.id = f.id AND j.state = 'running' AND j.lease_owner = \(owner)
        RETURNING j.id
        """
    }

    /// Each runs again after its delay; this attempt does not count.
    static func snoozeMany(_ snoozed: [(id: Int64, delay: Duration)], owner: String) -> Query {
        """
        UPDATE jobs j SET state = 'available', attempt = greatest(j.attempt - 1, 0), lease_expires_at = NULL,
            run_at = now() + f.delay_ms * interval '1 millisecond'
        FROM unnest(\(snoozed.map(\.id)), \(snoozed.map { $0.delay.milliseconds })) AS f(id, delay_ms)
        WHERE j.id = f.id AND j.state = 'running' AND j.lease_owner = \(owner)
        RETURNING j.id
        """
    }

    /// Back to the queue, ready at once, this attempt not counted (shutdown).
    static func handBack(ids: [Int64], owner: String) -> Query {
        """
        UPDATE jobs SET state = 'available', attempt = greatest(attempt - 1, 0), lease_expires_at = NULL
        WHERE id = ANY(\(ids)) AND state = 'running' AND lease_owner = \(owner)
        """
    }

    /// How many times a job may lose its database session while running before those attempts
    /// count: a job that kills its own session must not loop for ever.
    static let freeSessionLosses = 2

    /// Back to the queue after the database session was lost while they ran, with that in
    /// their history. The first `freeSessionLosses` times the attempt is not counted; after
    /// that it is, and on the last attempt the job is discarded.
    static func handBackAfterSessionLoss(ids: [Int64], owner: String) -> Query {
        """
        UPDATE jobs j SET
            state = CASE WHEN h.counted AND j.attempt >= j.max_attempts THEN 'discarded' ELSE 'available' END,
            finished_at = CASE WHEN h.counted AND j.attempt >= j.max_attempts THEN now() END,
            attempt = CASE WHEN h.counted THEN j.attempt ELSE greatest(j.attempt - 1, 0) END,
            errors = j.errors || jsonb_build_array(jsonb_build_object(
                'at', now(), 'attempt', j.attempt, 'message', 'lost the database session while running',
                'worker', j.lease_owner, 'session_lost', true)),
            lease_expires_at = NULL
        FROM (SELECT id, (SELECT count(*) FROM jsonb_array_elements(errors) e WHERE e ? 'session_lost')
                         >= \(Self.freeSessionLosses) AS counted
              FROM jobs WHERE id = ANY(\(ids))) AS h
        WHERE j.id = h.id AND j.state = 'running' AND j.lease_owner = \(owner)
        RETURNING j.id, j.state
        """
    }

    /// Every job running under this worker's name except `keeping` (those it still runs):
    /// after a claim whose answer was lost, and at shutdown.
    static func handBackAll(owner: String, keeping: [Int64]) -> Query {
        """
        UPDATE jobs SET state = 'available', attempt = greatest(attempt - 1, 0), lease_expires_at = NULL
        WHERE state = 'running' AND lease_owner = \(owner) AND NOT (id = ANY(\(keeping)))
        """
    }

    /// Wakes the workers of these queues (after a hand-back or a resume): the payload is the
    /// queue, as the INSERT trigger sends it (sql/010_jobs_control.sql).
    static func notify(queues: [String]) -> Query {
        "SELECT pg_notify(\(channel), q) FROM unnest(\(queues)::text[]) AS q"
    }

    // MARK: Presence

    /// This worker's row in `job_workers`, refreshed at each heartbeat.
    static func reportPresence(owner: String, queues: [String], concurrency: Int, lease: Duration, running: Int) -> Query {
        """
        INSERT INTO job_workers (id, queues, concurrency, lease_ms, running)
        VALUES (\(owner), \(queues), \(concurrency), \(lease.milliseconds), \(running))
        ON CONFLICT (id) DO UPDATE SET heartbeat_at = now(), running = EXCLUDED.running
        """
    }

    static func removePresence(owner: String) -> Query {
        "DELETE FROM job_workers WHERE id = \(owner)"
    }

    /// Rows of daemons that stopped reporting a day ago (killed, lost hosts): those the caller's
    /// login may delete (row-level security: its own login's, for a worker).
    static let prunePresence: Query = "DELETE FROM job_workers WHERE heartbeat_at < now() - interval '1 day'"

    // MARK: Leases

    /// Extends the leases of the jobs this worker still runs or has outcomes of to write
    /// (`ids`), never others (a job whose completion was dropped must expire and be rescued).
    /// Rows locked by a handler's completing transaction are skipped rather than waited for
    /// (no one can rescue them meanwhile). Returns, of `ids`, the jobs still running under this
    /// worker (or that its handler completed, but has not returned from yet), and of the others
    /// whether an operator cancelled them; and of each, whether an operator asked to cancel it
    /// while its row was locked (sql/021).
    static func heartbeat(owner: String, lease: Duration, ids: [Int64]) -> Query {
        """
        WITH extended AS (
            UPDATE jobs SET lease_expires_at = now() + \(lease.milliseconds)::float8 * interval '1 millisecond'
            WHERE id = ANY(ARRAY(
                SELECT id FROM jobs WHERE id = ANY(\(ids)) AND state = 'running' AND lease_owner = \(owner)
                FOR UPDATE SKIP LOCKED))
            RETURNING id)
        SELECT j.id, j.state IN ('running', 'succeeded') AND j.lease_owner = \(owner) AS held,
               j.state = 'cancelled' AS cancelled,
               EXISTS (SELECT 1 FROM job_cancel_requests r WHERE r.job_id = j.id) AS cancel_requested,
               EXISTS (SELECT 1 FROM extended e WHERE e.id = j.id) AS extended
        FROM jobs j WHERE j.id = ANY(\(ids))
        """
    }

    /// Jobs whose worker is gone (lease expired): back to retryable after a backoff, or
    /// discarded when that was their last attempt, with "worker lost" in their history.
    static func rescue(policy: RetryPolicy, limit: Int) -> Query {
        """
        UPDATE jobs SET
            state = CASE WHEN attempt >= max_attempts THEN 'discarded' ELSE 'retryable' END,
            finished_at = CASE WHEN attempt >= max_attempts THEN now() END,
            run_at = CASE WHEN attempt >= max_attempts THEN run_at ELSE now()
                + least(\(policy.base.milliseconds)::float8 * power(2, least(greatest(attempt - 1, 0), 40)), \(policy.maximum.milliseconds)::float8)
                * (1 - \(policy.jitter)::float8 + 2 * \(policy.jitter)::float8 * random()) * interval '1 millisecond' END,
            errors = errors || jsonb_build_array(jsonb_build_object(
                'at', now(), 'attempt', attempt, 'message', 'worker lost: its lease expired', 'worker', lease_owner)),
            lease_expires_at = NULL
        WHERE id = ANY(ARRAY(
            SELECT id FROM jobs WHERE state = 'running' AND lease_expires_at < now()
            LIMIT \(limit)
            FOR UPDATE SKIP LOCKED))
        RETURNING id, kind, queue, attempt, state, lease_owner
        """
    }

    // MARK: Maintenance (the elected daemon's: Maintainer)

    /// Makes this worker's session the maintenance leader, or keeps it so, if the place is
    /// free; `leads` says whether it is.
    static func lead(owner: String, term: Duration) -> Query {
        "SELECT jobs_lead(\(owner), \(term.milliseconds)::bigint) AS leads"
    }

    static func resign(owner: String) -> Query {
        "SELECT jobs_resign(\(owner)) AS resigned"
    }

    /// Due scheduled and retryable jobs to available, waking their queues; `staged` is how many.
    static func stage(limit: Int) -> Query {
        "SELECT jobs_stage(\(limit)::integer) AS staged"
    }

    /// Seconds until the earliest retry of these queues is due (none: NULL). A draining
    /// worker waits for one due within its poll interval instead of racing its backoff.
    static func nextRetryDue(queues: [String]) -> Query {
        """
        SELECT greatest(0, extract(epoch FROM min(run_at) - now()))::float8 AS seconds FROM jobs
        WHERE state = 'retryable' AND queue = ANY(\(queues)::text[])
        """
    }

    /// Moves a periodic job's `last_slot` forward to `slot`; a row back means this caller
    /// won the slot and enqueues its job in the same transaction (the row stays locked till
    /// then, so a second leader waits and then finds the slot taken).
    static func claimPeriodicSlot(_ periodic: PeriodicJob, slot: Date) -> Query {
        """
        INSERT INTO job_periodic (name, schedule, last_slot)
        VALUES (\(periodic.name), \(periodic.schedule.description), \(slot))
        ON CONFLICT (name) DO UPDATE SET last_slot = EXCLUDED.last_slot, schedule = EXCLUDED.schedule,
            enqueued_at = now(), enqueued_by = session_user
        WHERE job_periodic.last_slot < EXCLUDED.last_slot
        RETURNING name
        """
    }

    static func recordPeriodicJob(name: String, jobID: Int64) -> Query {
        "UPDATE job_periodic SET last_job_id = \(jobID) WHERE name = \(name)"
    }


    // MARK: Operators (JobAdmin, QueueHealth)

    static let recordColumns: Query = """
        id, queue, kind, args::text AS args, priority, run_at, state, attempt, max_attempts,
        errors::text AS errors, lease_owner, lease_expires_at, unique_key, created_at, attempted_at, finished_at,
        (SELECT r.requested_at FROM job_cancel_requests r WHERE r.job_id = jobs.id) AS cancel_requested_at
        """

    static let isMigrated: Query = "SELECT to_regclass('jobs') IS NOT NULL AS present"

    /// Whether this login may work the queue: staging is the workers' alone (sql/011), so a
    /// login that may not execute it would claim nothing, for ever. NULL: no staging at all,
    /// the schema is not (wholly) migrated.
    static let mayWork: Query = """
        SELECT CASE WHEN to_regprocedure('jobs_stage(integer)') IS NULL THEN NULL
                    ELSE has_function_privilege(to_regprocedure('jobs_stage(integer)'), 'EXECUTE') END AS may_work
        """

    /// The queued or running job that holds a unique key.
    static func holder(ofUniqueKey key: String) -> Query {
        """
        SELECT id FROM jobs
        WHERE unique_key = \(key) AND state IN ('scheduled', 'available', 'retryable', 'running')
        """
    }

    static func list(state: JobState?, kind: String?, queue: String?, limit: Int) -> Query {
        """
        SELECT \(fragment: recordColumns)
        FROM jobs
        WHERE (\(state)::text IS NULL OR state = \(state)::text)
          AND (\(kind)::text IS NULL OR kind = \(kind)::text)
          AND (\(queue)::text IS NULL OR queue = \(queue)::text)
        ORDER BY id DESC
        LIMIT \(limit)
        """
    }

    static func job(_ id: Int64, locked: Bool) -> Query {
        locked ? "SELECT \(fragment: recordColumns) FROM jobs WHERE id = \(id) FOR UPDATE"
               : "SELECT \(fragment: recordColumns) FROM jobs WHERE id = \(id)"
    }

    /// Ready to run now; a discarded job gets one more attempt, its history kept. Its cancel
    /// request, if any, is taken back with it (`withdrawCancelRequest`).
    static func retry(_ id: Int64) -> Query {
        """
        UPDATE jobs SET state = 'available', run_at = now(), finished_at = NULL, lease_expires_at = NULL,
            max_attempts = greatest(max_attempts, attempt + 1)
        WHERE id = \(id)
        """
    }

    /// An operator's cancel waits this long for a job's row (a claim, heartbeat or hand-back
    /// holds it for milliseconds), then records a cancel request instead.
    static let cancelLockTimeout: Query = "SET LOCAL lock_timeout = '200ms'"

    static func cancel(_ id: Int64) -> Query {
        "UPDATE jobs SET state = 'cancelled', finished_at = now(), lease_expires_at = NULL WHERE id = \(id)"
    }

    /// A cancel kept beside the job, not on its locked row (sql/021_job_cancel_requests.sql):
    /// the job's daemon and every path back to the queue honour it.
    static func requestCancel(_ id: Int64) -> Query {
        "INSERT INTO job_cancel_requests (job_id) VALUES (\(id)) ON CONFLICT (job_id) DO NOTHING"
    }

    static func withdrawCancelRequest(_ id: Int64) -> Query {
        "DELETE FROM job_cancel_requests WHERE job_id = \(id)"
    }

    static func pause(queue: String) -> Query {
        "INSERT INTO job_queue_pauses (queue) VALUES (\(queue)) ON CONFLICT (queue) DO NOTHING"
    }

    static func resume(queue: String) -> Query {
        "DELETE FROM job_queue_pauses WHERE queue = \(queue)"
    }

    /// Per queue and state: how many, and how long the oldest due job has waited (staged or not).
    static let stats: Query = """
        SELECT queue, state, count(*) AS jobs,
               extract(epoch FROM now() - min(run_at) FILTER (
                   WHERE state IN ('scheduled', 'available', 'retryable') AND run_at <= now()))::float8 AS oldest_ready_seconds
        FROM jobs GROUP BY queue, state ORDER BY queue, state
        """

    static let workers: Query = """
        SELECT id, login, queues, concurrency, running,
               extract(epoch FROM now() - heartbeat_at)::float8 AS age,
               heartbeat_at >= now() - lease_ms * interval '1 millisecond' AS alive
        FROM job_workers ORDER BY id
        """

    static let pausedQueues: Query = "SELECT queue FROM job_queue_pauses ORDER BY queue"

    /// How long the oldest due job of a queue that is not paused has waited.
    static let oldestDue: Query = """
        SELECT extract(epoch FROM now() - min(run_at))::float8 AS seconds FROM jobs
        WHERE state IN ('scheduled', 'available', 'retryable') AND run_at <= now()
          AND queue NOT IN (SELECT queue FROM job_queue_pauses)
        """

    /// The maintenance leader, if its session lives and its term runs.
    static let leader: Query = """
        SELECT l.worker FROM job_leader l
        WHERE l.expires_at >= now()
          AND EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = l.pid AND a.backend_start = l.backend_start)
        """

    // MARK: Retention

    static func prune(olderThan age: Duration, limit: Int) -> Query {
        """
        DELETE FROM jobs WHERE id = ANY(ARRAY(
            SELECT id FROM jobs
            WHERE state IN ('succeeded', 'discarded', 'cancelled')
              AND finished_at < now() - \(age.milliseconds)::float8 * interval '1 millisecond'
            LIMIT \(limit)
            FOR UPDATE SKIP LOCKED))
        """
    }
}
