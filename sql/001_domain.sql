-- 001_domain.sql — the domain schema of Reception.
--
-- The database, not the application, guards the invariants: whatever a client sends, no
-- municipality ends up over capacity through a normal allocation, no household is placed
-- twice or where it is excluded, a case's status always follows its allocations, and every
-- change that matters leaves an append-only audit event.
--
-- The migrator runs this file in one transaction; it holds no transaction control of its own
-- and nothing that cannot run inside a transaction.
--
-- Error contract for the application (SQLSTATE, then the constraint name in the error's
-- CONSTRAINT field where there is one):
--   23514 check_violation       a domain rule refused the change; CONSTRAINT names the rule
--   23505 unique_violation      allocations_one_active_per_case, cases_reference_key, ...
--   23503 foreign_key_violation an unknown case or municipality
--   42501 insufficient_privilege  the audit trail was to be changed
--   P0001 raise_exception       the application broke the contract (wrote a column the
--                               database maintains, an impossible transition); a HINT says what to do
-- Messages name cases by numeric id and municipalities by code only: never a reference, an
-- age or a need, so an error can be logged without leaking personal data.


-- ---------------------------------------------------------------------------------------
-- Who is acting
-- ---------------------------------------------------------------------------------------

-- The application sets the acting officer per transaction:
--   SELECT set_config('reception.actor', $1, true)
-- Without it (psql, maintenance) the database login is the actor. nullif: once a local
-- setting has been used in a session, current_setting returns '' rather than NULL.
CREATE FUNCTION current_actor() RETURNS text
LANGUAGE sql STABLE
AS $$ SELECT coalesce(nullif(current_setting('reception.actor', true), ''), session_user::text) $$;


-- ---------------------------------------------------------------------------------------
-- Audit trail (first, so that every later trigger can write to it)
-- ---------------------------------------------------------------------------------------

-- No foreign keys on purpose: the trail must outlive what it describes (a case erased for data
-- protection, a capacity row removed), and it is written only by triggers, which use ids that
-- exist at that moment.
CREATE TABLE audit_events (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- clock_timestamp, not now(): events within one transaction keep their order in time.
    at                timestamptz NOT NULL DEFAULT clock_timestamp(),
    actor             text NOT NULL DEFAULT current_actor(),
    -- Groups the events of one transaction (a batch, an override = cancel + new allocation).
    txid              bigint NOT NULL DEFAULT (pg_current_xact_id()::text::bigint),
    action            text NOT NULL CHECK (action ~ '^[a-z][a-z_]*\.[a-z][a-z_]*$'),
    case_id           bigint,
    municipality_code text,
    allocation_id     bigint,
    batch_id          bigint,
    -- Ids, codes, counts and statuses only. The one exception is a decision's free-text reason
    -- (reject, cancel, override, withdraw): it is the officer's own note and the point of the
    -- trail is to show why; officers must not write personal data there. Public-authority
    -- records fall under archival law, which is why an immutable trail is acceptable at all.
    details           jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(details) = 'object')
);

CREATE INDEX audit_events_case_idx ON audit_events (case_id, at) WHERE case_id IS NOT NULL;
CREATE INDEX audit_events_municipality_idx ON audit_events (municipality_code, at)
    WHERE municipality_code IS NOT NULL;
CREATE INDEX audit_events_at_idx ON audit_events (at);

COMMENT ON TABLE audit_events IS
    'Append-only trail written by triggers; UPDATE, DELETE and TRUNCATE are refused.';

CREATE FUNCTION audit_events_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'Record a correction as a new event instead.';
END $$;

CREATE TRIGGER audit_events_append_only
    BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_refuse_change();
CREATE TRIGGER audit_events_no_truncate
    BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_refuse_change();

-- PUBLIC holds none of these by default; revoked anyway so that a later grant to PUBLIC cannot
-- open them by accident. The roles migration grants the application INSERT/SELECT only (the
-- triggers below write as their owner, so it does not even need INSERT).
REVOKE UPDATE, DELETE, TRUNCATE ON audit_events FROM PUBLIC;


-- Shared by tables whose rows carry accounting that TRUNCATE would silently bypass (row
-- triggers do not fire on TRUNCATE). Tests should start from a fresh database instead.
CREATE FUNCTION refuse_truncate() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'TRUNCATE of % is not allowed: it would bypass capacity accounting and the audit trail',
        TG_TABLE_NAME
        USING ERRCODE = 'raise_exception',
              HINT = 'Delete rows through the domain operations, or recreate the database.';
END $$;


-- ---------------------------------------------------------------------------------------
-- Dimensions
-- ---------------------------------------------------------------------------------------

CREATE TABLE dimensions (
    name        text PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9_]*$' AND length(name) <= 63),
    description text NOT NULL DEFAULT ''
);

COMMENT ON TABLE dimensions IS
    'Capacity dimensions (placement-instance/1). A new need such as dialysis is a new row.';

