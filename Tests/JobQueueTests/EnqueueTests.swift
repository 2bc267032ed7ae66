import Foundation
import Postgres
import Testing
@testable import JobQueue

@Suite("Enqueue")
struct EnqueueTests {
    @Test func aJobEnqueuedInARolledBackTransactionDoesNotExist() async throws {
        try await QueueTest.withDatabase { _, connection in
            try await connection.executeScript("CREATE TABLE arrivals (id bigint PRIMARY KEY)")
            struct Refused: Error {}
            await #expect(throws: Refused.self) {
                try await connection.withTransaction { transaction in
                    try await transaction.execute("INSERT INTO arrivals VALUES (1)")
                    try await transaction.enqueue(NewJob(kind: "noop"))
                    try await transaction.enqueue([NewJob(kind: "noop"), NewJob(kind: "noop")])
                    throw Refused()
                }
            }
            #expect(try await QueueTest.count(connection, "SELECT count(*) FROM jobs") == 0)
            #expect(try await QueueTest.count(connection, "SELECT count(*) FROM arrivals") == 0)

            // Committed, the row and its job are both there.
            let job = try await connection.withTransaction { transaction in
                try await transaction.execute("INSERT INTO arrivals VALUES (2)")
                return try await transaction.enqueue(NewJob(kind: "noop"))
            }
            #expect(job.inserted)
            #expect(try await QueueTest.count(connection, "SELECT count(*) FROM jobs") == 1)
            #expect(try await QueueTest.count(connection, "SELECT count(*) FROM arrivals") == 1)
        }
    }

    @Test func aUniqueKeyAddsNothingWhileItsJobIsQueuedOrRunning() async throws {
        try await QueueTest.withDatabase { url, connection in
            let first = try await connection.enqueue(NewJob(kind: "noop", uniqueKey: "batch:42"))
            let second = try await connection.enqueue(NewJob(kind: "noop", argumentsJSON: #"{"other":true}"#, uniqueKey: "batch:42"))
            let other = try await connection.enqueue(NewJob(kind: "noop", uniqueKey: "batch:43"))
            #expect(first.inserted && !second.inserted && other.inserted)
            #expect(second.id == first.id)
            #expect(other.id != first.id)
            #expect(try await QueueTest.count(connection, "SELECT count(*) FROM jobs") == 2)

            // Bulk: held keys are skipped, duplicates within the batch count once.
            let added = try await connection.enqueue([
                NewJob(kind: "noop", uniqueKey: "batch:42"),
                NewJob(kind: "noop", uniqueKey: "batch:44"),
                NewJob(kind: "noop", uniqueKey: "batch:44"),
            ])
            #expect(added == 1)

            // Once the job has finished, the key is free again.
            var registry = JobRegistry()
            registry.register(NoopJob())
            try await QueueTest.drain(url, registry)
            #expect(try await QueueTest.state(of: first.id, connection) == .succeeded)
            let again = try await connection.enqueue(NewJob(kind: "noop", uniqueKey: "batch:42"))
            #expect(again.inserted && again.id != first.id)
        }
    }

    @Test func bulkEnqueueCopiesAndWakesListenersOnce() async throws {
        try await QueueTest.withDatabase { url, connection in
            let listener = try await Connection.connect(url)
            try await listener.listen(JobStatements.channel)
            let jobs = (0..<5000).map { NewJob(kind: "noop", argumentsJSON: #"{"n":\#($0)}"#, priority: $0 % 3) }
            #expect(try await connection.enqueue(jobs) == 5000)
            var notifications: [PostgresNotification] = []
            let deadline = ContinuousClock.now + .seconds(2)
            while ContinuousClock.now < deadline {
                notifications += try await listener.waitForNotifications(timeout: .milliseconds(200))
            }
            #expect(notifications.count == 1)
            let defaults = try await connection.query("""
                SELECT count(*) AS n, min(max_attempts) AS low, max(max_attempts) AS high,
                       count(*) FILTER (WHERE state = 'available' AND attempt = 0 AND run_at <= now()) AS ready,
                       count(*) FILTER (WHERE args->>'n' IS NOT NULL) AS with_args
                FROM jobs
                """)[0]
            #expect(try defaults.decode("n", as: Int.self) == 5000)
            #expect(try defaults.decode("low", as: Int.self) == 10)
            #expect(try defaults.decode("high", as: Int.self) == 10)
            #expect(try defaults.decode("ready", as: Int.self) == 5000)
            #expect(try defaults.decode("with_args", as: Int.self) == 5000)

            // Scheduled jobs and explicit attempts take the multi-row INSERT, still one statement.
            let later = Date().addingTimeInterval(3600)
            let scheduled = (0..<10).map { _ in NewJob(kind: "noop", runAt: later, maxAttempts: 3) }
            #expect(try await connection.enqueue(scheduled) == 10)
            #expect(try await QueueTest.count(connection, "SELECT count(*) FROM jobs WHERE max_attempts = 3 AND run_at > now() + interval '59 minutes'") == 10)
        }
    }

    @Test func invalidJobsAreRefusedBeforeTheDatabase() async throws {
        try await QueueTest.withDatabase { _, connection in
            await #expect(throws: JobQueueError.self) { try await connection.enqueue(NewJob(kind: "")) }
            await #expect(throws: JobQueueError.self) { try await connection.enqueue(NewJob(kind: "noop", maxAttempts: 0)) }
            await #expect(throws: PostgresError.self) { try await connection.enqueue(NewJob(kind: "noop", argumentsJSON: "{not json")) }
            let count = try await QueueTest.count(connection, "SELECT count(*) FROM jobs")
            #expect(count == 0)
        }
    }
}
