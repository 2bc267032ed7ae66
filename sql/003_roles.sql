-- 003_roles.sql — three database roles with least privilege.
--
--   reception_officer  registers arrivals, manages municipalities and capacity, runs batches,
--                      decides on proposals, reads the audit trail
--   reception_worker   the daemon: drains the job queue, reads cases and capacity, writes
--                      proposals and batch results
--   reception_auditor  reads, and nothing else
--
-- They are group roles without LOGIN: grant one to each person or service login, e.g.
--   CREATE ROLE anna LOGIN PASSWORD '...' IN ROLE reception_officer;
--   CREATE ROLE receptiond LOGIN PASSWORD '...' IN ROLE reception_worker;
--
-- The schema stays owned by the role that migrates it (an administrator): an owner could
-- disable the audit trail's triggers, so no application role owns anything. Capacity
-- accounting, case status and the audit trail are written by SECURITY DEFINER triggers, so
-- no application role needs write access to capacity.used, cases.status or audit_events.
-- Roles are shared by every database of a cluster; the grants below are this database's.

DO $$
DECLARE
    name text;
BEGIN
    FOREACH name IN ARRAY ARRAY['reception_officer', 'reception_worker', 'reception_auditor'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = name) THEN
            EXECUTE format('CREATE ROLE %I NOLOGIN', name);
        END IF;
    END LOOP;
END $$;

-- Nothing for anybody else: PUBLIC gets no table access.
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO reception_officer, reception_worker, reception_auditor;

-- Reading: all three read the domain; the auditor reads nothing of the queue's internals.
GRANT SELECT ON dimensions, municipalities, capacity, cases, case_needs, case_demands, batches,
                allocations, audit_events, schema_migrations
    TO reception_officer, reception_worker, reception_auditor;
GRANT SELECT ON jobs TO reception_officer, reception_worker;

-- Officers.
GRANT INSERT ON dimensions TO reception_officer;                          -- a new need, e.g. dialysis
GRANT INSERT, UPDATE (name, active, joined_on, languages, shortage_occupations)
    ON municipalities TO reception_officer;                               -- add, deactivate
GRANT INSERT (municipality_code, period, dimension, quota), UPDATE (quota)
    ON capacity TO reception_officer;                                     -- capacity set
GRANT INSERT (reference, ages, language, occupations, family_ties, preferences, excluded, arrived_on),
      UPDATE (status, withdrawn_reason)
    ON cases TO reception_officer;                                        -- register, withdraw
GRANT INSERT ON case_needs TO reception_officer;
GRANT INSERT (case_id, municipality_code, period, status, forced, decision_reason, reasons),
      UPDATE (municipality_code, period, status, forced, decision_reason)
    ON allocations TO reception_officer;                                  -- confirm, reject, override
GRANT INSERT (period, dry_run, summary), UPDATE (job_id)
    ON batches TO reception_officer;                                      -- batch run
GRANT INSERT ON jobs TO reception_officer;                                -- enqueue the batch's job

-- The worker: the queue, and what a batch writes.
GRANT INSERT, UPDATE, DELETE ON jobs TO reception_worker;
GRANT INSERT (case_id, municipality_code, period, status, score, reasons, next_best, batch_id)
    ON allocations TO reception_worker;
GRANT UPDATE (status, started_at, finished_at, objective, bound, summary, error)
    ON batches TO reception_worker;
