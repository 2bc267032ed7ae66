-- 005_identity.sql — who acted is the authenticated login, which no session can forge.
--
-- Until now the actor was a setting (reception.actor) that any session could SET, so the
-- worker could sign a proposal as "Anna Lind". From here on every audit event and every
-- created_by / decided_by / requested_by records session_user: the login that authenticated.
-- SET ROLE changes current_user, not session_user, and SET SESSION AUTHORIZATION needs a
-- superuser, so no application session can change it.
--
-- People's names are shown from `officers`, a table kept by an administrator (`reception
-- officer add LOGIN NAME`). The trail keeps logins, so a renamed or departed officer's
-- history stays exact. A deactivated officer's login can no longer act.

CREATE TABLE officers (
    login          text PRIMARY KEY CHECK (login <> '' AND length(login) <= 63),
    name           text NOT NULL CHECK (btrim(name) <> '' AND length(name) <= 100),
    active         boolean NOT NULL DEFAULT true,
    added_at       timestamptz NOT NULL DEFAULT now(),
    deactivated_at timestamptz,
    CONSTRAINT officers_deactivated_iff_inactive CHECK (active = (deactivated_at IS NULL))
);

COMMENT ON TABLE officers IS
    'Display names of the logins that act in Reception; kept by an administrator. The audit trail records logins.';

-- The one definition of "who is acting". SECURITY DEFINER so that it can read officers for any
-- role; it takes no argument and returns only the caller's own login.
CREATE OR REPLACE FUNCTION current_actor() RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM public.officers o WHERE o.login = session_user::text AND NOT o.active) THEN
        RAISE EXCEPTION 'login % is deactivated in Reception and can no longer act', session_user
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'An administrator can reactivate it: reception officer reactivate LOGIN.';
    END IF;
    RETURN session_user::text;
END $$;

CREATE FUNCTION officers_before() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    IF TG_RELID <> 'public.officers'::pg_catalog.regclass THEN
        RAISE EXCEPTION 'trigger function officers_before runs on public.officers only'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'officer % cannot be deleted', OLD.login
            USING ERRCODE = 'raise_exception', HINT = 'Deactivate the login; its history stays.';
    END IF;
    IF TG_OP = 'UPDATE' AND NEW.login <> OLD.login THEN
        RAISE EXCEPTION 'the login of an officer cannot change' USING ERRCODE = 'raise_exception';
    END IF;
    IF NOT NEW.active AND (TG_OP = 'INSERT' OR OLD.active) THEN
        NEW.deactivated_at := pg_catalog.now();
    ELSIF NEW.active THEN
        NEW.deactivated_at := NULL;
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER officers_before
    BEFORE INSERT OR UPDATE OR DELETE ON officers
    FOR EACH ROW EXECUTE FUNCTION officers_before();

-- AFTER, so that an upsert that renames (INSERT ... ON CONFLICT DO UPDATE) is one "renamed".
CREATE FUNCTION officers_audit() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    IF TG_RELID <> 'public.officers'::pg_catalog.regclass THEN
        RAISE EXCEPTION 'trigger function officers_audit runs on public.officers only'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF TG_OP = 'UPDATE' AND (NEW.name, NEW.active) IS NOT DISTINCT FROM (OLD.name, OLD.active) THEN
        RETURN NULL;
    END IF;
    -- The actor of these events is the administrator; the officer's login is in details.
    INSERT INTO public.audit_events (action, details)
    VALUES ('officer.' || CASE WHEN TG_OP = 'INSERT' THEN 'added'
                               WHEN NEW.active AND NOT OLD.active THEN 'reactivated'
                               WHEN OLD.active AND NOT NEW.active THEN 'deactivated'
                               ELSE 'renamed' END,
            pg_catalog.jsonb_build_object('login', NEW.login, 'name', NEW.name));
    RETURN NULL;
END $$;

CREATE TRIGGER officers_audit
    AFTER INSERT OR UPDATE ON officers
    FOR EACH ROW EXECUTE FUNCTION officers_audit();

-- The identity columns take session_user from now on (their defaults call current_actor()).
-- allocations.created_by / decided_by are also set by the allocation trigger (006).
