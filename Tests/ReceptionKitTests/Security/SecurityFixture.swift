import Foundation
import Postgres
import ReceptionKit
import Testing
import TestSupport

/// The ground every attack starts from: Umeå, Vännäs and Örnsköldsvik with a few households
/// (WorkflowFixture), real logins for each role and one with none, and an allocation batch
/// that the officer requested and the worker's login runs (its job claimed by that login).
struct SecurityGround {
    let admin: Connection
    let logins: TestLogins
    /// The batch in state running, its job claimed by the worker's login.
    let runningBatch: Int

    static func with(cases: Int = 6, _ body: (SecurityGround) async throws -> Void) async throws {
        try await TestDatabase.withMigratedDatabase { url in
            let admin = try await Connection.connect(url)
            try await WorkflowFixture.seed(on: admin, cases: cases)
            try await TestLogins.with(database: url) { logins in
                let officer = try await logins.connect(.officer)
                let batch = try await Batches.request(period: WorkflowFixture.period, municipalities: nil, timeLimit: 5,
                                                      dryRun: false, on: officer)
                let worker = try await logins.connect(.worker)
                try await claimAndStart(batch: batch.id, on: worker)
                try await body(SecurityGround(admin: admin, logins: logins, runningBatch: batch.id))
            }
        }
    }

    /// What receptiond does before solving: claim the batch's job (as the queue's claim
    /// statement does, which records the claiming login) and mark the batch running.
    static func claimAndStart(batch: Int, on worker: Connection) async throws {
        try await worker.execute("""
            UPDATE jobs SET state = 'running', attempt = attempt + 1, lease_owner = 'security-test',
                   claimed_by = session_user, lease_expires_at = now() + interval '10 minutes', attempted_at = now()
            WHERE id = (SELECT job_id FROM batches WHERE id = \(batch))
            """)
        try await worker.execute("UPDATE batches SET status = 'running', started_at = now() WHERE id = \(batch)")
    }

    /// Everything an attack could change, as one digest: allocations, capacity, case status
    /// and reasons, batches, jobs, municipalities, officers, and the size of the audit trail.
    func fingerprint() async throws -> String {
        try await admin.query("""
            SELECT md5(string_agg(t, '|' ORDER BY t)) AS digest FROM (
                SELECT 'a' || row(a.*)::text FROM allocations a
                UNION ALL SELECT 'k' || row(k.*)::text FROM capacity k
                UNION ALL SELECT 'c' || row(c.id, c.status, c.withdrawn_reason, c.needs_revision)::text FROM cases c
                UNION ALL SELECT 'n' || row(n.*)::text FROM case_needs n
                UNION ALL SELECT 'b' || row(b.*)::text FROM batches b
                UNION ALL SELECT 'j' || row(j.id, j.state, j.args, j.priority, j.claimed_by)::text FROM jobs j
                UNION ALL SELECT 'm' || row(m.*)::text FROM municipalities m
                UNION ALL SELECT 'o' || row(o.*)::text FROM officers o
                UNION ALL SELECT 'e' || count(*) FROM audit_events
            ) x (t)
            """)[0].decode("digest")
    }

    /// A pending household's id, for proposals.
    func caseID(_ reference: String = "MIG-2026-1001") async throws -> Int {
        try await WorkflowFixture.caseID(reference, on: admin)
    }
}

/// Runs `statement` in its own transaction and expects the server to refuse it with `state`.
func expectRefused(_ statement: Query, on connection: Connection, _ state: SQLState,
                   sourceLocation: SourceLocation = #_sourceLocation) async {
    do {
        try await connection.withTransaction(maxAttempts: 1) { connection in try await connection.execute(statement) }
        Issue.record("allowed, but must be refused with \(state): \(statement.sql)", sourceLocation: sourceLocation)
    } catch let error as PostgresError {
        #expect(error.sqlState == state, "\(statement.sql): \(error)", sourceLocation: sourceLocation)
    } catch {
        Issue.record("\(statement.sql): unexpected \(error)", sourceLocation: sourceLocation)
    }
}

/// Runs `statement` and expects it to change no row (a row-level security policy hides the
/// rows a role may not touch: the statement succeeds and does nothing).
func expectNoRowChanged(_ sql: String, on connection: Connection,
                        sourceLocation: SourceLocation = #_sourceLocation) async throws {
    let rows = try await connection.query(Query(stringLiteral: sql + " RETURNING 1"))
    #expect(rows.isEmpty, "changed \(rows.count) rows: \(sql)", sourceLocation: sourceLocation)
}
