import Foundation
import Postgres
import ReceptionKit
import Testing
import TestSupport

/// Issue 11 §5, second item: two municipalities transfer quota by agreement, recorded once,
/// both quotas changed together, both sides in the intake report; nobody records one otherwise.
@Suite("Quota transfers")
struct QuotaTransferTests {
    @Test func aTransferMovesQuotaOnceAndTheReportShowsBothSides() async throws {
        try await TestDatabase.withMigratedDatabase { url in
            let db = try await Connection.connect(url)
            try await WorkflowFixture.seed(on: db, cases: 4, personsQuota: 9)
            let batch = try await WorkflowFixture.batch(on: db)
            _ = try await WorkflowFixture.propose("MIG-2026-1001", to: "2480", batch: batch, on: db)  // 3 persons used
            try await TestLogins.with(database: url) { logins in
                let officer = try await logins.connect(.officer)
                let transfers = try await QuotaTransfers.transfer(
                    from: "2480", to: "2460", period: WorkflowFixture.period,
                    units: [.init(dimension: "persons", quota: 5)],
                    reason: "agreement of 3 March", on: officer)
                #expect(transfers.count == 1)
                let transfer = try #require(transfers.first)
                #expect(transfer.from == "2480" && transfer.to == "2460" && transfer.units == 5 && transfer.agreedOn == TestDatabase.today)
                #expect(transfer.reason == "agreement of 3 March" && transfer.recordedBy == logins.login(.officer))
                let quotas = try await db.query("""
                    SELECT municipality_code, quota FROM capacity WHERE period = 2026 AND dimension = 'persons' ORDER BY 1
                    """).map { (try $0.decode("municipality_code", as: String.self), try $0.decode("quota", as: Int.self)) }
                #expect(quotas.map(\.0) == ["2284", "2460", "2480"] && quotas.map(\.1) == [9, 14, 4])
                let instance = try await BatchInstance.load(period: WorkflowFixture.period, municipalities: ["2480", "2460"],
                                                            today: TestDatabase.today, on: officer)
                let capacity = Dictionary(uniqueKeysWithValues: instance.municipalities.map { ($0.code, $0.capacity["persons"] ?? -1) })
                #expect(capacity == ["2480": 1, "2460": 14], "batches after it use both new quotas (less what is used)")

                // A dimension the receiver had no quota for gets one.
                try await db.execute("DELETE FROM capacity WHERE municipality_code = '2284' AND dimension = 'large_dwellings'")
                _ = try await QuotaTransfers.transfer(from: "2460", to: "2284", period: 2026, units: [.init(dimension: "large_dwellings", quota: 1)],
                                                      reason: "large dwelling swap", on: officer)
                #expect(try await db.query("SELECT quota FROM capacity WHERE municipality_code = '2284' AND dimension = 'large_dwellings'")[0]
                    .decode("quota", as: Int.self) == 1)

                // Both sides in the report, for an auditor too (without the reason).
                let auditor = try await logins.connect(.auditor)
                let report = try await IntakeReport.load(period: WorkflowFixture.period, on: auditor)
                #expect(report.transfers.map(\.units) == [5, 1] && report.transfers.allSatisfy { $0.reason == nil })
                #expect(report.renderTable().contains("Umeå (2480) gave Vännäs (2460) 5 persons on \(TestDatabase.today)"))
                #expect(report.renderHTML().contains("Vännäs (2460) gave Örnsköldsvik (2284) 1 large dwellings"))
                let byVannas = try await IntakeReport.load(period: WorkflowFixture.period, municipality: "2460", on: officer)
                #expect(byVannas.transfers.count == 2, "a municipality's report shows what it gave and received")

                // Refusals, each leaving nothing changed: below what the giver has allocated,
                // more than its quota, to itself, nothing, no reason, an unknown municipality.
                let attempts: [Query] = [
                    "SELECT transfer_quota('2480', '2460', 2026, 'persons', 2, 'too much')",
                    "SELECT transfer_quota('2480', '2460', 2026, 'persons', 50, 'more than it has')",
                    "SELECT transfer_quota('2480', '2480', 2026, 'persons', 1, 'to itself')",
                    "SELECT transfer_quota('2480', '2460', 2026, 'persons', 0, 'nothing')",
                    "SELECT transfer_quota('2480', '2460', 2026, 'persons', 1, '  ')",
                    "SELECT transfer_quota('2480', '9999', 2026, 'persons', 1, 'nobody')",
                    "SELECT transfer_quota('9999', '2460', 2026, 'persons', 1, 'no giver')",
                    "SELECT transfer_quota('2480', '2460', 2026, 'dialysis', 1, 'no such dimension')",
                ]
                for (index, attempt) in attempts.enumerated() {
                    do {
                        try await officer.execute(attempt)
                        Issue.record("refusal \(index) not refused")
                    } catch let PostgresError.server(error) {
                        #expect([.checkViolation, .invalidParameterValue].contains(error.sqlState), "refusal \(index): \(error.message)")
                    }
                }
                #expect(try await db.query("SELECT count(*) AS n FROM quota_transfers")[0].decode("n", as: Int.self) == 2)
                #expect(try await db.query("SELECT quota FROM capacity WHERE municipality_code = '2480' AND dimension = 'persons'")[0]
                    .decode("quota", as: Int.self) == 4)

                // Nobody records or rewrites a transfer but through transfer_quota.
                let worker = try await logins.connect(.worker)
                for login in [officer, worker, auditor] {
                    await expectRefused("""
                        INSERT INTO quota_transfers (period, dimension, from_municipality, to_municipality, units, agreed_on, reason)
                        VALUES (2026, 'persons', '2460', '2480', 900, reception_today(), 'forged')
                        """, on: login, .insufficientPrivilege)
                }
                await expectRefused("SELECT transfer_quota('2460', '2480', 2026, 'persons', 1, 'x')", on: worker, .insufficientPrivilege)
                await expectRefused("SELECT transfer_quota('2460', '2480', 2026, 'persons', 1, 'x')", on: auditor, .insufficientPrivilege)
                await expectRefused("UPDATE quota_transfers SET units = 1", on: officer, .insufficientPrivilege)
                await expectRefused("SELECT reason FROM quota_transfers", on: auditor, .insufficientPrivilege)

                // A login with no Reception role, even let into the database, can neither transfer nor read transfers.
                let outsider = try await logins.connectOutsiderGivenConnect()
                await expectRefused("SELECT transfer_quota('2460', '2480', 2026, 'persons', 1, 'x')", on: outsider, .insufficientPrivilege)
                await expectRefused("SELECT * FROM quota_transfers_redacted", on: outsider, .insufficientPrivilege)
                await expectRefused("SELECT * FROM quota_transfers", on: outsider, .insufficientPrivilege)
            }
        }
    }
}
