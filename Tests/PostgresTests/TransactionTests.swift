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

    /// A serializable transaction whose first attempt updates a row that another session
    /// changed after the attempt's snapshot: PostgreSQL refuses it with 40001, and
    /// `withTransaction` runs the body again on a new snapshot. The interference happens on the
    /// first attempt only and is committed before the conflicting UPDATE, so the outcome does
    /// not depend on timing.
    @Test func aForcedSerializationFailureIsRetried() async throws {
        try await TestDatabase.withEmptyDatabase { url in
            let setup = try await Connection.connect(url)
            try await setup.executeScript("CREATE TABLE doctors (name text PRIMARY KEY, shifts int NOT NULL); INSERT INTO doctors VALUES ('a', 0)")
            let transaction = try await Connection.connect(url)
            let other = try await Connection.connect(url)
            let attempts = Attempts()
            try await transaction.withTransaction(isolation: .serializable) { connection in
                let attempt = await attempts.next()
                _ = try await connection.query("SELECT shifts FROM doctors WHERE name = 'a'")  // takes the snapshot
                if attempt == 1 {
                    try await other.execute("UPDATE doctors SET shifts = shifts + 10 WHERE name = 'a'")  // commits
                }
                try await connection.execute("UPDATE doctors SET shifts = shifts + 1 WHERE name = 'a'")
            }
            #expect(await attempts.count == 2, "the first attempt must fail with 40001 and the second commit")
            let rows = try await setup.query("SELECT shifts FROM doctors WHERE name = 'a'")
            #expect(try rows[0].decode("shifts", as: Int.self) == 11)
        }
    }

    /// Two tasks that share one connection by mistake: each transaction runs whole, the other
    /// task's statements wait outside it, so one's rollback never takes the other's rows and
    /// no BEGIN lands inside a transaction already open.
    @Test func twoTasksOnOneConnectionTakeTurnsTransactionByTransaction() async throws {
        try await TestDatabase.withEmptyDatabase { url in
            let shared = try await Connection.connect(url)
            try await shared.executeScript("CREATE TABLE marks (task text NOT NULL, n int NOT NULL)")
            struct Refused: Error {}
            try await withThrowingTaskGroup(of: Void.self) { group in
                for task in ["kept", "rolled-back"] {
                    group.addTask {
                        for round in 0..<20 {
                            do {
                                try await shared.withTransaction { transaction in
                                    try await transaction.execute("INSERT INTO marks VALUES (\(task), \(round))")
                                    try await Task.sleep(for: .milliseconds(2))
                                    try await transaction.execute("INSERT INTO marks VALUES (\(task), \(round))")
                                    if task == "rolled-back" { throw Refused() }
                                }
                            } catch is Refused {}
                        }
                    }
                    group.addTask {
                        // Single statements between them wait their turn too.
                        for _ in 0..<20 { _ = try await shared.query("SELECT count(*) FROM marks") }
                    }
                }
                try await group.waitForAll()
            }
            let rows = try await shared.query("SELECT task, count(*) AS n FROM marks GROUP BY task")
            #expect(rows.count == 1)
            #expect(try rows[0].decode("task", as: String.self) == "kept")
            #expect(try rows[0].decode("n", as: Int.self) == 40)
        }
    }

    actor Attempts {
        var count = 0
        func next() -> Int { count += 1; return count }
    }
}
