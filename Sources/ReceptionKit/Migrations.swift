import Foundation
import Logging
import Postgres

/// Reception's migrations: the numbered files of the repository's `sql/` folder.
public enum Migrations {
    public static let environmentVariable = "RECEPTION_SQL_DIR"

    public struct NotFound: Error, CustomStringConvertible {
        public let searched: [String]
        public var description: String {
            "cannot find the sql/ migrations folder (looked in \(searched.joined(separator: ", "))); set \(Migrations.environmentVariable) to it"
        }
    }

    /// `RECEPTION_SQL_DIR`, else a `sql/` folder beside an ancestor of the executable (a build
    /// inside the repository: `.build/debug/reception` → `sql/`), else `./sql`.
    public static func locateDirectory(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> URL {
        var candidates: [URL] = []
        if let configured = environment[environmentVariable], !configured.isEmpty {
            candidates.append(URL(fileURLWithPath: configured))
        } else {
            var folder = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
            for _ in 0..<6 {
                candidates.append(folder.appendingPathComponent("sql"))
                folder.deleteLastPathComponent()
            }
            candidates.append(URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent("sql"))
        }
        for candidate in candidates {
            let marker = candidate.appendingPathComponent("001_domain.sql").path
            if FileManager.default.fileExists(atPath: marker) { return candidate }
        }
        throw NotFound(searched: candidates.map(\.path))
    }

    /// Database-level privileges (no CONNECT or TEMPORARY for PUBLIC, the roles' own), which
    /// CREATE DATABASE ... TEMPLATE does not copy: set after every migration run. A migrating
    /// role that does not own the database gets a warning from the server instead.
    public static func secureDatabase(on connection: Connection) async throws {
        try await connection.execute("SELECT reception_secure_database()")
    }

    public static func migrator(logger: Logger = Logger(label: "reception.migrations")) throws -> Migrator {
        try Migrator(directory: try locateDirectory(), logger: logger)
    }
}

extension Migrations {
    /// The newest migration of this release: receptiond refuses to start on a database
    /// without it. A test holds it equal to the newest file in `sql/`, so a new migration
    /// raises it.
    public static let required = 25

    /// A database whose migrations stop short of what this build needs: its statements would
    /// fail one by one at run time (a missing table, a function of the old signature).
    public struct Behind: Error, CustomStringConvertible {
        /// The newest migration recorded, if any.
        public let applied: Int?
        /// The first migration up to ``Migrations/required`` that is not recorded: one past the
        /// newest, or a gap below it (a record taken out, a database migrated by hand).
        public let missing: Int
        public var description: String {
            let has = switch applied {
            case nil: "no migrations recorded"
            case let newest? where missing < newest: "migrations up to \(newest) but not \(missing)"
            case let newest?: "migrations up to \(newest)"
            }
            return "the database has \(has); this build needs every one up to \(Migrations.required)"
        }
    }

    /// Throws `Behind` unless the database has every migration from 1 to `required` (the files
    /// of `sql/` are numbered without gaps; a test holds them so). A newer database is
    /// accepted: `reception db migrate` comes first in an upgrade, and the daemons are replaced
    /// after it, one at a time.
    public static func checkCurrent(on connection: Connection) async throws {
        let recorded = try await connection.query("SELECT to_regclass('schema_migrations') IS NOT NULL AS present")[0]
            .decode("present", as: Bool.self)
        guard recorded else { throw Behind(applied: nil, missing: 1) }
        let row = try await connection.query("""
            SELECT (SELECT max(version) FROM schema_migrations) AS newest,
                   (SELECT min(v) FROM generate_series(1, \(required)::int) AS v
                     WHERE NOT EXISTS (SELECT FROM schema_migrations WHERE version = v)) AS missing
            """)[0]
        if let missing = try row.decode("missing", as: Int?.self) {
            throw Behind(applied: try row.decode("newest", as: Int?.self), missing: missing)
        }
    }
}
