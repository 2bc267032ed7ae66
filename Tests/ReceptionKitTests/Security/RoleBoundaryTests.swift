import Foundation
import Postgres
import ReceptionKit
import Testing
import TestSupport

/// Trust §3: each role can do exactly its job.
@Suite("Security: each role can do exactly its job")
struct RoleBoundaryTests {
    /// A compromised daemon: it writes proposals into the batch its login runs, and nothing
    /// else of consequence.
    @Test func theWorkerWritesOnlyProposalsIntoABatchItHolds() async throws {
        try await SecurityGround.with { ground in
            let worker = try await ground.logins.connect(.worker)
            let one = try await ground.caseID("MIG-2026-1001")
            let before = try await ground.fingerprint()
            // Confirmed, forced, with a decision, or outside any batch: refused by policy.
            for statement: Query in [
                "INSERT INTO allocations (case_id, municipality_code, period, status, batch_id) VALUES (\(one), '2480', 2026, 'confirmed', \(ground.runningBatch))",
                "INSERT INTO allocations (case_id, municipality_code, period, status) VALUES (\(one), '2480', 2026, 'proposed')",
            ] {
                await expectRefused(statement, on: worker, .insufficientPrivilege)
            }
            // A second batch, requested but not claimed by this login: no proposals into it,
            // no changing it (the policy hides it), and no cancelling it.
            let other = try await Batches.request(period: 2026, municipalities: nil, timeLimit: 5, dryRun: false,
                                                  on: try await ground.logins.connect(.officer))
            let afterRequest = try await ground.fingerprint()
            #expect(afterRequest != before)
            await expectRefused("""
                INSERT INTO allocations (case_id, municipality_code, period, status, batch_id) VALUES (\(one), '2480', 2026, 'proposed', \(other.id))
                """, on: worker, .insufficientPrivilege)
            try await expectNoRowChanged("UPDATE batches SET status = 'cancelled', finished_at = now() WHERE id = \(other.id)", on: worker)
            // Jobs: it cannot delete one that has not finished, nor mark a job running as another login.
            try await expectNoRowChanged("DELETE FROM jobs WHERE id = \(other.jobID!)", on: worker)
            await expectRefused("UPDATE jobs SET state = 'running', claimed_by = 'someone', lease_owner = 'x', lease_expires_at = now() WHERE id = \(other.jobID!)",
                                on: worker, .insufficientPrivilege)
            // It does not read the audit trail, nor write what officers write.
            await expectRefused("SELECT * FROM audit_events", on: worker, .insufficientPrivilege)
            await expectRefused("UPDATE allocations SET status = 'confirmed'", on: worker, .insufficientPrivilege)
            await expectRefused("UPDATE capacity SET quota = 100", on: worker, .insufficientPrivilege)
            await expectRefused("INSERT INTO cases (reference, ages, arrived_on) VALUES ('X-1', '{1}', '2026-01-01')", on: worker, .insufficientPrivilege)
            await expectRefused("SELECT withdraw_case(\(one), 'x')", on: worker, .insufficientPrivilege)
            #expect(try await ground.fingerprint() == afterRequest)

            // Its own batch's request is not its to rewrite.
            await expectRefused("""
                UPDATE batches SET summary = summary || '{"time_limit": 3600, "municipalities_requested": ["2480"]}' WHERE id = \(ground.runningBatch)
                """, on: worker, .raiseException)
            try await worker.execute("""
                UPDATE jobs SET errors = errors || '[{"message": "first"}]'::jsonb
                WHERE id = (SELECT job_id FROM batches WHERE id = \(ground.runningBatch))
                """)
            // Its own job: a proposal goes in, and once the batch is finished, its result is final.
            try await worker.execute("""
                INSERT INTO allocations (case_id, municipality_code, period, status, score, batch_id)
                VALUES (\(one), '2480', 2026, 'proposed', 900, \(ground.runningBatch))
                """)
            try await worker.execute("""
                UPDATE batches SET status = 'finished', finished_at = now(), objective = 900, bound = 900 WHERE id = \(ground.runningBatch)
                """)
            await expectRefused("UPDATE batches SET objective = 1, bound = 1 WHERE id = \(ground.runningBatch)", on: worker, .raiseException)
            await expectRefused("UPDATE jobs SET errors = '[]' WHERE id = (SELECT job_id FROM batches WHERE id = \(ground.runningBatch))",
                                on: worker, .insufficientPrivilege)
            await expectRefused("UPDATE batches SET objective = 1, bound = 1 WHERE id = \(ground.runningBatch)", on: ground.admin, .raiseException)
        }
    }

