import Foundation
import Placement
import Postgres
import ReceptionKit
import Testing
import TestSupport

/// One rule, two languages (issue 10 §6): what a household needs is defined once in SQL (the
/// view `case_demands`, sql/001_domain.sql, which the allocation trigger reserves and a batch's
/// re-check reads) and once in Swift (`Demand`, which the engine solves with). The same
/// generated households go to both, and what each says they need must agree.
@Suite("Demand: the database and the engine")
struct DemandCrossCheckTests {
    /// Generated households of every kind (singles, large families, every need the generator
    /// draws) and the edges of each age band.
    static func households() -> [PlacementInstance.Case] {
        var out = InstanceGenerator.generate(kind: .national, cases: 600, seed: 61).cases
        let edges: [[Int]] = [[0], [1], [5], [6], [15], [16], [40, 0, 1, 5, 6, 15, 16], [30, 30, 30, 30], [30, 30, 30, 30, 30],
                              [120], Array(repeating: 7, count: 100)]
        for (i, ages) in edges.enumerated() {
            out.append(.init(id: "EDGE-\(i + 1)", ages: ages, needs: i % 3 == 0 ? ["trauma_care": 2, "dialysis": 1] : [:]))
        }
        return out
    }

    @Test func theDatabaseAndTheEngineSayTheSameHouseholdsNeedTheSame() async throws {
        try await RegistrationTestDatabase.with { db in
            let households = Self.households()
            let arrived = try await ReceptionClock.today(on: db)
            let entries = households.enumerated().map { i, h in
                CaseImport.Entry(location: .element(i), newCase: NewCase(
                    reference: h.id, ages: h.members.map(\.age),
                    needs: h.needs.keys.sorted().map { NewCase.Need(dimension: $0, units: h.needs[$0]!) },
                    language: h.language, occupations: h.occupations, familyTies: h.familyTies,
                    preferences: h.preferences, excluded: h.excluded, arrivedOn: arrived))
            }
            // Needs the dimensions table does not know yet (dialysis, sign language) are registered.
            let report = try await CaseRegistration.register(entries, options: .init(registerNewNeeds: true), on: db)
            #expect(report.registered == households.count)

            // What the database says: case_demands, by reference.
            var database: [String: [String: Int]] = [:]
            var reference: [Int: String] = [:]
            for row in try await db.query("""
                SELECT c.id, c.reference, d.dimension, d.units FROM cases c JOIN case_demands d ON d.case_id = c.id
                """) {
                let ref = try row.decode("reference", as: String.self)
                reference[try row.decode("id", as: Int.self)] = ref
                database[ref, default: [:]][try row.decode("dimension", as: String.self)] = try row.decode("units", as: Int.self)
            }
            #expect(database.count == households.count)

            // What the engine says, of the households as generated ...
            var disagreements = 0
            for h in households where database[h.id] != Demand.of(h) {
                disagreements += 1
                Issue.record("\(h.id): the database says \(database[h.id] ?? [:]), the engine \(Demand.of(h))")
            }
            #expect(disagreements == 0)

            // ... and as a batch reads them back from the database to solve them.
            let instance = try await BatchInstance.load(period: 2026, municipalities: nil, today: arrived, on: db)
            #expect(instance.cases.count == households.count)
            for c in instance.cases {
                let ref = try #require(reference[Int(c.id)!])
                #expect(Demand.of(c) == database[ref], "\(ref)")
            }
        }
    }
}
