import Foundation
import Postgres
import ReceptionKit
import Testing
import TestSupport

/// Each role can do its work and no more. The test connects as the administrator and takes
/// each role with SET ROLE, so privileges are checked exactly as for a login in that role.
@Suite("Database roles")
struct RoleTests {
    func expectRefused(_ statement: Query, on db: Connection, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        do {
            try await db.withTransaction { db in try await db.execute(statement) }
            Issue.record("allowed: \(statement.sql)", sourceLocation: sourceLocation)
        } catch let error as PostgresError {
            #expect(error.sqlState == .insufficientPrivilege, "\(statement.sql): \(error)", sourceLocation: sourceLocation)
        }
    }

    @Test func theOfficerRegistersDecidesAndRunsBatchesButCannotTamper() async throws {
        try await TestDatabase.withMigratedDatabase { url in
            let db = try await Connection.connect(url)
            try await WorkflowFixture.seed(on: db, cases: 2)
            try await db.executeScript("SET ROLE reception_officer")
            try await db.execute("INSERT INTO municipalities (code, name) VALUES ('2401', 'Nordmaling')")
            try await db.execute("INSERT INTO capacity (municipality_code, period, dimension, quota) VALUES ('2401', 2026, 'persons', 5)")
            try await db.execute("UPDATE capacity SET quota = 12 WHERE municipality_code = '2480' AND period = 2026 AND dimension = 'persons'")
            try await db.execute("INSERT INTO cases (reference, ages, arrived_on) VALUES ('MIG-2026-9', \([40]), '2026-11-01')")
            _ = try await Allocations.override(caseReference: "MIG-2026-1001", to: "2480", period: 2026, reason: "r", force: false, officer: "F", on: db)
            _ = try await Batches.request(period: 2026, municipalities: nil, timeLimit: 2, dryRun: true, officer: "F", on: db)
            _ = try await IntakeReport.load(period: 2026, on: db)
            try await expectRefused("UPDATE capacity SET used = 0", on: db)
            try await expectRefused("DELETE FROM audit_events", on: db)
            try await expectRefused("INSERT INTO audit_events (action) VALUES ('case.registered')", on: db)
            try await expectRefused("UPDATE allocations SET score = 1", on: db)
            try await expectRefused("UPDATE jobs SET state = 'succeeded'", on: db)
            try await expectRefused("DELETE FROM cases", on: db)
            try await expectRefused("CREATE TABLE mine (id int)", on: db)
        }
    }

    @Test func theWorkerRunsBatchesAndTheQueueOnly() async throws {
        try await TestDatabase.withMigratedDatabase { url in
            let db = try await Connection.connect(url)
            try await WorkflowFixture.seed(on: db, cases: 3)
            let batch = try await WorkflowFixture.batch(on: db)
            try await db.executeScript("SET ROLE reception_worker")
            let summary = try await db.withTransaction(isolation: .repeatableRead) { db in
                try await BatchRun.run(batchID: batch, on: db, logger: .init(label: "test"))
            }
            #expect(summary.placed == 3)
            try await db.execute("UPDATE jobs SET state = state WHERE false")
            try await expectRefused("INSERT INTO cases (reference, ages, arrived_on) VALUES ('X-1', '{1}', '2026-01-01')", on: db)
            try await expectRefused("UPDATE cases SET status = 'withdrawn', withdrawn_reason = 'x'", on: db)
            try await expectRefused("UPDATE allocations SET status = 'confirmed'", on: db)
            try await expectRefused("UPDATE capacity SET quota = 100", on: db)
            try await expectRefused("INSERT INTO municipalities (code, name) VALUES ('2401', 'x')", on: db)
            try await expectRefused("DELETE FROM audit_events", on: db)
        }
    }

    @Test func theAuditorOnlyReads() async throws {
        try await TestDatabase.withMigratedDatabase { url in
            let db = try await Connection.connect(url)
            try await WorkflowFixture.seed(on: db, cases: 1)
            try await db.executeScript("SET ROLE reception_auditor")
            _ = try await IntakeReport.load(period: 2026, on: db)
            _ = try await AuditTrail.events(.init(), on: db)
            _ = try await Allocations.list(.init(), on: db)
            try await expectRefused("INSERT INTO municipalities (code, name) VALUES ('2401', 'x')", on: db)
            try await expectRefused("UPDATE capacity SET quota = 1", on: db)
            try await expectRefused("INSERT INTO cases (reference, ages, arrived_on) VALUES ('X-1', '{1}', '2026-01-01')", on: db)
            try await expectRefused("SELECT * FROM jobs", on: db)
            try await expectRefused("INSERT INTO batches (period) VALUES (2026)", on: db)
        }
    }
}
