-- 022_cancel_requests_go_with_their_jobs.sql — a cancel request (sql/021) is deleted with its
-- job, so that retention's prune leaves none behind.
--
-- A request outlives its job's end on purpose (`jobs show` says a cancel came too late for a
-- job whose commit came first) but not the job: job ids are never reused, and the table would
-- only grow. Retention prunes as the worker login, which may not touch the requests (only the
-- schema owner writes them), hence SECURITY DEFINER. A statement trigger with the deleted rows,
-- so a prune of 10,000 jobs is one join, not 10,000 lookups.

CREATE FUNCTION jobs_forget_cancel_requests() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    IF TG_RELID <> 'public.jobs'::pg_catalog.regclass THEN
        RAISE EXCEPTION 'trigger function jobs_forget_cancel_requests runs on public.jobs only'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    DELETE FROM public.job_cancel_requests r USING deleted_jobs d WHERE r.job_id = d.id;
    RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION jobs_forget_cancel_requests() FROM PUBLIC;

CREATE TRIGGER jobs_forget_cancel_requests
    AFTER DELETE ON jobs REFERENCING OLD TABLE AS deleted_jobs
    FOR EACH STATEMENT EXECUTE FUNCTION jobs_forget_cancel_requests();

-- Requests left by prunes before this migration.
DELETE FROM job_cancel_requests r WHERE NOT EXISTS (SELECT 1 FROM jobs j WHERE j.id = r.job_id);
