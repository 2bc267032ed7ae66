import Foundation
import Postgres
import ReceptionKit
import Testing
import TestSupport

/// Trust §2: who acted is the authenticated login, whatever a session claims.
@Suite("Security: identity that no session can forge")
struct IdentityTests {
    /// The worker claims to be Anna Lind (the old reception.actor setting, and SET ROLE /
    /// SET SESSION AUTHORIZATION): its proposal and the trail still name its own login.
    @Test func theWorkerCannotSignAsAnOfficer() async throws {
        try await SecurityGround.with { ground in
            let worker = try await ground.logins.connect(.worker)
            try await worker.execute("SELECT set_config('reception.actor', 'Anna Lind', false)")
            await expectRefused(Query(stringLiteral: "SET SESSION AUTHORIZATION \(ground.logins.login(.officer))"), on: worker, .insufficientPrivilege)
            await expectRefused(Query(stringLiteral: "SET ROLE \(ground.logins.login(.officer))"), on: worker, .insufficientPrivilege)
            await expectRefused("SET ROLE reception_officer", on: worker, .insufficientPrivilege)
            let caseID = try await ground.caseID()
            let rows = try await worker.query("""
                INSERT INTO allocations (case_id, municipality_code, period, status, score, batch_id)
                VALUES (\(caseID), '2480', 2026, 'proposed', 1000, \(ground.runningBatch)) RETURNING id, created_by
                """)
            #expect(try rows[0].decode("created_by", as: String.self) == ground.logins.login(.worker))
            let allocation = try rows[0].decode("id", as: Int.self)
            let actors = try await ground.admin.query("SELECT DISTINCT actor FROM audit_events WHERE allocation_id = \(allocation)")
            #expect(try actors.map { try $0.decode("actor", as: String.self) } == [ground.logins.login(.worker)])
        }
    }

    /// An officer's decision records the officer's login, not a name the session set.
    @Test func anOfficersDecisionRecordsItsLogin() async throws {
        try await SecurityGround.with { ground in
            let id = try await WorkflowFixture.propose("MIG-2026-1002", to: "2460", batch: ground.runningBatch, on: ground.admin)
            let officer = try await ground.logins.connect(.officer)
            try await officer.execute("SELECT set_config('reception.actor', 'somebody else', false)")
            let confirmed = try await Allocations.confirm(ids: [id], on: officer)
            #expect(confirmed.first?.decidedBy == ground.logins.login(.officer))
            let event = try await ground.admin.query("""
                SELECT actor FROM audit_events WHERE allocation_id = \(id) AND action = 'allocation.confirmed'
                """)
            #expect(try event[0].decode("actor", as: String.self) == ground.logins.login(.officer))
            // Batches record their requester the same way.
            let requested = try await Batches.find(ground.runningBatch, on: officer)
            #expect(requested.requestedBy == ground.logins.login(.officer))
        }
    }

    /// Names come from the administrator's table; the trail keeps logins. Officers cannot
    /// write that table, and a deactivated login can no longer act.
    @Test func namesComeFromTheAdministratorsTableAndADeactivatedLoginCannotAct() async throws {
        try await SecurityGround.with { ground in
            let login = ground.logins.login(.officer)
            try await Officers.add(login: login, name: "Anna Lind", on: ground.admin)
            let officer = try await ground.logins.connect(.officer)
            await expectRefused(Query(stringLiteral: "UPDATE officers SET name = 'The Boss'"), on: officer, .insufficientPrivilege)
            await expectRefused("INSERT INTO officers (login, name) VALUES ('mallory', 'Anna Lind')", on: officer, .insufficientPrivilege)

            let id = try await WorkflowFixture.propose("MIG-2026-1001", to: "2480", batch: ground.runningBatch, on: ground.admin)
            _ = try await Allocations.confirm(ids: [id], on: officer)
            let events = try await AuditTrail.events(.init(caseReference: "MIG-2026-1001"), on: officer)
            let confirmation = try #require(events.last)
            #expect(confirmation.actor == login)
            #expect(confirmation.actorName == "Anna Lind")

            try await Officers.setActive(false, login: login, on: ground.admin)
            let before = try await ground.fingerprint()
            let second = try await WorkflowFixture.propose("MIG-2026-1002", to: "2480", batch: ground.runningBatch, on: ground.admin)
            let afterProposal = try await ground.fingerprint()
            #expect(afterProposal != before)
            do {
                _ = try await Allocations.confirm(ids: [second], on: officer)
                Issue.record("a deactivated login confirmed a proposal")
            } catch let error as PostgresError {
                #expect(error.sqlState == .insufficientPrivilege)
            }
            await expectRefused("SELECT withdraw_case((SELECT id FROM cases WHERE reference = 'MIG-2026-1003'), 'x')",
                                on: officer, .insufficientPrivilege)
            await expectRefused("""
                INSERT INTO case_needs (case_id, dimension, units)
                SELECT id, 'trauma_care', 1 FROM cases WHERE reference = 'MIG-2026-1004'
                """, on: officer, .insufficientPrivilege)
            await expectRefused("INSERT INTO dimensions (name) VALUES ('dialysis')", on: officer, .insufficientPrivilege)
            await expectRefused("INSERT INTO cases (reference, ages, arrived_on) VALUES ('NEW-1', '{30}', '2026-11-01')",
                                on: officer, .insufficientPrivilege)
            #expect(try await ground.fingerprint() == afterProposal)
        }
    }
}
