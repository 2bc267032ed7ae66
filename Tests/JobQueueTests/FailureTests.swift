import Foundation
import Postgres
import Testing
@testable import JobQueue

@Suite("Failure, retry and the dead letter")
struct FailureTests {
    @Test func aFailingJobIsRetriedWithBackoffThenDiscardedWithItsWholeHistory() async throws {
        try await QueueTest.withDatabase { url, connection in
            let job = try await connection.enqueue(NewJob(kind: FailingJob.kind, maxAttempts: 3))
            var registry = JobRegistry()
            registry.register(FailingJob())
            let policy = RetryPolicy.exponentialJitter(base: .milliseconds(150), maximum: .seconds(1), jitter: 0.2)

            // After the first failure: retryable, due after the backoff, with one error.
            try await QueueTest.withWorker(url, registry, { $0.retryPolicy = policy }) {
                try await QueueTest.waitUntil("the job was discarded") {
                    try await QueueTest.state(of: job.id, connection) == .discarded
                }
            }
            let record = try #require(try await JobAdmin(connection).job(job.id))
            #expect(record.state == .discarded)
            #expect(record.attempt == 3)
            #expect(record.finishedAt != nil)
            #expect(record.errors.map(\.attempt) == [1, 2, 3])
            #expect(record.errors.map(\.message) == ["boom on attempt 1", "boom on attempt 2", "boom on attempt 3"])
            #expect(record.errors.allSatisfy { $0.worker != nil })
            // Each retry waited its backoff: base, then twice the base (± jitter).
            let gaps = zip(record.errors.dropFirst(), record.errors).map { $0.at.timeIntervalSince($1.at) }
            #expect(gaps[0] >= 0.150 * 0.8)
            #expect(gaps[1] >= 0.300 * 0.8)
        }
    }

    @Test func aDiscardedJobRunsAgainWhenRetriedByAnOperator() async throws {
        try await QueueTest.withDatabase { url, connection in
            let job = try await connection.enqueue(NewJob(kind: FailingJob.kind, maxAttempts: 1))
            var failing = JobRegistry()
            failing.register(FailingJob())
            try await QueueTest.drain(url, failing)
            #expect(try await QueueTest.state(of: job.id, connection) == .discarded)

            let retried = try #require(try await JobAdmin(connection).retry(job.id))
            #expect(retried.state == .available && retried.maxAttempts == 2 && retried.errors.count == 1)
            var working = JobRegistry()
            working.register(RecordJob(log: RunLog()))
            try await connection.execute("UPDATE jobs SET kind = \(RecordJob.kind) WHERE id = \(job.id)")
            try await QueueTest.drain(url, working)
            let record = try #require(try await JobAdmin(connection).job(job.id))
            #expect(record.state == .succeeded && record.attempt == 2 && record.errors.count == 1)
        }
    }

    @Test func handlersCanCancelDiscardOrSnoozeTheirJobs() async throws {
        struct ControlJob: JobHandler {
            struct Arguments: Codable, Sendable { var action: String }
            static let kind = "test.control"
            let firstSnooze = OnceFlag()
            func run(_ arguments: Arguments, context: JobContext) async throws {
                switch arguments.action {
                case "cancel": throw JobControl.cancel(reason: "no longer needed")
                case "discard": throw JobControl.discard(reason: "cannot ever work")
                case "snooze" where firstSnooze.takeFirst(): throw JobControl.snooze(.milliseconds(300))
                default: return
                }
            }
        }
        try await QueueTest.withDatabase { url, connection in
            let cancel = try await connection.enqueue(try NewJob(ControlJob.self, arguments: .init(action: "cancel")))
            let discard = try await connection.enqueue(try NewJob(ControlJob.self, arguments: .init(action: "discard")))
            let snooze = try await connection.enqueue(try NewJob(ControlJob.self, arguments: .init(action: "snooze")))
            var registry = JobRegistry()
            registry.register(ControlJob())
            try await QueueTest.drain(url, registry)

            let cancelled = try #require(try await JobAdmin(connection).job(cancel.id))
            #expect(cancelled.state == .cancelled && cancelled.attempt == 1)
            #expect(cancelled.errors.map(\.message) == ["cancelled by its handler: no longer needed"])
            let discarded = try #require(try await JobAdmin(connection).job(discard.id))
            #expect(discarded.state == .discarded && discarded.attempt == 1 && discarded.maxAttempts == 10)
            // Snoozed: it ran again later, the snoozed attempt not counted.
            try await QueueTest.waitUntil("the snoozed job is due") {
                try await QueueTest.count(connection, "SELECT count(*) FROM jobs WHERE id = \(snooze.id) AND run_at <= now()") == 1
            }
            try await QueueTest.drain(url, registry)
            let snoozed = try #require(try await JobAdmin(connection).job(snooze.id))
            #expect(snoozed.state == .succeeded && snoozed.attempt == 1 && snoozed.errors.isEmpty)
        }
    }

    @Test func unknownKindsAndUndecodableArgumentsFailWithoutLeakingTheArguments() async throws {
        try await QueueTest.withDatabase { url, connection in
            let unknown = try await connection.enqueue(NewJob(kind: "not.registered", maxAttempts: 1))
            let bad = try await connection.enqueue(NewJob(kind: EffectJob.kind, argumentsJSON: #"{"sleepMilliseconds":"Anna Svensson"}"#, maxAttempts: 1))
            var registry = JobRegistry()
            registry.register(EffectJob())
            try await QueueTest.drain(url, registry)
            let first = try #require(try await JobAdmin(connection).job(unknown.id))
            #expect(first.state == .discarded)
            #expect(first.errors.first?.message.contains("no handler for job kind") == true)
            let second = try #require(try await JobAdmin(connection).job(bad.id))
            #expect(second.state == .discarded)
            #expect(second.errors.first?.message.contains("sleepMilliseconds") == true)
            #expect(second.errors.first?.message.contains("Anna") == false)
        }
    }
}