INSERT INTO dimensions (name, description) VALUES
    ('persons',              'household members'),
    ('dwellings',            'one dwelling per household'),
    ('large_dwellings',      'one per household of 5 or more members'),
    ('school_places',        'members aged 6 to 15'),
    ('preschool_places',     'members aged 1 to 5'),
    ('accessible_dwellings', 'need: accessible dwelling'),
    ('trauma_care',          'need: trauma care');

-- case_demand computes the first five from ages; removing or renaming them would make every
-- allocation fail in a confusing way.
CREATE FUNCTION dimensions_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.name IN ('persons', 'dwellings', 'large_dwellings', 'school_places', 'preschool_places')
       AND (TG_OP = 'DELETE' OR NEW.name <> OLD.name) THEN
        RAISE EXCEPTION 'dimension % is computed from household members and cannot be removed or renamed', OLD.name
            USING ERRCODE = 'raise_exception';
    END IF;
    RETURN CASE TG_OP WHEN 'DELETE' THEN OLD ELSE NEW END;
END $$;

CREATE TRIGGER dimensions_guard
    BEFORE UPDATE OR DELETE ON dimensions
    FOR EACH ROW EXECUTE FUNCTION dimensions_guard();


-- ---------------------------------------------------------------------------------------
-- Municipalities
-- ---------------------------------------------------------------------------------------

CREATE TABLE municipalities (
    code                 text PRIMARY KEY CHECK (code ~ '^[0-9]{4}$'),
    name                 text NOT NULL CHECK (btrim(name) <> '' AND length(name) <= 100),
    active               boolean NOT NULL DEFAULT true,
    joined_on            date NOT NULL DEFAULT current_date,
    deactivated_at       timestamptz,
    -- For the score of placement-instance/1 (language, shortage occupations).
    languages            text[] NOT NULL DEFAULT '{}',
    shortage_occupations text[] NOT NULL DEFAULT '{}',
    CONSTRAINT municipalities_deactivated_iff_inactive CHECK (active = (deactivated_at IS NULL)),
    CONSTRAINT municipalities_languages_format CHECK (
        array_position(languages, NULL) IS NULL
        AND array_to_string(languages, ' ') ~ '^([a-z]{2,3}(-[A-Za-z0-9]{2,8})*( |$))*$'),
    CONSTRAINT municipalities_occupations_format CHECK (
        array_position(shortage_occupations, NULL) IS NULL
        AND array_to_string(shortage_occupations, ' ') ~ '^([a-z][a-z0-9_]*( |$))*$')
);

COMMENT ON TABLE municipalities IS
    'Never deleted: deactivate (active = false) to stop new placements and keep history.';


-- ---------------------------------------------------------------------------------------
-- Capacity
-- ---------------------------------------------------------------------------------------

-- Accounting per (municipality, period, dimension):
--   used    units of active allocations that fit within the quota;
--   forced  units of forced allocations beyond the quota (the overflow only).
-- Load = used + forced. A forced allocation fills what is free first and only the rest goes to
-- forced; releasing anything drains forced first. So forced > 0 exactly when the municipality
-- is over quota, and by how much, and two CHECKs state the whole invariant declaratively:
--   used <= quota                    (nothing is ever over quota through `used`)
--   forced = 0 OR used = quota       (overflow exists only when the quota is full, so a normal
--                                     allocation can never slip in beside a forced one)
-- capacity show: free = quota - used; over quota = forced.
-- Only the allocation triggers write used and forced (capacity_guard refuses anything else).
CREATE TABLE capacity (
    municipality_code text NOT NULL REFERENCES municipalities (code),
    -- A calendar year. An int keeps the key simple; a finer period would be a new column.
    period            int NOT NULL CHECK (period BETWEEN 2000 AND 2100),
    dimension         text NOT NULL REFERENCES dimensions (name),
    quota             int NOT NULL CHECK (quota >= 0),
    used              int NOT NULL DEFAULT 0 CHECK (used >= 0),
    forced            int NOT NULL DEFAULT 0 CHECK (forced >= 0),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (municipality_code, period, dimension),
    CONSTRAINT capacity_used_within_quota CHECK (used <= quota),
    CONSTRAINT capacity_forced_only_when_full CHECK (forced = 0 OR used = quota)
);

COMMENT ON COLUMN capacity.used IS 'maintained by triggers on allocations; free = quota - used';
COMMENT ON COLUMN capacity.forced IS 'units placed by forced allocations beyond the quota';

