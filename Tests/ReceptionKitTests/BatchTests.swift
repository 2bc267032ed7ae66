import Foundation
import Logging
import Placement
import Postgres
import ReceptionKit
import Testing
import TestSupport

@Suite("Allocation batches")
struct BatchTests {
    let logger = Logger(label: "test")
    /// For the instance tests that name their day (a municipality joining 2027-01-01).
    let today = CalendarDay(year: 2026, month: 11, day: 26)!

    func runBatch(_ id: Int, on db: Connection) async throws -> BatchSummary {
        try await BatchRun.run(batchID: id, on: db, logger: logger)
    }

    @Test func resultsEqualTheEnginesOnTheSameInstance() async throws {
        try await TestDatabase.withMigratedDatabase { url in
            let db = try await Connection.connect(url)
            try await WorkflowFixture.seed(on: db, cases: 12)
            // The day the batch will see: the database's clock.
            let instance = try await BatchInstance.load(period: WorkflowFixture.period, municipalities: nil,
                                                        today: try await ReceptionClock.today(on: db), on: db)
            #expect(instance.cases.count == 12)
            let direct = Solver(timeLimit: 5).solve(instance)

            let batch = try await WorkflowFixture.batch(on: db)
            let summary = try await runBatch(batch, on: db)
            #expect(summary.placed == direct.assignments.count)
            #expect(summary.unplaced.count == direct.unplaced.count)
            let written = try await Allocations.list(.init(batch: batch), on: db)
            let writtenPairs = Set(written.map { "\($0.caseID)->\($0.municipalityCode)" })
            let directPairs = Set(direct.assignments.map { "\($0.caseID)->\($0.municipality)" })
            #expect(writtenPairs == directPairs)
            #expect(written.reduce(0) { $0 + ($1.score ?? 0) } == direct.objective)
            let record = try await Batches.find(batch, on: db)
            #expect(record.status == "finished")
            #expect(record.objective == direct.objective && record.bound == direct.bound)
            // Capacity is never exceeded, and every written proposal holds its capacity.
            let over = try await db.query("SELECT count(*) AS n FROM capacity WHERE used > quota OR forced > 0")
            #expect(try over[0].decode("n", as: Int.self) == 0)
            // 12 households of 3 for 3 × 9 persons: 9 placed, 3 wait, each with a reason.
            #expect(summary.placed == 9)
            #expect(summary.unplaced.allSatisfy { !$0.reason.isEmpty })
        }
    }

    @Test func aDryRunWritesNoProposals() async throws {
        try await TestDatabase.withMigratedDatabase { url in
            let db = try await Connection.connect(url)
            try await WorkflowFixture.seed(on: db, cases: 4)
            let batch = try await WorkflowFixture.batch(dryRun: true, on: db)
            let summary = try await runBatch(batch, on: db)
            #expect(summary.placed == 4)
            #expect(summary.proposals?.count == 4)
            #expect(try await Allocations.list(.init(), on: db).isEmpty)
            let used = try await db.query("SELECT sum(used) AS n FROM capacity")
            #expect(try used[0].decode("n", as: Int.self) == 0)
        }
    }

    @Test func withdrawnCasesAndDeactivatedMunicipalitiesAreLeftOut() async throws {
        try await TestDatabase.withMigratedDatabase { url in
            let db = try await Connection.connect(url)
            try await WorkflowFixture.seed(on: db, cases: 4)
            try await db.execute("UPDATE cases SET status = 'withdrawn', withdrawn_reason = 'moved abroad' WHERE reference = 'MIG-2026-1002'")
            try await db.execute("UPDATE municipalities SET active = false WHERE code = '2460'")
            let batch = try await WorkflowFixture.batch(on: db)
            _ = try await runBatch(batch, on: db)
            let written = try await Allocations.list(.init(batch: batch), on: db)
            #expect(written.count == 3)
            #expect(!written.contains { $0.caseReference == "MIG-2026-1002" })
            #expect(!written.contains { $0.municipalityCode == "2460" })
        }
    }

    @Test func aMunicipalityThatHasNotJoinedYetReceivesNothing() async throws {
        try await TestDatabase.withMigratedDatabase { url in
            let db = try await Connection.connect(url)
            try await WorkflowFixture.seed(on: db, cases: 9)
            try await db.execute("UPDATE municipalities SET joined_on = '2027-01-01' WHERE code = '2284'")
            let instance = try await BatchInstance.load(period: WorkflowFixture.period, municipalities: nil, today: today, on: db)
            #expect(instance.municipalities.map(\.code) == ["2460", "2480"])
            let only = try await BatchInstance.load(period: WorkflowFixture.period, municipalities: ["2480"], today: today, on: db)
            #expect(only.municipalities.map(\.code) == ["2480"])
        }
    }

