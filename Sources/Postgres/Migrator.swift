import Foundation
import Logging

/// Applies numbered SQL files (`001_domain.sql`, `002_jobs.sql`, ...) in order, each in its own
/// transaction, and records each with its SHA-256 checksum in `schema_migrations`.
///
/// An advisory lock makes concurrent runs safe: the second waits, then finds nothing to do.
/// A file that was applied and has since changed (or vanished) stops the run before anything
/// else is applied: a schema must never drift from the files that describe it.
public struct Migrator: Sendable {
    public struct Migration: Sendable, Equatable {
        public let version: Int
        public let name: String
        public let sql: String
        public var fileName: String { "\(String(format: "%03d", version))_\(name).sql" }
    }

    public enum State: Sendable, Equatable {
        case applied(at: Date)
        case pending
        /// Applied, but the file's checksum no longer matches.
        case changed(at: Date)
        /// Applied, but no file has this version any more.
        case missing(at: Date)
    }

    public struct Entry: Sendable {
        public let version: Int
        public let name: String
        public let state: State
    }

    public enum MigrationError: Error, CustomStringConvertible {
        case unreadableDirectory(String)
        case badFileName(String)
        case duplicateVersion(Int, [String])
        case changedAfterApplying([String])
        case missingFiles([String])
        case failed(file: String, underlying: any Error)

        public var description: String {
            switch self {
            case .unreadableDirectory(let path): "cannot read the migrations folder \(path)"
            case .badFileName(let name): "\(name): a migration file is named NNN_name.sql (digits, underscore, lower-case name)"
            case .duplicateVersion(let version, let files): "migration \(version) has more than one file: \(files.joined(separator: ", "))"
            case .changedAfterApplying(let files):
                "refusing to migrate: \(files.joined(separator: ", ")) changed after it was applied. Restore the applied text and add a new numbered file for the change."
            case .missingFiles(let names):
                "refusing to migrate: applied migrations have no file any more: \(names.joined(separator: ", "))"
            case .failed(let file, let underlying): "\(file): \(underlying) (nothing of this file was applied)"
            }
        }
    }

    /// Taken with pg_advisory_lock; any constant works as long as nobody else uses it.
    static let lockKey: Int64 = 0x5245_4345_5054_0001

    public let migrations: [Migration]
    private let logger: Logger

    public init(migrations: [Migration], logger: Logger = Logger(label: "reception.migrations")) {
        self.migrations = migrations.sorted { $0.version < $1.version }
        self.logger = logger
    }

