-- 006_integrity.sql — the domain's functions, made impossible to borrow or mislead, and the
-- integrity holes found by attacking the schema, closed.
--
-- Every function of the schema is redefined here (or in 007 by ALTER) with
--   * SET search_path = pg_catalog, public, pg_temp: pg_catalog first, so a planted
--     public.jsonb_build_object(...) or a TEMP table named `cases` cannot change what runs;
--     table references are schema-qualified as well;
--   * for trigger functions, a first check that it fires on its own table (TG_RELID): a
--     SECURITY DEFINER trigger attached to somebody's TEMP table would otherwise run as the
--     schema owner (007 also revokes EXECUTE, without which CREATE TRIGGER is refused);
--   * no pg_trigger_depth() as an authority. A change that only the database's own paths may
--     make (capacity.used, a case's status) is allowed when the current user owns the table:
--     true inside the SECURITY DEFINER functions owned by the schema owner, and for the
--     administrator, never for an application role, whatever triggers it stacks.
--
-- Integrity:
--   * a municipality receives no allocation of any kind (batch, override, forced) before
--     its joined_on, by the database's clock (004);
--   * a need added while a batch solves on an older snapshot makes the batch's proposal for
--     that household fail with 40001 (the case row is updated, so the allocation trigger's
--     FOR UPDATE on it refuses a stale snapshot), never reserve less than the household needs;
--   * references are unique case-insensitively: MIG-2026-1 and mig-2026-1 are one dossier;
--   * free text is append-only: a withdrawal or decision reason cannot be rewritten;
--   * case status changes only through withdraw_case / reinstate_case (audited, checked) and
--     the allocation trigger;
--   * a finished, failed or cancelled batch is final.
--
-- Error contract as in 001_domain.sql.


-- ---------------------------------------------------------------------------------------
-- The audit trail and shared guards
-- ---------------------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION audit_events_refuse_change() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    IF TG_RELID <> 'public.audit_events'::pg_catalog.regclass THEN
        RAISE EXCEPTION 'trigger function audit_events_refuse_change runs on public.audit_events only'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RAISE EXCEPTION 'audit_events is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'Record a correction as a new event instead.';
END $$;

-- cases and case_needs had no TRUNCATE guard; TRUNCATE is not granted to any role, this is
-- for the administrator's sake.
CREATE OR REPLACE FUNCTION refuse_truncate() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    IF TG_RELID NOT IN ('public.capacity'::pg_catalog.regclass, 'public.allocations'::pg_catalog.regclass,
                        'public.municipalities'::pg_catalog.regclass, 'public.cases'::pg_catalog.regclass,
                        'public.case_needs'::pg_catalog.regclass) THEN
        RAISE EXCEPTION 'trigger function refuse_truncate runs on Reception''s own tables only'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RAISE EXCEPTION 'TRUNCATE of % is not allowed: it would bypass capacity accounting and the audit trail',
        TG_TABLE_NAME
        USING ERRCODE = 'raise_exception',
              HINT = 'Delete rows through the domain operations, or recreate the database.';
END $$;

CREATE TRIGGER cases_no_truncate
    BEFORE TRUNCATE ON cases
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_truncate();
CREATE TRIGGER case_needs_no_truncate
    BEFORE TRUNCATE ON case_needs
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_truncate();


-- ---------------------------------------------------------------------------------------
-- Dimensions and municipalities
-- ---------------------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION dimensions_guard() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    IF TG_RELID <> 'public.dimensions'::pg_catalog.regclass THEN
        RAISE EXCEPTION 'trigger function dimensions_guard runs on public.dimensions only'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF OLD.name IN ('persons', 'dwellings', 'large_dwellings', 'school_places', 'preschool_places')
       AND (TG_OP = 'DELETE' OR NEW.name <> OLD.name) THEN
        RAISE EXCEPTION 'dimension % is computed from household members and cannot be removed or renamed', OLD.name
            USING ERRCODE = 'raise_exception';
    END IF;
    RETURN CASE TG_OP WHEN 'DELETE' THEN OLD ELSE NEW END;
END $$;

-- A new dimension (a need such as dialysis) is audited, which also refuses it to a
-- deactivated login (the event's actor is current_actor()).
CREATE FUNCTION dimensions_audit() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    IF TG_RELID <> 'public.dimensions'::pg_catalog.regclass THEN
        RAISE EXCEPTION 'trigger function dimensions_audit runs on public.dimensions only'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    INSERT INTO public.audit_events (action, details)
    SELECT 'dimension.added', pg_catalog.jsonb_build_object('dimension', d.name) FROM new_dimensions d ORDER BY d.name;
    RETURN NULL;
END $$;

CREATE TRIGGER dimensions_audit
    AFTER INSERT ON dimensions REFERENCING NEW TABLE AS new_dimensions
    FOR EACH STATEMENT EXECUTE FUNCTION dimensions_audit();

CREATE OR REPLACE FUNCTION municipalities_before() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    IF TG_RELID <> 'public.municipalities'::pg_catalog.regclass THEN
        RAISE EXCEPTION 'trigger function municipalities_before runs on public.municipalities only'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'municipality % cannot be deleted', OLD.code
            USING ERRCODE = 'raise_exception', HINT = 'Deactivate it; its history stays.';
    END IF;
    IF TG_OP = 'UPDATE' AND NEW.code <> OLD.code THEN
        RAISE EXCEPTION 'the code of municipality % cannot change', OLD.code
            USING ERRCODE = 'raise_exception';
    END IF;
    -- Once a municipality has received allocations, its joining date is history: moving it
    -- back and forth around a placement would hide one made before it joined.
    IF TG_OP = 'UPDATE' AND NEW.joined_on <> OLD.joined_on
       AND EXISTS (SELECT 1 FROM public.allocations a WHERE a.municipality_code = OLD.code) THEN
        RAISE EXCEPTION 'municipality % has allocations; its joining date can no longer change', OLD.code
            USING ERRCODE = 'check_violation', CONSTRAINT = 'municipalities_joined_on_fixed';
    END IF;
    IF NOT NEW.active AND (TG_OP = 'INSERT' OR OLD.active) THEN
        NEW.deactivated_at := coalesce(NEW.deactivated_at, pg_catalog.now());
    ELSIF NEW.active THEN
        NEW.deactivated_at := NULL;
    END IF;
    RETURN NEW;
END $$;

CREATE OR REPLACE FUNCTION municipalities_after() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    IF TG_RELID <> 'public.municipalities'::pg_catalog.regclass THEN
        RAISE EXCEPTION 'trigger function municipalities_after runs on public.municipalities only'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF TG_OP = 'INSERT' THEN
        INSERT INTO public.audit_events (action, municipality_code, details)
        VALUES ('municipality.added', NEW.code,
                pg_catalog.jsonb_build_object('name', NEW.name, 'joined_on', NEW.joined_on, 'active', NEW.active));
    ELSIF OLD.active AND NOT NEW.active THEN
        INSERT INTO public.audit_events (action, municipality_code) VALUES ('municipality.deactivated', NEW.code);
        UPDATE public.allocations SET status = 'cancelled', decision_reason = 'municipality deactivated'
         WHERE municipality_code = NEW.code AND status = 'proposed';
    ELSIF NEW.active AND NOT OLD.active THEN
        INSERT INTO public.audit_events (action, municipality_code) VALUES ('municipality.reactivated', NEW.code);
    END IF;
    IF TG_OP = 'UPDATE' AND (NEW.name, NEW.joined_on) IS DISTINCT FROM (OLD.name, OLD.joined_on) THEN
        INSERT INTO public.audit_events (action, municipality_code, details)
        VALUES ('municipality.changed', NEW.code,
                pg_catalog.jsonb_build_object('name', NEW.name, 'joined_on', NEW.joined_on));
    END IF;
    RETURN NULL;
END $$;


-- ---------------------------------------------------------------------------------------
-- Capacity
-- ---------------------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION capacity_guard() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    moved int;
BEGIN
    IF TG_RELID <> 'public.capacity'::pg_catalog.regclass THEN
        RAISE EXCEPTION 'trigger function capacity_guard runs on public.capacity only'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF TG_OP = 'DELETE' THEN
        IF OLD.used + OLD.forced > 0 THEN
            RAISE EXCEPTION 'capacity of municipality % for % in % is in use and cannot be deleted',
                OLD.municipality_code, OLD.dimension, OLD.period
                USING ERRCODE = 'check_violation', CONSTRAINT = 'capacity_in_use',
                      HINT = 'Set the quota instead.';
        END IF;
        RETURN OLD;
    END IF;

    -- Only the allocation trigger (SECURITY DEFINER, so running as the table's owner, inside
    -- a trigger) moves used and forced. The owner check is the authority: an application
    -- role's own trigger runs as that role. The depth keeps the administrator's direct
    -- UPDATE out as well.
    IF ((TG_OP = 'INSERT' AND (NEW.used <> 0 OR NEW.forced <> 0))
        OR (TG_OP = 'UPDATE' AND (NEW.used <> OLD.used OR NEW.forced <> OLD.forced)))
       AND ((SELECT c.relowner FROM pg_catalog.pg_class c WHERE c.oid = TG_RELID)
             IS DISTINCT FROM pg_catalog.quote_ident(current_user)::pg_catalog.regrole::pg_catalog.oid
            OR pg_catalog.pg_trigger_depth() < 2) THEN
        RAISE EXCEPTION 'capacity.used and capacity.forced are maintained by the database'
            USING ERRCODE = 'raise_exception',
                  HINT = 'Set quota only; allocations consume and release capacity.';
    END IF;

    IF TG_OP = 'UPDATE' THEN
        IF (NEW.municipality_code, NEW.period, NEW.dimension)
           IS DISTINCT FROM (OLD.municipality_code, OLD.period, OLD.dimension) THEN
            RAISE EXCEPTION 'the key of a capacity row cannot change'
                USING ERRCODE = 'raise_exception', HINT = 'Insert a new row instead.';
        END IF;
        NEW.updated_at := pg_catalog.now();
    END IF;

    -- Room appeared (quota raised, or load released): overflow moves back into used.
    IF NEW.forced > 0 AND NEW.used < NEW.quota THEN
        moved := least(NEW.forced, NEW.quota - NEW.used);
        NEW.used := NEW.used + moved;
        NEW.forced := NEW.forced - moved;
    END IF;

    IF NEW.used > NEW.quota AND NEW.quota >= 0 THEN
        RAISE EXCEPTION 'quota of municipality % for % in % cannot be lower than the % units allocated',
            NEW.municipality_code, NEW.dimension, NEW.period, NEW.used
            USING ERRCODE = 'check_violation', CONSTRAINT = 'capacity_used_within_quota',
                  HINT = 'Reject or cancel allocations first.';
    END IF;
    RETURN NEW;
END $$;

CREATE OR REPLACE FUNCTION capacity_audit() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    IF TG_RELID <> 'public.capacity'::pg_catalog.regclass THEN
        RAISE EXCEPTION 'trigger function capacity_audit runs on public.capacity only'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    INSERT INTO public.audit_events (action, municipality_code, details)
    VALUES ('capacity.quota_set', NEW.municipality_code,
            pg_catalog.jsonb_build_object('period', NEW.period, 'dimension', NEW.dimension,
                               'quota', NEW.quota,
                               'previous', CASE WHEN TG_OP = 'UPDATE' THEN OLD.quota END,
                               -- a row only a forced allocation creates: quota 0, born in overflow
                               'by_forced_allocation', TG_OP = 'INSERT' AND NEW.forced > 0));
    RETURN NULL;
END $$;


-- ---------------------------------------------------------------------------------------
-- Cases
-- ---------------------------------------------------------------------------------------

-- Bumped whenever the household's needs change, so that a transaction that read the old
-- needs (a batch on its snapshot) cannot lock the case row afterwards: in REPEATABLE READ and
-- SERIALIZABLE, FOR UPDATE on a row updated since the snapshot fails with 40001.
ALTER TABLE cases ADD COLUMN needs_revision int NOT NULL DEFAULT 0;

-- A reference is a dossier number: MIG-2026-1 and mig-2026-1 are the same dossier. (The CHECK
-- on the column already refuses whitespace; btrim states the rule whole.)
ALTER TABLE cases DROP CONSTRAINT cases_reference_key;
CREATE UNIQUE INDEX cases_reference_normalized ON cases (upper(btrim(reference)));

CREATE OR REPLACE FUNCTION cases_after_insert() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    IF TG_RELID <> 'public.cases'::pg_catalog.regclass THEN
        RAISE EXCEPTION 'trigger function cases_after_insert runs on public.cases only'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF EXISTS (SELECT 1 FROM new_cases WHERE status <> 'registered' OR needs_revision <> 0) THEN
        RAISE EXCEPTION 'a new case must have status registered'
            USING ERRCODE = 'check_violation', CONSTRAINT = 'cases_new_registered',
                  HINT = 'Insert the case, then allocate or withdraw it.';
    END IF;
    INSERT INTO public.audit_events (action, case_id)
    SELECT 'case.registered', id FROM new_cases ORDER BY id;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION cases_before_update() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    IF TG_RELID <> 'public.cases'::pg_catalog.regclass THEN
        RAISE EXCEPTION 'trigger function cases_before_update runs on public.cases only'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NEW.id <> OLD.id OR NEW.created_at IS DISTINCT FROM OLD.created_at OR NEW.reference <> OLD.reference THEN
        RAISE EXCEPTION 'the id, reference and created_at of case % cannot change', OLD.id
            USING ERRCODE = 'raise_exception';
    END IF;

    -- Status, the withdrawal and the needs revision are the database's own business: the
    -- allocation trigger, withdraw_case, reinstate_case and the needs guard, all SECURITY
    -- DEFINER functions of the table's owner. The owner check is the authority (an
    -- application role's own trigger runs as that role). Withdrawing and reinstating are the
    -- only direct status changes; the others follow an allocation, inside its trigger.
    IF (NEW.status, NEW.withdrawn_at, NEW.withdrawn_reason, NEW.needs_revision)
       IS DISTINCT FROM (OLD.status, OLD.withdrawn_at, OLD.withdrawn_reason, OLD.needs_revision) THEN
        IF (SELECT c.relowner FROM pg_catalog.pg_class c WHERE c.oid = TG_RELID)
           IS DISTINCT FROM pg_catalog.quote_ident(current_user)::pg_catalog.regrole::pg_catalog.oid
           OR (NEW.status <> OLD.status AND NEW.status <> 'withdrawn' AND OLD.status <> 'withdrawn'
               AND pg_catalog.pg_trigger_depth() < 2) THEN
            RAISE EXCEPTION 'the status of case % follows its allocations', OLD.id
                USING ERRCODE = 'raise_exception',
                      HINT = 'Withdraw with withdraw_case(id, reason), reinstate with reinstate_case(id); allocations set the rest.';
        END IF;
        IF OLD.status = 'withdrawn' AND NEW.status NOT IN ('withdrawn', 'registered') THEN
            RAISE EXCEPTION 'case % is withdrawn; reinstate it first', OLD.id USING ERRCODE = 'raise_exception';
        END IF;
    END IF;

    -- Free text is append-only: a reason, once written, stays as written.
    IF NEW.withdrawn_reason IS DISTINCT FROM OLD.withdrawn_reason
       AND NOT (NEW.status = 'withdrawn' AND OLD.status <> 'withdrawn')
       AND NOT (OLD.status = 'withdrawn' AND NEW.status <> 'withdrawn') THEN
        RAISE EXCEPTION 'the withdrawal reason of case % cannot be rewritten', OLD.id
            USING ERRCODE = 'raise_exception',
                  HINT = 'Reinstate and withdraw again; both are audited.';
    END IF;

    IF NEW.status <> OLD.status THEN
        IF NEW.status = 'withdrawn' THEN
            NEW.withdrawn_at := pg_catalog.now();
        ELSIF OLD.status = 'withdrawn' THEN
            NEW.withdrawn_at := NULL;
            NEW.withdrawn_reason := NULL;
        END IF;
    END IF;

    IF OLD.status IN ('proposed', 'placed') THEN
        IF NEW.ages IS DISTINCT FROM OLD.ages THEN
            RAISE EXCEPTION 'case % has an active allocation; its members cannot change', OLD.id
                USING ERRCODE = 'check_violation', CONSTRAINT = 'cases_demand_fixed_while_allocated',
                      HINT = 'Reject or cancel the allocation first.';
        END IF;
        IF NEW.excluded IS DISTINCT FROM OLD.excluded AND EXISTS (
               SELECT 1 FROM public.allocations a
               WHERE a.case_id = OLD.id AND a.status IN ('proposed', 'confirmed')
                 AND a.municipality_code = ANY (NEW.excluded)) THEN
            RAISE EXCEPTION 'case % has an active allocation in a municipality it would now exclude', OLD.id
                USING ERRCODE = 'check_violation', CONSTRAINT = 'allocations_not_excluded',
                      HINT = 'Cancel the allocation first.';
        END IF;
    END IF;
    RETURN NEW;
END $$;

CREATE OR REPLACE FUNCTION cases_after_status() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    IF TG_RELID <> 'public.cases'::pg_catalog.regclass THEN
        RAISE EXCEPTION 'trigger function cases_after_status runs on public.cases only'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NEW.status = 'withdrawn' THEN
        INSERT INTO public.audit_events (action, case_id, details)
        VALUES ('case.withdrawn', NEW.id,
                pg_catalog.jsonb_build_object('from', OLD.status, 'reason', NEW.withdrawn_reason));
        UPDATE public.allocations
           SET status = 'cancelled', decision_reason = 'case withdrawn'
         WHERE case_id = NEW.id AND status IN ('proposed', 'confirmed');
    ELSE
        INSERT INTO public.audit_events (action, case_id) VALUES ('case.reinstated', NEW.id);
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION cases_after_delete() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    IF TG_RELID <> 'public.cases'::pg_catalog.regclass THEN
        RAISE EXCEPTION 'trigger function cases_after_delete runs on public.cases only'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    INSERT INTO public.audit_events (action, case_id)
    SELECT 'case.deleted', id FROM old_cases ORDER BY id;
    RETURN NULL;
END $$;

-- The audited paths for a case's status. Officers call these; nobody updates status directly.
CREATE FUNCTION withdraw_case(p_case_id bigint, p_reason text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    current_status text;
BEGIN
    IF p_reason IS NULL OR btrim(p_reason) = '' OR length(p_reason) > 500 THEN
        RAISE EXCEPTION 'a withdrawal needs a reason of 1 to 500 characters'
            USING ERRCODE = 'check_violation', CONSTRAINT = 'cases_withdrawn_reason';
    END IF;
    PERFORM public.current_actor();  -- a deactivated officer cannot act
    SELECT c.status INTO current_status FROM public.cases c WHERE c.id = p_case_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'case % does not exist', p_case_id USING ERRCODE = 'no_data_found';
    END IF;
    IF current_status = 'withdrawn' THEN
        RAISE EXCEPTION 'case % is already withdrawn', p_case_id
            USING ERRCODE = 'check_violation', CONSTRAINT = 'cases_already_withdrawn';
    END IF;
    UPDATE public.cases SET status = 'withdrawn', withdrawn_reason = btrim(p_reason) WHERE id = p_case_id;
END $$;

CREATE FUNCTION reinstate_case(p_case_id bigint) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    current_status text;
BEGIN
    PERFORM public.current_actor();
    SELECT c.status INTO current_status FROM public.cases c WHERE c.id = p_case_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'case % does not exist', p_case_id USING ERRCODE = 'no_data_found';
    END IF;
    IF current_status <> 'withdrawn' THEN
        RAISE EXCEPTION 'case % is not withdrawn', p_case_id
            USING ERRCODE = 'check_violation', CONSTRAINT = 'cases_not_withdrawn';
    END IF;
    UPDATE public.cases SET status = 'registered' WHERE id = p_case_id;
END $$;

-- Needs cannot change under an active allocation, and any change bumps the case's
-- needs_revision (see above). SECURITY DEFINER: it updates the case row, which no application
-- role may.
CREATE OR REPLACE FUNCTION case_needs_guard() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    busy    bigint;
    changed bigint[];
BEGIN
    IF TG_RELID <> 'public.case_needs'::pg_catalog.regclass THEN
        RAISE EXCEPTION 'trigger function case_needs_guard runs on public.case_needs only'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    -- Lock (by updating) every case concerned; an allocation trigger holding one FOR UPDATE
    -- makes this wait, and then the status below is the committed one. (Each transition
    -- table exists only for its own operations, hence one statement per case.)
    IF TG_OP = 'INSERT' THEN
        WITH bumped AS (UPDATE public.cases c SET needs_revision = c.needs_revision + 1
                         WHERE c.id IN (SELECT case_id FROM new_needs) RETURNING c.id)
        SELECT pg_catalog.array_agg(id) INTO changed FROM bumped;
    ELSIF TG_OP = 'DELETE' THEN
        WITH bumped AS (UPDATE public.cases c SET needs_revision = c.needs_revision + 1
                         WHERE c.id IN (SELECT case_id FROM old_needs) RETURNING c.id)
        SELECT pg_catalog.array_agg(id) INTO changed FROM bumped;
    ELSE
        WITH bumped AS (UPDATE public.cases c SET needs_revision = c.needs_revision + 1
                         WHERE c.id IN (SELECT case_id FROM old_needs UNION SELECT case_id FROM new_needs) RETURNING c.id)
        SELECT pg_catalog.array_agg(id) INTO changed FROM bumped;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        SELECT c.id INTO busy FROM old_needs n JOIN public.cases c ON c.id = n.case_id
         WHERE c.status IN ('proposed', 'placed') LIMIT 1;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND busy IS NULL THEN
        SELECT c.id INTO busy FROM new_needs n JOIN public.cases c ON c.id = n.case_id
         WHERE c.status IN ('proposed', 'placed') LIMIT 1;
    END IF;
    IF busy IS NOT NULL THEN
        RAISE EXCEPTION 'case % has an active allocation; its needs cannot change', busy
            USING ERRCODE = 'check_violation', CONSTRAINT = 'cases_demand_fixed_while_allocated',
                  HINT = 'Reject or cancel the allocation first.';
    END IF;
    -- A change of what a household will reserve is a decision like any other: audited, and
    -- refused to a deactivated login (current_actor). Needs registered with their case (one
    -- transaction, as every import does) are part of its case.registered event.
    INSERT INTO public.audit_events (action, case_id, details)
    SELECT 'case.needs_changed', c.id, pg_catalog.jsonb_build_object('operation', pg_catalog.lower(TG_OP))
    FROM public.cases c
    WHERE c.id = ANY (changed)
      AND NOT EXISTS (SELECT 1 FROM public.audit_events e
                      WHERE e.case_id = c.id AND e.action = 'case.registered'
                        AND e.txid = pg_catalog.pg_current_xact_id()::text::bigint)
    ORDER BY c.id;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION case_demand(p_case_id bigint) RETURNS TABLE (dimension text, units int)
LANGUAGE sql STABLE SET search_path = pg_catalog, public, pg_temp
AS $$ SELECT d.dimension, d.units FROM public.case_demands d WHERE d.case_id = p_case_id ORDER BY d.dimension $$;


-- ---------------------------------------------------------------------------------------
-- Batches
-- ---------------------------------------------------------------------------------------

-- queued -> running -> finished | failed | cancelled; queued -> finished | failed | cancelled. A batch
-- that ended keeps its result as written.
CREATE FUNCTION batches_guard() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    IF TG_RELID <> 'public.batches'::pg_catalog.regclass THEN
        RAISE EXCEPTION 'trigger function batches_guard runs on public.batches only'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'batch % cannot be deleted', OLD.id USING ERRCODE = 'raise_exception';
    END IF;
    IF OLD.status IN ('finished', 'failed', 'cancelled') THEN
        RAISE EXCEPTION 'batch % is % and can no longer change', OLD.id, OLD.status
            USING ERRCODE = 'raise_exception';
    END IF;
    -- The request (period, dry run, who, when, its job, and the settings request_batch put
    -- in summary) is fixed: the worker writes results beside it, never over it.
    IF (NEW.id, NEW.period, NEW.dry_run, NEW.requested_by, NEW.created_at)
       IS DISTINCT FROM (OLD.id, OLD.period, OLD.dry_run, OLD.requested_by, OLD.created_at)
       OR (OLD.job_id IS NOT NULL AND NEW.job_id IS DISTINCT FROM OLD.job_id)
       OR (NEW.summary -> 'time_limit', NEW.summary -> 'municipalities_requested')
          IS DISTINCT FROM (OLD.summary -> 'time_limit', OLD.summary -> 'municipalities_requested') THEN
        RAISE EXCEPTION 'the request of batch % cannot change', OLD.id USING ERRCODE = 'raise_exception';
    END IF;
    IF NEW.status <> OLD.status AND NOT (
           (OLD.status = 'queued' AND NEW.status IN ('running', 'failed', 'cancelled'))
        OR (OLD.status = 'running' AND NEW.status IN ('finished', 'failed', 'cancelled'))
        OR (OLD.status = 'queued' AND NEW.status = 'finished')) THEN  -- run in one transaction
        RAISE EXCEPTION 'batch % cannot go from % to %', OLD.id, OLD.status, NEW.status
            USING ERRCODE = 'raise_exception';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER batches_guard
    BEFORE UPDATE OR DELETE ON batches
    FOR EACH ROW EXECUTE FUNCTION batches_guard();


-- ---------------------------------------------------------------------------------------
-- Allocations
-- ---------------------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION allocations_account() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    was_active boolean;
    is_active  boolean;
    moved      boolean;  -- capacity must be released from OLD and/or consumed for NEW
    c          record;
    m          record;
    b          record;
    dim        text;
    units      int;
BEGIN
    IF TG_RELID <> 'public.allocations'::pg_catalog.regclass THEN
        RAISE EXCEPTION 'trigger function allocations_account runs on public.allocations only'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    was_active := TG_OP IN ('UPDATE', 'DELETE') AND OLD.status IN ('proposed', 'confirmed');
    is_active  := TG_OP IN ('INSERT', 'UPDATE') AND NEW.status IN ('proposed', 'confirmed');

    -- 1. What may change at all --------------------------------------------------------
    IF TG_OP = 'DELETE' THEN
        IF was_active THEN
            RAISE EXCEPTION 'allocation % is active and cannot be deleted', OLD.id
                USING ERRCODE = 'raise_exception', HINT = 'Reject or cancel it instead.';
        END IF;
        RETURN OLD;
    END IF;

    IF TG_OP = 'INSERT' THEN
        IF NOT is_active THEN
            RAISE EXCEPTION 'a new allocation must be proposed or confirmed'
                USING ERRCODE = 'raise_exception';
        END IF;
        NEW.created_by := public.current_actor();
        NEW.created_at := pg_catalog.now();
        NEW.decided_by := NULL;
        NEW.decided_at := NULL;
    ELSE
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
    END IF;

    moved := TG_OP = 'INSERT' OR was_active <> is_active
          OR (is_active AND (NEW.municipality_code, NEW.period, NEW.forced)
                            IS DISTINCT FROM (OLD.municipality_code, OLD.period, OLD.forced));

    -- Free text is append-only: a reason is written with the decision it explains (a status
    -- change or a move), never rewritten afterwards.
    IF TG_OP = 'UPDATE' AND NEW.decision_reason IS DISTINCT FROM OLD.decision_reason
       AND NOT moved AND NEW.status = OLD.status THEN
        RAISE EXCEPTION 'the decision reason of allocation % cannot be rewritten', OLD.id
            USING ERRCODE = 'raise_exception',
                  HINT = 'A correction is a new decision (cancel, override), audited on its own.';
    END IF;

    IF TG_OP = 'INSERT' OR NEW.status <> OLD.status THEN
        IF NEW.status <> 'proposed' THEN
            NEW.decided_by := public.current_actor();
            NEW.decided_at := pg_catalog.now();
        END IF;
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
        IF TG_OP = 'INSERT' AND c.status <> 'registered' THEN
            RAISE EXCEPTION 'case % already has an active allocation', NEW.case_id
                USING ERRCODE = 'unique_violation', CONSTRAINT = 'allocations_one_active_per_case',
                      HINT = 'Reject or cancel it first, or move it.';
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

        IF TG_OP = 'INSERT' AND NEW.batch_id IS NOT NULL THEN
            SELECT bt.period, bt.dry_run INTO b FROM public.batches bt WHERE bt.id = NEW.batch_id;
            IF FOUND AND (b.dry_run OR b.period <> NEW.period) THEN
                RAISE EXCEPTION 'batch % is a dry run or for another period than %', NEW.batch_id, NEW.period
                    USING ERRCODE = 'check_violation', CONSTRAINT = 'allocations_batch_matches';
            END IF;
        END IF;
    END IF;

    -- 3. Capacity ------------------------------------------------------------------------
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
    IF TG_OP = 'INSERT' OR NEW.status <> OLD.status THEN
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
    IF TG_OP = 'DELETE' THEN
        INSERT INTO public.audit_events (action, case_id, municipality_code, allocation_id, batch_id, details)
        VALUES ('allocation.deleted', OLD.case_id, OLD.municipality_code, OLD.id, OLD.batch_id,
                pg_catalog.jsonb_build_object('status', OLD.status, 'period', OLD.period));
        RETURN NULL;
    END IF;
    r := NEW;
    IF TG_OP = 'INSERT' THEN
        INSERT INTO public.audit_events (action, case_id, municipality_code, allocation_id, batch_id, details)
        VALUES ('allocation.' || CASE WHEN r.forced THEN 'forced'
                                      WHEN r.batch_id IS NULL THEN 'overridden'
                                      ELSE r.status END,
                r.case_id, r.municipality_code, r.id, r.batch_id,
                pg_catalog.jsonb_build_object('status', r.status, 'period', r.period, 'forced', r.forced,
                                   'score', r.score, 'reason', r.decision_reason));
        RETURN NULL;
    END IF;
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
-- The job queue's wake-up (002_jobs.sql)
-- ---------------------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION jobs_notify_inserted() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    IF TG_RELID <> 'public.jobs'::pg_catalog.regclass THEN
        RAISE EXCEPTION 'trigger function jobs_notify_inserted runs on public.jobs only'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    PERFORM pg_catalog.pg_notify('jobs_available', '');
    RETURN NULL;
END
$$;
