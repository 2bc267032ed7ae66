-- 012_batch_write.sql — a batch writes fast: an INSERT into allocations is checked and
-- accounted once per statement, set-based, instead of once per row.
--
-- Until now one row trigger (allocations_account) did everything for each new allocation:
-- locked its case and municipality, computed its demand through case_demand(), moved each
-- dimension's capacity with an UPDATE of its own (so one capacity row got a new version for
-- every household placed there, each one found through a longer chain of dead versions),
-- updated its case's status and wrote its audit event. 20,000 proposals took ~16-30 s.
--
-- From here on an INSERT takes two triggers:
--   * allocations_before_insert, per row: the status rule, who and when, and the household's
--     demand (read without a lock). Its WHEN skips it for a row with nothing to do: a proposal
--     whose writer gave its demand, with the defaults' creator and time. A batch gives the
--     demand it read from case_demands after locking its households (BatchRecheck), so its
--     20,000 rows run no function at all;
--   * allocations_after_insert, once per statement, on the statement's new rows (a transition
--     table): locks the cases (by id), then compares every row's demand with case_demands now
--     that the households are locked (refused otherwise), locks the municipalities (by code) and
--     the capacity rows (by municipality, period, dimension) — the order batch_lock_cases /
--     batch_lock_capacity take them in —, checks every rule for all rows in one query and
--     capacity by running sums in insertion order, then writes one UPDATE of capacity per
--     statement (one new version per capacity row), one UPDATE of the cases' status and one
--     INSERT of the audit events.
-- Also: cases_before_update is skipped (WHEN) for the status changes the allocation triggers
-- make, where it had nothing to check; the worker's row-level security policy finds its
-- batches once per statement; the worker may write allocations.demand (checked, as above).
--
-- Nothing that was guaranteed changes, and each refusal keeps its SQLSTATE and its constraint
-- name; when several rows of a statement break rules, the one refused is the one the row
-- trigger would have refused (the first in insertion order; for it, the first rule in the old
-- order, and the first dimension by name), with the same message. The differences:
--   * a case or municipality that does not exist is refused by the foreign key itself, and a
--     second active allocation of a household by the unique index itself (23503 / 23505 with
--     the same constraint names, their own messages naming the key), because those checks run
--     before a statement trigger; in a statement with several faults such a row may be the
--     one reported although a row before it breaks another rule;
--   * if a household's needs or members change between the row's demand being read and the
--     statement trigger's lock (a writer that did not lock the case first, racing an officer),
--     the INSERT fails with 40001, to be retried, where the row trigger read the demand after
--     its lock and succeeded. Under REPEATABLE READ the lock itself fails with 40001, as before.
--     A demand given by the writer that is not the household's is refused the same way.
--
-- UPDATE and DELETE of allocations (an officer's decisions, one or a few rows) keep their
-- row triggers: allocations_account and allocations_audit no longer fire on INSERT and lose
-- their INSERT branches.
--
-- Error contract as in 001_domain.sql.


-- ---------------------------------------------------------------------------------------
-- Per row, on INSERT: what the row itself must say
-- ---------------------------------------------------------------------------------------

CREATE FUNCTION allocations_before_insert() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    IF TG_RELID <> 'public.allocations'::pg_catalog.regclass THEN
        RAISE EXCEPTION 'trigger function allocations_before_insert runs on public.allocations only'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NEW.status NOT IN ('proposed', 'confirmed') THEN
        RAISE EXCEPTION 'a new allocation must be proposed or confirmed'
            USING ERRCODE = 'raise_exception';
    END IF;
    -- The login, as current_actor() says it. The column's default has just called it (which
    -- refuses a deactivated login); a value written explicitly is replaced. The statement
    -- trigger calls it once more, whatever the row said.
    IF NEW.created_by IS DISTINCT FROM session_user::text THEN
        NEW.created_by := public.current_actor();
    END IF;
    NEW.created_at := pg_catalog.now();
    IF NEW.status = 'proposed' THEN
        NEW.decided_by := NULL;
        NEW.decided_at := NULL;
    ELSE
        NEW.decided_by := NEW.created_by;
        NEW.decided_at := pg_catalog.now();
    END IF;
    -- What it will hold, by the one definition (case_demands), read here without a lock; the
    -- statement trigger locks the case and refuses the statement if it differs by then.
    SELECT coalesce(pg_catalog.jsonb_object_agg(d.dimension, d.units), '{}') INTO NEW.demand
      FROM public.case_demands d WHERE d.case_id = NEW.case_id;
    RETURN NEW;
