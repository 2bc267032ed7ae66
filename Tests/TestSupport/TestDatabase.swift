import Foundation
import Postgres

/// Databases for tests, on the PostgreSQL server named by `RECEPTION_TEST_DATABASE_URL`
/// (scripts/test starts a throwaway cluster and sets it).
///
/// There is no skipping: a test that needs the database and cannot reach it fails, saying why.
public enum TestDatabase {
    public struct NotConfigured: Error, CustomStringConvertible {
        public var description: String {
            "RECEPTION_TEST_DATABASE_URL is not set: run the tests with scripts/test, which starts a throwaway PostgreSQL cluster and sets it"
        }
    }

    public struct NoBinaries: Error, CustomStringConvertible {
        public var description: String {
            "RECEPTION_BIN_DIR is not set: run the tests with scripts/test, which builds reception and receptiond and sets it"
        }
    }

    /// A built executable of this package (`reception`, `receptiond`), for tests that run real
    /// processes.
    public static func executable(_ name: String) throws -> URL {
        guard let folder = ProcessInfo.processInfo.environment["RECEPTION_BIN_DIR"], !folder.isEmpty else { throw NoBinaries() }
        return URL(fileURLWithPath: folder).appendingPathComponent(name)
    }

    /// The connection string of the test server's maintenance database.
    public static func serverURL() throws -> String {
        guard let url = ProcessInfo.processInfo.environment["RECEPTION_TEST_DATABASE_URL"], !url.isEmpty else {
            throw NotConfigured()
        }
        return url
    }

    /// The day every test database starts on: its `reception_today()` (sql/004_clock.sql) is
    /// pinned to it, so no test depends on the day it runs. A test that needs another day sets
    /// it with `ReceptionClock.fix(today:on:)`. `RECEPTION_TEST_TODAY=YYYY-MM-DD` (for tests
    /// only) starts them on another day, to show that nothing depends on this one either:
    /// `RECEPTION_TEST_TODAY=2031-07-15 scripts/test`.
    public static let today: CalendarDay = {
        guard let text = ProcessInfo.processInfo.environment["RECEPTION_TEST_TODAY"] else {
            return CalendarDay(year: 2026, month: 11, day: 26)!
        }
        // A typo must not quietly test the default day instead.
        guard let day = CalendarDay(text) else { fatalError("RECEPTION_TEST_TODAY=\(text) is not a date (YYYY-MM-DD)") }
        return day
    }()

    /// The login a connection authenticated as: what the audit trail records.
    public static func sessionUser(on connection: Connection) async throws -> String {
        try await connection.query("SELECT session_user::text AS login")[0].decode("login")
    }

    /// A connection to the test server's maintenance database.
    public static func connect() async throws -> Connection {
        try await Connection.connect(try serverURL(), applicationName: "reception-tests")
    }

    /// The repository's top folder (tests are compiled from inside it).
    public static let repositoryRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// `sql/`, the migrations.
    public static var sqlDirectory: URL { repositoryRoot.appendingPathComponent("sql") }

    /// The same connection string, pointing at another database on the same server.
    public static func url(_ base: String, database: String) -> String {
        if let scheme = base.range(of: "://") {
            // A URI: replace its path, keep user, host and query.
            let afterScheme = base[scheme.upperBound...]
            let query = afterScheme.firstIndex(of: "?") ?? base.endIndex
            let authorityEnd = afterScheme[..<query].firstIndex(of: "/") ?? query
            return String(base[..<authorityEnd]) + "/" + database + String(base[query...])
        }
        // key=value pairs: a later keyword wins.
        return base + " dbname=" + database
    }

    /// Runs `body` with the URL of a new, empty database, dropped afterwards.
    public static func withEmptyDatabase<T>(_ body: (String) async throws -> T) async throws -> T {
        try await withScratchDatabase(template: nil, body)
    }

    /// Runs `body` with the URL of a new database holding every migration of `sql/`,
    /// dropped afterwards. Migrations run once per test process, into a template.
    public static func withMigratedDatabase<T>(_ body: (String) async throws -> T) async throws -> T {
        let template = try await TemplateCache.shared.migratedTemplate()
        return try await withScratchDatabase(template: template, body)
    }

