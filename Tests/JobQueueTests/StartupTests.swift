import Foundation
import Postgres
import ReceptionKit
import Testing
import TestSupport

/// A daemon pointed at the wrong place fails fast and says what to fix; one that cannot reach
/// its server gives up after its retry budget; SIGTERM ends it while it is still connecting.
@Suite("Daemon start: configuration errors fail fast")
struct StartupTests {
    /// Exit 78 for a database or role that does not exist, without retrying (how fast is a
    /// figure for the note, not an assertion: 20 s is only the guard against a hang).
    @Test(arguments: ["database", "role"])
    func aMissingDatabaseOrRoleExits78Quickly(missing: String) async throws {
        let server = try TestDatabase.serverURL()
        let url = missing == "database"
            ? TestDatabase.url(server, database: "no_such_database_\(UUID().uuidString.prefix(6).lowercased())")
            : TestDatabase.url(server, user: "no_such_role_\(UUID().uuidString.prefix(6).lowercased())")
        let daemon = try DaemonProcess(url: url, [])
        let status = await daemon.waitForExit(timeout: .seconds(20))
        #expect(status == 78, "\(daemon.log)")
        #expect(daemon.log.contains("does not exist"))
        #expect(!daemon.log.contains("reconnecting"))
        #expect(daemon.log.contains("--database-url"))
    }

    /// A wrong password is a configuration error: exit 78 at once, not retried (a retry could
    /// lock the account), and the password is not repeated. The test cluster trusts local
    /// logins except this one role's (scripts/db puts its scram-sha-256 line first), so with
    /// trust in its place the daemon would log in and the test fail.
    @Test func aWrongPasswordExits78AtOnceWithoutRepeatingIt() async throws {
        try await TestDatabase.withMigratedDatabase { url in
            // A role of no standing (no grants, no membership) with a password made for this
            // run, dropped again at the end: nothing in the repository logs in as it.
            let password = "probe-" + UUID().uuidString.lowercased()
            let server = try await Connection.connect(url)
            try await server.executeScript("""
                DROP ROLE IF EXISTS reception_password_probe;
                CREATE ROLE reception_password_probe LOGIN PASSWORD '\(password)';
                DO $$ BEGIN
                    EXECUTE format('GRANT CONNECT ON DATABASE %I TO reception_password_probe', current_database());
                END $$;
                """)
            let drop = """
                DO $$ BEGIN
                    EXECUTE format('REVOKE CONNECT ON DATABASE %I FROM reception_password_probe', current_database());
                END $$;
                DROP ROLE IF EXISTS reception_password_probe;
                """
            do {
                let login = TestDatabase.url(url, user: "reception_password_probe")
                let wrong = login + (login.contains("://") ? "&" : " ") + "password=not-the-password-91c2"
                let daemon = try DaemonProcess(url: wrong, [])
                let status = await daemon.waitForExit(timeout: .seconds(20))
                #expect(status == 78, "\(daemon.log)")
                #expect(daemon.log.contains("password authentication failed"), "\(daemon.log)")
                #expect(!daemon.log.contains("reconnecting"))
                #expect(!daemon.log.contains("not-the-password-91c2"))
                // The right password logs in (the line above is what refused the wrong one).
                let right = login + (login.contains("://") ? "&" : " ") + "password=\(password)"
                let connection = try await Connection.connect(right)
                #expect(try await connection.query("SELECT session_user AS u")[0].decode("u", as: String.self) == "reception_password_probe")
            } catch {
                try? await server.executeScript(drop)
                throw error
            }
            try await server.executeScript(drop)
        }
    }

    /// A connection string libpq cannot read is a configuration error, and the value it could
    /// not read (here with a password glued to it) is not repeated in the log.
    @Test func anUnreadableConnectionStringExits78WithoutItsValue() async throws {
        let daemon = try DaemonProcess(url: "host=/nonexistent dbname=reception target_session_attrs=read-write&password=hunter2", [])
        let status = await daemon.waitForExit(timeout: .seconds(20))
        #expect(status == 78, "\(daemon.log)")
        #expect(daemon.log.contains("target_session_attrs"))
        #expect(!daemon.log.contains("hunter2"))
        #expect(!daemon.log.contains("reconnecting"))
    }

    /// An unmigrated database is a configuration error too.
    @Test func anUnmigratedDatabaseExits78() async throws {
        try await TestDatabase.withEmptyDatabase { url in
            let daemon = try DaemonProcess(url: url, [])
            #expect(await daemon.waitForExit(timeout: .seconds(20)) == 78, "\(daemon.log)")
        }
    }

