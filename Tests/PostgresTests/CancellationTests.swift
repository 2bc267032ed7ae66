import Dispatch
import Foundation
@testable import Postgres
import Testing
import TestSupport

/// Cancelling a task stops its statement, whenever the cancel comes: PQcancel reaches a
/// statement only while the server runs it, so one cancelled earlier must not be sent at all.
@Suite("Cancelling a task stops its statement")
struct CancellationTests {
    /// A statement the server is running fails with query_canceled.
    @Test func aRunningStatementIsCancelledAtTheServer() async throws {
        let connection = try await TestDatabase.connect()
        let statement = Task { try await connection.query("SELECT pg_sleep(60)") }
        try await waitUntilActive(connection.backendPID)
        statement.cancel()
        let error = await #expect(throws: PostgresError.self) { try await statement.value }
        #expect(error?.sqlState == .queryCanceled)
        #expect(try await connection.query("SELECT 1 AS one").first?.decode("one", as: Int.self) == 1)
    }

    /// A statement still waiting for the connection's queue when its task is cancelled is not
    /// sent: the server would have dropped the cancel and run it to its end (here a minute).
    @Test func aStatementCancelledBeforeItIsSentIsNotSent() async throws {
        let connection = try await TestDatabase.connect()
        let release = DispatchSemaphore(value: 0)
        connection.holdQueueForTesting(until: release)
        let entered = Flag()
        let statement = Task {
            entered.raise()
            return try await connection.query("SELECT pg_sleep(60)")
        }
        try await QueueWait.until("the statement's task runs") { entered.isRaised }
        // From here the task's statement is queued behind the held queue (in-process, no I/O).
        try await Task.sleep(for: .milliseconds(500))
        statement.cancel()
        release.signal()
        await #expect(throws: CancellationError.self) { try await statement.value }
        #expect(try await connection.query("SELECT 1 AS one").first?.decode("one", as: Int.self) == 1)
    }

    /// A ROLLBACK that a cancelled task sends on its way out runs: the transaction leaves
    /// nothing behind and the connection is ready for the next one.
    @Test func aCancelledTransactionRollsBack() async throws {
        let connection = try await TestDatabase.connect()
        try await connection.executeScript("CREATE TEMP TABLE t (n int)")
        let inside = Flag()
        let transaction = Task {
            try await connection.withTransaction { connection in
                try await connection.execute("INSERT INTO t VALUES (1)")
                inside.raise()
                try await connection.execute("SELECT pg_sleep(60)")
            }
        }
        try await QueueWait.until("the transaction inserted") { inside.isRaised }
        try await waitUntilActive(connection.backendPID)
        transaction.cancel()
        await #expect(throws: (any Error).self) { try await transaction.value }
        // Left open, this would fail (an aborted transaction) or count the row.
        #expect(try await connection.query("SELECT count(*)::int AS n FROM t").first?.decode("n", as: Int.self) == 0)
    }

    /// Waits until the backend runs a pg_sleep, seen from a second session.
    private func waitUntilActive(_ pid: Int) async throws {
        let observer = try await TestDatabase.connect()
        try await QueueWait.until("the statement runs at the server") {
            let rows = try await observer.query(
                "SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid = \(pid) AND state = 'active' AND query LIKE '%pg_sleep%'")
            return try rows.first?.decode("n", as: Int.self) == 1
        }
    }
}

/// A one-way flag set by one task and read by another.
private final class Flag: @unchecked Sendable {
    private let lock = NSLock()
    private var raised = false
    func raise() { lock.withLock { raised = true } }
    var isRaised: Bool { lock.withLock { raised } }
}

/// Polls a condition every 20 ms for up to 30 s.
private enum QueueWait {
    static func until(_ what: String, _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(30)
        while try await !condition() {
            guard ContinuousClock.now < deadline else {
                Issue.record("timed out waiting until \(what)")
                throw CancellationError()
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}
