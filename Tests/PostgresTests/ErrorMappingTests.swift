import Foundation
import Postgres
import Testing
import TestSupport

@Suite("Server errors carry named SQLSTATEs and no parameter values")
struct ErrorMappingTests {
    func sqlState(of query: Query, on connection: Connection) async throws -> (SQLState?, String) {
        do {
            try await connection.execute(query)
            Issue.record("the statement succeeded: \(query.sql)")
            return (nil, "")
        } catch let error as PostgresError {
            return (error.sqlState, "\(error)")
        }
    }

    /// libpq quotes a connection string it cannot parse; the error never carries its password.
    @Test func aConnectionStringThatDoesNotParseIsNotQuoted() async throws {
        do {
            _ = try await Connection.connect("postgresql://anna:hunter2@[bad/reception")
            Issue.record("connected with a broken connection string")
        } catch {
            #expect(!"\(error)".contains("hunter2"), "\(error)")
            #expect("\(error)".contains("<the connection string>"), "\(error)")
        }
    }

    @Test func namedCodes() async throws {
        let connection = try await TestDatabase.connect()
        try await connection.executeScript("""
            CREATE TEMP TABLE parent (id int PRIMARY KEY);
            CREATE TEMP TABLE child (id int PRIMARY KEY, parent int REFERENCES parent, age int CHECK (age BETWEEN 0 AND 120), name text NOT NULL);
            INSERT INTO parent VALUES (1);
            """)
        let secret = "MIG-2026-SECRET-42"
        try await connection.execute("INSERT INTO child VALUES (1, 1, 30, \(secret))")

        var (state, text) = try await sqlState(of: "INSERT INTO child VALUES (1, 1, 30, \(secret))", on: connection)
        #expect(state == .uniqueViolation)
        #expect(!text.contains(secret))
        #expect(text.contains("child_pkey"))

        (state, text) = try await sqlState(of: "INSERT INTO child VALUES (2, 99, 30, \(secret))", on: connection)
        #expect(state == .foreignKeyViolation)
        #expect(!text.contains(secret))

        (state, text) = try await sqlState(of: "INSERT INTO child VALUES (3, 1, -3, \(secret))", on: connection)
        #expect(state == .checkViolation)
        #expect(!text.contains(secret))
        #expect(!text.contains("-3"))

        (state, _) = try await sqlState(of: "INSERT INTO child VALUES (4, 1, 3, \(Optional<String>.none))", on: connection)
        #expect(state == .notNullViolation)

        (state, text) = try await sqlState(of: "SELECT \(secret)::int", on: connection)
        #expect(state == .invalidTextRepresentation)
        #expect(!text.contains(secret), "data exceptions repeat the input; it must be redacted")

        (state, _) = try await sqlState(of: "SELECT * FROM no_such_table", on: connection)
        #expect(state == .undefinedTable)

        (state, _) = try await sqlState(of: "SELEKT 1", on: connection)
        #expect(state == .syntaxError)

        (state, _) = try await sqlState(of: "DO $$ BEGIN RAISE EXCEPTION 'refused'; END $$", on: connection)
        #expect(state == .raiseException)

        try await connection.executeScript("CREATE TEMP TABLE guarded (id int); SET ROLE pg_read_all_data")
        (state, _) = try await sqlState(of: "CREATE TABLE public.not_allowed (id int)", on: connection)
        try await connection.executeScript("RESET ROLE")
        #expect(state == .insufficientPrivilege)
        #expect(SQLState.uniqueViolation.name == "uniqueViolation")
        #expect("\(SQLState.checkViolation)" == "checkViolation (23514)")
    }

    @Test func aDeadlockIsNamed() async throws {
        let setup = try await TestDatabase.connect()
        let table = "deadlock_" + UUID().uuidString.prefix(8).lowercased()
        let quoted = try await setup.quoteIdentifier(table)
        try await setup.executeScript("CREATE TABLE \(quoted) (id int PRIMARY KEY, n int); INSERT INTO \(quoted) VALUES (1, 0), (2, 0)")
        defer { Task { try? await setup.executeScript("DROP TABLE IF EXISTS \(quoted)") } }
        let a = try await TestDatabase.connect()
        let b = try await TestDatabase.connect()
        try await a.executeScript("BEGIN; UPDATE \(quoted) SET n = 1 WHERE id = 1")
        try await b.executeScript("BEGIN; UPDATE \(quoted) SET n = 1 WHERE id = 2")
        let first = Task { try await a.executeScript("UPDATE \(quoted) SET n = 2 WHERE id = 2") }
        try await Task.sleep(for: .milliseconds(100))
        let second = Task { try await b.executeScript("UPDATE \(quoted) SET n = 2 WHERE id = 1") }
        let results = [await first.result, await second.result]
        let states = results.compactMap { result -> SQLState? in
            if case .failure(let error) = result { return (error as? PostgresError)?.sqlState }
            return nil
        }
        #expect(states == [.deadlockDetected])
        try await a.executeScript("ROLLBACK")
        try await b.executeScript("ROLLBACK")
    }
}
