import Foundation
import Postgres
import ReceptionKit
import Testing
import TestSupport

/// Trust §1: the schema's functions and triggers cannot be borrowed, misled or planted around.
@Suite("Security: functions and triggers cannot be borrowed")
struct BorrowedFunctionTests {
    static let triggerFunctions: Query = """
        SELECT p.proname AS name FROM pg_proc p
        WHERE p.pronamespace = 'public'::regnamespace AND p.prorettype = 'trigger'::regtype ORDER BY 1
        """

    /// The attack of the issue: a login attaches a SECURITY DEFINER trigger function to a TEMP
    /// table of its own so that it runs as the schema owner. CREATE TRIGGER needs EXECUTE on
    /// the function, which nobody but the owner has.
    @Test func noRoleCanAttachTheSchemasTriggerFunctionsToATableOfItsOwn() async throws {
        try await SecurityGround.with { ground in
            let before = try await ground.fingerprint()
            let names = try await ground.admin.query(Self.triggerFunctions).map { try $0.decode("name", as: String.self) }
            #expect(names.contains("allocations_account") && names.count >= 15)
            let officer = try await ground.logins.connect(.officer)
            try await officer.execute("CREATE TEMP TABLE hijack (id bigint)")
            for name in names {
                await expectRefused(Query(stringLiteral: """
                    CREATE TRIGGER borrowed BEFORE INSERT ON pg_temp.hijack FOR EACH ROW EXECUTE FUNCTION public.\(name)()
                    """), on: officer, .insufficientPrivilege)
            }
            // The worker and the auditor cannot even create a temporary table.
            for role in [TestLogins.Role.worker, .auditor] {
                await expectRefused("CREATE TEMP TABLE hijack (id bigint)", on: try await ground.logins.connect(role), .insufficientPrivilege)
            }
            #expect(try await ground.fingerprint() == before)
        }
    }

    /// Even with EXECUTE (the owner has it), each trigger function refuses to run on any table
    /// but its own, before it touches anything.
    @Test func everyTriggerFunctionRefusesToRunOnAnotherTable() async throws {
        try await SecurityGround.with { ground in
            let before = try await ground.fingerprint()
            let names = try await ground.admin.query(Self.triggerFunctions).map { try $0.decode("name", as: String.self) }
            try await ground.admin.execute("CREATE TEMP TABLE borrowed (id bigint)")
            for name in names {
                try await ground.admin.executeScript("""
                    DROP TRIGGER IF EXISTS borrowed ON pg_temp.borrowed;
                    CREATE TRIGGER borrowed BEFORE INSERT ON pg_temp.borrowed FOR EACH ROW EXECUTE FUNCTION public.\(name)();
                    """)
                do {
                    try await ground.admin.execute("INSERT INTO pg_temp.borrowed VALUES (1)")
                    Issue.record("\(name) ran on a table not its own")
                } catch let PostgresError.server(error) {
                    // The check of its own table, not whatever the body would have done.
                    #expect(error.sqlState == .insufficientPrivilege && error.message.contains("runs on"), "\(name): \(error)")
                }
            }
            #expect(try await ground.fingerprint() == before)
        }
    }

    /// Every function of the schema resolves names in pg_catalog first and is closed to
    /// PUBLIC; a function the migrating role creates later starts closed as well.
    @Test func functionsResolvePgCatalogFirstAndAreClosedToPublic() async throws {
        try await SecurityGround.with { ground in
            let open = try await ground.admin.query("""
                SELECT p.proname AS name FROM pg_proc p
                WHERE p.pronamespace = 'public'::regnamespace
                  AND (p.proconfig IS NULL OR NOT 'search_path=pg_catalog, public, pg_temp' = ANY (p.proconfig)
                       OR has_function_privilege('public', p.oid, 'EXECUTE'))
                """).map { try $0.decode("name", as: String.self) }
            #expect(open == [])
            try await ground.admin.execute("CREATE FUNCTION public.added_later() RETURNS int LANGUAGE sql AS 'SELECT 1'")
            let later = try await ground.admin.query("SELECT has_function_privilege('public', 'public.added_later()', 'EXECUTE') AS open")
            #expect(try later[0].decode("open", as: Bool.self) == false)
            await expectRefused("SELECT public.added_later()", on: try await ground.logins.connect(.officer), .insufficientPrivilege)
        }
    }

