-- Checks of sql/001_domain.sql, by plain SQL. Run on a database where 001 is applied:
--
--   psql -X -v ON_ERROR_STOP=1 -f sql/checks/001_domain_checks.sql "$URL"
--
-- Self-checking: every check raises 'CHECK FAILED: ...' if the database allows what it must
-- refuse or computes something wrong. Everything runs in one transaction that ends with
-- ROLLBACK, so the database is left as it was. (The concurrency check needs two sessions and
-- committed data: see 001_domain_concurrency.sh beside this file.)

\set ON_ERROR_STOP 1
\o /dev/null
BEGIN;

-- expect_error(statement, sqlstate[, constraint]): the statement must fail with that SQLSTATE
-- (and constraint name); its message must not contain a case reference (personal data).
CREATE FUNCTION pg_temp.expect_error(stmt text, want_state text, want_constraint text DEFAULT NULL)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    st text; msg text; det text; hint text; con text;
BEGIN
    BEGIN
        EXECUTE stmt;
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL,
                                hint = PG_EXCEPTION_HINT, con = CONSTRAINT_NAME;
        IF st <> want_state OR (want_constraint IS NOT NULL AND con IS DISTINCT FROM want_constraint) THEN
            RAISE EXCEPTION 'CHECK FAILED: % -> expected % %, got % % (%)',
                stmt, want_state, coalesce(want_constraint, ''), st, coalesce(con, ''), msg;
        END IF;
        IF concat_ws(' ', msg, det, hint) ~ 'REF-[0-9]' THEN
            RAISE EXCEPTION 'CHECK FAILED: error message leaks a case reference: %', msg;
        END IF;
        RAISE NOTICE 'ok (refused, %): %', st, msg;
        RETURN;
    END;
    RAISE EXCEPTION 'CHECK FAILED: allowed: %', stmt;
END $$;

CREATE FUNCTION pg_temp.expect(ok boolean, what text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF ok IS NOT TRUE THEN
        RAISE EXCEPTION 'CHECK FAILED: %', what;
    END IF;
    RAISE NOTICE 'ok: %', what;
END $$;

CREATE FUNCTION pg_temp.cid(ref text) RETURNS bigint LANGUAGE sql AS $$
    SELECT id FROM cases WHERE reference = ref $$;
CREATE FUNCTION pg_temp.cap(m text, d text) RETURNS text LANGUAGE sql AS $$
    SELECT quota || '/' || used || '/' || forced FROM capacity
     WHERE municipality_code = m AND period = 2026 AND dimension = d $$;
CREATE FUNCTION pg_temp.active_alloc(ref text) RETURNS bigint LANGUAGE sql AS $$
    SELECT a.id FROM allocations a JOIN cases c ON c.id = a.case_id
     WHERE c.reference = ref AND a.status IN ('proposed', 'confirmed') $$;


-- Fixtures --------------------------------------------------------------------------------

INSERT INTO municipalities (code, name, joined_on) VALUES
    ('2480', 'Umeå', '2020-01-01'), ('2404', 'Vindeln', '2020-01-01'),
    ('2409', 'Robertsfors', '2020-01-01'), ('2460', 'Vännäs', '2020-01-01'),
    ('2403', 'Bjurholm', '2020-01-01'), ('2401', 'Nordmaling', '2020-01-01'),
    ('2284', 'Örnsköldsvik', '2026-01-01');

INSERT INTO capacity (municipality_code, period, dimension, quota)
SELECT m, 2026, d, q
FROM (VALUES ('persons', 10), ('dwellings', 3), ('large_dwellings', 1), ('school_places', 3),
             ('preschool_places', 2), ('trauma_care', 1)) AS v (d, q)
CROSS JOIN (VALUES ('2480'), ('2460'), ('2403')) AS mm (m);
-- Vindeln has persons and dwellings only: no school places.
INSERT INTO capacity (municipality_code, period, dimension, quota) VALUES
    ('2404', 2026, 'persons', 20), ('2404', 2026, 'dwellings', 5);

INSERT INTO dimensions (name, description) VALUES ('dialysis', 'need: dialysis');

INSERT INTO cases (reference, ages, language, occupations, family_ties, preferences, excluded, arrived_on) VALUES
    ('REF-A', '{40,38,15,12,6,5,0}', 'ar', '{assistant_nurse}', '{2480}', '{2480,2460}', '{2284}', '2025-11-02'),
    ('REF-B', '{33,8,3,1}',          'ti', '{}', '{}', '{}', '{}',     '2025-12-01'),
    ('REF-C', '{51}',                'so', '{}', '{}', '{}', '{2480}', '2025-12-05'),
    ('REF-D', '{29,27}',             'prs', '{welder}', '{}', '{}', '{}', '2025-12-06'),
    ('REF-E', '{44}',                NULL, '{}', '{}', '{}', '{}',     '2025-12-07'),
    ('REF-F', '{60,58}',             NULL, '{}', '{}', '{}', '{}',     '2025-12-08');
INSERT INTO case_needs (case_id, dimension, units) VALUES
    (pg_temp.cid('REF-A'), 'trauma_care', 1),
    (pg_temp.cid('REF-A'), 'persons', 1),      -- a need adds to an existing dimension
    (pg_temp.cid('REF-F'), 'dialysis', 2);

-- Demand (FORMAT.md) ----------------------------------------------------------------------

SELECT pg_temp.expect(
    (SELECT jsonb_object_agg(dimension, units) FROM case_demand(pg_temp.cid('REF-A')))
    = '{"persons": 8, "dwellings": 1, "large_dwellings": 1, "school_places": 3,
        "preschool_places": 1, "trauma_care": 1}'::jsonb,
    'demand of a 7-member household (ages 40,38,15,12,6,5,0; trauma_care 1; persons +1)');
