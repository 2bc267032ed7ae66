-- 004_clock.sql — one clock for "today" and the current period.
--
-- Reception's "today" is the database's date in the cooperation's time zone (Umeåregionen:
-- Europe/Stockholm), not the date of whichever host runs a command: an override at 00:30 on
-- 1 January Swedish time counts against the new year, and every host agrees. Everything that
-- needs "today" — a municipality's default joining date, the current period, waiting days,
-- the batch's "joined by" rule, the intake report — takes it from reception_today().
--
-- fixed_today pins the clock to one day, for a rehearsal or training database and for the
-- test suite (which must pass on any real date). Only the schema owner can set it; a normal
-- installation leaves it NULL, and `reception db status` warns when it is set.

CREATE TABLE reception_settings (
    -- One row: the primary key can only be true.
    singleton   boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    time_zone   text NOT NULL DEFAULT 'Europe/Stockholm',
    fixed_today date CHECK (fixed_today >= date '2000-01-01' AND fixed_today < date '2100-01-01')
);

COMMENT ON TABLE reception_settings IS
    'The cooperation''s settings (one row): its time zone, and a fixed "today" for rehearsals and tests.';

-- An unknown zone name would make every date computation fail later; refuse it when it is set.
CREATE FUNCTION reception_settings_check() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    IF TG_TABLE_SCHEMA <> 'public' OR TG_TABLE_NAME <> 'reception_settings' THEN
        RAISE EXCEPTION 'trigger function % runs on public.reception_settings only', 'reception_settings_check'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_timezone_names WHERE name = NEW.time_zone) THEN
        RAISE EXCEPTION 'unknown time zone %', NEW.time_zone
            USING ERRCODE = 'check_violation', CONSTRAINT = 'reception_settings_time_zone',
                  HINT = 'Use an IANA name such as Europe/Stockholm.';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER reception_settings_check
    BEFORE INSERT OR UPDATE ON reception_settings
    FOR EACH ROW EXECUTE FUNCTION reception_settings_check();

INSERT INTO reception_settings DEFAULT VALUES;

-- STABLE: one value per statement, like now().
CREATE FUNCTION reception_today() RETURNS date
LANGUAGE sql STABLE SET search_path = pg_catalog, public, pg_temp
AS $$ SELECT coalesce(s.fixed_today, (pg_catalog.now() AT TIME ZONE s.time_zone)::date)
      FROM public.reception_settings s $$;

-- A period is a calendar year (capacity.period).
CREATE FUNCTION reception_period() RETURNS int
LANGUAGE sql STABLE SET search_path = pg_catalog, public, pg_temp
AS $$ SELECT extract(year FROM public.reception_today())::int $$;

ALTER TABLE municipalities ALTER COLUMN joined_on SET DEFAULT reception_today();

GRANT SELECT ON reception_settings TO reception_officer, reception_worker, reception_auditor;