END $$;


-- ---------------------------------------------------------------------------------------
-- Once per INSERT statement: the rules, capacity, the cases' status, the audit trail
-- ---------------------------------------------------------------------------------------

-- work_mem: the household demands of a 20,000-row statement are aggregated in memory, not on
-- disk (the default 4 MB spills); it applies to this function's statements only.
CREATE FUNCTION allocations_after_insert() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp SET work_mem = '32MB' AS $$
DECLARE
    v_actor  text;
    v_today  date;
    -- The statement's demand per capacity row, in key order: municipality, period, dimension,
    -- units of normal allocations, units of forced ones.
    k_code   text[];
    k_period int[];
    k_dim    text[];
    k_normal int[];
    k_forced int[];
    case_ids bigint[];
    detail   boolean;
    stale_case bigint;  -- a household whose row does not hold its demand now
    bad      record;  -- the first row that breaks a rule other than capacity
    tight    record;  -- the first row whose demand does not fit
BEGIN
    IF TG_RELID <> 'public.allocations'::pg_catalog.regclass THEN
        RAISE EXCEPTION 'trigger function allocations_after_insert runs on public.allocations only'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM new_allocations) THEN
        RETURN NULL;
    END IF;
    v_actor := public.current_actor();  -- once; refuses a deactivated login
    v_today := public.reception_today();

    -- 1. The households, locked --------------------------------------------------------
    -- FOR UPDATE, by id (the order of batch_lock_cases: a batch has locked them already, and
    -- then this costs next to nothing). A concurrent change of members or needs waits; under
    -- REPEATABLE READ a change since the snapshot fails here with 40001.
    SELECT pg_catalog.array_agg(l.id) INTO case_ids FROM (
        SELECT c.id FROM public.cases c
         WHERE c.id IN (SELECT a.case_id FROM new_allocations a)
         ORDER BY c.id FOR UPDATE OF c) l;

    -- 2. Each row holds exactly what its household needs now ---------------------------
    -- The demand was written by allocations_before_insert (read before the lock) or by the
    -- writer itself (a batch, which read case_demands after locking its cases): either way,
    -- now that the households are locked, it must be their demand by the one definition
    -- (case_demands), dimension by dimension. In the same pass: the statement's demand per
    -- capacity row (municipality, period, dimension; normal and forced units), in key order.
    WITH held AS MATERIALIZED (
        SELECT a.id, a.case_id, a.municipality_code, a.period, a.forced, e.key AS dimension, e.value::int AS units
          FROM new_allocations a, pg_catalog.jsonb_each_text(a.demand) e),
    fresh AS (
        SELECT d.case_id, d.dimension, d.units FROM public.case_demands d WHERE d.case_id = ANY (case_ids)),
    per_row AS (
        SELECT h.municipality_code, h.period, h.dimension,
               coalesce(sum(h.units) FILTER (WHERE NOT h.forced), 0)::int AS normal,
               coalesce(sum(h.units) FILTER (WHERE h.forced), 0)::int AS forced
          FROM held h GROUP BY 1, 2, 3)
    SELECT (SELECT coalesce(h.case_id, f.case_id) FROM held h FULL JOIN fresh f
                ON f.case_id = h.case_id AND f.dimension = h.dimension
             WHERE h.units IS DISTINCT FROM f.units
             ORDER BY coalesce(h.id, 0) LIMIT 1),
           pg_catalog.array_agg(k.municipality_code ORDER BY k.municipality_code, k.period, k.dimension),
           pg_catalog.array_agg(k.period ORDER BY k.municipality_code, k.period, k.dimension),
           pg_catalog.array_agg(k.dimension ORDER BY k.municipality_code, k.period, k.dimension),
           pg_catalog.array_agg(k.normal ORDER BY k.municipality_code, k.period, k.dimension),
           pg_catalog.array_agg(k.forced ORDER BY k.municipality_code, k.period, k.dimension)
      INTO stale_case, k_code, k_period, k_dim, k_normal, k_forced
      FROM per_row k;
    IF stale_case IS NOT NULL THEN
        RAISE EXCEPTION 'the allocation of case % does not hold what the household needs now', stale_case
            USING ERRCODE = 'serialization_failure',
                  HINT = 'Its members or needs changed meanwhile: retry. (allocations.demand is the database''s: case_demands.)';
    END IF;

    -- 3. The municipalities and capacity rows, locked ----------------------------------
    -- Each kind in one statement and in one order, after the households (as every path:
    -- case, municipality, capacity): municipalities FOR SHARE by code (a deactivation waits
    -- or is seen), capacity rows FOR UPDATE by municipality, period, dimension (the order of
    -- batch_lock_capacity), where concurrent writers into one municipality serialise.
    PERFORM 1 FROM public.municipalities m
     WHERE m.code IN (SELECT a.municipality_code FROM new_allocations a)
     ORDER BY m.code FOR SHARE OF m;
    PERFORM 1 FROM public.capacity k
      JOIN unnest(k_code, k_period, k_dim) AS u (code, period, dimension)
        ON (k.municipality_code, k.period, k.dimension) = (u.code, u.period, u.dimension)
     ORDER BY k.municipality_code, k.period, k.dimension FOR UPDATE OF k;

    -- 4. The rules, for every row at once ----------------------------------------------
    -- Each row's first broken rule, in the order the row trigger checked them; the first such
    -- row in insertion order (id) is the one refused. (A missing case or municipality was
    -- refused by its foreign key before this trigger runs; kept for completeness.)
    SELECT r.* INTO bad FROM (
        SELECT a.id, a.case_id, a.municipality_code, a.period, a.batch_id, m.joined_on,
               CASE WHEN c.id IS NULL THEN 'case_missing'
                    WHEN c.status = 'withdrawn' THEN 'withdrawn'
                    WHEN c.status <> 'registered' THEN 'active'
                    WHEN m.code IS NULL THEN 'municipality_missing'
                    WHEN NOT m.active THEN 'inactive'
                    WHEN m.joined_on > v_today OR a.period < extract(year FROM m.joined_on) THEN 'joined'
                    WHEN a.municipality_code = ANY (c.excluded) THEN 'excluded'
                    WHEN b.id IS NOT NULL AND (b.dry_run OR b.period <> a.period) THEN 'batch'
               END AS rule
          FROM new_allocations a
          LEFT JOIN public.cases c ON c.id = a.case_id
          LEFT JOIN public.municipalities m ON m.code = a.municipality_code
          LEFT JOIN public.batches b ON b.id = a.batch_id) r
     WHERE r.rule IS NOT NULL
     ORDER BY r.id LIMIT 1;

    -- 5. Capacity ----------------------------------------------------------------------
    -- Load = used + forced. A normal allocation fits when the load before it plus its units
    -- stays within the quota (forced > 0 only when used = quota, so this is the row trigger's
    -- "used + units <= quota", one row after another); a forced one always fits. Where a
    -- capacity row holds normal allocations only, they all fit exactly when their sum does;
    -- only otherwise (something does not fit, or normal and forced allocations share a row)
    -- are the running sums in insertion order needed to find the row refused.
    SELECT EXISTS (
        SELECT 1 FROM unnest(k_code, k_period, k_dim, k_normal, k_forced) AS u (code, period, dimension, normal, forced)
          LEFT JOIN public.capacity k
            ON (k.municipality_code, k.period, k.dimension) = (u.code, u.period, u.dimension)
         WHERE u.normal > 0
           AND (u.forced > 0 OR k.municipality_code IS NULL OR k.used + k.forced + u.normal > k.quota))
      INTO detail;
    -- (Run only when detail is true; otherwise it returns no row at once.) A dimension
    -- without a capacity row fits nothing normal, and is "not enough" rather
    -- than "no capacity" once a forced allocation earlier in the statement created it.
    SELECT x.id, x.case_id, x.municipality_code, x.period, x.dimension, x.present OR x.forced_before AS known
      INTO tight
      FROM (SELECT u.id, u.case_id, u.municipality_code, u.period, u.dimension, u.forced,
                   k.municipality_code IS NOT NULL AS present,
                   coalesce(k.quota, 0) AS quota, coalesce(k.used + k.forced, 0) AS load,
                   sum(u.units) OVER w AS cumulative,
                   coalesce(bool_or(u.forced) OVER w, false) AS forced_before
              FROM (SELECT a.id, a.case_id, a.municipality_code, a.period, a.forced,
                           e.key AS dimension, e.value::int AS units
                      FROM new_allocations a, pg_catalog.jsonb_each_text(a.demand) e) u
              LEFT JOIN public.capacity k
                ON (k.municipality_code, k.period, k.dimension) = (u.municipality_code, u.period, u.dimension)
            WINDOW w AS (PARTITION BY u.municipality_code, u.period, u.dimension ORDER BY u.id)) x
     WHERE detail AND NOT x.forced AND x.load + x.cumulative > x.quota
     ORDER BY x.id, x.dimension LIMIT 1;

    -- 6. Refuse the first row that breaks anything, as the row trigger did ----------------
    IF bad.id IS NOT NULL AND (tight.id IS NULL OR bad.id <= tight.id) THEN
        CASE bad.rule
        WHEN 'case_missing' THEN
            RAISE EXCEPTION 'case % does not exist', bad.case_id
                USING ERRCODE = 'foreign_key_violation', CONSTRAINT = 'allocations_case_id_fkey';
        WHEN 'withdrawn' THEN
            RAISE EXCEPTION 'case % is withdrawn', bad.case_id
                USING ERRCODE = 'check_violation', CONSTRAINT = 'allocations_case_not_withdrawn';
        WHEN 'active' THEN
            RAISE EXCEPTION 'case % already has an active allocation', bad.case_id
                USING ERRCODE = 'unique_violation', CONSTRAINT = 'allocations_one_active_per_case',
                      HINT = 'Reject or cancel it first, or move it.';
        WHEN 'municipality_missing' THEN
            RAISE EXCEPTION 'municipality % does not exist', bad.municipality_code
                USING ERRCODE = 'foreign_key_violation', CONSTRAINT = 'allocations_municipality_code_fkey';
        WHEN 'inactive' THEN
            RAISE EXCEPTION 'municipality % is inactive and takes no new placements', bad.municipality_code
                USING ERRCODE = 'check_violation', CONSTRAINT = 'allocations_municipality_active';
        WHEN 'joined' THEN
            RAISE EXCEPTION 'municipality % joins on % and takes no placements before then (nor for an earlier period)',
                bad.municipality_code, bad.joined_on
                USING ERRCODE = 'check_violation', CONSTRAINT = 'allocations_municipality_joined';
        WHEN 'excluded' THEN
            RAISE EXCEPTION 'case % excludes municipality %', bad.case_id, bad.municipality_code
                USING ERRCODE = 'check_violation', CONSTRAINT = 'allocations_not_excluded';
        ELSE  -- 'batch'
            RAISE EXCEPTION 'batch % is a dry run or for another period than %', bad.batch_id, bad.period
                USING ERRCODE = 'check_violation', CONSTRAINT = 'allocations_batch_matches';
        END CASE;
    END IF;
    IF tight.id IS NOT NULL THEN
        IF tight.known THEN
            RAISE EXCEPTION 'municipality % has not enough % capacity left in % for case %',
                tight.municipality_code, tight.dimension, tight.period, tight.case_id
                USING ERRCODE = 'check_violation', CONSTRAINT = 'capacity_used_within_quota',
                      HINT = 'Choose another municipality, raise the quota, or force the placement.';
        ELSE
            RAISE EXCEPTION 'municipality % has no % capacity in %',
                tight.municipality_code, tight.dimension, tight.period
                USING ERRCODE = 'check_violation', CONSTRAINT = 'capacity_row_exists',
                      HINT = 'Set a quota for this dimension and period first.';
        END IF;
    END IF;

    -- 7. Consume: one UPDATE per statement, then the rows only a forced placement creates --
    -- The load grows by the statement's units; used takes what the quota allows, the rest is
    -- overflow (for normal allocations that is nothing: they all fitted above). One new
    -- version per capacity row, whatever the number of households.
    UPDATE public.capacity k
       SET used   = least(k.quota, k.used + k.forced + u.normal + u.forced),
           forced = k.used + k.forced + u.normal + u.forced - least(k.quota, k.used + k.forced + u.normal + u.forced)
      FROM unnest(k_code, k_period, k_dim, k_normal, k_forced) AS u (code, period, dimension, normal, forced)
     WHERE (k.municipality_code, k.period, k.dimension) = (u.code, u.period, u.dimension);
    -- Past capacity by decision where no row exists: created with quota 0, all overflow, so
    -- that capacity show and audit intake see it (capacity_audit records it as such). (A
    -- normal allocation there was refused above.)
    INSERT INTO public.capacity AS cp (municipality_code, period, dimension, quota, forced)
    SELECT u.code, u.period, u.dimension, 0, u.forced
      FROM unnest(k_code, k_period, k_dim, k_forced) AS u (code, period, dimension, forced)
     WHERE u.forced > 0
       AND NOT EXISTS (SELECT 1 FROM public.capacity k
                        WHERE (k.municipality_code, k.period, k.dimension) = (u.code, u.period, u.dimension))
     ORDER BY 1, 2, 3
    ON CONFLICT (municipality_code, period, dimension) DO UPDATE SET forced = cp.forced + EXCLUDED.forced;

    -- 8. The cases' status follows ------------------------------------------------------
    UPDATE public.cases c
       SET status = CASE a.status WHEN 'proposed' THEN 'proposed' ELSE 'placed' END
      FROM new_allocations a
     WHERE c.id = a.case_id AND c.status <> 'withdrawn';

    -- 9. The audit trail, one event per allocation in insertion order ------------------
    INSERT INTO public.audit_events (actor, action, case_id, municipality_code, allocation_id, batch_id, details)
    SELECT v_actor,
           'allocation.' || CASE WHEN a.forced THEN 'forced' WHEN a.batch_id IS NULL THEN 'overridden' ELSE a.status END,
           a.case_id, a.municipality_code, a.id, a.batch_id,
           pg_catalog.jsonb_build_object('status', a.status, 'period', a.period, 'forced', a.forced,
                                         'score', a.score, 'reason', a.decision_reason)
      FROM new_allocations a
     ORDER BY a.id;
    RETURN NULL;
