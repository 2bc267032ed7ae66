-- 014_look_ahead_batches.sql — the reception year, part 2 (issue 11 §3): a batch looks ahead.
--
-- By default a batch passes the engine a forecast of the rest of the period, resampled from
-- the cooperation's last 12 months of arrivals (ReceptionKit's BatchForecast). The officer may
-- turn it off for one batch (`batch run --no-look-ahead`) or say how many households are still
-- expected (`--expected N`). Both are part of the batch's request, written by request_batch
-- with the batch and fixed afterwards like its time limit: the daemon reads them, never sets
-- them.

CREATE FUNCTION request_batch(p_period int, p_dry_run boolean, p_time_limit double precision,
                              p_municipalities text[], p_look_ahead boolean, p_expected int)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    new_batch bigint;
BEGIN
    IF p_expected IS NOT NULL AND NOT (p_expected BETWEEN 0 AND 1000000) THEN
        RAISE EXCEPTION 'the expected households must be between 0 and 1000000' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- The request as before (its checks, the batch and its job), then the look-ahead settings.
    new_batch := public.request_batch(p_period, p_dry_run, p_time_limit, p_municipalities);
    UPDATE public.batches
       SET summary = summary || pg_catalog.jsonb_build_object('look_ahead', coalesce(p_look_ahead, true))
                   || CASE WHEN p_expected IS NOT NULL THEN pg_catalog.jsonb_build_object('expected', p_expected)
                           ELSE '{}'::jsonb END
     WHERE id = new_batch;
    RETURN new_batch;
END $$;

REVOKE EXECUTE ON FUNCTION request_batch(int, boolean, double precision, text[], boolean, int) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION request_batch(int, boolean, double precision, text[], boolean, int) TO reception_officer;

-- The look-ahead settings are the request's: only the table's owner (request_batch above) sets
-- them, once, while the batch is queued; nobody changes them afterwards.
CREATE FUNCTION batches_look_ahead_fixed() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    IF TG_RELID <> 'public.batches'::pg_catalog.regclass THEN
        RAISE EXCEPTION 'trigger function batches_look_ahead_fixed runs on public.batches only'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF (NEW.summary -> 'look_ahead', NEW.summary -> 'expected')
       IS DISTINCT FROM (OLD.summary -> 'look_ahead', OLD.summary -> 'expected')
       AND NOT (OLD.summary -> 'look_ahead' IS NULL AND OLD.summary -> 'expected' IS NULL AND OLD.status = 'queued'
                AND (SELECT c.relowner FROM pg_catalog.pg_class c WHERE c.oid = TG_RELID)
                    = pg_catalog.quote_ident(current_user)::pg_catalog.regrole::pg_catalog.oid) THEN
        RAISE EXCEPTION 'the request of batch % cannot change', OLD.id USING ERRCODE = 'raise_exception';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER batches_look_ahead_fixed
    BEFORE UPDATE ON batches
    FOR EACH ROW WHEN (NEW.summary IS DISTINCT FROM OLD.summary)
    EXECUTE FUNCTION batches_look_ahead_fixed();
REVOKE EXECUTE ON FUNCTION batches_look_ahead_fixed() FROM PUBLIC;
