import Foundation
import Postgres

/// Every statement the queue runs, in one place. Each completion checks that the job is still
/// running under the caller's lease, so a worker that lost a job can never complete it twice.
enum JobStatements {
    /// The channel that INSERTs on `jobs` notify (see sql/002_jobs.sql), and hand-backs too.
    static let channel = "jobs_available"

    static let queuedStates = "('available', 'retryable', 'running')"

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
        ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL AND state IN ('available', 'retryable', 'running')
        DO NOTHING
        RETURNING id
        """
    }

    /// One multi-row INSERT from parallel arrays ('' and 0 stand for "the default").
    static func insertMany(_ jobs: [NewJob]) -> Query {
        """
        INSERT INTO jobs (queue, kind, args, priority, run_at, max_attempts, unique_key)
        SELECT q, k, a::jsonb, p, coalesce(nullif(r, '')::timestamptz, now()),
               coalesce(nullif(m, 0)::integer, jobs_default_max_attempts()), nullif(u, '')
        FROM unnest(\(jobs.map(\.queue)), \(jobs.map(\.kind)), \(jobs.map(\.arguments)), \(jobs.map(\.priority)),
                    \(jobs.map { $0.runAt?.postgresText ?? "" }), \(jobs.map { $0.maxAttempts ?? 0 }),
                    \(jobs.map { $0.uniqueKey ?? "" })) AS job(q, k, a, p, r, m, u)
        ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL AND state IN ('available', 'retryable', 'running')
        DO NOTHING
        """
    }

    // MARK: Claim

    /// Claims up to `limit` ready jobs of the queues, in priority, run_at, id order, skipping
    /// rows other workers are claiming: one statement, one round trip.
    static func claim(owner: String, lease: Duration, queues: [String], limit: Int) -> Query {
        if queues.count == 1 {
            return """
                UPDATE jobs SET state = 'running', attempt = attempt + 1, lease_owner = \(owner), claimed_by = session_user,
                    lease_expires_at = now() + \(lease.milliseconds)::float8 * interval '1 millisecond',
                    attempted_at = clock_timestamp()
                WHERE id = ANY(ARRAY(
                    SELECT id FROM jobs
                    WHERE state IN ('available', 'retryable') AND queue = \(queues[0]) AND run_at <= now()
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
                WHERE state IN ('available', 'retryable') AND queue = ANY(\(queues)) AND run_at <= now()
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

    /// A failed attempt: retryable after `delay`, or discarded when it was the last attempt.
    static func fail(id: Int64, owner: String, message: String, delay: Duration) -> Query {
        """
        UPDATE jobs SET
            state = CASE WHEN attempt >= max_attempts THEN 'discarded' ELSE 'retryable' END,
            run_at = CASE WHEN attempt >= max_attempts THEN run_at
                          ELSE now() + \(delay.milliseconds)::float8 * interval '1 millisecond' END,
            finished_at = CASE WHEN attempt >= max_attempts THEN now() END,
            errors = errors || jsonb_build_array(jsonb_build_object(
                'at', now(), 'attempt', attempt, 'message', \(message)::text, 'worker', lease_owner)),
            lease_expires_at = NULL
        WHERE id = \(id) AND state = 'running' AND lease_owner = \(owner)
        RETURNING state
        """
    }

    /// Discarded or cancelled by its handler, with the reason in the history.
    static func finish(id: Int64, owner: String, state: JobState, message: String) -> Query {
        """
        UPDATE jobs SET state = \(state), finished_at = now(), lease_expires_at = NULL,
            errors = errors || jsonb_build_array(jsonb_build_object(
                'at', now(), 'attempt', attempt, 'message', \(message)::text, 'worker', lease_owner))
        WHERE id = \(id) AND state = 'running' AND lease_owner = \(owner)
        """
    }

    /// Runs again after `delay`; this attempt does not count.
    static func snooze(id: Int64, owner: String, delay: Duration) -> Query {
        """
        UPDATE jobs SET state = 'available', attempt = greatest(attempt - 1, 0), lease_expires_at = NULL,
            run_at = now() + \(delay.milliseconds)::float8 * interval '1 millisecond'
        WHERE id = \(id) AND state = 'running' AND lease_owner = \(owner)
        """
    }

    /// Back to the queue, ready at once, this attempt not counted (shutdown, lost database).
    static func handBack(ids: [Int64], owner: String) -> Query {
        """
        UPDATE jobs SET state = 'available', attempt = greatest(attempt - 1, 0), lease_expires_at = NULL
        WHERE id = ANY(\(ids)) AND state = 'running' AND lease_owner = \(owner)
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

    static let notify: Query = "SELECT pg_notify('jobs_available', '')"

    // MARK: Leases

    /// Extends the lease of every job this worker runs. Rows locked by a handler's completing
    /// transaction are skipped rather than waited for (no one can rescue them meanwhile).
    static func heartbeat(owner: String, lease: Duration) -> Query {
        """
        UPDATE jobs SET lease_expires_at = now() + \(lease.milliseconds)::float8 * interval '1 millisecond'
        WHERE id = ANY(ARRAY(
            SELECT id FROM jobs WHERE state = 'running' AND lease_owner = \(owner)
            FOR UPDATE SKIP LOCKED))
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

    // MARK: Retention

    static func prune(olderThan age: Duration, limit: Int) -> Query {
        """
        DELETE FROM jobs WHERE id = ANY(ARRAY(
            SELECT id FROM jobs
            WHERE state IN ('succeeded', 'discarded', 'cancelled')
              AND finished_at < now() - \(age.milliseconds)::float8 * interval '1 millisecond'
            LIMIT \(limit)))
        """
    }
}