CREATE FUNCTION capacity_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    moved int;
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.used + OLD.forced > 0 THEN
            RAISE EXCEPTION 'capacity of municipality % for % in % is in use and cannot be deleted',
                OLD.municipality_code, OLD.dimension, OLD.period
                USING ERRCODE = 'check_violation', CONSTRAINT = 'capacity_in_use',
                      HINT = 'Set the quota instead.';
        END IF;
        RETURN OLD;
    END IF;

    -- Depth 1 is a statement of the application; the allocation triggers write at depth >= 2.
    IF pg_trigger_depth() < 2 AND (
           (TG_OP = 'INSERT' AND (NEW.used <> 0 OR NEW.forced <> 0))
        OR (TG_OP = 'UPDATE' AND (NEW.used <> OLD.used OR NEW.forced <> OLD.forced))) THEN
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
        NEW.updated_at := now();
    END IF;

    -- Room appeared (quota raised, or load released): overflow moves back into used.
    IF NEW.forced > 0 AND NEW.used < NEW.quota THEN
        moved := least(NEW.forced, NEW.quota - NEW.used);
        NEW.used := NEW.used + moved;
        NEW.forced := NEW.forced - moved;
    END IF;

    -- A clearer message than the CHECK's for `capacity set` below what is already allocated.
    IF NEW.used > NEW.quota AND NEW.quota >= 0 THEN  -- a negative quota is the CHECK's
        RAISE EXCEPTION 'quota of municipality % for % in % cannot be lower than the % units allocated',
            NEW.municipality_code, NEW.dimension, NEW.period, NEW.used
            USING ERRCODE = 'check_violation', CONSTRAINT = 'capacity_used_within_quota',
                  HINT = 'Reject or cancel allocations first.';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER capacity_guard
    BEFORE INSERT OR UPDATE OR DELETE ON capacity
    FOR EACH ROW EXECUTE FUNCTION capacity_guard();
CREATE TRIGGER capacity_no_truncate
    BEFORE TRUNCATE ON capacity
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_truncate();


-- ---------------------------------------------------------------------------------------
-- Cases and their needs
-- ---------------------------------------------------------------------------------------

-- One household per row. Bulk import is COPY into cases (then needs into case_needs): no
-- per-row trigger fires on INSERT; validation is by CHECKs, and the audit event and the
-- registered-status rule are one set-based statement trigger per statement.
CREATE TABLE cases (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- e.g. a Migration Agency dossier number; personal data: never in messages or audit.
    -- (length separately: a bounded repetition {0,63} makes the regex ~10x slower on COPY)
    reference        text NOT NULL UNIQUE
                         CHECK (length(reference) <= 64 AND reference ~ '^[A-Za-z0-9][A-Za-z0-9._/-]*$'),
    -- One element per member, whole years.
    ages             int[] NOT NULL CHECK (
                         array_ndims(ages) = 1 AND cardinality(ages) BETWEEN 1 AND 100
                         AND array_position(ages, NULL) IS NULL
                         AND 0 <= ALL (ages) AND 120 >= ALL (ages)),
    language         text CHECK (language ~ '^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$'),
    occupations      text[] NOT NULL DEFAULT '{}',
    -- Municipality codes. Format only, no existence check: a tie to, or an exclusion of, a
    -- municipality outside the group (or not yet joined) is legitimate and may matter later.
    family_ties      text[] NOT NULL DEFAULT '{}',
    preferences      text[] NOT NULL DEFAULT '{}',
    excluded         text[] NOT NULL DEFAULT '{}',
    arrived_on       date NOT NULL CHECK (arrived_on >= date '1990-01-01'),
    -- registered: pending placement; proposed / placed: follow its active allocation
    -- (maintained by the allocation triggers); withdrawn: set by the application.
    status           text NOT NULL DEFAULT 'registered'
                         CHECK (status IN ('registered', 'proposed', 'placed', 'withdrawn')),
    withdrawn_at     timestamptz,
    withdrawn_reason text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT cases_occupations_format CHECK (
        array_position(occupations, NULL) IS NULL
        AND array_to_string(occupations, ' ') ~ '^([a-z][a-z0-9_]*( |$))*$'),
    CONSTRAINT cases_municipality_lists_format CHECK (
        array_position(family_ties || preferences || excluded, NULL) IS NULL
        AND array_to_string(family_ties || preferences || excluded, ' ') ~ '^([0-9]{4}( |$))*$'),
    CONSTRAINT cases_preferences_not_excluded CHECK (NOT (preferences && excluded)),
    CONSTRAINT cases_withdrawn_at CHECK ((status = 'withdrawn') = (withdrawn_at IS NOT NULL)),
    CONSTRAINT cases_withdrawn_reason CHECK (
        status <> 'withdrawn' OR coalesce(btrim(withdrawn_reason), '') <> '')
);

-- The batch's question: registered cases, longest waiting first.
CREATE INDEX cases_pending_idx ON cases (arrived_on, id) WHERE status = 'registered';

-- Needs as rows, not jsonb on cases: a foreign key to dimensions keeps them valid without a
-- trigger, they aggregate with plain SQL (audit intake), and COPY still loads them in one
-- statement (via a staging table joined on reference).
CREATE TABLE case_needs (
    case_id   bigint NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
    dimension text NOT NULL REFERENCES dimensions (name),
    units     int NOT NULL CHECK (units BETWEEN 1 AND 1000),
    PRIMARY KEY (case_id, dimension)
);
CREATE INDEX case_needs_dimension_idx ON case_needs (dimension);


