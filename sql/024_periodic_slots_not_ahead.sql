-- 024_periodic_slots_not_ahead.sql — a periodic job's last slot is never far in the future.
--
-- The worker login moves `job_periodic.last_slot` forward as the elected daemon enqueues each
-- slot (sql/011). A compromised worker could move it to the year 3000 and so silence retention
-- and the daily deadline check for good, with nothing in any log. A slot is the daemon's clock
-- (time is an input), so the rule is not "no slot after now()" but "none more than a day after
-- the server's clock": room for any sane clock skew, none for a silenced schedule.

CREATE FUNCTION job_periodic_check() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    IF TG_RELID <> 'public.job_periodic'::pg_catalog.regclass THEN
        RAISE EXCEPTION 'trigger function job_periodic_check runs on public.job_periodic only'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NEW.last_slot > pg_catalog.now() + interval '1 day' THEN
        RAISE EXCEPTION 'periodic job %: slot % is more than a day ahead of the database server''s clock', NEW.name, NEW.last_slot
            USING ERRCODE = 'check_violation', CONSTRAINT = 'job_periodic_slot_not_ahead',
                  HINT = 'Check the clock of the host that runs receptiond.';
    END IF;
    RETURN NEW;
END $$;
REVOKE ALL ON FUNCTION job_periodic_check() FROM PUBLIC;

CREATE TRIGGER job_periodic_check
    BEFORE INSERT OR UPDATE ON job_periodic
    FOR EACH ROW EXECUTE FUNCTION job_periodic_check();

-- A slot moved ahead before this rule: back to now, so that the next slot is enqueued.
UPDATE job_periodic SET last_slot = now() WHERE last_slot > now() + interval '1 day';
