import Foundation
import Logging
import Postgres
import Testing
@testable import JobQueue

@Suite("Leases and rescue")
struct LeaseTests {
    @Test func aJobWhoseWorkerIsAliveIsNeverRescued() async throws {
        try await QueueTest.withDatabase { url, connection in
            // Runs for more than one and a half lease durations; the worker's heartbeat keeps it.
            // The lease leaves a heartbeat (every third of it) 13 s of slack: on the 2-core CI
            // machine, with the rest of the suite (servers, daemons, a failover) running beside
            // it, the whole process was seen to stall for 11 s (it failed with 3 s, then 6 s),
            // and once 14 s (with 20 s); now 40 s, a heartbeat every 13 s.
            let job = try await connection.enqueue(try NewJob(EffectJob.self, arguments: .init(sleepMilliseconds: 61000)))
            var effects = JobRegistry()
            effects.register(EffectJob())
            let registry = effects
            let shortLease: @Sendable (inout JobWorkerConfiguration) -> Void = {
                $0.leaseDuration = .seconds(40)
                $0.rescueInterval = .milliseconds(50)
            }
            // A second worker (on another queue), rescuing eagerly all along.
            try await QueueTest.withWorker(url, JobRegistry(), { shortLease(&$0); $0.queues = ["elsewhere"] }) {
                try await QueueTest.drain(url, registry, shortLease)
            }
            let record = try #require(try await JobAdmin(connection).job(job.id))
            #expect(record.state == .succeeded && record.attempt == 1 && record.errors.isEmpty, "\(record)")
            #expect(try await QueueTest.count(connection, "SELECT count(*) FROM testing_effects") == 1)
        }
    }

    @Test func aJobWhoseWorkerDiedIsRescuedAndRunsOnceMore() async throws {
        try await QueueTest.withDatabase { url, connection in
            let job = try await connection.enqueue(NewJob(kind: EffectJob.kind))
            // A worker claims it, then dies: it never completes nor extends the lease.
            let claimed = try await connection.query(JobStatements.claim(owner: "dead-worker", lease: .milliseconds(200), queues: ["default"], limit: 10))
            #expect(claimed.count == 1)
            var registry = JobRegistry()
            registry.register(EffectJob())
            try await QueueTest.withWorker(url, registry, { $0.rescueInterval = .milliseconds(50) }) {
                try await QueueTest.waitUntil("the job succeeded") { try await QueueTest.state(of: job.id, connection) == .succeeded }
            }
            let record = try #require(try await JobAdmin(connection).job(job.id))
            #expect(record.attempt == 2)
            #expect(record.errors.map(\.message) == ["worker lost: its lease expired"])
            #expect(record.errors.first?.worker == "dead-worker")
            #expect(record.leaseOwner != "dead-worker")
            #expect(try await QueueTest.count(connection, "SELECT count(*) FROM testing_effects") == 1)
            // The dead worker's late completion changes nothing.
            #expect(try await connection.execute(JobStatements.succeedOne(id: job.id, owner: "dead-worker")) == 0)
        }
    }

    @Test func aJobThatKillsItsWorkerEveryTimeEndsDiscarded() async throws {
        try await QueueTest.withDatabase { url, connection in
            let job = try await connection.enqueue(NewJob(kind: "crashes-its-worker", maxAttempts: 3))
            let database = ReconnectingConnection(conninfo: url, applicationName: "jobqueue-tests", role: "maintenance", logger: QueueTest.logger)
            let maintainer = Maintainer(database: database, owner: "rescuer", configuration: QueueTest.configuration(url), logger: QueueTest.logger)
            for attempt in 1...3 {
                // Due again at once (the rescue's backoff skipped), staged as the leader would.
                try await connection.execute("UPDATE jobs SET run_at = now() WHERE id = \(job.id)")
                _ = try await maintainer.stage()
                let claimed = try await connection.query(JobStatements.claim(owner: "worker-\(attempt)", lease: .milliseconds(100), queues: ["default"], limit: 1))
                #expect(claimed.count == 1)
                try await Task.sleep(for: .milliseconds(150))
                #expect(try await maintainer.rescue() == 1)
            }
            let record = try #require(try await JobAdmin(connection).job(job.id))
            #expect(record.state == .discarded && record.attempt == 3 && record.finishedAt != nil)
            #expect(record.errors.map(\.worker) == ["worker-1", "worker-2", "worker-3"])
            #expect(record.errors.allSatisfy { $0.message == "worker lost: its lease expired" })
        }
    }

    @Test func finishedJobsArePrunedAfterTheRetentionPeriod() async throws {
        try await QueueTest.withDatabase { url, connection in
            try await connection.enqueue((0..<30).map { _ in NewJob(kind: "noop") })
            var registry = JobRegistry()
            registry.register(NoopJob())
            try await QueueTest.drain(url, registry)
            try await connection.enqueue(NewJob(kind: "noop"))
            try await connection.execute("UPDATE jobs SET finished_at = now() - interval '8 days' WHERE id IN (SELECT id FROM jobs WHERE state = 'succeeded' ORDER BY id LIMIT 20)")
            #expect(try await JobAdmin(connection).prune(olderThan: .seconds(7 * 86_400)) == 20)
            #expect(try await QueueTest.count(connection, "SELECT count(*) FROM jobs") == 11)
            #expect(try await QueueTest.count(connection, "SELECT count(*) FROM jobs WHERE state = 'available'") == 1)
        }
    }
}