END $$;


-- ---------------------------------------------------------------------------------------
-- UPDATE and DELETE keep their row triggers, without the INSERT branches
-- ---------------------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION allocations_account() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    was_active boolean;
    is_active  boolean;
    moved      boolean;  -- capacity must be released from OLD and/or consumed for NEW
    c          record;
    m          record;
    dim        text;
    units      int;
BEGIN
    IF TG_RELID <> 'public.allocations'::pg_catalog.regclass THEN
        RAISE EXCEPTION 'trigger function allocations_account runs on public.allocations only'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF TG_OP NOT IN ('UPDATE', 'DELETE') THEN
        RAISE EXCEPTION 'allocations_account handles UPDATE and DELETE; an INSERT is allocations_before_insert''s and allocations_after_insert''s'
            USING ERRCODE = 'raise_exception';
    END IF;
    was_active := OLD.status IN ('proposed', 'confirmed');
    is_active  := TG_OP = 'UPDATE' AND NEW.status IN ('proposed', 'confirmed');

    -- 1. What may change at all --------------------------------------------------------
    IF TG_OP = 'DELETE' THEN
        IF was_active THEN
            RAISE EXCEPTION 'allocation % is active and cannot be deleted', OLD.id
                USING ERRCODE = 'raise_exception', HINT = 'Reject or cancel it instead.';
        END IF;
        RETURN OLD;
    END IF;

    IF NOT was_active THEN
        RAISE EXCEPTION 'allocation % is % and can no longer change', OLD.id, OLD.status
            USING ERRCODE = 'raise_exception', HINT = 'Create a new allocation instead.';
    END IF;
    IF NEW.case_id <> OLD.case_id OR NEW.batch_id IS DISTINCT FROM OLD.batch_id
       OR NEW.created_by <> OLD.created_by OR NEW.created_at <> OLD.created_at THEN
        RAISE EXCEPTION 'the case, batch and creation of allocation % cannot change', OLD.id
            USING ERRCODE = 'raise_exception',
                  HINT = 'Cancel it and create a new allocation for the other case.';
    END IF;
    IF NEW.demand IS DISTINCT FROM OLD.demand THEN
        RAISE EXCEPTION 'allocations.demand is maintained by the database'
            USING ERRCODE = 'raise_exception';
    END IF;
    IF NEW.status <> OLD.status AND NOT (
           (OLD.status = 'proposed' AND NEW.status IN ('confirmed', 'rejected', 'cancelled'))
        OR (OLD.status = 'confirmed' AND NEW.status = 'cancelled')) THEN
        RAISE EXCEPTION 'allocation % cannot go from % to %', OLD.id, OLD.status, NEW.status
            USING ERRCODE = 'raise_exception',
                  HINT = 'proposed -> confirmed | rejected | cancelled; confirmed -> cancelled.';
    END IF;

    moved := was_active <> is_active
          OR (is_active AND (NEW.municipality_code, NEW.period, NEW.forced)
                            IS DISTINCT FROM (OLD.municipality_code, OLD.period, OLD.forced));

    -- Free text is append-only: a reason is written with the decision it explains (a status
    -- change or a move), never rewritten afterwards.
    IF NEW.decision_reason IS DISTINCT FROM OLD.decision_reason
       AND NOT moved AND NEW.status = OLD.status THEN
        RAISE EXCEPTION 'the decision reason of allocation % cannot be rewritten', OLD.id
            USING ERRCODE = 'raise_exception',
                  HINT = 'A correction is a new decision (cancel, override), audited on its own.';
    END IF;

    IF NEW.status <> OLD.status AND NEW.status <> 'proposed' THEN
        NEW.decided_by := public.current_actor();
        NEW.decided_at := pg_catalog.now();
    END IF;

    -- 2. Rules -----------------------------------------------------------------------------
    IF moved OR NEW.status <> OLD.status THEN
        SELECT cs.status, cs.excluded INTO c FROM public.cases cs WHERE cs.id = NEW.case_id FOR UPDATE;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'case % does not exist', NEW.case_id
                USING ERRCODE = 'foreign_key_violation', CONSTRAINT = 'allocations_case_id_fkey';
        END IF;
    END IF;

    IF is_active AND (moved OR NEW.status <> OLD.status) THEN
        IF c.status = 'withdrawn' THEN
            RAISE EXCEPTION 'case % is withdrawn', NEW.case_id
                USING ERRCODE = 'check_violation', CONSTRAINT = 'allocations_case_not_withdrawn';
        END IF;

        SELECT mu.active, mu.joined_on INTO m FROM public.municipalities mu
         WHERE mu.code = NEW.municipality_code FOR SHARE;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'municipality % does not exist', NEW.municipality_code
                USING ERRCODE = 'foreign_key_violation', CONSTRAINT = 'allocations_municipality_code_fkey';
        END IF;
        IF NOT m.active THEN
            RAISE EXCEPTION 'municipality % is inactive and takes no new placements', NEW.municipality_code
                USING ERRCODE = 'check_violation', CONSTRAINT = 'allocations_municipality_active';
        END IF;
        -- Hard rules, like capacity: even a forced placement cannot break them.
        IF m.joined_on > public.reception_today() OR NEW.period < extract(year FROM m.joined_on) THEN
            RAISE EXCEPTION 'municipality % joins on % and takes no placements before then (nor for an earlier period)',
                NEW.municipality_code, m.joined_on
                USING ERRCODE = 'check_violation', CONSTRAINT = 'allocations_municipality_joined';
        END IF;
        IF NEW.municipality_code = ANY (c.excluded) THEN
            RAISE EXCEPTION 'case % excludes municipality %', NEW.case_id, NEW.municipality_code
                USING ERRCODE = 'check_violation', CONSTRAINT = 'allocations_not_excluded';
        END IF;
    END IF;

    -- 5. Capacity ------------------------------------------------------------------------
    IF moved AND was_active THEN
        FOR dim, units IN SELECT key, value::int FROM pg_catalog.jsonb_each_text(OLD.demand) ORDER BY key LOOP
            UPDATE public.capacity
               SET forced = greatest(forced - units, 0),
                   used   = used - greatest(units - forced, 0)
             WHERE municipality_code = OLD.municipality_code AND period = OLD.period
               AND dimension = dim;
            IF NOT FOUND THEN
                RAISE EXCEPTION 'capacity row of municipality % for % in % is missing', OLD.municipality_code, dim, OLD.period
                    USING ERRCODE = 'raise_exception';
            END IF;
        END LOOP;
    END IF;

    IF moved AND is_active THEN
        -- Computed after the case row is locked, so ages and needs are final (and a snapshot
        -- older than the last needs change failed at the lock above).
        SELECT coalesce(pg_catalog.jsonb_object_agg(d.dimension, d.units), '{}') INTO NEW.demand
          FROM public.case_demand(NEW.case_id) d;
        FOR dim, units IN SELECT key, value::int FROM pg_catalog.jsonb_each_text(NEW.demand) ORDER BY key LOOP
            IF NEW.forced THEN
                INSERT INTO public.capacity AS cp (municipality_code, period, dimension, quota, forced)
                VALUES (NEW.municipality_code, NEW.period, dim, 0, units)
                ON CONFLICT (municipality_code, period, dimension)
                DO UPDATE SET forced = cp.forced + EXCLUDED.forced;
            ELSE
                UPDATE public.capacity
                   SET used = used + units
                 WHERE municipality_code = NEW.municipality_code AND period = NEW.period
                   AND dimension = dim AND used + units <= quota;
                IF NOT FOUND THEN
                    IF EXISTS (SELECT 1 FROM public.capacity
                                WHERE municipality_code = NEW.municipality_code
                                  AND period = NEW.period AND dimension = dim) THEN
                        RAISE EXCEPTION 'municipality % has not enough % capacity left in % for case %',
                            NEW.municipality_code, dim, NEW.period, NEW.case_id
                            USING ERRCODE = 'check_violation', CONSTRAINT = 'capacity_used_within_quota',
                                  HINT = 'Choose another municipality, raise the quota, or force the placement.';
                    ELSE
                        RAISE EXCEPTION 'municipality % has no % capacity in %',
                            NEW.municipality_code, dim, NEW.period
                            USING ERRCODE = 'check_violation', CONSTRAINT = 'capacity_row_exists',
                                  HINT = 'Set a quota for this dimension and period first.';
                    END IF;
                END IF;
            END IF;
        END LOOP;
    ELSIF NOT is_active THEN
        NEW.demand := OLD.demand;  -- kept as history of what it held
    END IF;

    -- 4. The case's status follows -------------------------------------------------------
    IF NEW.status <> OLD.status THEN
        UPDATE public.cases
           SET status = CASE NEW.status WHEN 'proposed' THEN 'proposed'
                                        WHEN 'confirmed' THEN 'placed'
                                        ELSE 'registered' END
         WHERE id = NEW.case_id AND status <> 'withdrawn';
    END IF;

    RETURN NEW;
