import Foundation
import Postgres
import Testing
import TestSupport
@testable import JobQueue

/// Operating the queue: pausing and resuming a queue, health for monitoring, and wake-ups that
/// name their queue.
@Suite("Pause, resume, health and wake-ups")
struct QueueControlTests {
    @Test func aPausedQueueIsNotClaimedUntilItIsResumed() async throws {
        try await QueueTest.withDatabase { url, connection in
            try await connection.enqueue((0..<5).map { _ in NewJob(kind: "noop") })
            let admin = JobAdmin(connection)
            #expect(try await admin.pause(queue: "default"))
            #expect(try await admin.pause(queue: "default") == false)
            var registry = JobRegistry()
            registry.register(NoopJob())
            try await QueueTest.withWorker(url, registry, { $0.queues = ["default", "other"] }) {
                // The worker claims: a job of its other queue runs, and a second one after a
                // while of claim loops (50 ms polls).
                let other = try await connection.enqueue(NewJob(kind: "noop", queue: "other"))
                try await QueueTest.waitUntil("the other queue's job ran") { try await QueueTest.state(of: other.id, connection) == .succeeded }
                try await Task.sleep(for: .seconds(1))
                let again = try await connection.enqueue(NewJob(kind: "noop", queue: "other"))
                try await QueueTest.waitUntil("the other queue's second job ran") { try await QueueTest.state(of: again.id, connection) == .succeeded }
                #expect(try await QueueTest.count(connection, "SELECT count(*) FROM jobs WHERE state = 'available'") == 5)
                #expect(try await admin.resume(queue: "default"))
                try await QueueTest.waitUntil("the jobs ran") {
                    try await QueueTest.count(connection, "SELECT count(*) FROM jobs WHERE queue = 'default' AND state = 'succeeded'") == 5
                }
            }
            #expect(try await admin.resume(queue: "default") == false)
        }
    }

    @Test func healthNeedsALiveDaemonAndNoReadyJobWaitingTooLong() async throws {
        try await QueueTest.withDatabase { url, connection in
            let admin = JobAdmin(connection)
            let none = try await admin.health(maximumWait: .seconds(300))
            #expect(!none.isHealthy && none.workers.isEmpty)
            var registry = JobRegistry()
            registry.register(NoopJob())
            try await QueueTest.withWorker(url, registry, { $0.workerID = "health-test" }) {
                try await QueueTest.waitUntil("the daemon reported") { try await admin.health(maximumWait: .seconds(300)).isHealthy }
                let health = try await admin.health(maximumWait: .seconds(300))
                #expect(health.workers.map(\.id) == ["health-test"] && health.workers[0].alive)
                // A job of a queue nobody drains, ready for an hour.
                try await connection.execute("INSERT INTO jobs (queue, kind, run_at) VALUES ('nobody', 'noop', now() - interval '1 hour')")
                let late = try await admin.health(maximumWait: .seconds(300))
                #expect(!late.isHealthy && late.problems.count == 1 && late.problems[0].contains("oldest ready job"))
                // The CLI says so with its exit code.
                let cli = try await runTool(try TestDatabase.executable("reception"), ["jobs", "health", "--max-wait", "5m", "--database-url", url])
                #expect(cli.status == 1 && cli.output.contains("Unhealthy"), "\(cli.output)\(cli.error)")
                // Paused, that queue's wait is an operator's choice, not a problem.
                try await admin.pause(queue: "nobody")
                #expect(try await admin.health(maximumWait: .seconds(300)).isHealthy)
            }
            // A daemon that stopped removed itself.
            let after = try await admin.health(maximumWait: .seconds(300))
            #expect(after.workers.isEmpty && !after.isHealthy)
        }
    }

    @Test func wakeUpsNameTheQueueAndOnlyForJobsReadyNow() async throws {
        try await QueueTest.withDatabase { url, connection in
            let listener = try await Connection.connect(url)
            try await listener.listen(JobStatements.channel)
            try await connection.enqueue(NewJob(kind: "noop", queue: "imports", runAt: Date().addingTimeInterval(3600)))
            #expect(try await listener.waitForNotifications(timeout: .milliseconds(500)).isEmpty)
            try await connection.enqueue([NewJob(kind: "noop", queue: "imports"), NewJob(kind: "noop", queue: "imports"),
                                          NewJob(kind: "noop", queue: "reports")])
            var payloads: [String] = []
            while payloads.count < 2 {
                let received = try await listener.waitForNotifications(timeout: .seconds(5))
                if received.isEmpty { break }
                payloads += received.map(\.payload)
            }
            #expect(payloads.sorted() == ["imports", "reports"])
        }
    }
}
