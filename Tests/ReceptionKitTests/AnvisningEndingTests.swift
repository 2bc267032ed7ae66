import Foundation
import Postgres
import ReceptionKit
import Testing
import TestSupport

/// Issue 11 §5, third item: a declined or cancelled anvisning ends the case with its cause,
/// frees what it held, and the intake report counts each cause; nobody sets a cause otherwise.
@Suite("Declined and cancelled anvisningar")
struct AnvisningEndingTests {
    @Test func aDeclinedAnvisningEndsTheCaseFreesItsPlaceAndIsCounted() async throws {
        try await TestDatabase.withMigratedDatabase { url in
            let db = try await Connection.connect(url)
            try await WorkflowFixture.seed(on: db, cases: 4)
            let batch = try await WorkflowFixture.batch(on: db)
            _ = try await WorkflowFixture.propose("MIG-2026-1001", to: "2480", batch: batch, on: db)
            #expect(try await WorkflowFixture.capacity("2480", on: db).used == 3)
            try await TestLogins.with(database: url) { logins in
                let officer = try await logins.connect(.officer)
                let declined = try await Cases.withdraw("MIG-2026-1001", reason: "declined the offer", cause: .declined, on: officer)
                #expect(declined.status == "withdrawn" && declined.withdrawnCause == .declined)
                #expect(try await WorkflowFixture.capacity("2480", on: db).used == 0, "the proposal's place is freed")
                _ = try await Cases.withdraw("MIG-2026-1002", reason: "found a flat", cause: .movedOnOwn, on: officer)
                _ = try await Cases.withdraw("MIG-2026-1003", reason: "withdrawn", on: officer)

                let auditor = try await logins.connect(.auditor)
                let report = try await IntakeReport.load(period: WorkflowFixture.period, on: auditor)
                #expect(report.endings == IntakeReport.Endings([.declined: 1, .movedOnOwn: 1, .cancelled: 0, .other: 1]))
                #expect(report.renderTable().contains("Anvisningar ended without reception: 3 (1 declined the anvisning, 1 moved on their own, 1 other cause)."))
                let json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(report)) as? [String: Any]
                let endings = try #require(json?["endings"] as? [String: Int])
                #expect(endings == ["declined": 1, "moved_on_own": 1, "cancelled": 0, "other": 1, "total": 3])

                // The cause is in the trail; reinstating clears it (and the count).
                let cause = try await db.query("""
                    SELECT details->>'cause' AS cause FROM audit_events
                    WHERE action = 'case.withdrawn' AND case_id = \(declined.id)
                    """)[0].decode("cause", as: String.self)
                #expect(cause == "declined")
                let reinstated = try await Cases.reinstate("MIG-2026-1001", on: officer)
                #expect(reinstated.status == "registered" && reinstated.withdrawnCause == nil && reinstated.withdrawnReason == nil)
                await #expect(throws: ReceptionError.self) { _ = try await Cases.reinstate("MIG-2026-1001", on: officer) }
                let after = try await IntakeReport.load(period: WorkflowFixture.period, on: officer)
                #expect(after.endings.count(.declined) == 0 && after.endings.total == 2)

                // Attacks: an unknown cause, a cause set or rewritten by hand, a worker withdrawing.
                await expectRefused("SELECT withdraw_case(\(declined.id), 'x', 'vanished')", on: officer, .checkViolation)
                await expectRefused("UPDATE cases SET withdrawn_cause = 'cancelled' WHERE reference = 'MIG-2026-1002'", on: officer, .insufficientPrivilege)
                await expectRefused("SELECT withdraw_case(\(declined.id), 'x', 'declined')", on: try await logins.connect(.worker), .insufficientPrivilege)
                await expectRefused("UPDATE cases SET withdrawn_cause = NULL", on: db, .checkViolation)
                #expect(try await Cases.find("MIG-2026-1002", on: officer)?.withdrawnCause == .movedOnOwn)
                let outsider = try await logins.connectOutsiderGivenConnect()
                await expectRefused("SELECT withdraw_case(\(declined.id), 'x', 'declined')", on: outsider, .insufficientPrivilege)
                await expectRefused("SELECT * FROM anvisning_endings", on: outsider, .insufficientPrivilege)
            }
        }
    }

    @Test func theCauseIsReadAsTypedOnTheCommandLine() {
        #expect(WithdrawalCause(argument: "moved-on-own") == .movedOnOwn)
        #expect(WithdrawalCause(argument: "Declined") == .declined)
        #expect(WithdrawalCause(argument: "gone") == nil)
    }
}