END $$;

CREATE OR REPLACE FUNCTION allocations_audit() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    r public.allocations;
BEGIN
    IF TG_RELID <> 'public.allocations'::pg_catalog.regclass THEN
        RAISE EXCEPTION 'trigger function allocations_audit runs on public.allocations only'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF TG_OP NOT IN ('UPDATE', 'DELETE') THEN
        RAISE EXCEPTION 'allocations_audit handles UPDATE and DELETE; an INSERT is audited by allocations_after_insert'
            USING ERRCODE = 'raise_exception';
    END IF;
    IF TG_OP = 'DELETE' THEN
        INSERT INTO public.audit_events (action, case_id, municipality_code, allocation_id, batch_id, details)
        VALUES ('allocation.deleted', OLD.case_id, OLD.municipality_code, OLD.id, OLD.batch_id,
                pg_catalog.jsonb_build_object('status', OLD.status, 'period', OLD.period));
        RETURN NULL;
    END IF;
    r := NEW;
    IF (NEW.municipality_code, NEW.period, NEW.forced)
       IS DISTINCT FROM (OLD.municipality_code, OLD.period, OLD.forced) THEN
        INSERT INTO public.audit_events (action, case_id, municipality_code, allocation_id, batch_id, details)
        VALUES (CASE WHEN r.forced THEN 'allocation.forced' ELSE 'allocation.overridden' END,
                r.case_id, r.municipality_code, r.id, r.batch_id,
                pg_catalog.jsonb_build_object('status', r.status, 'period', r.period, 'forced', r.forced,
                                   'from_municipality', OLD.municipality_code,
                                   'from_period', OLD.period, 'reason', r.decision_reason));
    END IF;
    IF NEW.status <> OLD.status THEN
        INSERT INTO public.audit_events (action, case_id, municipality_code, allocation_id, batch_id, details)
        VALUES ('allocation.' || r.status, r.case_id, r.municipality_code, r.id, r.batch_id,
                pg_catalog.jsonb_build_object('from', OLD.status, 'period', r.period, 'forced', r.forced,
                                   'reason', r.decision_reason));
    END IF;
    RETURN NULL;
