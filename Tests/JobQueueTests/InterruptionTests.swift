import Foundation
import Postgres
import Testing
@testable import JobQueue

/// Nothing runs or waits for ever: a handler is stopped when its job times out, is cancelled
/// or is lost; a job whose session keeps dying ends; a job whose outcome was dropped expires.
@Suite("Timeouts and interruption")
struct InterruptionTests {
    /// A lease of 3 s: the heartbeat comes every second.
    static func shortLease(_ configuration: inout JobWorkerConfiguration) {
        configuration.leaseDuration = .seconds(3)
        configuration.rescueInterval = .milliseconds(100)
    }

    @Test func aRunningJobCancelledByAnOperatorHasItsHandlerStopped() async throws {
        try await QueueTest.withDatabase { url, connection in
            let job = try await connection.enqueue(try NewJob(SpinJob.self, arguments: .init()))
            let stopped = RunLog()
            var registry = JobRegistry()
            registry.register(SpinJob(stopped: stopped))
            try await QueueTest.withWorker(url, registry, Self.shortLease) {
                try await QueueTest.waitUntil("the job runs") { try await QueueTest.state(of: job.id, connection) == .running }
                let cancelled = try await JobAdmin(connection).cancel(job.id)
                #expect(cancelled?.job.state == .cancelled)
                try await QueueTest.waitUntil("the handler was stopped", timeout: .seconds(30)) { stopped.ids == [job.id] }
            }
            let record = try #require(try await JobAdmin(connection).job(job.id))
            #expect(record.state == .cancelled && record.errors.isEmpty)
        }
    }

    @Test func aJobWhoseLeaseWasLostHasItsHandlerStoppedAndNothingWritten() async throws {
        try await QueueTest.withDatabase { url, connection in
            let job = try await connection.enqueue(try NewJob(SpinJob.self, arguments: .init()))
            let stopped = RunLog()
            var registry = JobRegistry()
            registry.register(SpinJob(stopped: stopped))
            try await QueueTest.withWorker(url, registry, Self.shortLease) {
                try await QueueTest.waitUntil("the job runs") { try await QueueTest.state(of: job.id, connection) == .running }
                // Another worker took it over (as a rescue after an expired lease would), with a
                // lease long enough that this worker's own rescue never takes it back.
                try await connection.execute("UPDATE jobs SET lease_owner = 'another-worker', attempt = 2, lease_expires_at = now() + interval '1 hour' WHERE id = \(job.id)")
                try await QueueTest.waitUntil("the handler was stopped", timeout: .seconds(30)) { stopped.ids == [job.id] }
            }
            let record = try #require(try await JobAdmin(connection).job(job.id))
            #expect(record.state == .running && record.leaseOwner == "another-worker" && record.errors.isEmpty)
        }
    }

    @Test func anAttemptThatRunsPastItsTimeoutFailsAndIsRetried() async throws {
        try await QueueTest.withDatabase { url, connection in
            let job = try await connection.enqueue(try NewJob(SpinJob.self, arguments: .init(timeoutMilliseconds: 300), maxAttempts: 2))
            let stopped = RunLog()
            var registry = JobRegistry()
            registry.register(SpinJob(stopped: stopped))
            // Not a drain: the retry is due a few milliseconds after the first failure.
            try await QueueTest.withWorker(url, registry) {
                try await QueueTest.waitUntil("the job is discarded") { try await QueueTest.state(of: job.id, connection) == .discarded }
            }
            let record = try #require(try await JobAdmin(connection).job(job.id))
            #expect(record.state == .discarded && record.attempt == 2)
            #expect(record.errors.map(\.message) == ["timed out after 300ms", "timed out after 300ms"])
            #expect(stopped.ids == [job.id, job.id])
        }
    }

    /// A handler that ignores cancellation does not keep its slot, its lease or the worker: it is
    /// abandoned a while after it was asked to stop, and its attempt ends as timed out.
    @Test func aHandlerThatIgnoresCancellationIsAbandoned() async throws {
        try await QueueTest.withDatabase { url, connection in
            let job = try await connection.enqueue(NewJob(kind: StubbornJob.kind, maxAttempts: 1))
            let released = StubbornJob.Release()
            defer { released.release() }
            var stubborn = JobRegistry()
            stubborn.register(StubbornJob(released: released))
            let registry = stubborn
            // The drain ends although the handler never does.
            let drained: Result<Void, any Error>? = await withTimeout(.seconds(120)) {
                do {
                    try await QueueTest.drain(url, registry) { $0.handlerStopTimeout = .milliseconds(300) }
                    return .success(())
                } catch { return .failure(error) }
            }
            let outcome = try #require(drained, "the worker waited for a handler that ignores cancellation")
            try outcome.get()
            let record = try #require(try await JobAdmin(connection).job(job.id))
            #expect(record.state == .discarded && record.errors.map(\.message) == ["timed out after 200ms"])
        }
    }

    @Test func theWorkersDefaultTimeoutAppliesToHandlersWithoutOne() async throws {
        try await QueueTest.withDatabase { url, connection in
            let job = try await connection.enqueue(try NewJob(SpinJob.self, arguments: .init(), maxAttempts: 1))
            var registry = JobRegistry()
            registry.register(SpinJob(stopped: RunLog()))
            try await QueueTest.drain(url, registry) { $0.jobTimeout = .milliseconds(200) }
            let record = try #require(try await JobAdmin(connection).job(job.id))
            #expect(record.state == .discarded && record.errors.map(\.message) == ["timed out after 200ms"])
        }
    }

