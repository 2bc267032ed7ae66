-- 016_quota_revisions.sql — the reception year, part 4 (issue 11 §5, its first item): a revised
-- quota is recorded with its day and reason.
--
-- A county's figure can change mid-year (in 2024 the national figure went from 2,800 to
-- 18,800). `reception capacity set … --reason` revises an existing quota through
-- revise_quota: the quota changes (audited as capacity.quota_set, as any change) and a
-- revision row keeps the cooperation's day (reception_today()), the previous and new quota, who
-- and why. Batches after it use the new quota, since they read capacity. Nobody writes the
-- revisions directly; auditors read them without the free-text reason (as the trail).

CREATE TABLE quota_revisions (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    municipality_code text NOT NULL REFERENCES municipalities (code),
    period            int NOT NULL CHECK (period BETWEEN 2000 AND 2100),
    dimension         text NOT NULL REFERENCES dimensions (name),
    previous          int NOT NULL,
    quota             int NOT NULL,
    revised_on        date NOT NULL,
    reason            text NOT NULL CHECK (btrim(reason) <> '' AND length(reason) <= 500),
    revised_by        text NOT NULL DEFAULT current_actor(),
    revised_at        timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION revise_quota(p_municipality text, p_period int, p_dimension text, p_quota int, p_reason text)
RETURNS int
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    before int;
BEGIN
    PERFORM public.current_actor();  -- a deactivated officer cannot act
    IF p_reason IS NULL OR pg_catalog.btrim(p_reason) = '' OR pg_catalog.length(p_reason) > 500 THEN
        RAISE EXCEPTION 'a revised quota needs a reason (at most 500 characters)' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_quota IS NULL OR p_quota < 0 THEN
        RAISE EXCEPTION 'a quota is a whole number, 0 or more' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT k.quota INTO before FROM public.capacity k
     WHERE k.municipality_code = p_municipality AND k.period = p_period AND k.dimension = p_dimension
       FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'municipality % has no % quota for % to revise', p_municipality, p_period, p_dimension
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Set it first (reception capacity set, without --reason).';
    END IF;
    -- capacity_used_within_quota refuses a quota below what is allocated (23514); the audit
    -- trigger records the change as every quota change.
    UPDATE public.capacity SET quota = p_quota
     WHERE municipality_code = p_municipality AND period = p_period AND dimension = p_dimension;
    INSERT INTO public.quota_revisions (municipality_code, period, dimension, previous, quota, revised_on, reason)
    VALUES (p_municipality, p_period, p_dimension, before, p_quota, public.reception_today(), p_reason);
    RETURN before;
END $$;

REVOKE EXECUTE ON FUNCTION revise_quota(text, int, text, int, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION revise_quota(text, int, text, int, text) TO reception_officer;
GRANT SELECT ON quota_revisions TO reception_officer;

CREATE VIEW quota_revisions_redacted AS
SELECT r.id, r.municipality_code, r.period, r.dimension, r.previous, r.quota, r.revised_on, r.revised_by
FROM public.quota_revisions r;
GRANT SELECT ON quota_revisions_redacted TO reception_officer, reception_auditor;
