import Foundation
import Postgres
import Testing
import TestSupport

@Suite("Migrations")
struct MigratorTests {
    func folder(_ files: [String: String]) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("migrations-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        for (name, sql) in files { try sql.write(to: url.appendingPathComponent(name), atomically: true, encoding: .utf8) }
        return url
    }

    @Test func migrateTwiceAppliesNothingTheSecondTime() async throws {
        try await TestDatabase.withEmptyDatabase { url in
            let connection = try await Connection.connect(url)
            let migrator = try Migrator(directory: try folder([
                "001_first.sql": "CREATE TABLE one (id int);",
                "002_second.sql": "CREATE TABLE two (id int); INSERT INTO two VALUES (1);",
                "README.md": "not a migration",
            ]))
            #expect(try await migrator.status(on: connection).map(\.state) == [.pending, .pending])
            #expect(try await migrator.migrate(on: connection).map(\.version) == [1, 2])
            #expect(try await migrator.migrate(on: connection).isEmpty)
            let rows = try await connection.query("SELECT count(*) AS n FROM two")
            #expect(try rows[0].decode("n", as: Int.self) == 1)
            let states = try await migrator.status(on: connection).map(\.state)
            #expect(states.allSatisfy { if case .applied = $0 { true } else { false } })
        }
    }

    @Test func aChangedAppliedFileIsRefused() async throws {
        try await TestDatabase.withEmptyDatabase { url in
            let connection = try await Connection.connect(url)
            try await Migrator(directory: try folder(["001_first.sql": "CREATE TABLE one (id int);"])).migrate(on: connection)
            let changed = try Migrator(directory: try folder([
                "001_first.sql": "CREATE TABLE one (id bigint);",
                "002_second.sql": "CREATE TABLE two (id int);",
            ]))
            await #expect(throws: Migrator.MigrationError.self) { try await changed.migrate(on: connection) }
            // Nothing after the refusal was applied.
            let two = try await connection.query("SELECT to_regclass('two') IS NULL AS absent")
            #expect(try two[0].decode("absent", as: Bool.self))
            let states = try await changed.status(on: connection).map(\.state)
            guard case .changed = states[0] else { Issue.record("expected changed, got \(states)"); return }
        }
    }

    @Test func aFailingFileLeavesNothingBehind() async throws {
        try await TestDatabase.withEmptyDatabase { url in
            let connection = try await Connection.connect(url)
            let migrator = try Migrator(directory: try folder([
                "001_ok.sql": "CREATE TABLE one (id int);",
                "002_broken.sql": "CREATE TABLE two (id int); SELECT * FROM nowhere;",
            ]))
            await #expect(throws: Migrator.MigrationError.self) { try await migrator.migrate(on: connection) }
            let states = try await migrator.status(on: connection).map(\.state)
            #expect(states.last == .pending)
            let two = try await connection.query("SELECT to_regclass('two') IS NULL AS absent")
            #expect(try two[0].decode("absent", as: Bool.self))
        }
    }

    @Test func concurrentRunsApplyEachFileOnce() async throws {
        try await TestDatabase.withEmptyDatabase { url in
            let migrator = try Migrator(directory: try folder([
                "001_slow.sql": "CREATE TABLE one (id int); SELECT pg_sleep(0.3);",
                "002_count.sql": "CREATE TABLE runs (n int); INSERT INTO runs VALUES (1);",
            ]))
            let a = try await Connection.connect(url)
            let b = try await Connection.connect(url)
            async let first = migrator.migrate(on: a)
            async let second = migrator.migrate(on: b)
            let applied = try await first.count + second.count
            #expect(applied == 2)
            let rows = try await a.query("SELECT count(*) AS n FROM runs")
            #expect(try rows[0].decode("n", as: Int.self) == 1)
        }
    }

    @Test func badFileNamesAreRefused() throws {
        #expect(throws: Migrator.MigrationError.self) { try Migrator(directory: try folder(["1-first.sql": "SELECT 1"])) }
        #expect(throws: Migrator.MigrationError.self) {
            try Migrator(directory: try folder(["001_a.sql": "SELECT 1", "001_b.sql": "SELECT 1"]))
        }
    }
}