-- The demand of every case, exactly as FORMAT.md (placement-instance/1) defines it; rows with
-- 0 units are left out. One definition, used by the triggers and by the instance builder.
CREATE VIEW case_demands AS
SELECT d.case_id, d.dimension, sum(d.units)::int AS units
FROM (
    SELECT c.id AS case_id, b.dimension, b.units
    FROM cases c
    CROSS JOIN LATERAL (VALUES
        ('persons',          cardinality(c.ages)),
        ('dwellings',        1),
        ('large_dwellings',  CASE WHEN cardinality(c.ages) >= 5 THEN 1 ELSE 0 END),
        ('school_places',    (SELECT count(*)::int FROM unnest(c.ages) a WHERE a BETWEEN 6 AND 15)),
        ('preschool_places', (SELECT count(*)::int FROM unnest(c.ages) a WHERE a BETWEEN 1 AND 5))
    ) AS b (dimension, units)
    UNION ALL
    SELECT n.case_id, n.dimension, n.units FROM case_needs n
) d
GROUP BY d.case_id, d.dimension
HAVING sum(d.units) > 0;

CREATE FUNCTION case_demand(p_case_id bigint) RETURNS TABLE (dimension text, units int)
LANGUAGE sql STABLE
AS $$ SELECT d.dimension, d.units FROM case_demands d WHERE d.case_id = p_case_id ORDER BY d.dimension $$;


-- Statement-level, set-based: one pass over the new rows however many COPY brought.
CREATE FUNCTION cases_after_insert() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM new_cases WHERE status <> 'registered') THEN
        RAISE EXCEPTION 'a new case must have status registered'
            USING ERRCODE = 'check_violation', CONSTRAINT = 'cases_new_registered',
                  HINT = 'Insert the case, then allocate or withdraw it.';
    END IF;
    INSERT INTO audit_events (action, case_id)
    SELECT 'case.registered', id FROM new_cases ORDER BY id;
    RETURN NULL;
END $$;

CREATE TRIGGER cases_after_insert
    AFTER INSERT ON cases REFERENCING NEW TABLE AS new_cases
    FOR EACH STATEMENT EXECUTE FUNCTION cases_after_insert();

-- Status is the allocations' business, except withdrawing (and reinstating a withdrawn case).
-- While a case has an active allocation, what that allocation consumed (ages, needs) and where
-- it may be (excluded) cannot change under it.
CREATE FUNCTION cases_before_update() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.id <> OLD.id OR NEW.created_at IS DISTINCT FROM OLD.created_at THEN
        RAISE EXCEPTION 'the id and created_at of case % cannot change', OLD.id
            USING ERRCODE = 'raise_exception';
    END IF;

    IF NEW.status <> OLD.status AND pg_trigger_depth() < 2 THEN
        IF NEW.status = 'withdrawn' THEN
            NEW.withdrawn_at := now();
        ELSIF OLD.status = 'withdrawn' AND NEW.status = 'registered' THEN
            NEW.withdrawn_at := NULL;
            NEW.withdrawn_reason := NULL;
        ELSE
            RAISE EXCEPTION 'the status of case % follows its allocations', OLD.id
                USING ERRCODE = 'raise_exception',
                      HINT = 'Insert, confirm, reject or cancel an allocation; only withdrawn (and back to registered) is set directly.';
        END IF;
    END IF;

    -- status proposed/placed <=> an active allocation exists (the triggers keep it so), and
    -- the allocation trigger holds this row locked FOR UPDATE while it works.
    IF OLD.status IN ('proposed', 'placed') THEN
        IF NEW.ages IS DISTINCT FROM OLD.ages THEN
            RAISE EXCEPTION 'case % has an active allocation; its members cannot change', OLD.id
                USING ERRCODE = 'check_violation', CONSTRAINT = 'cases_demand_fixed_while_allocated',
                      HINT = 'Reject or cancel the allocation first.';
        END IF;
        IF NEW.excluded IS DISTINCT FROM OLD.excluded AND EXISTS (
               SELECT 1 FROM allocations a
               WHERE a.case_id = OLD.id AND a.status IN ('proposed', 'confirmed')
                 AND a.municipality_code = ANY (NEW.excluded)) THEN
            RAISE EXCEPTION 'case % has an active allocation in a municipality it would now exclude', OLD.id
                USING ERRCODE = 'check_violation', CONSTRAINT = 'allocations_not_excluded',
                      HINT = 'Cancel the allocation first.';
        END IF;
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER cases_before_update
    BEFORE UPDATE ON cases
    FOR EACH ROW EXECUTE FUNCTION cases_before_update();

