-- 013_anvisningar.sql — the reception year, part 1 (issue 11 §1): each household's anvisning,
-- its latest reception date and its category; the day a placement was received; the daily
-- record of households that became due or overdue.
--
-- Under the Settlement Act (2016:38) the Migration Agency assigns (anvisning) a household to
-- the cooperation, naming the latest date by which it is to be received: by default two
-- months after the anvisning, set per case where it is longer (quota refugees).
--   * cases.anvisning_on: the anvisning's date. NULL for a case registered before this
--     migration (nothing was recorded; such a case has no deadline). Reception fills it with
--     the arrival date when an officer gives none.
--   * cases.latest_reception_given: the date the anvisning names, when it names one;
--     cases.latest_reception_on: that date, else two months after the anvisning — the one
--     definition of the default, computed by the database (a generated column: no row trigger
--     slows the COPY of an import).
--   * cases.category: from the Migration Agency's accommodation, quota refugee, or temporary
--     protection. NULL before this migration (not recorded).
-- Officers write these when they register a case and never change them afterwards (no
-- UPDATE grant): a deadline is the Migration Agency's, not ours to move.
--
-- A household is "received" when its placement is confirmed. allocations.received_on is the
-- cooperation's date of that confirmation (reception_today(), so that a pinned clock pins it
-- too), set by the database; no role may write it.

ALTER TABLE cases
    ADD COLUMN anvisning_on date CHECK (anvisning_on >= date '1990-01-01'),
    ADD COLUMN latest_reception_given date,
    ADD COLUMN category text CHECK (category IN ('agency_accommodation', 'quota_refugee', 'temporary_protection')),
    ADD COLUMN latest_reception_on date
        GENERATED ALWAYS AS (coalesce(latest_reception_given, (anvisning_on + interval '2 months')::date)) STORED,
    ADD CONSTRAINT cases_latest_reception_after_anvisning CHECK (
        latest_reception_given IS NULL
        OR (anvisning_on IS NOT NULL AND latest_reception_given >= anvisning_on
            AND latest_reception_given <= anvisning_on + 730));

COMMENT ON COLUMN cases.latest_reception_on IS
    'The latest reception date: the one the anvisning names, else two months after the anvisning.';

-- The morning's list and the batch's "due first" read pending households by deadline.
CREATE INDEX cases_pending_deadline_idx ON cases (latest_reception_on, id)
    WHERE status IN ('registered', 'proposed') AND latest_reception_on IS NOT NULL;

GRANT INSERT (anvisning_on, latest_reception_given, category) ON cases TO reception_officer;

