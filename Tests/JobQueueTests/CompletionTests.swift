import Foundation
import Postgres
import Synchronization
import Testing
@testable import JobQueue

@Suite("Transactional completion")
struct CompletionTests {
    @Test func aHandlersWritesAndItsCompletionCommitTogether() async throws {
        try await QueueTest.withDatabase { url, connection in
            let jobs = try await connection.enqueue((0..<50).map { _ in NewJob(kind: EffectJob.kind) })
            #expect(jobs == 50)
            var registry = JobRegistry()
            registry.register(EffectJob())
            try await QueueTest.drain(url, registry) { $0.concurrency = 8 }
            #expect(try await QueueTest.count(connection, "SELECT count(*) FROM jobs WHERE state = 'succeeded'") == 50)
            #expect(try await QueueTest.count(connection, "SELECT count(*) FROM testing_effects") == 50)
            #expect(try await QueueTest.count(connection, "SELECT count(DISTINCT job_id) FROM testing_effects") == 50)
        }
    }

    @Test func aHandlerThatFailsInsideItsTransactionLeavesNoWriteAndNoCompletion() async throws {
        struct HalfWayJob: JobHandler {
            typealias Arguments = NoArguments
            static let kind = "test.halfway"
            func run(_ arguments: NoArguments, context: JobContext) async throws {
                let (id, attempt) = (context.job.id, context.job.attempt)
                try await context.complete { transaction in
                    try await transaction.execute("INSERT INTO testing_effects (job_id, attempt, pid) VALUES (\(id), \(attempt), 0)")
                    if attempt == 1 { throw Boom(attempt: attempt) }
                }
            }
        }
        try await QueueTest.withDatabase { url, connection in
            let job = try await connection.enqueue(NewJob(kind: HalfWayJob.kind))
            var registry = JobRegistry()
            registry.register(HalfWayJob())
            try await QueueTest.drain(url, registry) { $0.retryPolicy = .exponentialJitter(base: .milliseconds(1), maximum: .milliseconds(1), jitter: 0) }
            // Attempt 1 wrote, then threw: its write rolled back with it. Attempt 2 committed both.
            let effects = try await connection.query("SELECT attempt FROM testing_effects WHERE job_id = \(job.id)")
            #expect(try effects.map { try $0.decode("attempt", as: Int.self) } == [2])
            let record = try #require(try await JobAdmin(connection).job(job.id))
            #expect(record.state == .succeeded && record.attempt == 2 && record.errors.map(\.message) == ["boom on attempt 1"], "\(record)")
        }
    }

    @Test func aConnectionLostBeforeCommitLeavesNeitherAndTheJobRunsAgainOnce() async throws {
        /// Kills its own transaction's server process on the first run, after writing.
        struct DyingJob: JobHandler {
            typealias Arguments = NoArguments
            static let kind = "test.dying"
            let died: OnceFlag
            func run(_ arguments: NoArguments, context: JobContext) async throws {
                let (id, attempt) = (context.job.id, context.job.attempt)
                let dieNow = died.takeFirst()
                try await context.complete { transaction in
                    try await transaction.execute("INSERT INTO testing_effects (job_id, attempt, pid) VALUES (\(id), \(attempt), 0)")
                    if dieNow { try await transaction.execute("SELECT pg_terminate_backend(pg_backend_pid())") }
                }
            }
        }
        try await QueueTest.withDatabase { url, connection in
            let job = try await connection.enqueue(NewJob(kind: DyingJob.kind))
            var registry = JobRegistry()
            registry.register(DyingJob(died: OnceFlag()))
            try await QueueTest.drain(url, registry)
            #expect(try await QueueTest.count(connection, "SELECT count(*) FROM testing_effects WHERE job_id = \(job.id)") == 1)
            let record = try #require(try await JobAdmin(connection).job(job.id))
            // Handed back, not failed (the attempt not counted): losing the database is not the
            // job's fault. The loss is in its history, so that one that keeps losing it ends.
            #expect(record.state == .succeeded && record.attempt == 1)
            #expect(record.errors.map(\.message) == ["lost the database session while running"])
        }
    }

    @Test func aJobCancelledWhileRunningCannotBeCompleted() async throws {
        struct SlowEffectJob: JobHandler {
            typealias Arguments = NoArguments
            static let kind = "test.slow-effect"
            func run(_ arguments: NoArguments, context: JobContext) async throws {
                let id = context.job.id
                // Wait until an operator has cancelled it.
                try await QueueTest.waitUntil("the job is cancelled", timeout: .seconds(30)) {
                    try await context.withConnection { connection in
                        try await QueueTest.state(of: id, connection) == .cancelled
                    }
                }
                try await context.complete { transaction in
                    try await transaction.execute("INSERT INTO testing_effects (job_id, attempt, pid) VALUES (\(id), 1, 0)")
                }
            }
        }
        try await QueueTest.withDatabase { url, connection in
            let job = try await connection.enqueue(NewJob(kind: SlowEffectJob.kind))
            var registry = JobRegistry()
            registry.register(SlowEffectJob())
            try await QueueTest.withWorker(url, registry) {
                try await QueueTest.waitUntil("the job runs") { try await QueueTest.state(of: job.id, connection) == .running }
                let cancelled = try await JobAdmin(connection).cancel(job.id)
                #expect(cancelled?.job.state == .cancelled)
                try await Task.sleep(for: .milliseconds(500))
            }
            #expect(try await QueueTest.state(of: job.id, connection) == .cancelled)
            #expect(try await QueueTest.count(connection, "SELECT count(*) FROM testing_effects") == 0)
            // A finished job cannot be cancelled again.
            await #expect(throws: JobQueueError.notAllowed(jobID: job.id, state: .cancelled, action: "cancel")) {
                try await JobAdmin(connection).cancel(job.id)
            }
        }
    }
}

/// True the first time only.
final class OnceFlag: Sendable {
    private let taken = Mutex(false)
    func takeFirst() -> Bool {
        taken.withLock { taken in
            defer { taken = true }
            return !taken
        }
    }
}