    /// A database migrated by an older release (here: its newest migration taken back) has a
    /// queue but not what this build's handlers use: a configuration error, said at start, not
    /// a batch failing later on a missing table.
    @Test func aDatabaseBehindThisBuildsMigrationsExits78() async throws {
        try await TestDatabase.withMigratedDatabase { url in
            let admin = try await Connection.connect(url)
            try await admin.execute("DELETE FROM schema_migrations WHERE version = \(Migrations.required)")
            try await TestLogins.with(database: url) { logins in
                let daemon = try DaemonProcess(url: logins.url(.worker), [])
                #expect(await daemon.waitForExit(timeout: .seconds(20)) == 78, "\(daemon.log)")
                #expect(daemon.log.contains("migrations up to \(Migrations.required - 1)") && daemon.log.contains("reception db migrate"),
                        "\(daemon.log)")
                // With the record back, the same login starts and drains.
                try await admin.execute("""
                    INSERT INTO schema_migrations (version, name, checksum, duration_ms) VALUES (\(Migrations.required), 'restored', 'x', 0)
                    """)
                let again = try DaemonProcess(url: logins.url(.worker), ["--drain"])
                #expect(await again.waitForExit(timeout: .seconds(20)) == 0, "\(again.log)")
            }
        }
    }

    /// A record taken out of the middle (the newest still there) is as much a database behind
    /// this build: the check looks at every migration, not only the newest.
    @Test func aMigrationMissingFromTheMiddleExits78() async throws {
        try await TestDatabase.withMigratedDatabase { url in
            let admin = try await Connection.connect(url)
            let row = try await admin.query("DELETE FROM schema_migrations WHERE version = 7 RETURNING name, checksum")[0]
            let name = try row.decode("name", as: String.self), checksum = try row.decode("checksum", as: String.self)
            try await TestLogins.with(database: url) { logins in
                let daemon = try DaemonProcess(url: logins.url(.worker), [])
                #expect(await daemon.waitForExit(timeout: .seconds(20)) == 78, "\(daemon.log)")
                #expect(daemon.log.contains("but not 7") && daemon.log.contains("reception db migrate"), "\(daemon.log)")
                try await admin.execute("""
                    INSERT INTO schema_migrations (version, name, checksum, duration_ms) VALUES (7, \(name), \(checksum), 0)
                    """)
                let again = try DaemonProcess(url: logins.url(.worker), ["--drain"])
                #expect(await again.waitForExit(timeout: .seconds(20)) == 0, "\(again.log)")
            }
        }
    }

    /// The migration receptiond requires is the newest in sql/, and the files are numbered
    /// 1, 2, … without a gap (the startup check asks for every number up to it).
    @Test func theRequiredMigrationIsTheNewest() throws {
        let versions = try Migrator(directory: TestDatabase.sqlDirectory).migrations.map(\.version).sorted()
        #expect(versions.last == Migrations.required)
        #expect(versions == Array(1...Migrations.required))
    }

    /// No server at all: retried (and said) until the budget ends, then exit 69.
    @Test func anUnreachableServerExits69AfterItsBudget() async throws {
        let socketFolder = FileManager.default.temporaryDirectory.appendingPathComponent("no-server-\(UUID().uuidString.prefix(6))").path
        try FileManager.default.createDirectory(atPath: socketFolder, withIntermediateDirectories: true)
        let daemon = try DaemonProcess(url: "host=\(socketFolder) port=5999 dbname=reception", ["--startup-timeout", "2s"])
        let status = await daemon.waitForExit(timeout: .seconds(30))
        #expect(status == 69, "\(daemon.log)")
        #expect(daemon.log.contains("reconnecting") || daemon.log.contains("unavailable"))
    }

    /// SIGTERM while the daemon is still trying to connect ends it at once, with 0.
    @Test func sigtermWhileConnectingEndsItPromptly() async throws {
        let socketFolder = FileManager.default.temporaryDirectory.appendingPathComponent("no-server-\(UUID().uuidString.prefix(6))").path
        try FileManager.default.createDirectory(atPath: socketFolder, withIntermediateDirectories: true)
        let daemon = try DaemonProcess(url: "host=\(socketFolder) port=5999 dbname=reception", ["--startup-timeout", "5m"])
        // Once it says it is retrying, it is running (its signal handlers are in place).
        try await QueueTest.waitUntil("the daemon retries", timeout: .seconds(30)) { daemon.log.contains("reconnecting") }
        daemon.signal(SIGTERM)
        // Before, it waited for the grace period and 30 s more; the guard is below that.
        let status = await daemon.waitForExit(timeout: .seconds(25))
        #expect(status == 0, "\(daemon.log)")
    }

    /// SIGTERM in the moment before the daemon's service group starts (here held open by a
    /// testing delay) ends it with 0 once it can, as a later one does: the signal's default
    /// action would kill it (143).
    @Test func sigtermBeforeTheServicesStartEndsItWith0() async throws {
        let socketFolder = FileManager.default.temporaryDirectory.appendingPathComponent("no-server-\(UUID().uuidString.prefix(6))").path
        try FileManager.default.createDirectory(atPath: socketFolder, withIntermediateDirectories: true)
        let daemon = try DaemonProcess(url: "host=\(socketFolder) port=5999 dbname=reception",
                                       ["--startup-timeout", "5m", "--testing-start-delay", "2s"])
        try await QueueTest.waitUntil("the daemon holds its start", timeout: .seconds(30)) { daemon.log.contains("holding the start") }
        daemon.signal(SIGTERM)
        daemon.signal(SIGINT)
        let status = await daemon.waitForExit(timeout: .seconds(25))
        #expect(status == 0, "\(daemon.log)")
    }

    /// SIGTERM while libpq's blocking connect waits for a server that accepted the TCP
    /// connection and never answers (a hung host; here with no connect_timeout at all) ends the
    /// daemon within its grace period: the connect is left behind, not waited for.
    @Test func sigtermDuringABlockingConnectEndsItWithinTheGracePeriod() async throws {
        let listener = try SilentListener()
        defer { listener.close() }
        let daemon = try DaemonProcess(url: "host=127.0.0.1 port=\(listener.port) dbname=reception connect_timeout=0",
                                       ["--grace-period", "1s", "--startup-timeout", "5m"])
        try await QueueTest.waitUntil("the daemon connects", timeout: .seconds(30)) { listener.acceptOne() }
        // Its signal handlers are in place by then; a moment more, so that libpq waits in earnest.
        try await Task.sleep(for: .milliseconds(500))
        daemon.signal(SIGTERM)
        // Without leaving the connect behind it would wait for ever; the guard is only that,
        // far above the 1 s grace period.
        let status = await daemon.waitForExit(timeout: .seconds(30))
        #expect(status == 0, "\(daemon.log)")
    }

    /// SIGTERM while the daemon's database is out of reach (its sessions ended and new ones
    /// refused: the database's connection limit, which binds the worker's login) ends it with
    /// 0 within its grace period and a few seconds: the claim stops retrying once the daemon
    /// stops, and the hand-back and goodbye try once. It used to retry until the service
    /// group's last-resort deadline (grace period + 30 s) cancelled it.
    @Test func sigtermDuringAnOutageEndsTheDaemonPromptly() async throws {
        try await TestDatabase.withMigratedDatabase { url in
            try await TestLogins.with(database: url) { logins in
                let admin = try await Connection.connect(url)
                let daemon = try DaemonProcess(url: logins.url(.worker), ["--grace-period", "1s"])
                try await QueueTest.waitUntil("the daemon started", timeout: .seconds(30)) { daemon.log.contains("worker started") }
                let database = try await admin.query("SELECT current_database() AS name")[0].decode("name", as: String.self)
                try await admin.executeScript("ALTER DATABASE \"\(database)\" CONNECTION LIMIT 0")
                _ = try await admin.query("""
                    SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                    WHERE datname = current_database() AND usename = \(logins.login(.worker))
                    """)
                try await QueueTest.waitUntil("the daemon tries to reconnect", timeout: .seconds(30)) { daemon.log.contains("reconnecting") }
                try await Task.sleep(for: .seconds(1))   // into its retries, refused each time
                daemon.signal(SIGTERM)
                // Far below the old 31 s (1 s grace + 30 s), far above the few seconds it takes.
                let status = await daemon.waitForExit(timeout: .seconds(20))
                try await admin.executeScript("ALTER DATABASE \"\(database)\" CONNECTION LIMIT -1")
                #expect(status == 0, "exit status \(status.map(String.init) ?? "none within 20 s"); \(daemon.log.suffix(3000))")
                #expect(daemon.log.contains("could not hand this daemon's jobs back to the queue"), "it says what it could not do")
            }
        }
    }

    /// A login the database does not let work the queue (an officer's, say) would claim nothing
    /// for ever: a configuration error, said at once.
    @Test func aLoginThatMayNotWorkTheQueueExits78() async throws {
        try await TestDatabase.withMigratedDatabase { url in
            try await TestLogins.with(database: url) { logins in
                let daemon = try DaemonProcess(url: logins.url(.officer), [])
                #expect(await daemon.waitForExit(timeout: .seconds(20)) == 78, "\(daemon.log)")
                #expect(daemon.log.contains("may not work the queue") && daemon.log.contains("reception_worker"), "\(daemon.log)")
            }
        }
    }
}

/// A TCP port on the loopback that takes connections and never says a word, as a hung server
/// does: libpq's connect then waits for its connect_timeout.
final class SilentListener: @unchecked Sendable {
    private let socketFD: Int32
    private var accepted: [Int32] = []
    let port: Int

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        guard fd >= 0, bound == 0, listen(fd, 16) == 0 else { throw POSIXError(.EADDRNOTAVAIL) }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        socketFD = fd
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    /// Takes a waiting connection, if there is one (and keeps it open, silent).
    func acceptOne() -> Bool {
        let fd = accept(socketFD, nil, nil)
        guard fd >= 0 else { return false }
        accepted.append(fd)
        return true
    }

    func close() {
        for fd in accepted + [socketFD] { _ = Glibc.close(fd) }
    }
}
