-- 008_privileges.sql — each role can do exactly its job, and nobody else can do anything.
--
--   * PUBLIC (any login on the cluster) has no CONNECT or TEMPORARY on this database, no
--     CREATE on schema public (also where the server is PostgreSQL 14 or older, or was upgraded
--     from one), and EXECUTE on none of the schema's functions; functions created later by the
--     migrating role start closed as well.
--   * Every function runs with search_path = pg_catalog, public, pg_temp.
--   * reception_worker writes proposals only, only into a running batch whose job its own
--     login holds; it updates only such batches; it deletes only finished jobs; it does not
--     read the audit trail.
--   * reception_officer requests batches through request_batch() (the batch and its job
--     created together, ids generated), changes a case's status only through withdraw_case()
--     and reinstate_case(), and cannot insert jobs or repoint a batch's job.
--   * reception_auditor reads the intake figures and a redacted audit trail, through views
--     made for it: no references, ages, needs, languages, family ties or free-text reasons.
-- README ("Roles" and "Data protection") has the table of what each role sees.


-- ---------------------------------------------------------------------------------------
-- The database and the schema
-- ---------------------------------------------------------------------------------------

REVOKE CREATE ON SCHEMA public FROM PUBLIC;

-- Database privileges are not copied by CREATE DATABASE ... TEMPLATE, so they are set by a
-- function that `reception db migrate` calls after every run (and the tests after cloning).
CREATE FUNCTION reception_secure_database() RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    db text := pg_catalog.current_database();
BEGIN
    IF NOT pg_catalog.pg_has_role(current_user,
           (SELECT d.datdba FROM pg_catalog.pg_database d WHERE d.datname = db), 'USAGE') THEN
        RAISE WARNING 'database privileges of % not set: % does not own it', db, current_user
            USING HINT = 'As its owner run: SELECT reception_secure_database();';
        RETURN;
    END IF;
    EXECUTE pg_catalog.format('REVOKE ALL ON DATABASE %I FROM PUBLIC', db);
    EXECUTE pg_catalog.format('GRANT CONNECT ON DATABASE %I TO reception_officer, reception_worker, reception_auditor', db);
    -- Case import stages needs in a temporary table.
    EXECUTE pg_catalog.format('GRANT TEMPORARY ON DATABASE %I TO reception_officer', db);
END $$;

SELECT reception_secure_database();


-- ---------------------------------------------------------------------------------------
-- Functions
-- ---------------------------------------------------------------------------------------

-- request_batch: a batch and the job that runs it, in one step, with generated ids. The job
-- kind and arguments are BatchRun.jobKind / BatchRun.Arguments of ReceptionKit.
CREATE FUNCTION request_batch(p_period int, p_dry_run boolean, p_time_limit float8, p_municipalities text[])
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
    VALUES ('allocation-batch', pg_catalog.jsonb_build_object('batch_id', new_batch), 5)
    RETURNING id INTO new_job;
    UPDATE public.batches SET job_id = new_job WHERE id = new_batch;
    RETURN new_batch;
END $$;

REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA public FROM PUBLIC;
ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;

-- Column defaults and statements of the roles call these.
GRANT EXECUTE ON FUNCTION reception_today(), reception_period(), current_actor()
    TO reception_officer, reception_worker, reception_auditor;
GRANT EXECUTE ON FUNCTION jobs_default_max_attempts() TO reception_worker;
GRANT EXECUTE ON FUNCTION withdraw_case(bigint, text), reinstate_case(bigint),
                          request_batch(int, boolean, float8, text[])
    TO reception_officer;

-- pg_catalog first in every function of the schema, trigger functions and invoker ones alike
-- (the ones redefined in 004-008 say so themselves; this covers the rest and any left over).
DO $$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN SELECT p.oid::regprocedure FROM pg_catalog.pg_proc p
             WHERE p.pronamespace = 'public'::regnamespace AND p.prokind IN ('f', 'p') LOOP
        EXECUTE pg_catalog.format('ALTER FUNCTION %s SET search_path = pg_catalog, public, pg_temp', f);
    END LOOP;
END $$;


-- ---------------------------------------------------------------------------------------
-- Officers
-- ---------------------------------------------------------------------------------------

REVOKE UPDATE ON cases FROM reception_officer;            -- withdraw_case / reinstate_case
REVOKE INSERT, UPDATE ON batches FROM reception_officer;  -- request_batch
REVOKE INSERT ON jobs FROM reception_officer;             -- request_batch
GRANT SELECT ON officers TO reception_officer, reception_auditor;


-- ---------------------------------------------------------------------------------------
-- The worker
-- ---------------------------------------------------------------------------------------

REVOKE SELECT ON audit_events FROM reception_worker;

-- Row-level security binds the worker to the batches whose jobs its login holds. The owner
-- (and so every SECURITY DEFINER trigger) is not subject to it.
ALTER TABLE allocations ENABLE ROW LEVEL SECURITY;
CREATE POLICY allocations_read ON allocations FOR SELECT
    TO reception_officer, reception_worker USING (true);
CREATE POLICY allocations_officer_insert ON allocations FOR INSERT
    TO reception_officer WITH CHECK (true);
CREATE POLICY allocations_officer_update ON allocations FOR UPDATE
    TO reception_officer USING (true) WITH CHECK (true);