    /// Reads every `NNN_name.sql` in a folder; other files are ignored.
    public init(directory: URL, logger: Logger = Logger(label: "reception.migrations")) throws {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory.path) else {
            throw MigrationError.unreadableDirectory(directory.path)
        }
        var byVersion: [Int: [Migration]] = [:]
        for file in names.sorted() where file.hasSuffix(".sql") {
            let stem = file.dropLast(4)
            guard let underscore = stem.firstIndex(of: "_"),
                  let version = Int(stem[..<underscore]), stem[..<underscore].allSatisfy(\.isASCII),
                  stem[stem.index(after: underscore)...].allSatisfy({ $0.isLowercase || $0.isNumber || $0 == "_" }),
                  stem.index(after: underscore) < stem.endIndex else {
                throw MigrationError.badFileName(file)
            }
            guard let sql = try? String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8) else {
                throw MigrationError.unreadableDirectory(directory.appendingPathComponent(file).path)
            }
            byVersion[version, default: []].append(
                Migration(version: version, name: String(stem[stem.index(after: underscore)...]), sql: sql))
        }
        if let (version, files) = byVersion.first(where: { $0.value.count > 1 }) {
            throw MigrationError.duplicateVersion(version, files.map(\.fileName))
        }
        self.init(migrations: byVersion.values.map { $0[0] }, logger: logger)
    }

    /// Applies every pending migration; returns those applied (none when up to date).
    @discardableResult
    public func migrate(on connection: Connection, progress: (Migration) -> Void = { _ in }) async throws -> [Migration] {
        try await withLock(on: connection) {
            try await ensureTable(on: connection)
            let entries = try await status(on: connection, tableKnownToExist: true)
            let changed = entries.compactMap { entry -> String? in
                if case .changed = entry.state { return migrations.first { $0.version == entry.version }?.fileName }
                return nil
            }
            if !changed.isEmpty { throw MigrationError.changedAfterApplying(changed) }
            let missing = entries.compactMap { entry -> String? in
                if case .missing = entry.state { return "\(entry.version) (\(entry.name))" }
                return nil
            }
            if !missing.isEmpty { throw MigrationError.missingFiles(missing) }
            var applied: [Migration] = []
            for migration in migrations where entries.contains(where: { $0.version == migration.version && $0.state == .pending }) {
                progress(migration)
                let started = Date()
                do {
                    try await connection.withTransaction(maxAttempts: 1) { connection in
                        try await connection.executeScript(migration.sql)
                        let milliseconds = Int(Date().timeIntervalSince(started) * 1000)
                        try await connection.execute("""
                            INSERT INTO schema_migrations (version, name, checksum, duration_ms)
                            VALUES (\(migration.version), \(migration.name),
                                    encode(sha256(convert_to(\(migration.sql), 'UTF8')), 'hex'), \(milliseconds))
                            """)
                    }
                } catch {
                    throw MigrationError.failed(file: migration.fileName, underlying: error)
                }
                logger.info("applied migration", metadata: ["migration": "\(migration.fileName)"])
                applied.append(migration)
            }
            return applied
        }
    }

    /// Every known migration, applied or pending, in version order.
    public func status(on connection: Connection) async throws -> [Entry] {
        try await status(on: connection, tableKnownToExist: false)
    }

    private func status(on connection: Connection, tableKnownToExist: Bool) async throws -> [Entry] {
        if !tableKnownToExist {
            let exists = try await connection.query("SELECT to_regclass('schema_migrations') IS NOT NULL AS present")
            if try !exists[0].decode("present", as: Bool.self) {
                return migrations.map { Entry(version: $0.version, name: $0.name, state: .pending) }
            }
        }
        let checksums = try await checksumsOfFiles(on: connection)
        let rows = try await connection.query("SELECT version, name, checksum, applied_at FROM schema_migrations ORDER BY version")
        var entries: [Entry] = []
        var appliedVersions = Set<Int>()
        for row in rows {
            let version = try row.decode("version", as: Int.self)
            let name = try row.decode("name", as: String.self)
            let at = try row.decode("applied_at", as: Date.self)
            appliedVersions.insert(version)
            let state: State
            if let fileChecksum = checksums[version] {
                state = fileChecksum == (try row.decode("checksum", as: String.self)) ? .applied(at: at) : .changed(at: at)
            } else {
                state = .missing(at: at)
            }
            entries.append(Entry(version: version, name: name, state: state))
        }
        for migration in migrations where !appliedVersions.contains(migration.version) {
            entries.append(Entry(version: migration.version, name: migration.name, state: .pending))
        }
        return entries.sorted { $0.version < $1.version }
    }

    /// Checksums computed by the server, so that no hashing code of our own is needed.
    private func checksumsOfFiles(on connection: Connection) async throws -> [Int: String] {
        guard !migrations.isEmpty else { return [:] }
        let rows = try await connection.query("""
            SELECT version, encode(sha256(convert_to(sql, 'UTF8')), 'hex') AS checksum
            FROM unnest(\(migrations.map(\.version)), \(migrations.map(\.sql))) AS file(version, sql)
            """)
        var result: [Int: String] = [:]
        for row in rows { result[try row.decode("version")] = try row.decode("checksum", as: String.self) }
        return result
    }

    private func ensureTable(on connection: Connection) async throws {
        try await connection.executeScript("""
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version     integer PRIMARY KEY,
                name        text NOT NULL,
                checksum    text NOT NULL,
                applied_at  timestamptz NOT NULL DEFAULT now(),
                applied_by  text NOT NULL DEFAULT current_user,
                duration_ms integer NOT NULL
            )
            """)
    }

    private func withLock<T>(on connection: Connection, _ body: () async throws -> T) async throws -> T {
        try await connection.execute("SELECT pg_advisory_lock(\(Self.lockKey))")
        do {
            let value = try await body()
            try await connection.execute("SELECT pg_advisory_unlock(\(Self.lockKey))")
            return value
        } catch {
            if connection.isUsable { _ = try? await connection.execute("SELECT pg_advisory_unlock(\(Self.lockKey))") }
            throw error
        }
    }
}
