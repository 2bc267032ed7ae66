-- 007_jobs_claims.sql — the job queue records which login claimed a running job, and bounds
-- what a job row may hold.
--
-- Generic like 002_jobs.sql. claimed_by is the session_user of the worker whose claim made the
-- job running (the claim statement sets it; 008 lets a worker login set it to nothing but its
-- own login). It lets the domain tie writes to "a job this login holds". lease_owner stays the
-- worker process's id, for heartbeats and completion.

ALTER TABLE jobs ADD COLUMN claimed_by text;

-- What a job row may hold, whoever writes it: arguments are an object of at most 64 KiB (the
-- queue's arguments are ids and settings, never documents), priorities and attempts are small.
ALTER TABLE jobs
    ADD CONSTRAINT jobs_args_bounded CHECK (jsonb_typeof(args) = 'object' AND pg_column_size(args) <= 65536),
    ADD CONSTRAINT jobs_priority_bounded CHECK (priority BETWEEN -1000 AND 1000),
    ADD CONSTRAINT jobs_attempts_bounded CHECK (max_attempts <= 1000 AND attempt <= 1001),
    ADD CONSTRAINT jobs_errors_bounded CHECK (jsonb_typeof(errors) = 'array' AND jsonb_array_length(errors) <= 1001),
    ADD CONSTRAINT jobs_unique_key_bounded CHECK (unique_key IS NULL OR length(unique_key) <= 200);

-- What a login that does not own the table (a worker) may change, judged on the old row and
-- the new: row-level security sees each alone, a trigger sees both.
--   * a job's request (queue, kind, args, priority, unique key, attempts allowed) is fixed,
--     and its error history only grows;
--   * a finished job (succeeded, discarded, cancelled) stays finished;
--   * a queued job changes only by being claimed, when due, by the claiming login itself;
--   * a running job is changed by the login that claimed it, or, once its lease expired,
--     rescued by another (back to retryable, or discarded).
-- The administrator (the owner: `reception jobs retry`, `cancel`) is not bound by this (the
-- trigger's WHEN below).
CREATE FUNCTION jobs_guard() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    IF TG_RELID <> 'public.jobs'::pg_catalog.regclass THEN
        RAISE EXCEPTION 'trigger function jobs_guard runs on public.jobs only'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF (NEW.id, NEW.queue, NEW.kind, NEW.args, NEW.priority, NEW.unique_key, NEW.max_attempts, NEW.created_at)
       IS DISTINCT FROM (OLD.id, OLD.queue, OLD.kind, OLD.args, OLD.priority, OLD.unique_key, OLD.max_attempts, OLD.created_at) THEN
        RAISE EXCEPTION 'the request of job % cannot change', OLD.id USING ERRCODE = 'insufficient_privilege';
    END IF;
    -- A job's error history is appended to, never rewritten.
    IF NEW.errors IS DISTINCT FROM OLD.errors
       AND (pg_catalog.jsonb_array_length(NEW.errors) < pg_catalog.jsonb_array_length(OLD.errors)
            OR NOT NEW.errors @> OLD.errors) THEN
        RAISE EXCEPTION 'the error history of job % is append-only', OLD.id USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF OLD.state IN ('succeeded', 'discarded', 'cancelled') THEN
        RAISE EXCEPTION 'job % is % and stays so', OLD.id, OLD.state
            USING ERRCODE = 'insufficient_privilege', HINT = 'An administrator can retry it: reception jobs retry ID.';
    END IF;
    IF OLD.state IN ('available', 'retryable') THEN
        IF NEW.state <> 'running' OR OLD.run_at > pg_catalog.now() OR NEW.claimed_by IS DISTINCT FROM session_user::text THEN
            RAISE EXCEPTION 'job % is queued: it can only be claimed, when due, by the claiming login', OLD.id
                USING ERRCODE = 'insufficient_privilege';
        END IF;
    ELSIF OLD.claimed_by IS DISTINCT FROM session_user::text THEN
        IF OLD.lease_expires_at >= pg_catalog.now() OR NEW.state NOT IN ('retryable', 'discarded') THEN
            RAISE EXCEPTION 'job % runs under another login; only its expired lease can be rescued', OLD.id
                USING ERRCODE = 'insufficient_privilege';
        END IF;
    ELSIF NEW.state = 'running' AND NEW.claimed_by IS DISTINCT FROM session_user::text THEN
        RAISE EXCEPTION 'job % cannot be handed to another login while it runs', OLD.id
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END $$;

-- The WHEN keeps the queue's hot path free of a function call where nothing can be wrong: for
-- the owner (named here, when the migration runs; ownership handed to another role later
-- only makes that role subject to the rules), and for a worker's heartbeat of its own job.
DO $$
BEGIN
    EXECUTE pg_catalog.format($trigger$
        CREATE TRIGGER jobs_guard
            BEFORE UPDATE ON jobs
            FOR EACH ROW
            WHEN (current_user <> %L
                  AND (OLD.claimed_by IS DISTINCT FROM session_user::text
                       OR (OLD.state, OLD.queue, OLD.kind, OLD.args, OLD.priority, OLD.unique_key, OLD.max_attempts,
                           OLD.errors, OLD.created_at, OLD.run_at, OLD.claimed_by)
                          IS DISTINCT FROM (NEW.state, NEW.queue, NEW.kind, NEW.args, NEW.priority, NEW.unique_key,
                                            NEW.max_attempts, NEW.errors, NEW.created_at, NEW.run_at, NEW.claimed_by)))
            EXECUTE FUNCTION jobs_guard()
        $trigger$, current_user);
END $$;