SELECT pg_temp.expect(
    (SELECT jsonb_object_agg(dimension, units) FROM case_demand(pg_temp.cid('REF-B')))
    = '{"persons": 4, "dwellings": 1, "school_places": 1, "preschool_places": 2}'::jsonb,
    'demand of a 4-member household: no large dwelling, zero rows left out');
SELECT pg_temp.expect(
    (SELECT jsonb_object_agg(dimension, units) FROM case_demand(pg_temp.cid('REF-F')))
    = '{"persons": 2, "dwellings": 1, "dialysis": 2}'::jsonb,
    'a need in a new dimension');

-- Column checks ---------------------------------------------------------------------------

SELECT pg_temp.expect_error($$INSERT INTO cases (reference, ages, arrived_on) VALUES ('REF-X1', '{121}', '2026-01-01')$$, '23514');
SELECT pg_temp.expect_error($$INSERT INTO cases (reference, ages, arrived_on) VALUES ('REF-X2', '{-1}', '2026-01-01')$$, '23514');
SELECT pg_temp.expect_error($$INSERT INTO cases (reference, ages, arrived_on) VALUES ('REF-X3', '{}', '2026-01-01')$$, '23514');
SELECT pg_temp.expect_error($$INSERT INTO cases (reference, ages, arrived_on) VALUES ('REF-X4', '{30,NULL}', '2026-01-01')$$, '23514');
SELECT pg_temp.expect_error($$INSERT INTO cases (reference, ages, arrived_on) VALUES ('REF-X5', '{{30},{4}}', '2026-01-01')$$, '23514');
SELECT pg_temp.expect_error($$INSERT INTO cases (reference, ages, arrived_on) VALUES ('bad ref!', '{30}', '2026-01-01')$$, '23514');
SELECT pg_temp.expect_error($$INSERT INTO cases (reference, ages, arrived_on, excluded) VALUES ('REF-X6', '{30}', '2026-01-01', '{248}')$$, '23514', 'cases_municipality_lists_format');
SELECT pg_temp.expect_error($$INSERT INTO cases (reference, ages, arrived_on, excluded, preferences) VALUES ('REF-X7', '{30}', '2026-01-01', '{2480}', '{2480}')$$, '23514', 'cases_preferences_not_excluded');
SELECT pg_temp.expect_error($$INSERT INTO cases (reference, ages, arrived_on) VALUES ('REF-A', '{30}', '2026-01-01')$$, '23505', 'cases_reference_normalized');
SELECT pg_temp.expect_error($$INSERT INTO cases (reference, ages, arrived_on, status) VALUES ('REF-X8', '{30}', '2026-01-01', 'placed')$$, '23514', 'cases_new_registered');
SELECT pg_temp.expect_error($$INSERT INTO case_needs VALUES (pg_temp.cid('REF-B'), 'no_such_need', 1)$$, '23503');
SELECT pg_temp.expect_error($$INSERT INTO case_needs VALUES (pg_temp.cid('REF-B'), 'trauma_care', 0)$$, '23514');
SELECT pg_temp.expect_error($$INSERT INTO municipalities (code, name) VALUES ('248', 'Nowhere')$$, '23514');
SELECT pg_temp.expect_error($$INSERT INTO capacity (municipality_code, period, dimension, quota) VALUES ('2401', 2026, 'persons', -1)$$, '23514');
SELECT pg_temp.expect_error($$INSERT INTO capacity (municipality_code, period, dimension, quota) VALUES ('2401', 1850, 'persons', 5)$$, '23514');
SELECT pg_temp.expect_error($$INSERT INTO capacity (municipality_code, period, dimension, quota) VALUES ('2401', 2026, 'Persons', 5)$$, '23503');
SELECT pg_temp.expect_error($$DELETE FROM dimensions WHERE name = 'persons'$$, 'P0001');

