-- 010_jobs_control.sql — operating the queue: paused queues, the daemons' presence, and
-- wake-ups that name their queue; and the queue's rules made tighter for worker logins.
--
-- Generic like 002_jobs.sql, but for the grants to Reception's roles at the end.

-- Ids come from the sequence only: a login that may enqueue cannot take ids ahead of time
-- and make everyone else's INSERT fail.
ALTER TABLE jobs ALTER COLUMN id SET GENERATED ALWAYS;

-- A paused queue keeps its jobs, and no daemon claims from it (`reception jobs pause QUEUE`,
-- `resume`). Jobs already running go on to their end.
CREATE TABLE job_queue_pauses (
    queue     text PRIMARY KEY CONSTRAINT job_queue_pauses_name CHECK (queue <> '' AND length(queue) <= 100),
    paused_at timestamptz NOT NULL DEFAULT now(),
    paused_by text NOT NULL DEFAULT session_user
);

-- Each running daemon, as its heartbeat last reported it: `reception jobs health` tells from
-- it whether any daemon is alive. A daemon removes its row when it stops; a row whose
-- heartbeat is older than its lease is a daemon that died.
CREATE TABLE job_workers (
    id           text PRIMARY KEY CONSTRAINT job_workers_id CHECK (id <> '' AND length(id) <= 200),
    login        text NOT NULL DEFAULT session_user,
    queues       text[] NOT NULL CONSTRAINT job_workers_queues
                     CHECK (cardinality(queues) BETWEEN 1 AND 1000 AND array_ndims(queues) = 1
                            AND array_position(queues, NULL) IS NULL AND pg_column_size(queues) <= 131072),
    concurrency  integer NOT NULL CONSTRAINT job_workers_concurrency CHECK (concurrency BETWEEN 1 AND 100000),
    lease_ms     bigint NOT NULL CONSTRAINT job_workers_lease CHECK (lease_ms BETWEEN 300 AND 86400000),
    started_at   timestamptz NOT NULL DEFAULT now(),
    heartbeat_at timestamptz NOT NULL DEFAULT now(),
    running      integer NOT NULL DEFAULT 0 CONSTRAINT job_workers_running CHECK (running BETWEEN 0 AND 100000)
);

-- Whoever writes a row, the server says who and when: a daemon cannot report itself alive
-- for the future, nor as another login.
CREATE FUNCTION job_workers_stamp() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    IF TG_RELID <> 'public.job_workers'::pg_catalog.regclass THEN
        RAISE EXCEPTION 'trigger function job_workers_stamp runs on public.job_workers only'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    NEW.login := session_user;
    NEW.heartbeat_at := pg_catalog.now();
    IF TG_OP = 'INSERT' THEN
        NEW.started_at := pg_catalog.now();
    ELSE
        NEW.started_at := OLD.started_at;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER job_workers_stamp BEFORE INSERT OR UPDATE ON job_workers
    FOR EACH ROW EXECUTE FUNCTION job_workers_stamp();

-- Wake-ups name their queue: one notification per queue per transaction (PostgreSQL folds
-- identical ones), and only for jobs that are ready now — a job scheduled for later wakes no
-- one (the daemons' poll finds it). A daemon listening for other queues is not woken.
CREATE OR REPLACE FUNCTION jobs_notify_inserted() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    ready_queue text;
BEGIN
    IF TG_RELID <> 'public.jobs'::pg_catalog.regclass THEN
        RAISE EXCEPTION 'trigger function jobs_notify_inserted runs on public.jobs only'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    FOR ready_queue IN
        SELECT DISTINCT j.queue FROM new_jobs j
        WHERE j.state IN ('available', 'retryable') AND j.run_at <= pg_catalog.now()
    LOOP
        PERFORM pg_catalog.pg_notify('jobs_available', ready_queue);
    END LOOP;
    RETURN NULL;
END
$$;

DROP TRIGGER jobs_notify_inserted ON jobs;
CREATE TRIGGER jobs_notify_inserted
    AFTER INSERT ON jobs
    REFERENCING NEW TABLE AS new_jobs
    FOR EACH STATEMENT EXECUTE FUNCTION jobs_notify_inserted();

-- Reception's roles: the worker reads the pauses and keeps its own presence row; officers and
-- the auditor may look at both.
GRANT SELECT ON job_queue_pauses, job_workers TO reception_worker, reception_officer, reception_auditor;
GRANT INSERT, UPDATE, DELETE ON job_workers TO reception_worker;
ALTER TABLE job_workers ENABLE ROW LEVEL SECURITY;
CREATE POLICY job_workers_read ON job_workers FOR SELECT USING (true);
CREATE POLICY job_workers_own ON job_workers FOR ALL TO reception_worker
    USING (login = session_user::text) WITH CHECK (login = session_user::text);

-- The queue's rules for worker logins (007), tighter:
--   * a rescue (another login's job whose lease expired) follows the attempts left —
--     retryable, or discarded on the last — with the rescue's own entry in the history, so
--     that one worker cannot end or fail another's job early under a message of its choice;
--   * a paused queue's jobs are not claimed, even by a daemon that does not know of pauses.
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
    IF OLD.state IN ('available', 'retryable') THEN
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
