import Foundation
import Postgres
import Testing
@testable import JobQueue

/// Claiming ahead of free slots: prefetched jobs start as slots free, and none waits behind a
/// long job for longer than its hold.
@Suite("Prefetch")
struct PrefetchTests {
    @Test func aPrefetchedJobBehindALongOneGoesBackToTheQueueAfterItsHold() async throws {
        try await QueueTest.withDatabase { url, connection in
            let long = try await connection.enqueue(try NewJob(SpinJob.self, arguments: .init(), priority: 10))
            var first = JobRegistry()
            first.register(SpinJob(stopped: RunLog()))
            first.register(NoopJob())
            try await QueueTest.withWorker(url, first, { $0.concurrency = 1; $0.prefetch = 10; $0.prefetchHold = .milliseconds(300) }) {
                try await QueueTest.waitUntil("the long job runs") { try await QueueTest.state(of: long.id, connection) == .running }
                try await connection.enqueue((0..<3).map { _ in NewJob(kind: "noop") })
                // The only slot is taken: the worker holds them a while, then hands them back,
                // and a second worker runs them.
                var second = JobRegistry()
                second.register(NoopJob())
                try await QueueTest.withWorker(url, second, { $0.concurrency = 4 }) {
                    try await QueueTest.waitUntil("the short jobs ran elsewhere") {
                        try await QueueTest.count(connection, "SELECT count(*) FROM jobs WHERE kind = 'noop' AND state = 'succeeded'") == 3
                    }
                }
                #expect(try await QueueTest.state(of: long.id, connection) == .running)
                #expect(try await QueueTest.count(connection, "SELECT count(*) FROM jobs WHERE kind = 'noop' AND attempt = 1") == 3)
            }
        }
    }

    @Test func oneWorkerWithOneSlotDrainsManyJobsThroughItsBuffer() async throws {
        try await QueueTest.withDatabase { url, connection in
            try await connection.enqueue((0..<500).map { _ in NewJob(kind: "noop") })
            var registry = JobRegistry()
            registry.register(NoopJob())
            try await QueueTest.drain(url, registry) { $0.concurrency = 1; $0.prefetch = 100 }
            #expect(try await QueueTest.count(connection, "SELECT count(*) FROM jobs WHERE state = 'succeeded' AND attempt = 1") == 500)
        }
    }
}