-- Capacity accounting ---------------------------------------------------------------------

INSERT INTO batches (period, status, started_at) VALUES (2026, 'running', now());

INSERT INTO allocations (case_id, municipality_code, period, score, reasons, batch_id)
VALUES (pg_temp.cid('REF-A'), '2480', 2026, 1345, '{"family ties in 2480"}', (SELECT max(id) FROM batches));
SELECT pg_temp.expect(
    pg_temp.cap('2480', 'persons') = '10/8/0' AND pg_temp.cap('2480', 'dwellings') = '3/1/0'
    AND pg_temp.cap('2480', 'large_dwellings') = '1/1/0' AND pg_temp.cap('2480', 'school_places') = '3/3/0'
    AND pg_temp.cap('2480', 'preschool_places') = '2/1/0' AND pg_temp.cap('2480', 'trauma_care') = '1/1/0',
    'a proposal consumes exactly its demand');
SELECT pg_temp.expect((SELECT status FROM cases WHERE reference = 'REF-A') = 'proposed', 'case follows: proposed');
SELECT pg_temp.expect((SELECT demand FROM allocations WHERE id = pg_temp.active_alloc('REF-A'))
                      = '{"persons": 8, "dwellings": 1, "large_dwellings": 1, "school_places": 3, "preschool_places": 1, "trauma_care": 1}',
                      'the allocation records what it holds');

-- Over capacity: REF-B needs 4 persons, 2480 has 2 left (and no school place).
SELECT pg_temp.expect_error(
    $$INSERT INTO allocations (case_id, municipality_code, period, batch_id) VALUES (pg_temp.cid('REF-B'), '2480', 2026, (SELECT max(id) FROM batches))$$,
    '23514', 'capacity_used_within_quota');
SELECT pg_temp.expect(pg_temp.cap('2480', 'persons') = '10/8/0' AND pg_temp.cap('2480', 'dwellings') = '3/1/0',
                      'a refused allocation leaves capacity untouched');
SELECT pg_temp.expect((SELECT status FROM cases WHERE reference = 'REF-B') = 'registered', 'refused: case still registered');

-- No capacity row for a needed dimension (Vindeln has no school places).
SELECT pg_temp.expect_error(
    $$INSERT INTO allocations (case_id, municipality_code, period, batch_id) VALUES (pg_temp.cid('REF-B'), '2404', 2026, (SELECT max(id) FROM batches))$$,
    '23514', 'capacity_row_exists');
-- ... nor in another period.
SELECT pg_temp.expect_error(
    $$INSERT INTO allocations (case_id, municipality_code, period, batch_id, decision_reason) VALUES (pg_temp.cid('REF-E'), '2480', 2027, NULL, 'manual')$$,
    '23514', 'capacity_row_exists');

