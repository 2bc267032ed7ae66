import Foundation
import Postgres
import Testing
import TestSupport

@Suite("Transactions commit, roll back, and retry serialization failures")
struct TransactionTests {
    struct Refused: Error {}

    @Test func rollsBackOnAThrownError() async throws {
        let connection = try await TestDatabase.connect()
        try await connection.executeScript("CREATE TEMP TABLE t (n int)")
        await #expect(throws: Refused.self) {
            try await connection.withTransaction { connection -> Void in
                try await connection.execute("INSERT INTO t VALUES (1)")
                throw Refused()
            }
        }
        try await connection.withTransaction { connection in
            try await connection.execute("INSERT INTO t VALUES (2)")
        }
        let rows = try await connection.query("SELECT n FROM t")
        #expect(try rows.map { try $0.decode("n", as: Int.self) } == [2])
        // A failed statement inside rolls back the whole transaction, too.
        await #expect(throws: PostgresError.self) {
            try await connection.withTransaction { connection in
                try await connection.execute("INSERT INTO t VALUES (3)")
                try await connection.execute("INSERT INTO t VALUES (\("not a number"))")
            }
        }
        #expect(try await connection.query("SELECT n FROM t").count == 1)
    }

    @Test func nestedTransactionsUseSavepoints() async throws {
        let connection = try await TestDatabase.connect()
        try await connection.executeScript("CREATE TEMP TABLE t (n int)")
        try await connection.withTransaction { connection in
            try await connection.execute("INSERT INTO t VALUES (1)")
            _ = try? await connection.withTransaction { connection in
                try await connection.execute("INSERT INTO t VALUES (2)")
                throw Refused()
            }
        }
        let rows = try await connection.query("SELECT n FROM t")
        #expect(try rows.map { try $0.decode("n", as: Int.self) } == [1])
    }

    /// Two serializable transactions that each read what the other writes: one must fail
    /// with 40001, and `withTransaction` runs it again, so both end up committed.
    @Test func aForcedSerializationFailureIsRetried() async throws {
        try await TestDatabase.withEmptyDatabase { url in
            let setup = try await Connection.connect(url)
            try await setup.executeScript("CREATE TABLE doctors (name text PRIMARY KEY, on_call bool); INSERT INTO doctors VALUES ('a', true), ('b', true)")
            let first = try await Connection.connect(url)
            let second = try await Connection.connect(url)
            let attempts = Attempts()
            let gate = Gate()
            async let one: Void = first.withTransaction(isolation: .serializable) { connection in
                await attempts.add("one")
                _ = try await connection.query("SELECT count(*) FROM doctors WHERE on_call")
                await gate.arrive()
                await gate.waitForBoth()
                try await connection.execute("UPDATE doctors SET on_call = false WHERE name = 'a'")
            }
            async let two: Void = second.withTransaction(isolation: .serializable) { connection in
                await attempts.add("two")
                _ = try await connection.query("SELECT count(*) FROM doctors WHERE on_call")
                await gate.arrive()
                await gate.waitForBoth()
                try await connection.execute("UPDATE doctors SET on_call = false WHERE name = 'b'")
            }
            try await one
            try await two
            let total = await attempts.count
            #expect(total >= 3, "one of the two transactions must have run again")
            let rows = try await setup.query("SELECT count(*) AS n FROM doctors WHERE on_call")
            #expect(try rows[0].decode("n", as: Int.self) == 0)
        }
    }

    actor Attempts {
        var count = 0
        func add(_ name: String) { count += 1 }
    }

    /// Lets two transactions meet after their first read, once; retries pass straight through.
    actor Gate {
        var arrived = 0
        var waiting: [CheckedContinuation<Void, Never>] = []
        func arrive() { arrived += 1; if arrived >= 2 { waiting.forEach { $0.resume() }; waiting = [] } }
        func waitForBoth() async {
            if arrived >= 2 { return }
            await withCheckedContinuation { waiting.append($0) }
        }
    }
}
