-- 019_forecast_files.sql — the reception year, part 7 (issue 11 §3, its second item): a forecast
-- the officer supplies, for a new installation without 12 months of arrivals to resample, or an
-- officer who knows better (`batch run --forecast FILE`).
--
-- The households of the file are part of the batch's request, written by request_batch with
-- the batch and its job in one transaction, and fixed afterwards like the rest of the request:
-- the daemon reads them, nobody changes them. They are expected households, not persons: no
-- reference, no date, never placed; they are kept with their batch (batches are never deleted),
-- readable by officers and the daemon, not by auditors. The batch uses them as its forecast as
-- they are, or resamples `expected` of them when the officer gives that figure (ReceptionKit's
-- BatchForecast), and only when its request says it has a file (`summary.forecast_file`).

CREATE TABLE batch_forecast_households (
    batch_id    bigint NOT NULL REFERENCES batches (id) ON DELETE CASCADE,
    position    int NOT NULL CHECK (position BETWEEN 1 AND 5000),
    ages        int[] NOT NULL CHECK (cardinality(ages) BETWEEN 1 AND 100 AND array_position(ages, NULL) IS NULL
                                  AND 0 <= ALL (ages) AND 120 >= ALL (ages)),
    -- {dimension: units}; request_batch checks the names against `dimensions`.
    needs       jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(needs) = 'object'),
    language    text CHECK (length(language) <= 16),
    occupations text[] NOT NULL DEFAULT '{}' CHECK (cardinality(occupations) <= 20 AND array_position(occupations, NULL) IS NULL),
    family_ties text[] NOT NULL DEFAULT '{}' CHECK (cardinality(family_ties) <= 50 AND array_position(family_ties, NULL) IS NULL),
    preferences text[] NOT NULL DEFAULT '{}' CHECK (cardinality(preferences) <= 50 AND array_position(preferences, NULL) IS NULL),
    excluded    text[] NOT NULL DEFAULT '{}' CHECK (cardinality(excluded) <= 50 AND array_position(excluded, NULL) IS NULL),
    PRIMARY KEY (batch_id, position)
);

COMMENT ON TABLE batch_forecast_households IS
    'Households an officer expects later in the period, given with a batch request (issue 11 §3): a forecast, never placed.';

-- The request with a forecast file: as the six-argument request_batch, then the file's
-- households, each checked, in the same transaction (so the daemon never sees the batch
-- without them). `p_forecast` is a JSON array of {ages, needs, language, occupations,
-- family_ties, preferences, excluded}; NULL or an empty array: no file.
CREATE FUNCTION request_batch(p_period int, p_dry_run boolean, p_time_limit double precision,
                              p_municipalities text[], p_look_ahead boolean, p_expected int, p_forecast jsonb)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    new_batch bigint;
    households int;
    unknown text;
BEGIN
    IF p_forecast IS NOT NULL AND pg_catalog.jsonb_typeof(p_forecast) <> 'array' THEN
        RAISE EXCEPTION 'the forecast must be a JSON array of households' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    households := coalesce(pg_catalog.jsonb_array_length(p_forecast), 0);
    IF households > 5000 THEN
        RAISE EXCEPTION 'a forecast holds at most 5000 households (this one %)', households USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF households > 0 AND p_look_ahead IS FALSE THEN
        RAISE EXCEPTION 'a batch that does not look ahead takes no forecast' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    new_batch := public.request_batch(p_period, p_dry_run, p_time_limit, p_municipalities, p_look_ahead, p_expected);
    IF households = 0 THEN
        RETURN new_batch;
    END IF;
    SELECT n.key INTO unknown
      FROM pg_catalog.jsonb_array_elements(p_forecast) AS h(value),
           LATERAL pg_catalog.jsonb_each(CASE WHEN pg_catalog.jsonb_typeof(h.value -> 'needs') = 'object'
                                              THEN h.value -> 'needs' ELSE '{}'::jsonb END) AS n(key, value)
     WHERE NOT EXISTS (SELECT 1 FROM public.dimensions d WHERE d.name = n.key)
        OR CASE WHEN pg_catalog.jsonb_typeof(n.value) = 'number' AND n.value::text ~ '^[0-9]{1,4}$'
                THEN n.value::text::int NOT BETWEEN 1 AND 1000 ELSE true END
     LIMIT 1;
    IF unknown IS NOT NULL THEN
        RAISE EXCEPTION 'a forecast household needs % (not a known dimension with 1 to 1000 units)', pg_catalog.quote_literal(unknown)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    BEGIN
        INSERT INTO public.batch_forecast_households
               (batch_id, position, ages, needs, language, occupations, family_ties, preferences, excluded)
        SELECT new_batch, h.position::int,
               ARRAY(SELECT pg_catalog.jsonb_array_elements_text(h.value -> 'ages'))::int[],
               coalesce(h.value -> 'needs', '{}'::jsonb),
               h.value ->> 'language',
               coalesce(ARRAY(SELECT pg_catalog.jsonb_array_elements_text(h.value -> 'occupations')), '{}'),
               coalesce(ARRAY(SELECT pg_catalog.jsonb_array_elements_text(h.value -> 'family_ties')), '{}'),
               coalesce(ARRAY(SELECT pg_catalog.jsonb_array_elements_text(h.value -> 'preferences')), '{}'),
               coalesce(ARRAY(SELECT pg_catalog.jsonb_array_elements_text(h.value -> 'excluded')), '{}')
          FROM pg_catalog.jsonb_array_elements(p_forecast) WITH ORDINALITY AS h(value, position);
    EXCEPTION WHEN check_violation OR not_null_violation OR invalid_text_representation
                   OR numeric_value_out_of_range OR invalid_parameter_value THEN
        RAISE EXCEPTION 'a forecast household is not valid (ages 0 to 120, at most 100 members, lists of text)'
            USING ERRCODE = 'invalid_parameter_value';
    END;
    UPDATE public.batches SET summary = summary || pg_catalog.jsonb_build_object('forecast_file', households)
     WHERE id = new_batch;
    RETURN new_batch;