-- Withdrawal cancels the active allocation (releasing its capacity) and is audited. AFTER, so
-- that the allocation trigger sees the case already withdrawn and leaves its status alone.
CREATE FUNCTION cases_after_status() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF NEW.status = 'withdrawn' THEN
        INSERT INTO audit_events (action, case_id, details)
        VALUES ('case.withdrawn', NEW.id,
                jsonb_build_object('from', OLD.status, 'reason', NEW.withdrawn_reason));
        UPDATE allocations
           SET status = 'cancelled', decision_reason = 'case withdrawn'
         WHERE case_id = NEW.id AND status IN ('proposed', 'confirmed');
    ELSE
        INSERT INTO audit_events (action, case_id) VALUES ('case.reinstated', NEW.id);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER cases_after_status
    AFTER UPDATE OF status ON cases
    FOR EACH ROW
    WHEN (OLD.status IS DISTINCT FROM NEW.status
          AND (NEW.status = 'withdrawn' OR OLD.status = 'withdrawn'))
    EXECUTE FUNCTION cases_after_status();

CREATE FUNCTION cases_after_delete() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    INSERT INTO audit_events (action, case_id)
    SELECT 'case.deleted', id FROM old_cases ORDER BY id;
    RETURN NULL;
END $$;

CREATE TRIGGER cases_after_delete
    AFTER DELETE ON cases REFERENCING OLD TABLE AS old_cases
    FOR EACH STATEMENT EXECUTE FUNCTION cases_after_delete();

-- Needs cannot change under an active allocation either. Statement-level to keep bulk loads
-- cheap. Race-free: an INSERT's foreign-key check takes KEY SHARE on the case row, which
-- waits for the allocation trigger's FOR UPDATE; UPDATE/DELETE take FOR SHARE explicitly.
-- After the wait, the check below runs on a fresh snapshot.
CREATE FUNCTION case_needs_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    busy bigint;
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM 1 FROM cases c WHERE c.id IN (SELECT case_id FROM old_needs) FOR SHARE OF c;
        SELECT c.id INTO busy FROM old_needs n JOIN cases c ON c.id = n.case_id
         WHERE c.status IN ('proposed', 'placed') LIMIT 1;
    END IF;
    IF TG_OP = 'UPDATE' AND busy IS NULL THEN
        PERFORM 1 FROM cases c WHERE c.id IN (SELECT case_id FROM new_needs) FOR SHARE OF c;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND busy IS NULL THEN
        SELECT c.id INTO busy FROM new_needs n JOIN cases c ON c.id = n.case_id
         WHERE c.status IN ('proposed', 'placed') LIMIT 1;
    END IF;
    IF busy IS NOT NULL THEN
        RAISE EXCEPTION 'case % has an active allocation; its needs cannot change', busy
            USING ERRCODE = 'check_violation', CONSTRAINT = 'cases_demand_fixed_while_allocated',
                  HINT = 'Reject or cancel the allocation first.';
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER case_needs_guard_insert
    AFTER INSERT ON case_needs REFERENCING NEW TABLE AS new_needs
    FOR EACH STATEMENT EXECUTE FUNCTION case_needs_guard();
CREATE TRIGGER case_needs_guard_update
    AFTER UPDATE ON case_needs REFERENCING OLD TABLE AS old_needs NEW TABLE AS new_needs
    FOR EACH STATEMENT EXECUTE FUNCTION case_needs_guard();
CREATE TRIGGER case_needs_guard_delete
    AFTER DELETE ON case_needs REFERENCING OLD TABLE AS old_needs
    FOR EACH STATEMENT EXECUTE FUNCTION case_needs_guard();


-- ---------------------------------------------------------------------------------------
-- Allocation batches
-- ---------------------------------------------------------------------------------------

CREATE TABLE batches (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    period       int NOT NULL CHECK (period BETWEEN 2000 AND 2100),
    status       text NOT NULL DEFAULT 'queued'
                     CHECK (status IN ('queued', 'running', 'finished', 'failed', 'cancelled')),
    -- A dry run computes and summarises but writes no allocations (refused by the trigger).
    dry_run      boolean NOT NULL DEFAULT false,
    -- The job queue's id; its tables belong to another module, hence no foreign key.
    job_id       bigint,
    requested_by text NOT NULL DEFAULT current_actor(),
    created_at   timestamptz NOT NULL DEFAULT now(),
    started_at   timestamptz,
    finished_at  timestamptz,
    objective    bigint,
    bound        bigint,
    -- counts, timings, unplaced reasons by case id; no personal data.
    summary      jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(summary) = 'object'),
    error        text,
    CONSTRAINT batches_finished_at CHECK (
        (finished_at IS NOT NULL) = (status IN ('finished', 'failed', 'cancelled'))),
    CONSTRAINT batches_bound_above_objective CHECK (bound IS NULL OR objective IS NULL OR bound >= objective)
);

CREATE INDEX batches_period_idx ON batches (period, created_at);
CREATE UNIQUE INDEX batches_job_idx ON batches (job_id) WHERE job_id IS NOT NULL;