-- No household placed twice.
SELECT pg_temp.expect_error(
    $$INSERT INTO allocations (case_id, municipality_code, period, batch_id) VALUES (pg_temp.cid('REF-A'), '2460', 2026, (SELECT max(id) FROM batches))$$,
    '23505', 'allocations_one_active_per_case');

-- Manual placements, rejections and cancellations carry a reason.
SELECT pg_temp.expect_error(
    $$INSERT INTO allocations (case_id, municipality_code, period) VALUES (pg_temp.cid('REF-E'), '2460', 2026)$$,
    '23514', 'allocations_reason_required');
SELECT pg_temp.expect_error(
    $$UPDATE allocations SET status = 'rejected' WHERE id = pg_temp.active_alloc('REF-A')$$,
    '23514', 'allocations_reason_required');

-- The application cannot write what the database maintains.
SELECT pg_temp.expect_error($$UPDATE capacity SET used = 0 WHERE municipality_code = '2480'$$, 'P0001');
SELECT pg_temp.expect_error($$INSERT INTO capacity (municipality_code, period, dimension, quota, used) VALUES ('2401', 2026, 'persons', 5, 5)$$, 'P0001');
SELECT pg_temp.expect_error($$UPDATE cases SET status = 'placed' WHERE reference = 'REF-B'$$, 'P0001');
SELECT pg_temp.expect_error($$UPDATE cases SET status = 'registered' WHERE reference = 'REF-A'$$, 'P0001');
SELECT pg_temp.expect_error($$UPDATE allocations SET demand = '{}' WHERE id = pg_temp.active_alloc('REF-A')$$, 'P0001');
SELECT pg_temp.expect_error($$UPDATE allocations SET case_id = pg_temp.cid('REF-B') WHERE id = pg_temp.active_alloc('REF-A')$$, 'P0001');
SELECT pg_temp.expect_error($$DELETE FROM allocations WHERE id = pg_temp.active_alloc('REF-A')$$, 'P0001');
SELECT pg_temp.expect_error($$UPDATE capacity SET quota = 7 WHERE municipality_code = '2480' AND dimension = 'persons'$$, '23514', 'capacity_used_within_quota');
SELECT pg_temp.expect_error($$DELETE FROM capacity WHERE municipality_code = '2480' AND dimension = 'persons'$$, '23514', 'capacity_in_use');
SELECT pg_temp.expect_error($$TRUNCATE capacity$$, 'P0001');
SELECT pg_temp.expect_error($$TRUNCATE allocations$$, 'P0001');
SELECT pg_temp.expect_error($$DELETE FROM municipalities WHERE code = '2401'$$, 'P0001');

-- What an active allocation holds cannot change under it.
SELECT pg_temp.expect_error($$UPDATE cases SET ages = '{40}' WHERE reference = 'REF-A'$$, '23514', 'cases_demand_fixed_while_allocated');
SELECT pg_temp.expect_error($$INSERT INTO case_needs VALUES (pg_temp.cid('REF-A'), 'dialysis', 1)$$, '23514', 'cases_demand_fixed_while_allocated');
SELECT pg_temp.expect_error($$DELETE FROM case_needs WHERE case_id = pg_temp.cid('REF-A')$$, '23514', 'cases_demand_fixed_while_allocated');
SELECT pg_temp.expect_error($$UPDATE cases SET excluded = '{2480}' WHERE reference = 'REF-A'$$, '23514', 'allocations_not_excluded');

-- Confirm, then the only way on is cancel.
UPDATE allocations SET status = 'confirmed' WHERE id = pg_temp.active_alloc('REF-A');
SELECT pg_temp.expect((SELECT status FROM cases WHERE reference = 'REF-A') = 'placed', 'case follows: placed');
SELECT pg_temp.expect((SELECT decided_by FROM allocations WHERE id = pg_temp.active_alloc('REF-A')) = session_user::text,
                      'decided_by is the login (session_user)');
SELECT pg_temp.expect(pg_temp.cap('2480', 'persons') = '10/8/0', 'confirming consumes nothing more');
SELECT pg_temp.expect_error($$UPDATE allocations SET status = 'proposed' WHERE id = pg_temp.active_alloc('REF-A')$$, 'P0001');
SELECT pg_temp.expect_error($$UPDATE allocations SET status = 'rejected', decision_reason = 'x' WHERE id = pg_temp.active_alloc('REF-A')$$, 'P0001');