    /// A TEMP table called `capacity` (or `cases`), first on the officer's search_path, does
    /// not change what the triggers read: they name public's tables.
    @Test func aTemporaryTableNamedLikeTheSchemasCannotMisleadTheTriggers() async throws {
        try await SecurityGround.with(cases: 4) { ground in
            // Umeå's 9 persons are full: three households of 3.
            for reference in ["MIG-2026-1001", "MIG-2026-1002", "MIG-2026-1003"] {
                _ = try await Allocations.override(caseReference: reference, to: "2480", period: 2026, reason: "setup",
                                                   force: false, on: ground.admin)
            }
            let before = try await ground.fingerprint()
            let officer = try await ground.logins.connect(.officer)
            try await officer.executeScript("""
                CREATE TEMP TABLE capacity (LIKE public.capacity INCLUDING DEFAULTS);
                INSERT INTO pg_temp.capacity (municipality_code, period, dimension, quota)
                SELECT '2480', 2026, name, 1000 FROM public.dimensions;
                CREATE TEMP TABLE cases (LIKE public.cases);
                SET search_path = pg_temp, public;
                """)
            await expectRefused("""
                INSERT INTO allocations (case_id, municipality_code, period, status, decision_reason)
                SELECT id, '2480', 2026, 'confirmed', 'over the top' FROM public.cases WHERE reference = 'MIG-2026-1004'
                """, on: officer, .checkViolation)
            #expect(try await ground.fingerprint() == before)

            // The invoker guard on needs (in 001 it read an unqualified `cases`): a TEMP
            // `cases` saying the placed household is merely registered changes nothing.
            try await officer.executeScript("""
                INSERT INTO pg_temp.cases SELECT * FROM public.cases;
                UPDATE pg_temp.cases SET status = 'registered';
                """)
            await expectRefused("""
                INSERT INTO case_needs (case_id, dimension, units)
                SELECT id, 'trauma_care', 1 FROM public.cases WHERE reference = 'MIG-2026-1001'
                """, on: officer, .checkViolation)
            #expect(try await ground.fingerprint() == before)
        }
    }

    /// On a server where PUBLIC may create in schema public (PostgreSQL 14 and older, or one
    /// upgraded from it), the migrations close it, so nobody can plant a
    /// public.jsonb_build_object(...) for a function to pick up. And a login with no
    /// Reception role cannot even connect.
    @Test func aPlantedFunctionNeedsCreateOnPublicWhichTheMigrationsTakeAway() async throws {
        // The roles are the cluster's: let the shared template create them first, so that two
        // migrations do not create them at once.
        try await TestDatabase.withMigratedDatabase { _ in }
        try await TestDatabase.withEmptyDatabase { url in
            let admin = try await Connection.connect(url)
            try await admin.executeScript("GRANT CREATE ON SCHEMA public TO PUBLIC")
            let migrator = try Migrator(directory: TestDatabase.sqlDirectory)
            try await migrator.migrate(on: admin)
            try await Migrations.secureDatabase(on: admin)
            try await TestLogins.with(database: url) { logins in
                let canCreate = try await admin.query("SELECT has_schema_privilege('public', 'public', 'CREATE') AS open")
                #expect(try canCreate[0].decode("open", as: Bool.self) == false)
                for role in [TestLogins.Role.officer, .worker, .auditor] {
                    let connection = try await logins.connect(role)
                    await expectRefused("""
                        CREATE FUNCTION public.jsonb_build_object(text, text, text, integer) RETURNS jsonb
                        LANGUAGE sql AS $$ SELECT '{}'::jsonb $$
                        """, on: connection, .insufficientPrivilege)
                    await expectRefused("CREATE TABLE public.planted (id int)", on: connection, .insufficientPrivilege)
                }
                do {
                    _ = try await logins.connect(.outsider)
                    Issue.record("a login with no Reception role connected to the database")
                } catch let PostgresError.connectionFailed(reason) {
                    #expect(reason.contains("permission denied"), "\(reason)")
                }
            }
        }
    }

    /// No pg_trigger_depth() as an authority: an officer's own trigger cannot change a case's
    /// status (it has no privilege to), nor can the officer directly; withdrawing goes through
    /// withdraw_case, which is audited.
    @Test func anOfficersOwnTriggerCannotChangeAStatus() async throws {
        try await SecurityGround.with { ground in
            let before = try await ground.fingerprint()
            let officer = try await ground.logins.connect(.officer)
            try await officer.executeScript("""
                CREATE FUNCTION pg_temp.flip() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN UPDATE public.cases SET status = 'placed'; RETURN NULL; END $$;
                CREATE TEMP TABLE t (id int);
                CREATE TRIGGER flip AFTER INSERT ON pg_temp.t FOR EACH ROW EXECUTE FUNCTION pg_temp.flip();
                """)
            await expectRefused("INSERT INTO pg_temp.t VALUES (1)", on: officer, .insufficientPrivilege)
            await expectRefused("UPDATE cases SET status = 'withdrawn', withdrawn_reason = 'x'", on: officer, .insufficientPrivilege)
            await expectRefused("UPDATE cases SET needs_revision = 0", on: officer, .insufficientPrivilege)
            #expect(try await ground.fingerprint() == before)
            // The audited path works, and checks its arguments.
            let id = try await ground.caseID("MIG-2026-1006")
            await expectRefused("SELECT withdraw_case(\(id), '  ')", on: officer, .checkViolation)
            try await officer.execute("SELECT withdraw_case(\(id), 'moved on')")
            #expect(try await WorkflowFixture.caseStatus("MIG-2026-1006", on: ground.admin) == "withdrawn")
            await expectRefused("SELECT withdraw_case(\(id), 'again')", on: officer, .checkViolation)
        }
    }
}
