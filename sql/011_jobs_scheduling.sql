-- 011_jobs_scheduling.sql — scheduled jobs out of the claim's way, one elected daemon for the
-- queue's maintenance, and periodic jobs enqueued once per slot.
--
-- Generic like 002_jobs.sql, but for the grants to Reception's roles at the end.
--
-- A job's life now has a waiting room:
--
--   scheduled ──due, staged──▶ available ──claim──▶ running ── ... (see 002)
--   retryable ──due, staged──┘
--
-- The claim reads only `available` jobs, whose index holds only jobs that are ready, so
-- 100,000 jobs scheduled for tomorrow (or waiting for a retry) cost a claim nothing. Staging
-- (jobs_stage) moves the due ones along; the elected daemon runs it every second.

ALTER TABLE jobs DROP CONSTRAINT jobs_state_known;
ALTER TABLE jobs ADD CONSTRAINT jobs_state_known CHECK (state IN
    ('scheduled', 'available', 'running', 'succeeded', 'retryable', 'discarded', 'cancelled'));

-- The one definition of "scheduled": a job that would be available but is due later. Whoever
-- writes the row (an enqueue, COPY, request_batch, a snooze), the server decides. The WHEN
-- keeps the function call off every row that is ready now.
CREATE FUNCTION jobs_schedule_later() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    IF TG_RELID <> 'public.jobs'::pg_catalog.regclass THEN
        RAISE EXCEPTION 'trigger function jobs_schedule_later runs on public.jobs only'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    NEW.state := 'scheduled';
    RETURN NEW;
END $$;
CREATE TRIGGER jobs_schedule_later
    BEFORE INSERT OR UPDATE OF state, run_at ON jobs
    FOR EACH ROW WHEN (NEW.state = 'available' AND NEW.run_at > now())
    EXECUTE FUNCTION jobs_schedule_later();

UPDATE jobs SET state = 'scheduled' WHERE state = 'available' AND run_at > now();