    /// The worker's hold on the queue is the queue's own rules: it cannot rewrite a queued
    /// job, cancel or claim one early, steal one that another login runs, revive a finished
    /// one, or cancel the batch whose job it claimed.
    @Test func theWorkerCannotSteerTheQueue() async throws {
        try await SecurityGround.with { ground in
            let worker = try await ground.logins.connect(.worker)
            let other = try await Batches.request(period: 2026, municipalities: nil, timeLimit: 5, dryRun: false,
                                                  on: try await ground.logins.connect(.officer))
            let queued = try #require(other.jobID)
            try await ground.admin.executeScript("""
                INSERT INTO jobs (kind, args, state, attempt, lease_owner, lease_expires_at, claimed_by)
                VALUES ('noop', '{}', 'running', 1, 'elsewhere', now() + interval '10 minutes', 'another_daemon');
                INSERT INTO jobs (kind, args, state, finished_at) VALUES ('noop', '{}', 'succeeded', now());
                INSERT INTO jobs (kind, args, run_at) VALUES ('noop', '{}', now() + interval '1 day');
                """)
            let ids = try await ground.admin.query("SELECT id, state, run_at > now() AS later FROM jobs ORDER BY id DESC LIMIT 3")
            let scheduled = try ids[0].decode("id", as: Int.self), finished = try ids[1].decode("id", as: Int.self)
            let foreign = try ids[2].decode("id", as: Int.self)
            let before = try await ground.fingerprint()
            for statement: Query in [
                "UPDATE jobs SET kind = 'noop' WHERE id = \(queued)",
                "UPDATE jobs SET args = '{\"batch_id\": 999}' WHERE id = \(queued)",
                "UPDATE jobs SET state = 'cancelled', finished_at = now() WHERE id = \(queued)",
                "UPDATE jobs SET state = 'running', claimed_by = session_user, lease_owner = 'me', lease_expires_at = now() + interval '1 minute' WHERE id = \(scheduled)",
                "UPDATE jobs SET state = 'running', claimed_by = session_user, lease_owner = 'me' WHERE id = \(foreign)",
                "UPDATE jobs SET state = 'retryable', lease_owner = NULL WHERE id = \(foreign)",
                "UPDATE jobs SET state = 'available', finished_at = NULL WHERE id = \(finished)",
            ] {
                await expectRefused(statement, on: worker, .insufficientPrivilege)
            }
            #expect(try await ground.fingerprint() == before)
            // Claiming the other batch's job is a worker's right; cancelling the batch is not.
            try await SecurityGround.claimAndStart(batch: other.id, on: worker)
            await expectRefused("UPDATE batches SET status = 'cancelled', finished_at = now() WHERE id = \(other.id)", on: worker, .insufficientPrivilege)
        }
    }

    /// An officer requests batches only through request_batch (the batch and its job made
    /// together, ids generated) and cannot insert jobs or repoint a batch's job; job rows are
    /// bounded for everybody.
    @Test func theOfficerCannotInsertJobsOrRepointABatch() async throws {
        try await SecurityGround.with { ground in
            let officer = try await ground.logins.connect(.officer)
            let before = try await ground.fingerprint()
            await expectRefused("INSERT INTO jobs (kind, args) VALUES ('allocation-batch', '{\"batch_id\": 1}')", on: officer, .insufficientPrivilege)
            await expectRefused("INSERT INTO batches (period) VALUES (2026)", on: officer, .insufficientPrivilege)
            await expectRefused("UPDATE batches SET job_id = 12345 WHERE id = \(ground.runningBatch)", on: officer, .insufficientPrivilege)
            await expectRefused("UPDATE jobs SET priority = 1000", on: officer, .insufficientPrivilege)
            await expectRefused("SELECT request_batch(2026, false, 1e9, NULL)", on: officer, .invalidParameterValue)
            await expectRefused("SELECT request_batch(2026, false, 5, ARRAY['2480; DROP TABLE cases'])", on: officer, .invalidParameterValue)
            await expectRefused("SELECT request_batch(1850, false, 5, NULL)", on: officer, .invalidParameterValue)
            #expect(try await ground.fingerprint() == before)
            // Bounds on any job row, even the administrator's.
            await expectRefused("INSERT INTO jobs (kind, args) VALUES ('noop', to_jsonb(repeat('x', 100000)))", on: ground.admin, .checkViolation)
            await expectRefused("INSERT INTO jobs (kind, args) VALUES ('noop', jsonb_build_object('x', repeat(md5(random()::text), 4000)))", on: ground.admin, .checkViolation)
            await expectRefused("INSERT INTO jobs (kind, priority) VALUES ('noop', 30000)", on: ground.admin, .checkViolation)
            await expectRefused("INSERT INTO jobs (kind, max_attempts) VALUES ('noop', 1000000)", on: ground.admin, .checkViolation)
        }
    }

