-- 018_quota_transfers.sql — the reception year, part 6 (issue 11 §5, its second item): two
-- municipalities transfer quota by agreement, recorded once.
--
-- transfer_quota moves units of one dimension's quota from one municipality to another in one
-- transaction: the giver's quota goes down (refused below what it has allocated, by
-- capacity_used_within_quota), the receiver's goes up (a quota row of 0 is created for it if it
-- had none), both changes are audited as every quota change, and one transfer row keeps the
-- cooperation's day, both sides, who and why. Batches after it use both new quotas, as far as
-- each municipality's plan has released them (capacity_released: a receiver whose plan covers
-- the dimension gets the new units when its plan releases them). Nobody writes transfers
-- directly; auditors read them without the free-text reason.

CREATE TABLE quota_transfers (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    period            int NOT NULL CHECK (period BETWEEN 2000 AND 2100),
    dimension         text NOT NULL REFERENCES dimensions (name),
    from_municipality text NOT NULL REFERENCES municipalities (code),
    to_municipality   text NOT NULL REFERENCES municipalities (code),
    units             int NOT NULL CHECK (units > 0),
    agreed_on         date NOT NULL,
    reason            text NOT NULL CHECK (btrim(reason) <> '' AND length(reason) <= 500),
    recorded_by       text NOT NULL DEFAULT current_actor(),
    recorded_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT quota_transfers_two_sides CHECK (from_municipality <> to_municipality)
);

CREATE FUNCTION transfer_quota(p_from text, p_to text, p_period int, p_dimension text, p_units int, p_reason text)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    transfer_id bigint;
BEGIN
    PERFORM public.current_actor();  -- a deactivated officer cannot act
    IF p_reason IS NULL OR pg_catalog.btrim(p_reason) = '' OR pg_catalog.length(p_reason) > 500 THEN
        RAISE EXCEPTION 'a quota transfer needs a reason (the agreement; at most 500 characters)' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_units IS NULL OR p_units <= 0 THEN
        RAISE EXCEPTION 'a transfer moves 1 or more units' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_from IS NULL OR p_to IS NULL OR p_from = p_to THEN
        RAISE EXCEPTION 'a transfer is between two different municipalities' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM public.municipalities m WHERE m.code = p_from) THEN
        RAISE EXCEPTION 'municipality % (giving) does not exist', p_from USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM public.municipalities m WHERE m.code = p_to) THEN
        RAISE EXCEPTION 'municipality % (receiving) does not exist', p_to USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM public.dimensions d WHERE d.name = p_dimension) THEN
        RAISE EXCEPTION 'there is no dimension %', p_dimension
            USING ERRCODE = 'invalid_parameter_value', HINT = 'reception capacity show lists the dimensions in use.';
    END IF;
    -- Both quota rows locked in one order, so that two opposite transfers cannot deadlock.
    INSERT INTO public.capacity (municipality_code, period, dimension, quota)
    VALUES (p_to, p_period, p_dimension, 0)
    ON CONFLICT (municipality_code, period, dimension) DO NOTHING;
    PERFORM 1 FROM public.capacity k
     WHERE k.municipality_code IN (p_from, p_to) AND k.period = p_period AND k.dimension = p_dimension
     ORDER BY k.municipality_code FOR UPDATE;
    IF NOT EXISTS (SELECT 1 FROM public.capacity k
                   WHERE k.municipality_code = p_from AND k.period = p_period AND k.dimension = p_dimension
                     AND k.quota >= p_units) THEN
        RAISE EXCEPTION 'municipality % has less than % of % quota for % to give', p_from, p_units, p_dimension, p_period
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- capacity_used_within_quota refuses a giver's quota below what it has allocated (23514).
    UPDATE public.capacity SET quota = quota - p_units
     WHERE municipality_code = p_from AND period = p_period AND dimension = p_dimension;
    UPDATE public.capacity SET quota = quota + p_units
     WHERE municipality_code = p_to AND period = p_period AND dimension = p_dimension;
    INSERT INTO public.quota_transfers (period, dimension, from_municipality, to_municipality, units, agreed_on, reason)
    VALUES (p_period, p_dimension, p_from, p_to, p_units, public.reception_today(), p_reason)
    RETURNING id INTO transfer_id;
    RETURN transfer_id;
END $$;

REVOKE EXECUTE ON FUNCTION transfer_quota(text, text, int, text, int, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION transfer_quota(text, text, int, text, int, text) TO reception_officer;
GRANT SELECT ON quota_transfers TO reception_officer;

CREATE VIEW quota_transfers_redacted AS
SELECT t.id, t.period, t.dimension, t.from_municipality, t.to_municipality, t.units, t.agreed_on, t.recorded_by
FROM public.quota_transfers t;
GRANT SELECT ON quota_transfers_redacted TO reception_officer, reception_auditor;
