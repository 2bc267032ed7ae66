import Foundation
import Testing
@testable import Placement

/// FORMAT.md "Demand of a case", pinned by examples (issue 10 §6). The rule has one definition
/// in Swift (``Demand``); these tables say what it must give, and the database's definition is
/// compared with it in ReceptionKitTests (`DemandCrossCheckTests`).
@Suite("Demand")
struct DemandTests {
    static let table: [(ages: [Int], needs: [String: Int], demand: [String: Int])] = [
        ([30], [:], ["persons": 1, "dwellings": 1]),
        ([0], [:], ["persons": 1, "dwellings": 1]),
        ([1], [:], ["persons": 1, "dwellings": 1, "preschool_places": 1]),
        ([34, 31, 9, 4], ["trauma_care": 1], ["persons": 4, "dwellings": 1, "school_places": 1, "preschool_places": 1, "trauma_care": 1]),
        // The edges of each band: 0 | 1–5 | 6–15 | 16.
        ([40, 0, 1, 5, 6, 15, 16], [:], ["persons": 7, "dwellings": 1, "large_dwellings": 1, "school_places": 2, "preschool_places": 2]),
        ([40, 38, 17, 16], [:], ["persons": 4, "dwellings": 1]),
        ([40, 38, 17, 16, 70], ["accessible_dwellings": 2, "dialysis": 1],
         ["persons": 5, "dwellings": 1, "large_dwellings": 1, "accessible_dwellings": 2, "dialysis": 1]),
        // A need named like a computed dimension adds to it.
        ([30], ["dwellings": 1], ["persons": 1, "dwellings": 2]),
    ]

    @Test("the demand of each household of the table", arguments: 0..<table.count)
    func pinned(row: Int) {
        let (ages, needs, demand) = Self.table[row]
        #expect(Demand.of(.init(id: "x", ages: ages, needs: needs)) == demand)
    }

    @Test("the compiled problem holds it for every generated household", arguments: [InstanceGenerator.Kind.region, .national])
    func oneDefinition(kind: InstanceGenerator.Kind) {
        let instance = InstanceGenerator.generate(kind: kind, cases: 400, seed: 8)
        let problem = Problem(instance)
        for (c, household) in instance.cases.enumerated() {
            let t = Int(problem.caseType[c])
            var compiled: [String: Int] = [:]
            for d in 0..<problem.dimCount where problem.typeDemand[t * problem.dimCount + d] != 0 {
                compiled[problem.dimNames[d]] = problem.typeDemand[t * problem.dimCount + d]
            }
            #expect(compiled == Demand.of(household), "\(household.id)")
        }
    }
}

/// The `placed_person` weight (issue 10 §4, FORMAT.md "Score").
@Suite("placed_person")
struct PlacedPersonTests {
    @Test("decoded, validated, written back only when set")
    func decoding() throws {
        let json = InstanceTests.valid.replacingOccurrences(of: "\"placed\": 1000,", with: "\"placed\": 1000, \"placed_person\": 250,")
        let instance = try PlacementInstance.decode(from: Data(json.utf8))
        #expect(instance.weights.placedPerson == 250)
        #expect(try PlacementInstance.decode(from: instance.jsonData()) == instance)
        #expect(String(decoding: instance.jsonData(), as: UTF8.self).contains("\"placed\":1000,\"placed_person\":250,"))
        #expect(!String(decoding: InstanceGenerator.generate(kind: .region, cases: 5, seed: 1).jsonData(), as: UTF8.self).contains("placed_person"))
        let tooLarge = json.replacingOccurrences(of: "\"placed_person\": 250", with: "\"placed_person\": 2000000")
        #expect(throws: InstanceError(path: "weights.placed_person", message: "2000000 is out of range (at most 1000000 in magnitude)")) {
            try PlacementInstance.decode(from: Data(tooLarge.utf8))
        }
    }

    @Test("each member of a placed household adds placed_person to its score")
    func score() async throws {
        let weights = PlacementInstance.Weights(placed: 1000, placedPerson: 300, waitingDay: 1)
        let instance = PlacementInstance(
            weights: weights,
            municipalities: [.init(code: "2480", capacity: ["persons": 10, "dwellings": 2, "school_places": 2])],
            cases: [.init(id: "a", ages: [34, 31, 9], waitingDays: 10)])
        let result = try await Solver(timeLimit: 10, effort: 0.05).solveOnOwnThread(instance)
        #expect(result.assignments.first?.score == 1000 + 3 * 300 + 10)
        #expect(result.objective == 1900 + 10 && result.bound == result.objective)
        #expect(Reference.problems(instance, result) == [])
    }

    @Test("counting persons places the family rather than the singles")
    func personsQuota() async throws {
        let municipalities: [PlacementInstance.Municipality] = [.init(code: "2480", capacity: ["persons": 4, "dwellings": 3])]
        let cases: [PlacementInstance.Case] = [.init(id: "family", ages: [40, 38, 20, 19])] + (1...3).map { .init(id: "single-\($0)", ages: [30]) }
        let households = PlacementInstance(weights: .init(placed: 1000), municipalities: municipalities, cases: cases)
        let persons = PlacementInstance(weights: .init(placed: 100, placedPerson: 1000), municipalities: municipalities, cases: cases)
        let solver = Solver(timeLimit: 10, effort: 0.2)
        #expect(try await solver.solveOnOwnThread(households).assignments.map(\.caseID) == ["single-1", "single-2", "single-3"])
        #expect(try await solver.solveOnOwnThread(persons).assignments.map(\.caseID) == ["family"])
    }
}