-- Moving an active allocation (override) releases the old and consumes the new.
UPDATE allocations SET municipality_code = '2460', decision_reason = 'closer to relatives'
 WHERE id = pg_temp.active_alloc('REF-A');
SELECT pg_temp.expect(pg_temp.cap('2480', 'persons') = '10/0/0' AND pg_temp.cap('2460', 'persons') = '10/8/0'
                      AND pg_temp.cap('2480', 'school_places') = '3/0/0' AND pg_temp.cap('2460', 'school_places') = '3/3/0',
                      'a move releases the old municipality and consumes the new');
SELECT pg_temp.expect((SELECT count(*) FROM audit_events WHERE action = 'allocation.overridden'
                        AND details ->> 'from_municipality' = '2480') = 1, 'the move is audited');

-- Reject frees.
INSERT INTO allocations (case_id, municipality_code, period, batch_id)
VALUES (pg_temp.cid('REF-B'), '2480', 2026, (SELECT max(id) FROM batches));
SELECT pg_temp.expect(pg_temp.cap('2480', 'persons') = '10/4/0' AND pg_temp.cap('2480', 'preschool_places') = '2/2/0',
                      'second proposal consumes');
UPDATE allocations SET status = 'rejected', decision_reason = 'no suitable dwelling'
 WHERE id = pg_temp.active_alloc('REF-B');
SELECT pg_temp.expect(pg_temp.cap('2480', 'persons') = '10/0/0' AND pg_temp.cap('2480', 'preschool_places') = '2/0/0'
                      AND pg_temp.cap('2480', 'school_places') = '3/0/0',
                      'reject frees the capacity');
SELECT pg_temp.expect((SELECT status FROM cases WHERE reference = 'REF-B') = 'registered', 'case follows: registered again');
SELECT pg_temp.expect_error(
    $$UPDATE allocations SET score = 1 WHERE case_id = pg_temp.cid('REF-B') AND status = 'rejected'$$, 'P0001');
-- ... and the case can be proposed again.
INSERT INTO allocations (case_id, municipality_code, period, batch_id)
VALUES (pg_temp.cid('REF-B'), '2480', 2026, (SELECT max(id) FROM batches));
SELECT pg_temp.expect(pg_temp.cap('2480', 'persons') = '10/4/0', 'a rejected case can be proposed again');

-- Excluded, withdrawn, inactive ------------------------------------------------------------

SELECT pg_temp.expect_error(
    $$INSERT INTO allocations (case_id, municipality_code, period, batch_id) VALUES (pg_temp.cid('REF-C'), '2480', 2026, (SELECT max(id) FROM batches))$$,
    '23514', 'allocations_not_excluded');
SELECT pg_temp.expect_error(
    $$INSERT INTO allocations (case_id, municipality_code, period, forced, decision_reason) VALUES (pg_temp.cid('REF-C'), '2480', 2026, true, 'forced')$$,
    '23514', 'allocations_not_excluded');

SELECT pg_temp.expect_error($$UPDATE cases SET status = 'withdrawn' WHERE reference = 'REF-C'$$, '23514', 'cases_withdrawn_reason');
UPDATE cases SET status = 'withdrawn', withdrawn_reason = 'moved abroad' WHERE reference = 'REF-C';
SELECT pg_temp.expect((SELECT withdrawn_at IS NOT NULL FROM cases WHERE reference = 'REF-C'), 'withdrawn_at set');
SELECT pg_temp.expect_error(
    $$INSERT INTO allocations (case_id, municipality_code, period, batch_id) VALUES (pg_temp.cid('REF-C'), '2460', 2026, (SELECT max(id) FROM batches))$$,
    '23514', 'allocations_case_not_withdrawn');

-- Withdrawing a case with an active allocation cancels it and releases capacity.
SELECT pg_temp.expect((SELECT status FROM cases WHERE reference = 'REF-B') = 'proposed', 'REF-B proposed');
UPDATE cases SET status = 'withdrawn', withdrawn_reason = 'declined the offer' WHERE reference = 'REF-B';
SELECT pg_temp.expect(pg_temp.cap('2480', 'persons') = '10/0/0' AND pg_temp.cap('2480', 'preschool_places') = '2/0/0',
                      'withdrawal releases the capacity');
