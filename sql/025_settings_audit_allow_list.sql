-- 025_settings_audit_allow_list.sql — auditors see a settings change whole only for the
-- settings known to hold no personal data.
--
-- sql/023 showed every settings.changed event whole to auditors, so a column added to
-- reception_settings later (whatever it held) would reach them unread. Now the three settings
-- of today — time zone, fixed today, what batches count — are shown whole; any other shows its
-- name only, until a migration that adds it says it may be shown. (The rest of the view as
-- sql/008 made it.)
--
-- A correction to sql/024's comment: its rule stops a worker login from moving a periodic
-- slot far ahead, not from delaying one: a compromised worker can still move it a day ahead,
-- again and again, or hold the maintenance lead and enqueue nothing. The worker login is
-- trusted with the queue's schedule; the rule only takes away the silent, permanent version.

CREATE OR REPLACE VIEW audit_trail_redacted AS
SELECT e.id, e.at, e.actor, e.action, e.case_id, e.municipality_code, e.allocation_id, e.batch_id,
       (SELECT coalesce(pg_catalog.jsonb_object_agg(d.key, d.value), '{}'::jsonb)
        FROM pg_catalog.jsonb_each(e.details) d
        WHERE CASE WHEN e.action = 'settings.changed'
                   THEN d.key = 'setting'
                        OR (e.details ->> 'setting' = ANY (ARRAY['time_zone', 'fixed_today', 'counts'])
                            AND d.key = ANY (ARRAY['from', 'to']))
                   ELSE d.key = ANY (ARRAY['status', 'from', 'period', 'forced', 'from_municipality', 'from_period',
                                           'name', 'joined_on', 'active', 'dimension', 'quota', 'previous', 'login'])
              END) AS details
FROM public.audit_events e
WHERE NOT (e.action = 'capacity.quota_set' AND coalesce((e.details ->> 'by_forced_allocation')::boolean, false))
  AND e.action <> 'case.needs_changed';