-- ---------------------------------------------------------------------------------------
-- Allocations
-- ---------------------------------------------------------------------------------------

-- Active = proposed or confirmed: an active allocation holds its case's demand in capacity
-- (a proposal reserves, so two batches can never promise the same places). rejected and
-- cancelled are final and keep the history.
CREATE TABLE allocations (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    case_id           bigint NOT NULL REFERENCES cases (id),
    municipality_code text NOT NULL REFERENCES municipalities (code),
    period            int NOT NULL CHECK (period BETWEEN 2000 AND 2100),
    status            text NOT NULL DEFAULT 'proposed'
                          CHECK (status IN ('proposed', 'confirmed', 'rejected', 'cancelled')),
    -- Placed past capacity on an officer's decision (override --force).
    forced            boolean NOT NULL DEFAULT false,
    score             int,
    reasons           text[] NOT NULL DEFAULT '{}',
    -- Runner-up municipalities, e.g. [{"municipality": "2460", "score": 1210}].
    next_best         jsonb CHECK (next_best IS NULL OR jsonb_typeof(next_best) = 'array'),
    -- NULL for a manual placement (override).
    batch_id          bigint REFERENCES batches (id),
    -- What this allocation holds in capacity, {"persons": 4, ...}; written by the trigger only,
    -- so release gives back exactly what was taken.
    demand            jsonb NOT NULL DEFAULT '{}',
    created_by        text NOT NULL DEFAULT current_actor(),
    created_at        timestamptz NOT NULL DEFAULT now(),
    decided_by        text,
    decided_at        timestamptz,
    decision_reason   text,
    CONSTRAINT allocations_reason_required CHECK (
        (status IN ('proposed', 'confirmed') AND batch_id IS NOT NULL AND NOT forced)
        OR coalesce(btrim(decision_reason), '') <> '')
);

COMMENT ON CONSTRAINT allocations_reason_required ON allocations IS
    'rejected, cancelled, forced and manual (batch-less) allocations carry a decision_reason';

-- No household placed twice: at most one active allocation per case.
CREATE UNIQUE INDEX allocations_one_active_per_case ON allocations (case_id)
    WHERE status IN ('proposed', 'confirmed');
CREATE INDEX allocations_case_idx ON allocations (case_id, created_at);
CREATE INDEX allocations_municipality_idx ON allocations (municipality_code, period, status);
CREATE INDEX allocations_period_idx ON allocations (period, status);
CREATE INDEX allocations_batch_idx ON allocations (batch_id) WHERE batch_id IS NOT NULL;


-- The one trigger that keeps capacity, case status and the allocation rules together.
--
-- Locks, always in this order: the case row (FOR UPDATE, which also makes concurrent edits of
-- its ages or needs wait), the municipality row (FOR SHARE, so a deactivation waits or is
-- seen), then capacity rows in dimension-name order (UPDATE), which is where two allocations
-- into one municipality serialise. In READ COMMITTED the second waits and re-checks against the
-- committed numbers; in REPEATABLE READ / SERIALIZABLE it gets 40001. Either way it cannot
-- overbook. Deadlocks between multi-municipality transactions remain possible (40P01): retry;
-- a batch that inserts its allocations ordered by municipality code makes them rare.
CREATE FUNCTION allocations_account() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    was_active boolean := TG_OP IN ('UPDATE', 'DELETE') AND OLD.status IN ('proposed', 'confirmed');
    is_active  boolean := TG_OP IN ('INSERT', 'UPDATE') AND NEW.status IN ('proposed', 'confirmed');
    moved      boolean;  -- capacity must be released from OLD and/or consumed for NEW
    c          record;
    m          record;
    b          record;
    dim        text;
    units      int;
