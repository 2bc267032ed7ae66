import Foundation
import Postgres
import Testing
import TestSupport

@Suite("LISTEN/NOTIFY and lost connections")
struct NotificationTests {
    @Test func notificationsAreDelivered() async throws {
        let listener = try await TestDatabase.connect()
        let sender = try await TestDatabase.connect()
        let channel = "jobs \"quoted\" \(UUID().uuidString.prefix(6))"  // any text is a safe name
        try await listener.listen(channel)
        #expect(try await listener.waitForNotifications(timeout: .milliseconds(50)).isEmpty)
        try await sender.notify(channel, payload: "Örnsköldsvik")
        let received = try await listener.waitForNotifications(timeout: .seconds(5))
        #expect(received.map(\.channel) == [channel])
        #expect(received.first?.payload == "Örnsköldsvik")
        #expect(received.first?.senderPID == sender.backendPID)
        // A notification inside a transaction arrives only when it commits.
        try await sender.withTransaction { connection in
            try await connection.notify(channel, payload: "after commit")
            #expect(try await listener.waitForNotifications(timeout: .milliseconds(100)).isEmpty)
        }
        #expect(try await listener.waitForNotifications(timeout: .seconds(5)).map(\.payload) == ["after commit"])
    }

    @Test func aWaitEndsWhenItsTaskIsCancelled() async throws {
        let listener = try await TestDatabase.connect()
        try await listener.listen("nobody_sends_here")
        let started = ContinuousClock.now
        let wait = Task { try await listener.waitForNotifications(timeout: .seconds(30)) }
        try await Task.sleep(for: .milliseconds(100))
        wait.cancel()
        #expect(try await wait.value.isEmpty)
        #expect(ContinuousClock.now - started < .seconds(10))
        #expect(try await listener.query("SELECT 1 AS one").count == 1)
    }

    @Test func terminatingTheBackendIsAConnectionLostError() async throws {
        let victim = try await TestDatabase.connect()
        let admin = try await TestDatabase.connect()
        try await admin.execute("SELECT pg_terminate_backend(\(Int32(victim.backendPID)))")
        try await Task.sleep(for: .milliseconds(100))
        do {
            try await victim.query("SELECT 1")
            Issue.record("a terminated connection answered")
        } catch let error as PostgresError {
            guard case .connectionLost = error else { Issue.record("expected connectionLost, got \(error)"); return }
            #expect(error.isConnectionProblem)
        }
        #expect(!victim.isUsable)
    }

    @Test func aListenerNoticesTheLostConnection() async throws {
        let listener = try await TestDatabase.connect()
        let admin = try await TestDatabase.connect()
        try await listener.listen("lost")
        let waiting = Task { try await listener.waitForNotifications(timeout: .seconds(10)) }
        try await Task.sleep(for: .milliseconds(100))
        try await admin.execute("SELECT pg_terminate_backend(\(Int32(listener.backendPID)))")
        await #expect(throws: PostgresError.self) { try await waiting.value }
    }

    @Test func aBadServerIsAConnectionFailedError() async throws {
        await #expect(throws: PostgresError.self) {
            _ = try await Connection.connect("postgresql:///nowhere?host=/nonexistent-socket-dir&connect_timeout=2")
        }
    }

    @Test func thePoolReplacesBrokenConnections() async throws {
        let pool = ConnectionPool(conninfo: try TestDatabase.serverURL(), maximumConnections: 2, logger: .init(label: "test"))
        let admin = try await TestDatabase.connect()
        let first = try await pool.withConnection { $0.backendPID }
        try await admin.execute("SELECT pg_terminate_backend(\(Int32(first)))")
        try await Task.sleep(for: .milliseconds(100))
        await #expect(throws: PostgresError.self) { try await pool.withConnection { try await $0.query("SELECT 1") } }
        let second = try await pool.withConnection { connection in
            try await connection.query("SELECT 1 AS one")
            return connection.backendPID
        }
        #expect(second != first)
        // More borrowers than connections: they wait their turn.
        try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<10 {
                group.addTask { try await pool.withConnection { try await $0.query("SELECT pg_sleep(0.01)").count } }
            }
            var total = 0
            for try await count in group { total += count }
            #expect(total == 10)
        }
        pool.close()
    }
}