-- The queue's rules for worker logins (010), with scheduled jobs among the queued ones: a
-- worker claims them when due, as it does available and retryable jobs, and changes them no
-- other way (staging is jobs_stage's).
CREATE OR REPLACE FUNCTION jobs_guard() RETURNS trigger
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
            USING ERRCODE = 'insufficient_privilege', HINT = 'An administrator can retry it.';
    END IF;
    IF OLD.state IN ('scheduled', 'available', 'retryable') THEN
        IF NEW.state <> 'running' OR OLD.run_at > pg_catalog.now() OR NEW.claimed_by IS DISTINCT FROM session_user::text THEN
            RAISE EXCEPTION 'job % is queued: it can only be claimed, when due, by the claiming login', OLD.id
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        IF EXISTS (SELECT 1 FROM public.job_queue_pauses p WHERE p.queue = OLD.queue) THEN
            RAISE EXCEPTION 'queue % is paused: its jobs are not claimed until it is resumed', OLD.queue
                USING ERRCODE = 'insufficient_privilege';
        END IF;
    ELSIF OLD.claimed_by IS DISTINCT FROM session_user::text THEN
        IF OLD.lease_expires_at >= pg_catalog.now()
           OR NEW.state IS DISTINCT FROM (CASE WHEN OLD.attempt >= OLD.max_attempts THEN 'discarded' ELSE 'retryable' END)
           OR pg_catalog.jsonb_array_length(NEW.errors) <> pg_catalog.jsonb_array_length(OLD.errors) + 1
           OR NEW.errors -> -1 ->> 'message' IS DISTINCT FROM 'worker lost: its lease expired'
           OR NEW.errors -> -1 ->> 'worker' IS DISTINCT FROM OLD.lease_owner THEN
            RAISE EXCEPTION 'job % runs under another login; only its expired lease can be rescued, by the rules', OLD.id
                USING ERRCODE = 'insufficient_privilege';
        END IF;
    ELSIF NEW.state = 'running' AND NEW.claimed_by IS DISTINCT FROM session_user::text THEN
        RAISE EXCEPTION 'job % cannot be handed to another login while it runs', OLD.id
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END $$;

-- The claim: WHERE state = 'available' AND queue = $q AND run_at <= now()
-- ORDER BY priority DESC, run_at, id LIMIT n FOR UPDATE SKIP LOCKED — read in index order,
-- over ready jobs only.
DROP INDEX jobs_claim;
CREATE INDEX jobs_ready ON jobs (queue, priority DESC, run_at, id) WHERE state = 'available';
-- Staging, and the oldest waiting job for `reception jobs health`.
CREATE INDEX jobs_waiting ON jobs (run_at) WHERE state IN ('scheduled', 'retryable');

-- A scheduled job holds its unique key like any queued one.
DROP INDEX jobs_unique_key;
CREATE UNIQUE INDEX jobs_unique_key ON jobs (unique_key)
    WHERE unique_key IS NOT NULL AND state IN ('scheduled', 'available', 'retryable', 'running');

-- Moves up to max_jobs due jobs (scheduled, or retryable after their backoff) to available,
-- oldest first, and wakes the daemons of their queues; returns how many. SKIP LOCKED: two
-- daemons staging at once (a leader that was paused past its term) take different jobs.
-- SECURITY DEFINER: the queue's rules (jobs_guard) let a worker login claim a job, not stage
-- it; this is the one way it may, and only for jobs that are due.
CREATE FUNCTION jobs_stage(max_jobs integer) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    staged integer := 0;
    due record;
BEGIN
    FOR due IN
        WITH moved AS (
            UPDATE public.jobs SET state = 'available'
            WHERE id = ANY(ARRAY(
                SELECT j.id FROM public.jobs j
                WHERE j.state IN ('scheduled', 'retryable') AND j.run_at <= pg_catalog.now()
                ORDER BY j.run_at
                LIMIT least(greatest(coalesce(max_jobs, 1), 1), 100000)
                FOR UPDATE SKIP LOCKED))
            RETURNING queue)
        SELECT m.queue, pg_catalog.count(*) AS jobs FROM moved m GROUP BY m.queue
    LOOP
        PERFORM pg_catalog.pg_notify('jobs_available', due.queue);
        staged := staged + due.jobs;
    END LOOP;
    RETURN staged;
END $$;

-- The daemon that runs the queue's maintenance (staging, rescue, periodic jobs): one at a
-- time. Not an advisory lock: any login that can connect could take that one and silence
-- maintenance for good. The leader is a database session (pid and start), so a leader that
-- dies is replaced at the next try of another daemon, not after a timeout; `expires_at`
-- replaces one whose session lives on but which stopped renewing (a hung process).
CREATE TABLE job_leader (
    name          text PRIMARY KEY CONSTRAINT job_leader_name CHECK (name = 'maintenance'),
    worker        text NOT NULL,
    login         text NOT NULL,
    pid           integer NOT NULL,
    backend_start timestamptz NOT NULL,
    elected_at    timestamptz NOT NULL,
    renewed_at    timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL
);

-- Makes the calling session the leader, or keeps it so, when the place is free: nobody
-- leads, the leader's session ended, or its term expired. Returns whether it leads.
CREATE FUNCTION jobs_lead(p_worker text, p_term_ms bigint) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    my_start timestamptz;
    leads boolean;
BEGIN
    IF p_worker IS NULL OR p_worker = '' OR pg_catalog.length(p_worker) > 200 THEN
        RAISE EXCEPTION 'a leader needs a worker name of 1 to 200 characters' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_term_ms IS NULL OR p_term_ms NOT BETWEEN 1000 AND 3600000 THEN
        RAISE EXCEPTION 'a leader''s term is between 1 s and 1 h' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT a.backend_start INTO my_start FROM pg_catalog.pg_stat_activity a WHERE a.pid = pg_catalog.pg_backend_pid();
    INSERT INTO public.job_leader AS l (name, worker, login, pid, backend_start, elected_at, renewed_at, expires_at)
    VALUES ('maintenance', p_worker, session_user, pg_catalog.pg_backend_pid(), my_start,
            pg_catalog.now(), pg_catalog.now(), pg_catalog.now() + p_term_ms * interval '1 millisecond')
    ON CONFLICT (name) DO UPDATE SET
        worker = EXCLUDED.worker, login = EXCLUDED.login, pid = EXCLUDED.pid, backend_start = EXCLUDED.backend_start,
        elected_at = CASE WHEN (l.pid, l.backend_start, l.worker) = (EXCLUDED.pid, EXCLUDED.backend_start, EXCLUDED.worker)
                          THEN l.elected_at ELSE pg_catalog.now() END,
        renewed_at = pg_catalog.now(), expires_at = EXCLUDED.expires_at
    WHERE (l.pid, l.backend_start, l.worker) = (EXCLUDED.pid, EXCLUDED.backend_start, EXCLUDED.worker)
       OR l.expires_at < pg_catalog.now()
       OR NOT EXISTS (SELECT 1 FROM pg_catalog.pg_stat_activity a
                      WHERE a.pid = l.pid AND a.backend_start = l.backend_start)
    RETURNING true INTO leads;
    RETURN coalesce(leads, false);
END $$;

-- A leader that stops hands the place on at once.
CREATE FUNCTION jobs_resign(p_worker text) RETURNS boolean
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
    WITH gone AS (
        DELETE FROM public.job_leader
        WHERE worker = p_worker AND login = session_user AND pid = pg_catalog.pg_backend_pid()
        RETURNING 1)
    SELECT EXISTS (SELECT 1 FROM gone)
$$;

-- Periodic jobs: the last slot each was enqueued for. The leader enqueues a periodic job's
-- slot in the same statement that moves `last_slot` forward, and only when it does, so a
-- slot is enqueued once however many daemons (or leaders, for a moment) try.
CREATE TABLE job_periodic (
    name        text PRIMARY KEY CONSTRAINT job_periodic_name CHECK (name <> '' AND length(name) <= 100),
    schedule    text NOT NULL CONSTRAINT job_periodic_schedule CHECK (schedule <> '' AND length(schedule) <= 200),
    last_slot   timestamptz NOT NULL,
    last_job_id bigint,
    enqueued_at timestamptz NOT NULL DEFAULT now(),
    enqueued_by text NOT NULL DEFAULT session_user
);

-- Reception's roles: the worker stages, leads and enqueues periodic jobs; officers and the
-- auditor may look.
REVOKE ALL ON FUNCTION jobs_stage(integer), jobs_lead(text, bigint), jobs_resign(text), jobs_schedule_later() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION jobs_stage(integer), jobs_lead(text, bigint), jobs_resign(text) TO reception_worker;
GRANT SELECT ON job_leader, job_periodic TO reception_worker, reception_officer, reception_auditor;
GRANT INSERT, UPDATE ON job_periodic TO reception_worker;