SELECT pg_temp.expect((SELECT status FROM cases WHERE reference = 'REF-B') = 'withdrawn', 'case stays withdrawn');
SELECT pg_temp.expect(
    (SELECT status || ':' || decision_reason FROM allocations WHERE case_id = pg_temp.cid('REF-B') ORDER BY id DESC LIMIT 1)
    = 'cancelled:case withdrawn', 'its allocation is cancelled');
-- Reinstated, it is pending again.
UPDATE cases SET status = 'registered' WHERE reference = 'REF-B';
SELECT pg_temp.expect((SELECT withdrawn_at IS NULL AND withdrawn_reason IS NULL FROM cases WHERE reference = 'REF-B'),
                      'reinstated case clears withdrawal');

-- Deactivation: no new placements; open proposals there are cancelled; history stays.
INSERT INTO allocations (case_id, municipality_code, period, batch_id)
VALUES (pg_temp.cid('REF-E'), '2403', 2026, (SELECT max(id) FROM batches));
SELECT pg_temp.expect(pg_temp.cap('2403', 'persons') = '10/1/0', 'proposal in 2403');
UPDATE municipalities SET active = false WHERE code = '2403';
SELECT pg_temp.expect((SELECT deactivated_at IS NOT NULL FROM municipalities WHERE code = '2403'), 'deactivated_at set');
SELECT pg_temp.expect(pg_temp.cap('2403', 'persons') = '10/0/0'
                      AND (SELECT status FROM cases WHERE reference = 'REF-E') = 'registered',
                      'deactivation cancels open proposals and frees their cases');
SELECT pg_temp.expect_error(
    $$INSERT INTO allocations (case_id, municipality_code, period, batch_id) VALUES (pg_temp.cid('REF-E'), '2403', 2026, (SELECT max(id) FROM batches))$$,
    '23514', 'allocations_municipality_active');
SELECT pg_temp.expect_error(
    $$INSERT INTO allocations (case_id, municipality_code, period, forced, decision_reason) VALUES (pg_temp.cid('REF-E'), '2403', 2026, true, 'forced')$$,
    '23514', 'allocations_municipality_active');

-- Forced placements -------------------------------------------------------------------------

-- Fill 2460's persons: REF-A holds 8 of 10; REF-D (2 persons) takes the last two.
INSERT INTO allocations (case_id, municipality_code, period, batch_id)
VALUES (pg_temp.cid('REF-D'), '2460', 2026, (SELECT max(id) FROM batches));
SELECT pg_temp.expect(pg_temp.cap('2460', 'persons') = '10/10/0', '2460 persons full');
SELECT pg_temp.expect_error(
    $$INSERT INTO allocations (case_id, municipality_code, period, decision_reason) VALUES (pg_temp.cid('REF-E'), '2460', 2026, 'urgent')$$,
    '23514', 'capacity_used_within_quota');
-- Forced: allowed, counted beyond the quota; the dialysis row is created with quota 0.
INSERT INTO allocations (case_id, municipality_code, period, status, forced, decision_reason)
VALUES (pg_temp.cid('REF-F'), '2460', 2026, 'confirmed', true, 'medical urgency, decided by head of unit');
SELECT pg_temp.expect(pg_temp.cap('2460', 'persons') = '10/10/2' AND pg_temp.cap('2460', 'dwellings') = '3/3/0'
                      AND pg_temp.cap('2460', 'dialysis') = '0/0/2',
                      'a forced placement fills what is free, overflow goes to forced');
SELECT pg_temp.expect((SELECT status FROM cases WHERE reference = 'REF-F') = 'placed', 'forced placement: case placed');
SELECT pg_temp.expect((SELECT count(*) FROM audit_events WHERE action = 'allocation.forced' AND case_id = pg_temp.cid('REF-F')) = 1,
                      'the forced placement is audited as forced');