END $$;


-- ---------------------------------------------------------------------------------------
-- The triggers
-- ---------------------------------------------------------------------------------------

DROP TRIGGER allocations_account ON allocations;
CREATE TRIGGER allocations_account
    BEFORE UPDATE OR DELETE ON allocations
    FOR EACH ROW EXECUTE FUNCTION allocations_account();

DROP TRIGGER allocations_audit ON allocations;
CREATE TRIGGER allocations_audit
    AFTER UPDATE OR DELETE ON allocations
    FOR EACH ROW EXECUTE FUNCTION allocations_audit();

-- The WHEN keeps a batch's rows free of a function call where there is nothing to do: a
-- proposal whose writer gave its demand (the statement trigger checks it), with the creator
-- and time its defaults gave (current_actor(), now()) and no decision. Every other row (an
-- override, anything written by hand) goes through the function.
CREATE TRIGGER allocations_before_insert
    BEFORE INSERT ON allocations
    FOR EACH ROW
    WHEN (NEW.status IS DISTINCT FROM 'proposed' OR NEW.demand IS NULL OR NEW.demand = '{}'::jsonb
          OR NEW.created_by IS DISTINCT FROM session_user::text OR NEW.created_at IS DISTINCT FROM now()
          OR NEW.decided_by IS NOT NULL OR NEW.decided_at IS NOT NULL)
    EXECUTE FUNCTION allocations_before_insert();
