-- 021_job_cancel_requests.sql — `reception jobs cancel` returns at once, whatever locks a
-- running job holds (issue 9 §2).
--
-- An operator's cancel sets a job's state under the job's row lock. A handler committing its
-- result holds that row for as long as its transaction lasts (a batch's write: seconds), and
-- the cancel used to wait 2 s and give up. Now, when the row stays locked, the cancel is
-- recorded here instead, beside the job and without touching its row (no foreign key: its
-- check would wait for that very lock), and the job's daemon acts on it:
--
-- * its heartbeat reads the request and stops the handler; the attempt ends cancelled, unless
--   the handler's own commit came first (then the job succeeded: the cancel came too late);
-- * whatever else would send the running job back to the queue — a failed attempt's retry, a
--   snooze, a hand-back at shutdown or after a lost session, a rescue after a lost lease —
--   ends it cancelled instead (the trigger below: one rule, whichever process writes the row).
--
-- Only the schema owner records requests (the operator's `jobs cancel`); workers and officers
-- read them. A retry of the job by the owner takes its request back.

CREATE TABLE job_cancel_requests (
    job_id       bigint PRIMARY KEY,
    requested_at timestamptz NOT NULL DEFAULT now(),
    requested_by text NOT NULL DEFAULT session_user
);

COMMENT ON TABLE job_cancel_requests IS
    'Operators'' cancels of running jobs whose row was locked (sql/021): honoured by the job''s daemon and by the trigger jobs_honour_cancel_requests.';

GRANT SELECT ON job_cancel_requests TO reception_worker, reception_officer;

-- A running job with a request does not go back to the queue: it ends cancelled. Named to run
-- after jobs_guard (triggers fire in name order), which checks the transition the worker asked
-- for, and before jobs_schedule_later, whose WHEN then sees the job cancelled. The WHEN keeps it
-- off the hot path: successes never call it.
CREATE FUNCTION jobs_honour_cancel_requests() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    IF TG_RELID <> 'public.jobs'::pg_catalog.regclass THEN
        RAISE EXCEPTION 'trigger function jobs_honour_cancel_requests runs on public.jobs only'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF EXISTS (SELECT 1 FROM public.job_cancel_requests r WHERE r.job_id = NEW.id) THEN
        NEW.state := 'cancelled';
        NEW.finished_at := pg_catalog.now();
        NEW.lease_expires_at := NULL;
        NEW.errors := NEW.errors || pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
            'at', pg_catalog.now(), 'attempt', NEW.attempt, 'message', 'cancelled by an operator while running',
            'worker', OLD.lease_owner));
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER jobs_honour_cancel_requests
    BEFORE UPDATE OF state ON jobs
    FOR EACH ROW WHEN (OLD.state = 'running' AND NEW.state IN ('scheduled', 'available', 'retryable'))
    EXECUTE FUNCTION jobs_honour_cancel_requests();

-- A batch follows its job (009), and a job its daemon cancelled on an operator's request is
-- the operator's cancel: the batch is cancelled, not failed.
CREATE OR REPLACE FUNCTION batches_follow_job() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    IF TG_RELID <> 'public.jobs'::pg_catalog.regclass THEN
        RAISE EXCEPTION 'trigger function batches_follow_job runs on public.jobs only'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    -- Cancelling a batch is an operator's call (`reception jobs cancel`, as the owner); a worker
    -- that cancels its own job unasked only fails its batch, and says so.
    IF NEW.state = 'cancelled'
       AND (pg_catalog.pg_has_role(session_user, (SELECT c.relowner FROM pg_catalog.pg_class c
                                                   WHERE c.oid = 'public.jobs'::pg_catalog.regclass), 'MEMBER')
            OR EXISTS (SELECT 1 FROM public.job_cancel_requests r WHERE r.job_id = NEW.id)) THEN
        UPDATE public.batches SET status = 'cancelled', finished_at = pg_catalog.now(), error = 'its job was cancelled'
         WHERE job_id = NEW.id AND status IN ('queued', 'running');
    ELSE
        UPDATE public.batches
           SET status = 'failed', finished_at = pg_catalog.now(),
               error = CASE NEW.state
                           WHEN 'cancelled' THEN pg_catalog.format('its job was cancelled by the worker login %s', session_user)
                           ELSE 'its job was discarded: ' || coalesce(NEW.errors -> -1 ->> 'message', 'no error recorded')
                       END
         WHERE job_id = NEW.id AND status IN ('queued', 'running');
    END IF;
    RETURN NULL;
END $$;
