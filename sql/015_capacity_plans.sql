-- 015_capacity_plans.sql — the reception year, part 3 (issue 11 §2): a municipality releases
-- its yearly quota over the year by a plan.
--
-- A plan is, per municipality, period and dimension, a list of releases: so many units
-- available from a day (`persons=10/month` is twelve releases of 10 on the first of each
-- month; a dwelling is one release on the day it becomes available). On a day, the quota a
-- batch may use is what the plan has released by then, at most the quota, less what is used
-- (capacity_released below, the one definition). Without a plan for a dimension, the whole
-- quota is released, as before. The plan binds batches; an officer's override stays bound by
-- the quota alone (the database's guarantee), since it is a decision about one household.
--
-- Officers set a dimension's plan whole, through set_capacity_plan (audited); nobody writes
-- the table directly. Everybody may read it: it names no person.

CREATE TABLE capacity_plan (
    municipality_code text NOT NULL REFERENCES municipalities (code),
    period            int NOT NULL CHECK (period BETWEEN 2000 AND 2100),
    dimension         text NOT NULL REFERENCES dimensions (name),
    available_from    date NOT NULL,
    units             int NOT NULL CHECK (units BETWEEN 1 AND 1000000),
    PRIMARY KEY (municipality_code, period, dimension, available_from),
    CONSTRAINT capacity_plan_within_period CHECK (extract(year FROM available_from) = period)
);

COMMENT ON TABLE capacity_plan IS
    'Releases of a municipality''s quota over its period: units available from a day (issue 11 §2).';

-- What the plan of (municipality, period, dimension) has released by `day`, at most `quota`;
-- the whole quota when the dimension has no plan.
CREATE FUNCTION capacity_released(p_municipality text, p_period int, p_dimension text, p_quota int, p_day date)
RETURNS int
LANGUAGE sql STABLE SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM public.capacity_plan p
                                 WHERE p.municipality_code = p_municipality AND p.period = p_period
                                   AND p.dimension = p_dimension)
                THEN p_quota
                ELSE least(p_quota, coalesce((SELECT sum(p.units)::int FROM public.capacity_plan p
                                              WHERE p.municipality_code = p_municipality AND p.period = p_period
                                                AND p.dimension = p_dimension AND p.available_from <= p_day), 0))
           END
$$;

-- Replaces the plan of one dimension: `releases` is a JSON array of {"from": "YYYY-MM-DD",
-- "units": N}; an empty array removes the plan (the whole quota is released again). Audited.
CREATE FUNCTION set_capacity_plan(p_municipality text, p_period int, p_dimension text, p_releases jsonb)
RETURNS int
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    total int;
    releases int;
BEGIN
    PERFORM public.current_actor();  -- a deactivated officer cannot act
    IF p_releases IS NULL OR pg_catalog.jsonb_typeof(p_releases) <> 'array' THEN
        RAISE EXCEPTION 'the releases must be a JSON array' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- A plan spreads a quota: the dimension must have one for the period.
    IF NOT EXISTS (SELECT 1 FROM public.capacity k WHERE k.municipality_code = p_municipality
                   AND k.period = p_period AND k.dimension = p_dimension) THEN
        RAISE EXCEPTION 'municipality % has no % quota for %', p_municipality, p_period, p_dimension
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Set the quota first (reception capacity set).';
    END IF;
    IF EXISTS (SELECT 1 FROM pg_catalog.jsonb_array_elements(p_releases) r
               WHERE pg_catalog.jsonb_typeof(r) <> 'object'
                  OR pg_catalog.jsonb_typeof(r -> 'from') IS DISTINCT FROM 'string'
                  OR pg_catalog.jsonb_typeof(r -> 'units') NOT IN ('number', 'string')) THEN
        RAISE EXCEPTION 'each release is {"from": "YYYY-MM-DD", "units": N}' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    DELETE FROM public.capacity_plan
     WHERE municipality_code = p_municipality AND period = p_period AND dimension = p_dimension;
    INSERT INTO public.capacity_plan (municipality_code, period, dimension, available_from, units)
    SELECT p_municipality, p_period, p_dimension, (r ->> 'from')::date, (r ->> 'units')::int
    FROM pg_catalog.jsonb_array_elements(p_releases) AS r;
    SELECT count(*), coalesce(sum(units), 0) INTO releases, total FROM public.capacity_plan
     WHERE municipality_code = p_municipality AND period = p_period AND dimension = p_dimension;
    INSERT INTO public.audit_events (action, municipality_code, details)
    VALUES ('capacity.plan_set', p_municipality,
            pg_catalog.jsonb_build_object('period', p_period, 'dimension', p_dimension,
                                          'releases', releases, 'total', total));
    RETURN releases;
END $$;

REVOKE EXECUTE ON FUNCTION set_capacity_plan(text, int, text, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION set_capacity_plan(text, int, text, jsonb) TO reception_officer;
GRANT SELECT ON capacity_plan TO reception_officer, reception_worker, reception_auditor;
GRANT EXECUTE ON FUNCTION capacity_released(text, int, text, int, date) TO reception_officer, reception_worker, reception_auditor;

-- Received households and persons per municipality, period and month of reception (the month
-- of allocations.received_on, sql/013; a reception outside its period's year counts in its
-- first or last month), as counts only: the intake report's plan against intake, for every role.
CREATE VIEW intake_by_month AS
SELECT a.period, a.municipality_code,
       CASE WHEN extract(year FROM r.received_on)::int < a.period THEN 1
            WHEN extract(year FROM r.received_on)::int > a.period THEN 12
            ELSE extract(month FROM r.received_on)::int END AS month,
       count(*) AS households, coalesce(sum(cardinality(c.ages)), 0)::bigint AS persons
FROM public.allocations a JOIN public.cases c ON c.id = a.case_id
-- A placement confirmed before sql/013 has no received_on: its decision's day stands in.
CROSS JOIN LATERAL (SELECT coalesce(a.received_on, (a.decided_at AT TIME ZONE s.time_zone)::date) AS received_on
                    FROM public.reception_settings s) r
WHERE a.status = 'confirmed' AND r.received_on IS NOT NULL
GROUP BY 1, 2, 3;

GRANT SELECT ON intake_by_month TO reception_officer, reception_auditor;
