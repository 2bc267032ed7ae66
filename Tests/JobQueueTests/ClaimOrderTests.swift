import Foundation
import Postgres
import Testing
@testable import JobQueue

@Suite("Claim order")
struct ClaimOrderTests {
    @Test func jobsRunByPriorityThenRunAtThenID() async throws {
        try await QueueTest.withDatabase { url, connection in
            let now = Date()
            let minutesAgo = { (minutes: Double) in now.addingTimeInterval(-60 * minutes) }
            let specs: [(priority: Int, runAt: Date)] = [
                (0, minutesAgo(1)), (5, minutesAgo(1)), (-1, minutesAgo(9)), (5, minutesAgo(3)),
                (0, minutesAgo(2)), (0, minutesAgo(2)), (5, minutesAgo(1)), (-1, minutesAgo(1)),
            ]
            var expected: [(id: Int64, priority: Int, runAt: Date)] = []
            try await connection.withTransaction { transaction in
                for spec in specs {
                    let job = try await transaction.enqueue(NewJob(kind: RecordJob.kind, priority: spec.priority, runAt: spec.runAt))
                    expected.append((job.id, spec.priority, spec.runAt))
                }
                // Not due yet: must not run.
                try await transaction.enqueue(NewJob(kind: RecordJob.kind, priority: 100, runAt: now.addingTimeInterval(3600)))
            }
            let order = expected.sorted {
                ($0.priority, $1.runAt, $1.id) > ($1.priority, $0.runAt, $0.id)
            }.map(\.id)

            let log = RunLog()
            var registry = JobRegistry()
            registry.register(RecordJob(log: log))
            try await QueueTest.drain(url, registry) { $0.concurrency = 1 }
            #expect(log.ids == order)
            #expect(try await QueueTest.count(connection, "SELECT count(*) FROM jobs WHERE state = 'scheduled'") == 1)
        }
    }

    @Test func aClaimTakesAsManyJobsAsThereAreFreeSlotsAndSkipsLockedOnes() async throws {
        try await QueueTest.withDatabase { url, connection in
            try await connection.enqueue((0..<10).map { _ in NewJob(kind: "noop") })
            let other = try await Connection.connect(url)
            // Another worker's claim in flight holds row locks; ours skips those rows.
            try await other.execute("BEGIN")
            let theirs = try await other.query(JobStatements.claim(owner: "other", lease: .seconds(30), queues: ["default"], limit: 4))
            let ours = try await connection.query(JobStatements.claim(owner: "me", lease: .seconds(30), queues: ["default"], limit: 5))
            #expect(theirs.count == 4)
            #expect(ours.count == 5)
            let theirIDs = Set(try theirs.map { try $0.decode("id", as: Int64.self) })
            let ourIDs = try ours.map { try $0.decode("id", as: Int64.self) }
            #expect(theirIDs.isDisjoint(with: ourIDs))
            // In order: the lowest ids that the other claim does not hold.
            let all = try await connection.query("SELECT id FROM jobs ORDER BY id").map { try $0.decode("id", as: Int64.self) }
            #expect(theirIDs == Set(all.prefix(4)))
            #expect(ourIDs.sorted() == Array(all.filter { !theirIDs.contains($0) }.prefix(5)))
            try await other.execute("ROLLBACK")
            #expect(try await QueueTest.count(connection, "SELECT count(*) FROM jobs WHERE state = 'running' AND lease_owner = 'me' AND attempt = 1") == 5)
            // Other queues are not touched.
            #expect(try await connection.query(JobStatements.claim(owner: "me", lease: .seconds(30), queues: ["imports"], limit: 5)).isEmpty)
            #expect(try await connection.query(JobStatements.claim(owner: "me", lease: .seconds(30), queues: ["default", "imports"], limit: 50)).count == 5)
        }
    }
}