BEGIN
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
        NEW.created_by := current_actor();
        NEW.created_at := now();
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

    IF TG_OP = 'INSERT' OR NEW.status <> OLD.status THEN
        IF NEW.status <> 'proposed' THEN
            NEW.decided_by := current_actor();
            NEW.decided_at := now();
        END IF;
    END IF;

    moved := TG_OP = 'INSERT' OR was_active <> is_active
          OR (is_active AND (NEW.municipality_code, NEW.period, NEW.forced)
                            IS DISTINCT FROM (OLD.municipality_code, OLD.period, OLD.forced));

    -- 2. Rules -----------------------------------------------------------------------------
    -- The case row is locked first whenever capacity or status will change, so that every
    -- path takes its locks in the same order (case, municipality, capacity).
    IF moved OR NEW.status <> OLD.status THEN
        SELECT cs.status, cs.excluded INTO c FROM cases cs WHERE cs.id = NEW.case_id FOR UPDATE;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'case % does not exist', NEW.case_id
                USING ERRCODE = 'foreign_key_violation', CONSTRAINT = 'allocations_case_id_fkey';
        END IF;
    END IF;

    -- For an allocation that becomes active, moves, or is confirmed.
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

        SELECT mu.active INTO m FROM municipalities mu WHERE mu.code = NEW.municipality_code FOR SHARE;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'municipality % does not exist', NEW.municipality_code
                USING ERRCODE = 'foreign_key_violation', CONSTRAINT = 'allocations_municipality_code_fkey';
        END IF;
        IF NOT m.active THEN
            RAISE EXCEPTION 'municipality % is inactive and takes no new placements', NEW.municipality_code
                USING ERRCODE = 'check_violation', CONSTRAINT = 'allocations_municipality_active';
        END IF;
        -- A hard rule, like capacity: even a forced placement cannot break it.
        IF NEW.municipality_code = ANY (c.excluded) THEN
            RAISE EXCEPTION 'case % excludes municipality %', NEW.case_id, NEW.municipality_code
                USING ERRCODE = 'check_violation', CONSTRAINT = 'allocations_not_excluded';
        END IF;

        IF TG_OP = 'INSERT' AND NEW.batch_id IS NOT NULL THEN
            SELECT bt.period, bt.dry_run INTO b FROM batches bt WHERE bt.id = NEW.batch_id;
            IF FOUND AND (b.dry_run OR b.period <> NEW.period) THEN
                RAISE EXCEPTION 'batch % is a dry run or for another period than %', NEW.batch_id, NEW.period
                    USING ERRCODE = 'check_violation', CONSTRAINT = 'allocations_batch_matches';
            END IF;
        END IF;
    END IF;

    -- 3. Capacity ------------------------------------------------------------------------
    IF moved AND was_active THEN
        -- Release: overflow (forced) first, then used; capacity_guard moves any remaining
        -- overflow back into used. Rows in use cannot be deleted, so they are there.
        FOR dim, units IN SELECT key, value::int FROM jsonb_each_text(OLD.demand) ORDER BY key LOOP
            UPDATE capacity
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
        -- Computed after the case row is locked, so ages and needs are final.
        SELECT coalesce(jsonb_object_agg(d.dimension, d.units), '{}') INTO NEW.demand
          FROM case_demand(NEW.case_id) d;
        FOR dim, units IN SELECT key, value::int FROM jsonb_each_text(NEW.demand) ORDER BY key LOOP
            IF NEW.forced THEN
                -- Past capacity by decision: fill what is free, overflow into forced (see
                -- capacity_guard). A missing row is created with quota 0, so the overflow is
                -- visible in capacity show and audit intake.
                INSERT INTO capacity AS cp (municipality_code, period, dimension, quota, forced)
                VALUES (NEW.municipality_code, NEW.period, dim, 0, units)
                ON CONFLICT (municipality_code, period, dimension)
                DO UPDATE SET forced = cp.forced + EXCLUDED.forced;
            ELSE
                UPDATE capacity
                   SET used = used + units
                 WHERE municipality_code = NEW.municipality_code AND period = NEW.period
                   AND dimension = dim AND used + units <= quota;
                IF NOT FOUND THEN
                    IF EXISTS (SELECT 1 FROM capacity
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
        UPDATE cases
           SET status = CASE NEW.status WHEN 'proposed' THEN 'proposed'
                                        WHEN 'confirmed' THEN 'placed'
                                        ELSE 'registered' END
         WHERE id = NEW.case_id AND status <> 'withdrawn';
    END IF;

    RETURN NEW;
END $$;

CREATE TRIGGER allocations_account
    BEFORE INSERT OR UPDATE OR DELETE ON allocations
    FOR EACH ROW EXECUTE FUNCTION allocations_account();
CREATE TRIGGER allocations_no_truncate
    BEFORE TRUNCATE ON allocations
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_truncate();

-- Audit of allocations. Actions:
--   allocation.proposed / .confirmed   new from a batch, or a status change
--   allocation.overridden              manual placement (no batch) or moved to another
--                                      municipality or period
--   allocation.forced                  as overridden, but placed past capacity
--   allocation.rejected / .cancelled   released
--   allocation.deleted                 a final allocation removed (retention)
CREATE FUNCTION allocations_audit() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    r allocations;
BEGIN
    IF TG_OP = 'DELETE' THEN
        INSERT INTO audit_events (action, case_id, municipality_code, allocation_id, batch_id, details)
        VALUES ('allocation.deleted', OLD.case_id, OLD.municipality_code, OLD.id, OLD.batch_id,
                jsonb_build_object('status', OLD.status, 'period', OLD.period));
        RETURN NULL;
    END IF;
    r := NEW;
    IF TG_OP = 'INSERT' THEN
        INSERT INTO audit_events (action, case_id, municipality_code, allocation_id, batch_id, details)
        VALUES ('allocation.' || CASE WHEN r.forced THEN 'forced'
                                      WHEN r.batch_id IS NULL THEN 'overridden'
                                      ELSE r.status END,
                r.case_id, r.municipality_code, r.id, r.batch_id,
                jsonb_build_object('status', r.status, 'period', r.period, 'forced', r.forced,
                                   'score', r.score, 'reason', r.decision_reason));
        RETURN NULL;
    END IF;
    IF (NEW.municipality_code, NEW.period, NEW.forced)
       IS DISTINCT FROM (OLD.municipality_code, OLD.period, OLD.forced) THEN
        INSERT INTO audit_events (action, case_id, municipality_code, allocation_id, batch_id, details)
        VALUES (CASE WHEN r.forced THEN 'allocation.forced' ELSE 'allocation.overridden' END,
                r.case_id, r.municipality_code, r.id, r.batch_id,
                jsonb_build_object('status', r.status, 'period', r.period, 'forced', r.forced,
                                   'from_municipality', OLD.municipality_code,
                                   'from_period', OLD.period, 'reason', r.decision_reason));
    END IF;
    IF NEW.status <> OLD.status THEN
        INSERT INTO audit_events (action, case_id, municipality_code, allocation_id, batch_id, details)
        VALUES ('allocation.' || r.status, r.case_id, r.municipality_code, r.id, r.batch_id,
                jsonb_build_object('from', OLD.status, 'period', r.period, 'forced', r.forced,
                                   'reason', r.decision_reason));
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER allocations_audit
    AFTER INSERT OR UPDATE OR DELETE ON allocations
    FOR EACH ROW EXECUTE FUNCTION allocations_audit();


-- ---------------------------------------------------------------------------------------
-- Municipality and capacity triggers (they reference allocations, so they come last)
-- ---------------------------------------------------------------------------------------

CREATE FUNCTION municipalities_before() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'municipality % cannot be deleted', OLD.code
            USING ERRCODE = 'raise_exception', HINT = 'Deactivate it; its history stays.';
    END IF;
    IF TG_OP = 'UPDATE' AND NEW.code <> OLD.code THEN
        RAISE EXCEPTION 'the code of municipality % cannot change', OLD.code
            USING ERRCODE = 'raise_exception';
    END IF;
    IF NOT NEW.active AND (TG_OP = 'INSERT' OR OLD.active) THEN
        NEW.deactivated_at := coalesce(NEW.deactivated_at, now());
    ELSIF NEW.active THEN
        NEW.deactivated_at := NULL;
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER municipalities_before
    BEFORE INSERT OR UPDATE OR DELETE ON municipalities
    FOR EACH ROW EXECUTE FUNCTION municipalities_before();

-- Deactivation: no new placements, so open proposals there are cancelled (their cases become
-- registered again for the next batch); confirmed placements stay as history.
CREATE FUNCTION municipalities_after() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO audit_events (action, municipality_code, details)
        VALUES ('municipality.added', NEW.code,
                jsonb_build_object('name', NEW.name, 'joined_on', NEW.joined_on, 'active', NEW.active));
    ELSIF OLD.active AND NOT NEW.active THEN
        INSERT INTO audit_events (action, municipality_code) VALUES ('municipality.deactivated', NEW.code);
        UPDATE allocations SET status = 'cancelled', decision_reason = 'municipality deactivated'
         WHERE municipality_code = NEW.code AND status = 'proposed';
    ELSIF NEW.active AND NOT OLD.active THEN
        INSERT INTO audit_events (action, municipality_code) VALUES ('municipality.reactivated', NEW.code);
    END IF;
    IF TG_OP = 'UPDATE' AND (NEW.name, NEW.joined_on) IS DISTINCT FROM (OLD.name, OLD.joined_on) THEN
        INSERT INTO audit_events (action, municipality_code, details)
        VALUES ('municipality.changed', NEW.code,
                jsonb_build_object('name', NEW.name, 'joined_on', NEW.joined_on));
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER municipalities_after
    AFTER INSERT OR UPDATE ON municipalities
    FOR EACH ROW EXECUTE FUNCTION municipalities_after();
CREATE TRIGGER municipalities_no_truncate
    BEFORE TRUNCATE ON municipalities
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_truncate();

CREATE FUNCTION capacity_audit() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    INSERT INTO audit_events (action, municipality_code, details)
    VALUES ('capacity.quota_set', NEW.municipality_code,
            jsonb_build_object('period', NEW.period, 'dimension', NEW.dimension,
                               'quota', NEW.quota,
                               'previous', CASE WHEN TG_OP = 'UPDATE' THEN OLD.quota END,
                               -- created by a forced allocation rather than by an officer
                               'by_forced_allocation', pg_trigger_depth() > 1));
    RETURN NULL;
END $$;

CREATE TRIGGER capacity_audit_insert
    AFTER INSERT ON capacity
    FOR EACH ROW EXECUTE FUNCTION capacity_audit();
CREATE TRIGGER capacity_audit_update
    AFTER UPDATE OF quota ON capacity
    FOR EACH ROW WHEN (OLD.quota IS DISTINCT FROM NEW.quota)
    EXECUTE FUNCTION capacity_audit();