    /// Free text is append-only: a decision's reason or a withdrawal's reason stays as it was
    /// written; a correction is a new audited event.
    @Test func reasonsCannotBeRewritten() async throws {
        try await SecurityGround.with { ground in
            let officer = try await ground.logins.connect(.officer)
            let placed = try await Allocations.override(caseReference: "MIG-2026-1001", to: "2480", period: 2026,
                                                        reason: "relatives in Umeå", force: false, on: officer)
            _ = try await Cases.withdraw("MIG-2026-1002", reason: "moved to Norway", on: officer)
            let before = try await ground.fingerprint()
            await expectRefused("UPDATE allocations SET decision_reason = 'nothing to see' WHERE id = \(placed.id)", on: officer, .raiseException)
            await expectRefused("UPDATE allocations SET decision_reason = 'nothing to see' WHERE id = \(placed.id)", on: ground.admin, .raiseException)
            await expectRefused("UPDATE cases SET withdrawn_reason = 'nothing' WHERE reference = 'MIG-2026-1002'", on: officer, .insufficientPrivilege)
            await expectRefused("UPDATE cases SET withdrawn_reason = 'nothing' WHERE reference = 'MIG-2026-1002'", on: ground.admin, .raiseException)
            #expect(try await ground.fingerprint() == before)
        }
    }

    /// A council's auditor reads the intake report and a redacted trail, and no personal data:
    /// no references, ages, needs, languages, family ties or free-text reasons.
    @Test func theAuditorReadsFiguresAndARedactedTrailOnly() async throws {
        try await SecurityGround.with { ground in
            let officer = try await ground.logins.connect(.officer)
            _ = try await Allocations.override(caseReference: "MIG-2026-1001", to: "2480", period: 2026,
                                               reason: "a confidential reason", force: false, on: officer)
            _ = try await Cases.withdraw("MIG-2026-1002", reason: "another confidential reason", on: officer)
            let auditor = try await ground.logins.connect(.auditor)
            // A forced placement where no trauma care quota exists creates that capacity row: the
            // row's event would say the household needs trauma care.
            try await ground.admin.execute("""
                INSERT INTO case_needs (case_id, dimension, units)
                SELECT id, 'trauma_care', 1 FROM cases WHERE reference = 'MIG-2026-1003'
                """)
            _ = try await Allocations.override(caseReference: "MIG-2026-1003", to: "2460", period: 2026,
                                               reason: "forced", force: true, on: officer)
            for table in ["cases", "case_needs", "case_demands", "allocations", "audit_events", "batches", "jobs", "capacity"] {
                await expectRefused(Query(stringLiteral: "SELECT * FROM \(table)"), on: auditor, .insufficientPrivilege)
            }
            let report = try await IntakeReport.load(period: 2026, on: auditor)
            #expect(report.municipalities.first { $0.code == "2480" }?.placedHouseholds == 1)
            #expect(report.municipalities.first { $0.code == "2480" }?.placedPersons == 3)
            let trail = try await AuditTrail.events(.init(), on: auditor)
            #expect(!trail.isEmpty)
            #expect(trail.allSatisfy { $0.caseReference == nil })
            #expect(!trail.contains { $0.details.contains("confidential") })
            #expect(trail.contains { $0.action == "case.withdrawn" && $0.caseID != nil })
            #expect(trail.contains { $0.action == "allocation.forced" })
            #expect(!trail.contains { $0.details.contains("trauma_care") })
            #expect(!trail.contains { $0.action == "case.needs_changed" })
            // The officer's trail has them.
            let full = try await AuditTrail.events(.init(), on: officer)
            #expect(full.contains { $0.details.contains("a confidential reason") })
            await #expect(throws: ReceptionError.self) {
                try await AuditTrail.events(.init(caseReference: "MIG-2026-1001"), on: auditor)
            }
            // No column of any view the auditor may read names a personal field.
            let columns = try await ground.admin.query("""
                SELECT c.table_name || '.' || c.column_name AS col FROM information_schema.column_privileges c
                WHERE c.grantee = 'reception_auditor' AND c.privilege_type = 'SELECT'
                  AND c.column_name IN ('reference', 'ages', 'language', 'family_ties', 'preferences', 'excluded',
                                        'occupations', 'decision_reason', 'withdrawn_reason', 'reasons', 'demand', 'summary')
                """).map { try $0.decode("col", as: String.self) }
            #expect(columns == [])
        }
    }
}
