import Foundation
import Logging
import Postgres
import ReceptionKit
import Testing
import TestSupport

/// Issue 11 §5, first item: a revised quota is recorded with its day and reason, batches after
/// it use it, and nobody records a revision any other way.
@Suite("Revised quotas")
struct QuotaRevisionTests {
    @Test func aRevisionIsRecordedWithItsDayAndReasonAndBatchesUseIt() async throws {
        try await TestDatabase.withMigratedDatabase { url in
            let db = try await Connection.connect(url)
            try await WorkflowFixture.seed(on: db, cases: 12, personsQuota: 9)
            try await TestLogins.with(database: url) { logins in
                let officer = try await logins.connect(.officer)
                let revisions = try await QuotaRevisions.revise(
                    municipality: "2480", period: WorkflowFixture.period, quotas: [.init(dimension: "persons", quota: 18)],
                    reason: "county figure revised", on: officer)
                #expect(revisions.count == 1)
                let revision = try #require(revisions.first)
                #expect(revision.previous == 9 && revision.quota == 18 && revision.revisedOn == TestDatabase.today)
                #expect(revision.reason == "county figure revised" && revision.revisedBy == logins.login(.officer))
                let instance = try await BatchInstance.load(period: WorkflowFixture.period, municipalities: ["2480"],
                                                            today: TestDatabase.today, on: officer)
                #expect(instance.municipalities.first?.capacity["persons"] == 18, "batches after it use the new quota")

                // An auditor sees the revision, not the reason.
                let auditor = try await logins.connect(.auditor)
                let seen = try await QuotaRevisions.list(period: WorkflowFixture.period, on: auditor)
                #expect(seen.map(\.quota) == [18] && seen.first?.reason == nil)
                await expectRefused("SELECT reason FROM quota_revisions", on: auditor, .insufficientPrivilege)

                // Refusals: no reason, a quota below what is allocated, no quota to revise; each
                // leaves nothing recorded.
                await expectRefused("SELECT revise_quota('2480', 2026, 'persons', 20, '  ')", on: officer, .invalidParameterValue)
                await expectRefused("SELECT revise_quota('2480', 2026, 'dialysis', 20, 'new')", on: officer, .invalidParameterValue)
                _ = try await BatchRun.run(batchID: try await WorkflowFixture.batch(on: db), on: db, logger: Logger(label: "test"))
                await expectRefused("SELECT revise_quota('2480', 2026, 'persons', 0, 'cut')", on: officer, .checkViolation)
                let count = try await db.query("SELECT count(*) AS n FROM quota_revisions")[0].decode("n", as: Int.self)
                #expect(count == 1)

                // Nobody records a revision but through revise_quota.
                for login in [officer, try await logins.connect(.worker)] {
                    await expectRefused("""
                        INSERT INTO quota_revisions (municipality_code, period, dimension, previous, quota, revised_on, reason)
                        VALUES ('2480', 2026, 'persons', 9, 900, reception_today(), 'forged')
                        """, on: login, .insufficientPrivilege)
                }
                await expectRefused("SELECT revise_quota('2480', 2026, 'persons', 900, 'x')", on: try await logins.connect(.worker), .insufficientPrivilege)
                await expectRefused("UPDATE quota_revisions SET reason = 'rewritten'", on: officer, .insufficientPrivilege)
            }
        }
    }
}