CREATE TRIGGER allocations_after_insert
    AFTER INSERT ON allocations REFERENCING NEW TABLE AS new_allocations
    FOR EACH STATEMENT EXECUTE FUNCTION allocations_after_insert();

-- A batch writes the demand its proposals hold, as it read it from case_demands after
-- locking its households (BatchRecheck), so that the database checks 20,000 of them in one
-- statement instead of computing them one by one; a wrong one is refused.
GRANT INSERT (demand) ON allocations TO reception_worker;

-- Closed like every function of the schema (008): the default privileges already leave new
-- functions without EXECUTE for PUBLIC; said here as well, as 009 does.
REVOKE EXECUTE ON FUNCTION allocations_before_insert(), allocations_after_insert() FROM PUBLIC;


-- ---------------------------------------------------------------------------------------
-- A case's status following its allocations, 20,000 at a time
-- ---------------------------------------------------------------------------------------

-- cases_before_update (006) has nothing to check or set when the only change is a status
-- between registered, proposed and placed made inside a trigger of the schema owner (the
-- allocation triggers): the owner check passes, the depth is >= 2, no withdrawal is involved,
-- members and exclusions are unchanged. The WHEN skips the call in exactly that case, for the
-- table's owner as named here when the migration runs (the function's own check is the same
-- owner; ownership handed to another role later only makes the function run again).
-- pg_trigger_depth() in a WHEN is the depth of the statement that fires it, one less than
-- inside the function. Anything else still goes through the function.
DO $$
BEGIN
    EXECUTE pg_catalog.format($trigger$
        DROP TRIGGER cases_before_update ON cases;
        CREATE TRIGGER cases_before_update
            BEFORE UPDATE ON cases
            FOR EACH ROW
            WHEN (NOT (current_user = %L AND pg_catalog.pg_trigger_depth() >= 1
                       AND OLD.status IN ('registered', 'proposed', 'placed')
                       AND NEW.status IN ('registered', 'proposed', 'placed')
                       AND (NEW.id, NEW.reference, NEW.created_at, NEW.ages, NEW.excluded,
                            NEW.withdrawn_at, NEW.withdrawn_reason, NEW.needs_revision)
                           IS NOT DISTINCT FROM (OLD.id, OLD.reference, OLD.created_at, OLD.ages, OLD.excluded,
                                                 OLD.withdrawn_at, OLD.withdrawn_reason, OLD.needs_revision)))
            EXECUTE FUNCTION cases_before_update()
        $trigger$, (SELECT pg_catalog.pg_get_userbyid(c.relowner) FROM pg_catalog.pg_class c
                    WHERE c.oid = 'public.cases'::pg_catalog.regclass));
END $$;


-- ---------------------------------------------------------------------------------------
-- The worker's proposals, checked against its batches once per statement
-- ---------------------------------------------------------------------------------------

-- The same rule as 008's (a proposal, not forced, of a running, not dry-run batch whose job
-- this login holds running), with the batches the login holds found once per statement (an
-- uncorrelated sub-select, hashed) instead of once per row.
ALTER POLICY allocations_worker_proposes ON allocations
    WITH CHECK (status = 'proposed' AND NOT forced AND batch_id IS NOT NULL AND decision_reason IS NULL
                AND batch_id IN (SELECT b.id FROM public.batches b JOIN public.jobs j ON j.id = b.job_id
                                 WHERE b.status = 'running' AND NOT b.dry_run
                                   AND j.state = 'running' AND j.claimed_by = session_user));