-- An anvisning is not in the future: a later date would move the household's deadline later.
-- Checked once per statement on its new rows (a CHECK cannot read reception_today(), and a row
-- trigger would slow an import's COPY).
CREATE FUNCTION cases_anvisning_not_future() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    IF TG_RELID <> 'public.cases'::pg_catalog.regclass THEN
        RAISE EXCEPTION 'trigger function cases_anvisning_not_future runs on public.cases only'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF EXISTS (SELECT 1 FROM new_cases WHERE anvisning_on > public.reception_today()) THEN
        RAISE EXCEPTION 'an anvisning date cannot be in the future'
            USING ERRCODE = 'check_violation', CONSTRAINT = 'cases_anvisning_not_future';
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER cases_anvisning_not_future
    AFTER INSERT ON cases REFERENCING NEW TABLE AS new_cases
    FOR EACH STATEMENT EXECUTE FUNCTION cases_anvisning_not_future();
REVOKE EXECUTE ON FUNCTION cases_anvisning_not_future() FROM PUBLIC;

ALTER TABLE allocations ADD COLUMN received_on date;
COMMENT ON COLUMN allocations.received_on IS
    'The cooperation''s date (reception_today()) on which the placement was confirmed; set by the database.';

CREATE FUNCTION allocations_received_on() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    IF TG_RELID <> 'public.allocations'::pg_catalog.regclass THEN
        RAISE EXCEPTION 'trigger function allocations_received_on runs on public.allocations only'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    -- Nobody writes it (no grant); the trigger is its only author, on every change.
    IF TG_OP = 'INSERT' THEN
        NEW.received_on := CASE WHEN NEW.status = 'confirmed' THEN public.reception_today() END;
    ELSIF NEW.status = 'confirmed' AND OLD.status <> 'confirmed' THEN
        NEW.received_on := public.reception_today();
    ELSIF NEW.status <> 'confirmed' THEN
        NEW.received_on := NULL;
    ELSE
        NEW.received_on := OLD.received_on;
    END IF;
    RETURN NEW;
END $$;

-- Only where there is something to set: a batch's 20,000 proposals run no function.
CREATE TRIGGER allocations_received_on_insert
    BEFORE INSERT ON allocations
    FOR EACH ROW WHEN (NEW.status = 'confirmed' OR NEW.received_on IS NOT NULL)
    EXECUTE FUNCTION allocations_received_on();
CREATE TRIGGER allocations_received_on_update
    BEFORE UPDATE ON allocations
    FOR EACH ROW WHEN (NEW.status IS DISTINCT FROM OLD.status OR NEW.received_on IS DISTINCT FROM OLD.received_on)
    EXECUTE FUNCTION allocations_received_on();
REVOKE EXECUTE ON FUNCTION allocations_received_on() FROM PUBLIC;

-- Households received on time or late, per municipality and period: the intake report's
-- columns, appended to the one definition of intake (a view's columns can only be added last).
CREATE OR REPLACE VIEW intake_by_municipality AS
SELECT a.period, a.municipality_code,
       coalesce(sum(cardinality(c.ages)) FILTER (WHERE a.status = 'confirmed'), 0)::bigint AS placed_persons,
       count(*) FILTER (WHERE a.status = 'confirmed') AS placed_households,
       coalesce(sum(cardinality(c.ages)) FILTER (WHERE a.status = 'proposed'), 0)::bigint AS proposed_persons,
       count(*) FILTER (WHERE a.status = 'proposed') AS proposed_households,
       coalesce(sum((SELECT count(*) FROM unnest(c.ages) age WHERE age < 18)) FILTER (WHERE a.status = 'confirmed'), 0)::bigint
           AS placed_children,
       count(*) FILTER (WHERE a.status = 'confirmed'
                        AND EXISTS (SELECT 1 FROM public.case_needs n WHERE n.case_id = c.id)) AS placed_with_needs,
       count(*) FILTER (WHERE a.forced) AS forced_placements,
       count(*) FILTER (WHERE a.status = 'confirmed' AND r.received_on <= c.latest_reception_on) AS received_on_time,
       count(*) FILTER (WHERE a.status = 'confirmed' AND r.received_on > c.latest_reception_on) AS received_late
FROM public.allocations a JOIN public.cases c ON c.id = a.case_id
-- A placement confirmed before this migration has no received_on: its decision's day stands in.
CROSS JOIN LATERAL (SELECT coalesce(a.received_on, (a.decided_at AT TIME ZONE s.time_zone)::date) AS received_on
                    FROM public.reception_settings s) r
WHERE a.status IN ('proposed', 'confirmed')
GROUP BY a.period, a.municipality_code;

-- Households still waiting (registered, or proposed and not yet confirmed) by their deadline,
-- as counts only, for every role: the intake report's "waiting past their date".
CREATE VIEW deadlines_overview AS
SELECT count(*) FILTER (WHERE c.latest_reception_on < public.reception_today()) AS waiting_past_date,
       count(*) FILTER (WHERE c.latest_reception_on >= public.reception_today()
                        AND c.latest_reception_on <= public.reception_today() + 14) AS due_within_14_days,
       count(*) FILTER (WHERE c.latest_reception_on IS NULL) AS without_date
FROM public.cases c
WHERE c.status IN ('registered', 'proposed');

GRANT SELECT ON deadlines_overview TO reception_officer, reception_auditor;

-- The daily deadline check (a periodic job of receptiond, `deadline-check`): for the morning's
-- list, which households became due soon (their date within the notice period) or overdue
-- (their date passed, still waiting), once each. Ids and dates only: the list joins cases for
-- the officer, who may read them.
CREATE TABLE deadline_notices (
    case_id   bigint NOT NULL REFERENCES cases (id),
    kind      text NOT NULL CHECK (kind IN ('due', 'overdue')),
    noticed_on date NOT NULL,
    latest_reception_on date NOT NULL,
    PRIMARY KEY (case_id, kind)
);
CREATE INDEX deadline_notices_day_idx ON deadline_notices (noticed_on);

-- The check itself, the one way a worker login may write notices: for every waiting household
-- whose date is at most 14 days away (due) or has passed (overdue) and that has no such notice
-- yet. Returns how many of each it recorded. The window is the database's, not the caller's: a
-- daemon that could choose it could record "due" months early and so hide the real notice
-- (one per household and kind).
CREATE FUNCTION deadline_check() RETURNS TABLE (due bigint, overdue bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    today date := public.reception_today();
    notice_days constant int := 14;
BEGIN
    RETURN QUERY
    WITH recorded AS (
        INSERT INTO public.deadline_notices (case_id, kind, noticed_on, latest_reception_on)
        SELECT c.id, CASE WHEN c.latest_reception_on < today THEN 'overdue' ELSE 'due' END, today, c.latest_reception_on
        FROM public.cases c
        WHERE c.status IN ('registered', 'proposed') AND c.latest_reception_on <= today + notice_days
        ON CONFLICT (case_id, kind) DO NOTHING
        RETURNING kind)
    SELECT count(*) FILTER (WHERE kind = 'due'), count(*) FILTER (WHERE kind = 'overdue') FROM recorded;
END $$;

REVOKE EXECUTE ON FUNCTION deadline_check() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION deadline_check() TO reception_worker;
GRANT SELECT ON deadline_notices TO reception_officer, reception_worker;
