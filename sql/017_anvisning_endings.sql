-- 017_anvisning_endings.sql — the reception year, part 5 (issue 11 §5, its third item): a
-- declined or cancelled anvisning ends the case with a cause, and the intake report counts them.
--
-- Withdrawing already ends a case and frees what it held (cases_after_status cancels its
-- active allocation). What was missing is why, in a form a report can count: the person
-- declined the anvisning, moved on their own (found housing themselves, left the country), the
-- Migration Agency cancelled it, or another cause. The free-text reason stays beside it. The
-- cause is set only with a withdrawal (withdraw_case) and cleared by reinstating (a trigger);
-- nobody but the schema's owner updates cases.

ALTER TABLE cases ADD COLUMN withdrawn_cause text
    CONSTRAINT cases_withdrawn_cause CHECK (withdrawn_cause IN ('declined', 'moved_on_own', 'cancelled', 'other'));
-- Cases withdrawn before causes were recorded.
UPDATE cases SET withdrawn_cause = 'other' WHERE status = 'withdrawn';
ALTER TABLE cases ADD CONSTRAINT cases_withdrawn_cause_set
    CHECK ((status = 'withdrawn') = (withdrawn_cause IS NOT NULL));

-- Entering withdrawn without a cause (the owner's own UPDATE, or withdraw_case without one)
-- withdraws with cause 'other', and leaving it (reinstate_case) clears the cause, so the CHECK
-- holds on every path. Only rows
-- entering or leaving withdrawn fire it, never a batch's status changes.
CREATE FUNCTION cases_withdrawn_cause() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    IF TG_RELID <> 'public.cases'::pg_catalog.regclass THEN
        RAISE EXCEPTION 'trigger function cases_withdrawn_cause runs on public.cases only'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NEW.status = 'withdrawn' THEN
        NEW.withdrawn_cause := coalesce(NEW.withdrawn_cause, 'other');
    ELSE
        NEW.withdrawn_cause := NULL;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER cases_withdrawn_cause
    BEFORE UPDATE OF status ON cases
    FOR EACH ROW
    WHEN (OLD.status IS DISTINCT FROM NEW.status AND (OLD.status = 'withdrawn' OR NEW.status = 'withdrawn'))
    EXECUTE FUNCTION cases_withdrawn_cause();
REVOKE EXECUTE ON FUNCTION cases_withdrawn_cause() FROM PUBLIC;

DROP FUNCTION withdraw_case(bigint, text);
-- The cause is checked by the column's CHECK (cases_withdrawn_cause, the one list of causes);
-- none given is 'other' (the trigger cases_withdrawn_cause above).
CREATE FUNCTION withdraw_case(p_case_id bigint, p_reason text, p_cause text DEFAULT NULL) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    current_status text;
BEGIN
    IF p_reason IS NULL OR pg_catalog.btrim(p_reason) = '' OR pg_catalog.length(p_reason) > 500 THEN
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
    UPDATE public.cases SET status = 'withdrawn', withdrawn_reason = pg_catalog.btrim(p_reason), withdrawn_cause = p_cause
     WHERE id = p_case_id;
END $$;

-- The cause in the trail too (the reason stays out of the auditors' redacted view, as before).
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
                pg_catalog.jsonb_build_object('from', OLD.status, 'reason', NEW.withdrawn_reason, 'cause', NEW.withdrawn_cause));
        UPDATE public.allocations
           SET status = 'cancelled', decision_reason = 'case withdrawn'
         WHERE case_id = NEW.id AND status IN ('proposed', 'confirmed');
    ELSE
        INSERT INTO public.audit_events (action, case_id) VALUES ('case.reinstated', NEW.id);
    END IF;
    RETURN NULL;
END $$;

REVOKE EXECUTE ON FUNCTION withdraw_case(bigint, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION withdraw_case(bigint, text, text) TO reception_officer;

-- Anvisningar of a period that ended without reception, by cause: the period is the year of
-- the anvisning (or, for cases registered without one, of arrival). Figures only, for every role.
CREATE VIEW anvisning_endings AS
SELECT pg_catalog.date_part('year', coalesce(c.anvisning_on, c.arrived_on))::int AS period,
       c.withdrawn_cause AS cause, pg_catalog.count(*)::int AS households
FROM public.cases c
WHERE c.status = 'withdrawn'
GROUP BY 1, 2;
GRANT SELECT ON anvisning_endings TO reception_officer, reception_auditor;