CREATE POLICY allocations_worker_proposes ON allocations FOR INSERT TO reception_worker
    WITH CHECK (status = 'proposed' AND NOT forced AND batch_id IS NOT NULL AND decision_reason IS NULL
                AND EXISTS (SELECT 1 FROM public.batches b JOIN public.jobs j ON j.id = b.job_id
                            WHERE b.id = batch_id AND b.status = 'running' AND NOT b.dry_run
                              AND j.state = 'running' AND j.claimed_by = session_user));

ALTER TABLE batches ENABLE ROW LEVEL SECURITY;
CREATE POLICY batches_read ON batches FOR SELECT
    TO reception_officer, reception_worker USING (true);
-- It runs, finishes or fails the batch it holds; cancelling is an officer's or operator's call.
CREATE POLICY batches_worker_runs_its_own ON batches FOR UPDATE TO reception_worker
    USING (EXISTS (SELECT 1 FROM public.jobs j
                   WHERE j.id = job_id AND j.state = 'running' AND j.claimed_by = session_user))
    WITH CHECK (status <> 'cancelled'
                AND EXISTS (SELECT 1 FROM public.jobs j
                            WHERE j.id = job_id AND j.state = 'running' AND j.claimed_by = session_user));

ALTER TABLE jobs ENABLE ROW LEVEL SECURITY;
CREATE POLICY jobs_read ON jobs FOR SELECT
    TO reception_officer, reception_worker USING (true);
CREATE POLICY jobs_worker_insert ON jobs FOR INSERT TO reception_worker
    WITH CHECK (state <> 'running' AND claimed_by IS NULL);
-- A running job is claimed by the login that runs it; which changes a worker may make is
-- jobs_guard's (007), which sees the old row and the new.
CREATE POLICY jobs_worker_update ON jobs FOR UPDATE TO reception_worker
    USING (true) WITH CHECK (state <> 'running' OR claimed_by = session_user);
CREATE POLICY jobs_worker_prunes_finished ON jobs FOR DELETE TO reception_worker
    USING (state IN ('succeeded', 'discarded', 'cancelled'));


-- ---------------------------------------------------------------------------------------
-- The auditor: figures and a redacted trail, no personal data
-- ---------------------------------------------------------------------------------------

REVOKE SELECT ON cases, case_needs, case_demands, allocations, audit_events, batches, capacity
    FROM reception_auditor;

-- Capacity without its updated_at, whose timing next to the trail would say which dimensions
-- the last placement in a municipality took. The intake report reads this, for every role.
CREATE VIEW capacity_overview AS
SELECT k.municipality_code, k.period, k.dimension, k.quota, k.used, k.forced FROM public.capacity k;

-- The intake of each municipality and period, in households and persons: the one definition
-- behind `reception audit intake`, for every role.
CREATE VIEW intake_by_municipality AS
SELECT a.period, a.municipality_code,
       coalesce(sum(cardinality(c.ages)) FILTER (WHERE a.status = 'confirmed'), 0)::bigint AS placed_persons,
       count(*) FILTER (WHERE a.status = 'confirmed') AS placed_households,
       coalesce(sum(cardinality(c.ages)) FILTER (WHERE a.status = 'proposed'), 0)::bigint AS proposed_persons,
       count(*) FILTER (WHERE a.status = 'proposed') AS proposed_households,
       coalesce(sum((SELECT count(*) FROM unnest(c.ages) age WHERE age < 18)) FILTER (WHERE a.status = 'confirmed'), 0)::bigint
           AS placed_children,
       count(*) FILTER (WHERE a.status = 'confirmed'
                        AND EXISTS (SELECT 1 FROM public.case_needs n WHERE n.case_id = c.id)) AS placed_with_needs,
       count(*) FILTER (WHERE a.forced) AS forced_placements
FROM public.allocations a JOIN public.cases c ON c.id = a.case_id
WHERE a.status IN ('proposed', 'confirmed')
GROUP BY a.period, a.municipality_code;

COMMENT ON VIEW intake_by_municipality IS
    'Active allocations per period and municipality, as counts only (readable by auditors).';

-- The trail with details limited to what names no person: no free-text reason, no score, no
-- need. A capacity row that a forced placement created is left out: beside the placement's
-- event it would say which need the household has.
CREATE VIEW audit_trail_redacted AS
SELECT e.id, e.at, e.actor, e.action, e.case_id, e.municipality_code, e.allocation_id, e.batch_id,
       (SELECT coalesce(pg_catalog.jsonb_object_agg(d.key, d.value), '{}'::jsonb)
        FROM pg_catalog.jsonb_each(e.details) d
        WHERE d.key = ANY (ARRAY['status', 'from', 'period', 'forced', 'from_municipality', 'from_period',
                                 'name', 'joined_on', 'active', 'dimension', 'quota', 'previous', 'login'])) AS details
FROM public.audit_events e
WHERE NOT (e.action = 'capacity.quota_set' AND coalesce((e.details ->> 'by_forced_allocation')::boolean, false))
  AND e.action <> 'case.needs_changed';

COMMENT ON VIEW audit_trail_redacted IS
    'The audit trail without free-text reasons or scores (readable by auditors).';

CREATE VIEW batches_overview AS
SELECT b.id, b.period, b.status, b.dry_run, b.requested_by, b.created_at, b.started_at, b.finished_at,
       b.objective, b.bound
FROM public.batches b;

GRANT SELECT ON intake_by_municipality, audit_trail_redacted, batches_overview, capacity_overview
    TO reception_officer, reception_auditor;