    /// A handler committing its result holds its job's row; the operator's cancel does not wait
    /// for it: it records the request, the heartbeat stops the handler, its transaction rolls
    /// back, and the job ends cancelled with no effect.
    @Test func cancellingAJobWhoseHandlerHoldsItsRowReturnsAtOnceAndStopsIt() async throws {
        try await QueueTest.withDatabase { url, connection in
            let job = try await connection.enqueue(NewJob(kind: SlowCommitJob.kind))
            let started = RunLog()
            var registry = JobRegistry()
            registry.register(SlowCommitJob(started: started))
            try await QueueTest.withWorker(url, registry, { $0.leaseDuration = .seconds(3); $0.jobTimeout = .seconds(120) }) {
                try await QueueTest.waitUntil("the handler holds its row") { started.ids == [job.id] }
                let cancellation = try #require(try await JobAdmin(connection).cancel(job.id))
                guard case .requested(let record) = cancellation else {
                    Issue.record("the cancel did not wait for the handler's row, so it was recorded: \(cancellation)")
                    return
                }
                #expect(record.state == .running && record.cancelRequestedAt != nil)
                try await QueueTest.waitUntil("the job is cancelled") { try await QueueTest.state(of: job.id, connection) == .cancelled }
            }
            let record = try #require(try await JobAdmin(connection).job(job.id))
            // On a loaded machine the lease (not extended while the handler holds the row) may
            // expire first and the job be rescued: it ends cancelled all the same.
            #expect(record.errors.last?.message == "cancelled by an operator while running")
            #expect(try await QueueTest.count(connection, "SELECT count(*) FROM testing_effects") == 0)
            // A retry takes the request back: the job runs again like any other.
            #expect(try await JobAdmin(connection).retry(job.id)?.cancelRequestedAt == nil)
        }
    }

    /// Whatever would send a running job with a cancel request back to the queue — a failed
    /// attempt's retry, a snooze, a hand-back, a hand-back after a lost session, a rescue —
    /// ends it cancelled instead (sql/021's trigger); a job without one goes back as before.
    @Test func aCancelRequestEndsTheJobWhereverItWouldGoBackToTheQueue() async throws {
        try await QueueTest.withDatabase { url, connection in
            var ids: [Int64] = []
            for _ in 0..<6 { ids.append(try await connection.enqueue(NewJob(kind: "noop")).id) }
            let owner = "worker-x"
            let claimed = try await connection.query(JobStatements.claim(owner: owner, lease: .seconds(60), queues: ["default"], limit: 6))
            #expect(claimed.count == 6)
            for id in ids.prefix(5) { try await connection.execute(JobStatements.requestCancel(id)) }
            _ = try await connection.query(JobStatements.failMany([(ids[0], "boom", .seconds(1)), (ids[5], "boom", .seconds(1))], owner: owner))
            _ = try await connection.query(JobStatements.snoozeMany([(ids[1], .seconds(60))], owner: owner))
            try await connection.execute(JobStatements.handBack(ids: [ids[2]], owner: owner))
            _ = try await connection.query(JobStatements.handBackAfterSessionLoss(ids: [ids[3]], owner: owner))
            try await connection.execute("UPDATE jobs SET lease_expires_at = now() - interval '1 second' WHERE id = \(ids[4])")
            _ = try await connection.query(JobStatements.rescue(policy: .exponentialJitter(base: .seconds(1), maximum: .seconds(1), jitter: 0), limit: 10))
            for id in ids.prefix(5) {
                let record = try #require(try await JobAdmin(connection).job(id))
                #expect(record.state == .cancelled && record.finishedAt != nil, "job \(id)")
                #expect(record.errors.last?.message == "cancelled by an operator while running", "job \(id)")
            }
            #expect(try await QueueTest.state(of: ids[5], connection) == .retryable)
        }
    }

    @Test func aJobWhoseSessionKeepsDyingEndsDiscarded() async throws {
        try await QueueTest.withDatabase { url, connection in
            let job = try await connection.enqueue(NewJob(kind: LoseSessionJob.kind, maxAttempts: 2))
            var registry = JobRegistry()
            registry.register(LoseSessionJob())
            try await QueueTest.withWorker(url, registry) {
                try await QueueTest.waitUntil("the job is discarded") { try await QueueTest.state(of: job.id, connection) == .discarded }
            }
            let record = try #require(try await JobAdmin(connection).job(job.id))
            // Two losses free, then each counts: attempt 1 again, then attempt 2, the last.
            #expect(record.attempt == 2)
            #expect(record.errors.count == JobStatements.freeSessionLosses + 2)
            #expect(record.errors.allSatisfy { $0.message == "lost the database session while running" })
        }
    }

    /// A job running under the worker's name that it does not know of — its outcome could not
    /// be written — is not kept alive by the heartbeat: it expires, is rescued, and runs again.
    @Test func aJobWhoseOutcomeWasDroppedExpiresInsteadOfRunningForEver() async throws {
        try await QueueTest.withDatabase { url, connection in
            let job = try await connection.enqueue(NewJob(kind: EffectJob.kind))
            _ = try await connection.query(JobStatements.claim(owner: "worker-a", lease: .seconds(3), queues: ["default"], limit: 1))
            var registry = JobRegistry()
            registry.register(EffectJob())
            // The worker's own leases are long (30 s): on a loaded machine its attempt is never
            // rescued in turn; it only rescues eagerly.
            try await QueueTest.withWorker(url, registry, { $0.rescueInterval = .milliseconds(100); $0.workerID = "worker-a" }) {
                try await QueueTest.waitUntil("the job ran again") { try await QueueTest.state(of: job.id, connection) == .succeeded }
            }
            let record = try #require(try await JobAdmin(connection).job(job.id))
            #expect(record.attempt == 2 && record.errors.map(\.message) == ["worker lost: its lease expired"], "\(record)")
        }
    }
}
