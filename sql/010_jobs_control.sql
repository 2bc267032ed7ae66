-- 010_jobs_control.sql — operating the queue: paused queues, the daemons' presence, and
-- wake-ups that name their queue.
--
-- Generic like 002_jobs.sql, but for the grants to Reception's roles at the end.

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
    queues       text[] NOT NULL CONSTRAINT job_workers_queues CHECK (cardinality(queues) BETWEEN 1 AND 1000),
    concurrency  integer NOT NULL CONSTRAINT job_workers_concurrency CHECK (concurrency BETWEEN 1 AND 100000),
    lease_ms     bigint NOT NULL CONSTRAINT job_workers_lease CHECK (lease_ms > 0),
    started_at   timestamptz NOT NULL DEFAULT now(),
    heartbeat_at timestamptz NOT NULL DEFAULT now(),
    running      integer NOT NULL DEFAULT 0 CONSTRAINT job_workers_running CHECK (running >= 0)
);

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
