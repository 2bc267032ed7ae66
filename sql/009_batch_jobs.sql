-- 009_batch_jobs.sql — a batch follows its job, and its job knows its time limit.
--
-- * A batch whose job ends without finishing it — discarded after its last attempt (by its
--   handler, or by a rescue after its worker was lost) or cancelled by an operator — ends too:
--   failed, with the job's last error, or cancelled. It is never left 'running' under a job
--   that will not run again. A trigger, so that every path that ends a job is covered,
--   whichever process takes it.
-- * request_batch puts the batch's time limit in its job's arguments (fixed, like every job's
--   request), so that the daemon can set the attempt's execution timeout from it.

CREATE FUNCTION batches_follow_job() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    IF TG_RELID <> 'public.jobs'::pg_catalog.regclass THEN
        RAISE EXCEPTION 'trigger function batches_follow_job runs on public.jobs only'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    UPDATE public.batches
       SET status = CASE NEW.state WHEN 'cancelled' THEN 'cancelled' ELSE 'failed' END,
           finished_at = pg_catalog.now(),
           error = CASE NEW.state
                       WHEN 'cancelled' THEN 'its job was cancelled'
                       ELSE 'its job was discarded: '
                            || coalesce(NEW.errors -> -1 ->> 'message', 'no error recorded')
                   END
     WHERE job_id = NEW.id AND status IN ('queued', 'running');
    RETURN NULL;
END $$;
REVOKE EXECUTE ON FUNCTION batches_follow_job() FROM PUBLIC;

-- The WHEN keeps the queue's hot path free of it: only a job of this kind that just ended
-- without success.
CREATE TRIGGER batches_follow_job
    AFTER UPDATE OF state ON jobs
    FOR EACH ROW
    WHEN (NEW.kind = 'allocation-batch' AND NEW.state IN ('discarded', 'cancelled')
          AND OLD.state IS DISTINCT FROM NEW.state)
    EXECUTE FUNCTION batches_follow_job();

CREATE OR REPLACE FUNCTION request_batch(p_period int, p_dry_run boolean, p_time_limit float8, p_municipalities text[])
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    new_batch bigint;
    new_job   bigint;
BEGIN
    PERFORM public.current_actor();  -- a deactivated officer cannot act
    IF p_period IS NULL OR p_period NOT BETWEEN 2000 AND 2100 THEN
        RAISE EXCEPTION 'the period must be a year between 2000 and 2100' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_time_limit IS NULL OR NOT (p_time_limit > 0 AND p_time_limit <= 3600) THEN
        RAISE EXCEPTION 'the time limit must be between 0 and 3600 seconds' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF coalesce(cardinality(p_municipalities), 0) > 1000
       OR pg_catalog.array_position(p_municipalities, NULL) IS NOT NULL
       OR NOT coalesce(pg_catalog.array_to_string(p_municipalities, ' ') ~ '^([0-9]{4}( |$))*$', true) THEN
        RAISE EXCEPTION 'the municipalities must be at most 1000 four-digit codes' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO public.batches (period, dry_run, summary)
    VALUES (p_period, coalesce(p_dry_run, false),
            pg_catalog.jsonb_build_object('time_limit', p_time_limit)
            || CASE WHEN coalesce(cardinality(p_municipalities), 0) > 0
                    THEN pg_catalog.jsonb_build_object('municipalities_requested', pg_catalog.to_jsonb(p_municipalities))
                    ELSE '{}'::jsonb END)
    RETURNING id INTO new_batch;
    INSERT INTO public.jobs (kind, args, max_attempts)
    VALUES ('allocation-batch', pg_catalog.jsonb_build_object('batch_id', new_batch, 'time_limit', p_time_limit), 5)
    RETURNING id INTO new_job;
    UPDATE public.batches SET job_id = new_job WHERE id = new_batch;
    RETURN new_batch;
END $$;

-- What a case looked like to a batch: its placement-relevant fields as one value. A batch
-- compares it between its snapshot and its write to tell which households changed meanwhile
-- (BatchInstance and BatchRecheck of ReceptionKit). Everything that changes a case's demand
-- bumps needs_revision (006).
CREATE FUNCTION case_fingerprint(c public.cases) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT pg_catalog.md5(ROW(c.status, c.ages, c.language, c.occupations, c.family_ties, c.preferences,
                           c.excluded, c.arrived_on, c.needs_revision)::text)
$$;

-- A batch's write locks what it re-checks: the households it proposes, then the capacity of
-- its municipalities (the order every writer takes them in). Row locks need UPDATE privilege,
-- which the worker has on neither table; these lend it the locks, and only for the batch
-- whose job its login holds running (the rule of 008's row-level security).
CREATE FUNCTION batch_held_by_caller(p_batch bigint) RETURNS void
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    -- The administrator (whoever owns the tables) runs batches by hand in tests and repairs.
    IF pg_catalog.pg_has_role(session_user, (SELECT c.relowner FROM pg_catalog.pg_class c
                                             WHERE c.oid = 'public.batches'::pg_catalog.regclass), 'MEMBER') THEN
        RETURN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM public.batches b JOIN public.jobs j ON j.id = b.job_id
                   WHERE b.id = p_batch AND b.status IN ('queued', 'running')
                     AND j.state = 'running' AND j.claimed_by = session_user::text) THEN
        RAISE EXCEPTION 'batch % is not run by this login', p_batch USING ERRCODE = 'insufficient_privilege';
    END IF;
END $$;

CREATE FUNCTION batch_lock_cases(p_batch bigint, p_cases bigint[])
RETURNS TABLE (id bigint, status text, fingerprint text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    PERFORM public.batch_held_by_caller(p_batch);
    RETURN QUERY
        SELECT c.id, c.status, public.case_fingerprint(c) FROM public.cases c
        WHERE c.id = ANY (p_cases) ORDER BY c.id FOR UPDATE;
END $$;

CREATE FUNCTION batch_lock_capacity(p_batch bigint, p_municipalities text[])
RETURNS TABLE (municipality_code text, dimension text, free int)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    PERFORM public.batch_held_by_caller(p_batch);
    RETURN QUERY
        SELECT k.municipality_code, k.dimension, k.quota - k.used FROM public.capacity k
        JOIN public.batches b ON b.id = p_batch AND k.period = b.period
        WHERE k.municipality_code = ANY (p_municipalities)
        ORDER BY k.municipality_code, k.dimension FOR UPDATE OF k;
END $$;

REVOKE EXECUTE ON FUNCTION case_fingerprint(public.cases), batch_held_by_caller(bigint),
                           batch_lock_cases(bigint, bigint[]), batch_lock_capacity(bigint, text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION case_fingerprint(public.cases) TO reception_officer, reception_worker;
GRANT EXECUTE ON FUNCTION batch_lock_cases(bigint, bigint[]), batch_lock_capacity(bigint, text[]) TO reception_worker;