    private static func withScratchDatabase<T>(template: String?, _ body: (String) async throws -> T) async throws -> T {
        let server = try serverURL()
        let admin = try await Connection.connect(server, applicationName: "reception-tests")
        let name = "test_" + UUID().uuidString.prefix(12).lowercased().replacingOccurrences(of: "-", with: "")
        let quoted = try await admin.quoteIdentifier(name)
        if let template {
            try await admin.executeScript("CREATE DATABASE \(quoted) TEMPLATE \(try await admin.quoteIdentifier(template))")
        } else {
            try await admin.executeScript("CREATE DATABASE \(quoted)")
        }
        if template != nil {
            // Database privileges are not copied from the template (see 008_privileges.sql).
            let database = try await Connection.connect(url(server, database: name), applicationName: "reception-tests")
            try await database.execute("SELECT reception_secure_database()")
        }
        do {
            let value = try await body(url(server, database: name))
            try await drop(quoted, on: admin)
            return value
        } catch {
            _ = try? await drop(quoted, on: admin)
            throw error
        }
    }

    /// DROP ... WITH (FORCE) waits 5 s for the sessions it terminates to end; on a machine
    /// loaded by the whole suite one may take longer, so it tries again.
    private static func drop(_ quoted: String, on admin: Connection) async throws {
        for attempt in 1...6 {
            do {
                try await admin.executeScript("DROP DATABASE IF EXISTS \(quoted) WITH (FORCE)")
                return
            } catch let error as PostgresError where error.sqlState == SQLState(rawValue: "55006") && attempt < 6 {
                try await Task.sleep(for: .seconds(1))
            }
        }
    }
}

/// Builds the migrated template once per process, named after a hash of the migrations, so a
/// changed migration gets a new template instead of a stale one.
actor TemplateCache {
    static let shared = TemplateCache()
    private var building: Task<String, any Error>?

    func migratedTemplate() async throws -> String {
        if let building { return try await building.value }
        let task = Task { try await Self.build() }
        building = task
        return try await task.value
    }

    private static func build() async throws -> String {
        let migrator = try Migrator(directory: TestDatabase.sqlDirectory)
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325  // FNV-1a
        // The template holds the migrations and the pinned day: a change of either is another one.
        for text in migrator.migrations.map({ "\($0.version)\($0.name)\($0.sql)" }) + ["\(TestDatabase.today)"] {
            for byte in text.utf8 {
                hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
            }
        }
        let name = "template_" + String(hash, radix: 16)
        let server = try TestDatabase.serverURL()
        let admin = try await Connection.connect(server, applicationName: "reception-tests")
        let exists = try await admin.query("SELECT 1 FROM pg_database WHERE datname = \(name)")
        if !exists.isEmpty { return name }
        let building = name + "_\(getpid())"
        let quotedBuilding = try await admin.quoteIdentifier(building)
        try await admin.executeScript("DROP DATABASE IF EXISTS \(quotedBuilding)")
        try await admin.executeScript("CREATE DATABASE \(quotedBuilding)")
        do {
            let connection = try await Connection.connect(TestDatabase.url(server, database: building))
            try await migrator.migrate(on: connection)
            try await connection.execute("UPDATE reception_settings SET fixed_today = \(TestDatabase.today)")
        }
        let quotedName = try await admin.quoteIdentifier(name)
        // The migrating connection's server process may take a moment to go away.
        for attempt in 1...50 {
            do {
                try await admin.executeScript("ALTER DATABASE \(quotedBuilding) RENAME TO \(quotedName)")
                return name
            } catch let error as PostgresError where error.sqlState == .duplicateDatabase {
                // Another test process built it first: use theirs.
                _ = try? await admin.executeScript("DROP DATABASE IF EXISTS \(quotedBuilding) WITH (FORCE)")
                return name
            } catch where attempt < 50 {
                try await Task.sleep(for: .milliseconds(100))
            }
        }
        return name
    }
}
