-- 009_batch_jobs.sql — a batch follows its job, and its job knows its time limit.
--
-- * A batch whose job ends without finishing it — discarded after its last attempt (by its
--   handler, or by a rescue after its worker was lost) or cancelled by an operator — ends too:
--   failed, with the job's last error, or cancelled. It is never left 'running' under a job
--   that will not run again. A trigger, so that every path that ends a job is covered,
--   whichever process takes it.
-- * request_batch puts the batch's time limit in its job's arguments (fixed, like every job's
--   request), so that the daemon can set the attempt's execution timeout from it; it is the only
--   way such a job comes to be (a worker may enqueue jobs, but not of this kind).
-- * A batch's write re-checks what changed under its solve, with row locks the worker is lent
--   for the batch it runs and nothing else.

CREATE FUNCTION batches_follow_job() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    IF TG_RELID <> 'public.jobs'::pg_catalog.regclass THEN
        RAISE EXCEPTION 'trigger function batches_follow_job runs on public.jobs only'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    -- Cancelling a batch is an operator's call (`reception jobs cancel`, as the owner); a worker
    -- that cancels its own job only fails its batch, and says so.
    IF NEW.state = 'cancelled' AND pg_catalog.pg_has_role(session_user, (SELECT c.relowner FROM pg_catalog.pg_class c
                                                                    WHERE c.oid = 'public.jobs'::pg_catalog.regclass), 'MEMBER') THEN
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

-- Only request_batch creates a batch's job: a worker may enqueue jobs (008), but not of this
-- kind, whose arguments the daemon trusts.
ALTER POLICY jobs_worker_insert ON jobs
    WITH CHECK (state <> 'running' AND claimed_by IS NULL AND kind <> 'allocation-batch');

-- What a case looked like to a batch: its placement-relevant fields as one value. A batch
-- compares it between its snapshot and its write to tell which households changed meanwhile
-- (BatchInstance and BatchRecheck of ReceptionKit). Needs are in it through needs_revision,
-- which every change of a case's needs bumps (006). JSON, not a row's text: that depends on
-- the session's DateStyle.
CREATE FUNCTION case_fingerprint(c public.cases) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT pg_catalog.md5(pg_catalog.jsonb_build_array(c.status, c.ages, c.language, c.occupations, c.family_ties,
                                                       c.preferences, c.excluded, c.arrived_on, c.needs_revision)::text)
$$;

-- A batch's write locks what it re-checks, in the order every writer takes them (the
-- allocation trigger: the case, then its municipality FOR SHARE, then capacity): the pending
-- households it proposes, then the municipalities that may still take placements, then their
-- capacity in the batch's period. Row locks need UPDATE privilege, which the worker has on
-- none of these tables; these functions lend it the locks, for the running (not dry-run)
-- batch whose job its login holds, and only on rows that batch may write to.
CREATE FUNCTION batch_held_by_caller(p_batch bigint) RETURNS void
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM public.batches b WHERE b.id = p_batch AND b.status = 'running' AND NOT b.dry_run) THEN
        RAISE EXCEPTION 'batch % is not running (or is a dry run)', p_batch USING ERRCODE = 'insufficient_privilege';
    END IF;
    -- The administrator (whoever owns the tables) may run a batch by hand (tests, repairs).
    IF pg_catalog.pg_has_role(session_user, (SELECT c.relowner FROM pg_catalog.pg_class c
                                             WHERE c.oid = 'public.batches'::pg_catalog.regclass), 'MEMBER') THEN
        RETURN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM public.batches b JOIN public.jobs j ON j.id = b.job_id
                   WHERE b.id = p_batch AND j.state = 'running' AND j.claimed_by = session_user::text) THEN
        RAISE EXCEPTION 'batch % is not run by this login', p_batch USING ERRCODE = 'insufficient_privilege';
    END IF;
END $$;

-- The pending households among p_cases, locked; the others (withdrawn, placed meanwhile) are
-- left out, and unlocked.
CREATE FUNCTION batch_lock_cases(p_batch bigint, p_cases bigint[])
RETURNS TABLE (id bigint, fingerprint text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    PERFORM public.batch_held_by_caller(p_batch);
    IF coalesce(cardinality(p_cases), 0) > 1000000 THEN
        RAISE EXCEPTION 'at most 1,000,000 cases' USING ERRCODE = 'program_limit_exceeded';
    END IF;
    RETURN QUERY
        SELECT c.id, public.case_fingerprint(c) FROM public.cases c
        WHERE c.id = ANY (p_cases) AND c.status = 'registered' ORDER BY c.id FOR UPDATE;
END $$;

-- The capacity of those of p_municipalities that still take placements for the batch (active,
-- joined by today, and requested, when the batch named its municipalities), locked with them.
CREATE FUNCTION batch_lock_capacity(p_batch bigint, p_municipalities text[])
RETURNS TABLE (municipality_code text, dimension text, free int)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    b record;
BEGIN
    PERFORM public.batch_held_by_caller(p_batch);
    IF coalesce(cardinality(p_municipalities), 0) > 1000 THEN
        RAISE EXCEPTION 'at most 1000 municipalities' USING ERRCODE = 'program_limit_exceeded';
    END IF;
    SELECT bt.period, bt.summary -> 'municipalities_requested' AS requested INTO b FROM public.batches bt WHERE bt.id = p_batch;
    PERFORM 1 FROM public.municipalities m
     WHERE m.code = ANY (p_municipalities) AND m.active AND m.joined_on <= public.reception_today()
       AND (b.requested IS NULL OR b.requested ? m.code)
     ORDER BY m.code FOR SHARE;
    RETURN QUERY
        SELECT k.municipality_code, k.dimension, k.quota - k.used FROM public.capacity k
        JOIN public.municipalities m ON m.code = k.municipality_code
        WHERE k.period = b.period AND k.municipality_code = ANY (p_municipalities)
          AND m.active AND m.joined_on <= public.reception_today()
          AND (b.requested IS NULL OR b.requested ? m.code)
        ORDER BY k.municipality_code, k.dimension FOR UPDATE OF k;
END $$;

REVOKE EXECUTE ON FUNCTION case_fingerprint(public.cases), batch_held_by_caller(bigint),
                           batch_lock_cases(bigint, bigint[]), batch_lock_capacity(bigint, text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION case_fingerprint(public.cases) TO reception_officer, reception_worker;
GRANT EXECUTE ON FUNCTION batch_lock_cases(bigint, bigint[]), batch_lock_capacity(bigint, text[]) TO reception_worker;
