-- 023_settings_audited.sql — a change of the cooperation's settings leaves an audit event.
--
-- reception_settings holds what every rule reads: the time zone (when a day, and so a period,
-- begins), a fixed "today" (a rehearsal's clock) and what batches count (households or
-- persons). Only the schema owner changes them, but an auditor must be able to see when and by
-- whom: an intake counted in persons since March, a clock left fixed after a rehearsal. One
-- event per setting changed, with its old and new value (settings, never personal data);
-- columns added later are covered without touching this trigger.

CREATE FUNCTION reception_settings_audit() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    IF TG_RELID <> 'public.reception_settings'::pg_catalog.regclass THEN
        RAISE EXCEPTION 'trigger function reception_settings_audit runs on public.reception_settings only'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    INSERT INTO public.audit_events (action, details)
    SELECT 'settings.changed', pg_catalog.jsonb_build_object('setting', n.key, 'from', o.value, 'to', n.value)
    FROM pg_catalog.jsonb_each(pg_catalog.to_jsonb(NEW)) n
    JOIN pg_catalog.jsonb_each(pg_catalog.to_jsonb(OLD)) o ON o.key = n.key
    WHERE n.value IS DISTINCT FROM o.value
    ORDER BY n.key;
    RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION reception_settings_audit() FROM PUBLIC;

CREATE TRIGGER reception_settings_audit
    AFTER UPDATE ON reception_settings
    FOR EACH ROW EXECUTE FUNCTION reception_settings_audit();

-- Auditors see these events whole: a setting is no one's personal data. (The rest of the view
-- as sql/008 made it.)
CREATE OR REPLACE VIEW audit_trail_redacted AS
SELECT e.id, e.at, e.actor, e.action, e.case_id, e.municipality_code, e.allocation_id, e.batch_id,
       (SELECT coalesce(pg_catalog.jsonb_object_agg(d.key, d.value), '{}'::jsonb)
        FROM pg_catalog.jsonb_each(e.details) d
        WHERE e.action = 'settings.changed'
           OR d.key = ANY (ARRAY['status', 'from', 'period', 'forced', 'from_municipality', 'from_period',
                                 'name', 'joined_on', 'active', 'dimension', 'quota', 'previous', 'login'])) AS details
FROM public.audit_events e
WHERE NOT (e.action = 'capacity.quota_set' AND coalesce((e.details ->> 'by_forced_allocation')::boolean, false))
  AND e.action <> 'case.needs_changed';