    /// Two batches at once, on two connections, over the same pending cases and capacity: both
    /// solve the same snapshot; the later write finds the households proposed and the capacity
    /// taken, drops or re-solves what no longer fits, and nothing is ever overbooked or placed
    /// twice.
    @Test func twoBatchesAtOnceNeverOverbook() async throws {
        try await TestDatabase.withMigratedDatabase { url in
            let setup = try await Connection.connect(url)
            try await WorkflowFixture.seed(on: setup, cases: 15)
            let first = try await WorkflowFixture.batch(on: setup)
            let second = try await WorkflowFixture.batch(on: setup)
            let a = try await Connection.connect(url)
            let b = try await Connection.connect(url)
            async let one = runBatch(first, on: a)
            async let two = runBatch(second, on: b)
            let placed = try await one.placed + two.placed
            #expect(placed == 9)
            let over = try await setup.query("SELECT count(*) AS n FROM capacity WHERE used > quota")
            #expect(try over[0].decode("n", as: Int.self) == 0)
            let twice = try await setup.query("""
                SELECT count(*) AS n FROM (SELECT case_id FROM allocations WHERE status IN ('proposed','confirmed')
                                           GROUP BY case_id HAVING count(*) > 1) d
                """)
            #expect(try twice[0].decode("n", as: Int.self) == 0)
            let held = try await setup.query("SELECT sum(used) AS n FROM capacity WHERE dimension = 'persons'")
            #expect(try held[0].decode("n", as: Int.self) == 27)
        }
    }

    @Test func aBatchRequestEnqueuesItsJobInTheSameTransaction() async throws {
        try await TestDatabase.withMigratedDatabase { url in
            let db = try await Connection.connect(url)
            try await WorkflowFixture.seed(on: db, cases: 1)
            let batch = try await Batches.request(period: 2026, municipalities: ["2480"], timeLimit: 1, dryRun: false, on: db)
            #expect(batch.status == "queued")
            #expect(batch.jobState == "available")
            #expect(batch.requestedBy == (try await TestDatabase.sessionUser(on: db)))
            let jobs = try await db.query("SELECT kind, args->>'batch_id' AS batch FROM jobs WHERE id = \(batch.jobID!)")
            #expect(try jobs[0].decode("kind", as: String.self) == BatchRun.jobKind)
            #expect(try jobs[0].decode("batch", as: String.self) == String(batch.id))
            await #expect(throws: ReceptionError.notFound("no municipality with code 9999")) {
                try await Batches.request(period: 2026, municipalities: ["9999"], timeLimit: 1, dryRun: false, on: db)
            }
        }
    }
}

/// A batch ends with its job: a job discarded (after its last attempt, by its handler or by a
/// rescue) or cancelled leaves no batch `running` behind it.
@Suite("A batch follows its job")
struct BatchFollowsJobTests {
    @Test func aBatchWhoseJobIsDiscardedFailsAndOneWhoseJobIsCancelledIsCancelled() async throws {
        try await TestDatabase.withMigratedDatabase { url in
            let db = try await Connection.connect(url)
            try await WorkflowFixture.seed(on: db, cases: 1)
            let discarded = try await Batches.request(period: 2026, municipalities: nil, timeLimit: 1, dryRun: false, on: db)
            try await db.execute("""
                UPDATE jobs SET state = 'discarded', finished_at = now(),
                       errors = errors || '[{"message": "worker lost: its lease expired", "attempt": 5}]'
                WHERE id = \(discarded.jobID!)
                """)
            let failed = try await db.query("SELECT status, error FROM batches WHERE id = \(discarded.id)")[0]
            #expect(try failed.decode("status", as: String.self) == "failed")
            #expect(try failed.decode("error", as: String.self) == "its job was discarded: worker lost: its lease expired")

            let cancelled = try await Batches.request(period: 2026, municipalities: nil, timeLimit: 1, dryRun: false, on: db)
            try await db.execute("UPDATE jobs SET state = 'cancelled', finished_at = now() WHERE id = \(cancelled.jobID!)")
            #expect(try await Batches.find(cancelled.id, on: db).status == "cancelled")
            // A job's own time limit is in its arguments, for the daemon's timeout.
            let args = try await db.query("SELECT args->>'time_limit' AS t FROM jobs WHERE id = \(cancelled.jobID!)")[0]
            #expect(try args.decode("t", as: String.self) == "1")
        }
    }
}