-- With overflow present nothing normal fits (dwellings raised so that persons decides).
UPDATE capacity SET quota = 5 WHERE municipality_code = '2460' AND period = 2026 AND dimension = 'dwellings';
SELECT pg_temp.expect_error(
    $$INSERT INTO allocations (case_id, municipality_code, period, batch_id) VALUES (pg_temp.cid('REF-E'), '2460', 2026, (SELECT max(id) FROM batches))$$,
    '23514', 'capacity_used_within_quota');
UPDATE capacity SET quota = 11 WHERE municipality_code = '2460' AND period = 2026 AND dimension = 'persons';
SELECT pg_temp.expect(pg_temp.cap('2460', 'persons') = '11/11/1', 'raising the quota absorbs overflow first');
-- Releasing a normal allocation drains the overflow first.
UPDATE allocations SET status = 'cancelled', decision_reason = 'family moved'
 WHERE id = pg_temp.active_alloc('REF-D');
SELECT pg_temp.expect(pg_temp.cap('2460', 'persons') = '11/10/0', 'releasing drains the overflow first');
SELECT pg_temp.expect_error($$UPDATE capacity SET quota = 8 WHERE municipality_code = '2460' AND period = 2026 AND dimension = 'persons'$$,
                            '23514', 'capacity_used_within_quota');

-- Audit trail ------------------------------------------------------------------------------

SELECT pg_temp.expect(
    (SELECT array_agg(action ORDER BY id) FROM audit_events WHERE case_id = pg_temp.cid('REF-B'))
    = '{case.registered,allocation.proposed,allocation.rejected,allocation.proposed,case.withdrawn,allocation.cancelled,case.reinstated}',
    'the trail of a case is complete and in order');
SELECT pg_temp.expect(
    (SELECT bool_and(actor = session_user::text) FROM audit_events), 'actor is the login (session_user)');
SELECT pg_temp.expect(
    (SELECT count(*) FROM audit_events WHERE action = 'capacity.quota_set') >= 20
    AND (SELECT count(*) FROM audit_events WHERE action = 'municipality.added') = 7
    AND (SELECT count(*) FROM audit_events WHERE action = 'municipality.deactivated') = 1,
    'capacity and municipality changes are audited');
SELECT pg_temp.expect(
    NOT EXISTS (SELECT 1 FROM audit_events WHERE details::text ~ 'REF-[A-Z]'
                OR details ? 'ages' OR details ? 'reference'),
    'no references or ages in the trail');
SELECT pg_temp.expect_error($$UPDATE audit_events SET actor = 'someone else'$$, '42501');
SELECT pg_temp.expect_error($$DELETE FROM audit_events$$, '42501');
SELECT pg_temp.expect_error($$TRUNCATE audit_events$$, '42501');
SELECT pg_temp.expect(NOT has_table_privilege('public', 'audit_events', 'UPDATE')
                      AND NOT has_table_privilege('public', 'audit_events', 'DELETE')
                      AND NOT has_table_privilege('public', 'audit_events', 'TRUNCATE'),
                      'PUBLIC holds no UPDATE, DELETE, TRUNCATE on audit_events');

-- Invariant over everything above: capacity equals what the active allocations hold.
SELECT pg_temp.expect(NOT EXISTS (
    WITH held AS (
        SELECT a.municipality_code, a.period, d.key AS dimension, sum(d.value::int) AS units
        FROM allocations a, jsonb_each_text(a.demand) d
        WHERE a.status IN ('proposed', 'confirmed')
        GROUP BY 1, 2, 3)
    SELECT 1 FROM capacity c FULL JOIN held h USING (municipality_code, period, dimension)
    WHERE coalesce(c.used + c.forced, 0) <> coalesce(h.units, 0)),
    'capacity used + forced equals the demand of the active allocations');
SELECT pg_temp.expect(NOT EXISTS (
    SELECT 1 FROM cases c LEFT JOIN allocations a ON a.case_id = c.id AND a.status IN ('proposed', 'confirmed')
    WHERE c.status <> CASE a.status WHEN 'proposed' THEN 'proposed' WHEN 'confirmed' THEN 'placed'
                                    ELSE CASE WHEN c.status = 'withdrawn' THEN 'withdrawn' ELSE 'registered' END END),
    'every case status matches its allocations');

\echo 'all 001_domain checks passed'
ROLLBACK;
