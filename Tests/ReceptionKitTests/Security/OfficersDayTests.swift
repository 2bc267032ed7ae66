import Foundation
import Postgres
import ReceptionKit
import Testing
import TestSupport

/// With every guarantee in place, an officer's normal day still works, each step done by the
/// login whose job it is: the officer registers and decides, receptiond (as the worker's
/// login) runs the batch, the auditor reads the figures.
@Suite("Security: an officer's day with real logins")
struct OfficersDayTests {
    @Test func registerBatchDecideAndAudit() async throws {
        try await TestDatabase.withMigratedDatabase { url in
            let admin = try await Connection.connect(url)
            try await WorkflowFixture.seed(on: admin, cases: 0)
            try await TestLogins.with(database: url) { logins in
                try await Officers.add(login: logins.login(.officer), name: "Anna Lind", on: admin)
                let officer = try await logins.connect(.officer)
                let rules = try await CaseRules.load(on: officer)
                let contents = CaseImport.read(Array("""
                    ref,ages,needs,family_ties,arrived
                    DAY-1,34;31;9,,2460,2026-10-01
                    DAY-2,40;38;12;6,trauma_care,,2026-10-02
                    DAY-3,25,,,2026-10-03
                    DAY-4,52;50,,,2026-10-04

                    """.utf8), format: .csv, rules: rules)
                #expect(contents.problems.isEmpty)
                try await admin.execute("INSERT INTO capacity (municipality_code, period, dimension, quota) VALUES ('2480', 2026, 'trauma_care', 1)")
                try await CaseRegistration.register(contents.entries, on: officer)

                let requested = try await Batches.request(period: 2026, municipalities: nil, timeLimit: 1, dryRun: false, on: officer)
                #expect(try await Receptiond.drain(logins.url(.worker)) == 0)
                let batch = try await Batches.find(requested.id, on: officer)
                #expect(batch.status == "finished", "\(batch.jobError ?? "")")
                #expect(batch.requestedBy == logins.login(.officer))

                let proposals = try await Allocations.list(.init(status: "proposed"), on: officer)
                #expect(proposals.count == 4)
                #expect(proposals.allSatisfy { $0.createdBy == logins.login(.worker) })
                let first = try #require(proposals.first)
                _ = try await Allocations.confirm(ids: [first.id], on: officer)
                let second = try #require(proposals.dropFirst().first)
                _ = try await Allocations.reject(id: second.id, reason: "the dwelling is not ready", on: officer)
                let third = try #require(proposals.dropFirst(2).first)
                _ = try await Cases.withdraw(try #require(try await Cases.list(on: officer).first { $0.id == third.caseID }).reference,
                                             reason: "declined", on: officer)

                let auditor = try await logins.connect(.auditor)
                let report = try await IntakeReport.load(period: 2026, on: auditor)
                let placed = report.municipalities.reduce(0) { $0 + $1.placedHouseholds }
                let proposed = report.municipalities.reduce(0) { $0 + $1.proposedHouseholds }
                #expect(placed == 1 && proposed == 1)
                // Capacity is exact: what is held equals the demand of the active allocations.
                let drift = try await admin.query("""
                    SELECT count(*) AS n FROM capacity k
                    WHERE k.used + k.forced <> coalesce((
                        SELECT sum((a.demand ->> k.dimension)::int) FROM allocations a
                        WHERE a.municipality_code = k.municipality_code AND a.period = k.period
                          AND a.status IN ('proposed', 'confirmed')), 0)
                    """)
                #expect(try drift[0].decode("n", as: Int.self) == 0)
                let trail = try await AuditTrail.events(.init(), on: officer)
                #expect(trail.contains { $0.action == "allocation.confirmed" && $0.actorName == "Anna Lind" })
            }
        }
    }
}