END $$;

REVOKE EXECUTE ON FUNCTION request_batch(int, boolean, double precision, text[], boolean, int, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION request_batch(int, boolean, double precision, text[], boolean, int, jsonb) TO reception_officer;

-- Fixed with the request: only the owner writes the file (request_batch above), and only while
-- the batch it belongs to is being requested (queued, its file not yet recorded in its
-- summary); nobody updates or deletes a household of it.
CREATE FUNCTION batch_forecast_households_fixed() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    IF TG_RELID <> 'public.batch_forecast_households'::pg_catalog.regclass THEN
        RAISE EXCEPTION 'trigger function batch_forecast_households_fixed runs on public.batch_forecast_households only'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF TG_OP = 'INSERT' AND EXISTS (SELECT 1 FROM public.batches b WHERE b.id = NEW.batch_id AND b.status = 'queued'
                                                                   AND b.summary -> 'forecast_file' IS NULL) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'the forecast of a batch request cannot change' USING ERRCODE = 'raise_exception';
END $$;

CREATE TRIGGER batch_forecast_households_fixed
    BEFORE INSERT OR UPDATE OR DELETE ON batch_forecast_households
    FOR EACH ROW EXECUTE FUNCTION batch_forecast_households_fixed();
REVOKE EXECUTE ON FUNCTION batch_forecast_households_fixed() FROM PUBLIC;

-- The 'forecast_file' key of a batch's summary is the request's too.
CREATE OR REPLACE FUNCTION batches_look_ahead_fixed() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    IF TG_RELID <> 'public.batches'::pg_catalog.regclass THEN
        RAISE EXCEPTION 'trigger function batches_look_ahead_fixed runs on public.batches only'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF (NEW.summary -> 'look_ahead', NEW.summary -> 'expected', NEW.summary -> 'forecast_file')
       IS DISTINCT FROM (OLD.summary -> 'look_ahead', OLD.summary -> 'expected', OLD.summary -> 'forecast_file')
       AND NOT (OLD.summary -> 'forecast_file' IS NULL AND OLD.status = 'queued'
                AND (OLD.summary -> 'look_ahead' IS NULL AND OLD.summary -> 'expected' IS NULL
                     OR (NEW.summary -> 'look_ahead', NEW.summary -> 'expected')
                        IS NOT DISTINCT FROM (OLD.summary -> 'look_ahead', OLD.summary -> 'expected'))
                AND (SELECT c.relowner FROM pg_catalog.pg_class c WHERE c.oid = TG_RELID)
                    = pg_catalog.quote_ident(current_user)::pg_catalog.regrole::pg_catalog.oid) THEN
        RAISE EXCEPTION 'the request of batch % cannot change', OLD.id USING ERRCODE = 'raise_exception';
    END IF;
    RETURN NEW;
END $$;

REVOKE ALL ON batch_forecast_households FROM PUBLIC;
-- The daemon reads the file to build the batch's forecast; an officer reads what was requested.
GRANT SELECT ON batch_forecast_households TO reception_worker, reception_officer;
