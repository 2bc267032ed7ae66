import Foundation
import Testing
@testable import Placement

/// Solver effort for tests: debug builds are slow, and these tests assert behaviour, not timing.
private let quick = Solver(timeLimit: 600, effort: 0.05)

@Suite("Solver")
struct SolverTests {
    @Test("random instances: feasible, honest objective, every case once, valid bound", arguments: 0..<40)
    func randomFeasible(seed: Int) async throws {
        let instance = Reference.random(UInt64(seed), cases: 5 + seed % 30, municipalities: 1 + seed % 6)
        let result = try await quick.solveOnOwnThread(instance)
        #expect(Reference.problems(instance, result) == [])
    }

    @Test("generated instances: feasible and honest", arguments: [InstanceGenerator.Kind.region, .national])
    func generatedFeasible(kind: InstanceGenerator.Kind) async throws {
        let instance = InstanceGenerator.generate(kind: kind, cases: 150, seed: 11)
        let result = try await quick.solveOnOwnThread(instance)
        #expect(Reference.problems(instance, result) == [])
        #expect(result.gap < 0.25)   // a sanity check at low effort; the bench measures quality
    }

    @Test("tiny instances match the brute-force optimum, and the bound is above it", arguments: 0..<30)
    func bruteForce(seed: Int) async throws {
        let instance = Reference.random(UInt64(1000 + seed), cases: 3 + seed % 5, municipalities: 1 + seed % 3)
        let optimum = Reference.bruteForce(instance)
        let result = try await Solver(timeLimit: 30, effort: 0.2).solveOnOwnThread(instance)
        #expect(Reference.problems(instance, result) == [])
        #expect(result.objective == optimum)
        #expect(result.bound >= optimum)
    }

    @Test("the same instance gives the same result")
    func determinism() async throws {
        let instance = InstanceGenerator.generate(kind: .national, cases: 200, seed: 5)
        let a = try await quick.solveOnOwnThread(instance), b = try await quick.solveOnOwnThread(instance)
        #expect(a.jsonData(includeStats: false) == b.jsonData(includeStats: false))
        #expect(!a.stats.timeLimitReached)
    }

    @Test("no cases")
    func noCases() async throws {
        let instance = PlacementInstance(municipalities: [.init(code: "1", capacity: ["persons": 3, "dwellings": 1])], cases: [])
        let result = try await quick.solveOnOwnThread(instance)
        #expect(result.objective == 0 && result.bound == 0 && result.assignments.isEmpty && result.unplaced.isEmpty)
        #expect(result.stats.provenOptimal)
    }

    @Test("no municipalities, and no capacity at all")
    func noCapacity() async throws {
        let cases = [PlacementInstance.Case(id: "a", ages: [30]), .init(id: "b", ages: [30, 4], needs: ["dialysis": 1])]
        let none = try await quick.solveOnOwnThread(PlacementInstance(municipalities: [], cases: cases))
        #expect(none.unplaced.map(\.reason) == ["there are no municipalities in this run", "there are no municipalities in this run"])
        let empty = try await quick.solveOnOwnThread(PlacementInstance(municipalities: [.init(code: "1", name: "Umeå", capacity: [:])], cases: cases))
        #expect(empty.objective == 0 && empty.bound == 0)
        #expect(empty.unplaced.count == 2)
        #expect(empty.unplaced[0].reason == "no municipality has room for 1 person")
        #expect(Reference.problems(PlacementInstance(municipalities: [], cases: cases), none) == [])
    }

    @Test("a case that fits nowhere, and one excluded everywhere")
    func fitsNowhere() async throws {
        let munis: [PlacementInstance.Municipality] = [
            .init(code: "2480", name: "Umeå", capacity: ["persons": 20, "dwellings": 3, "school_places": 5, "preschool_places": 5]),
            .init(code: "2460", name: "Vännäs", capacity: ["persons": 20, "dwellings": 3, "school_places": 5, "preschool_places": 5, "dialysis": 1]),
        ]
        let cases: [PlacementInstance.Case] = [
            .init(id: "large", ages: [40, 38, 12, 10, 8, 6, 3]),
            .init(id: "excluded", ages: [30], excluded: ["2480", "2460"]),
            .init(id: "dialysis", ages: [60], needs: ["dialysis": 1], excluded: ["2460"]),
            .init(id: "fine", ages: [25]),
        ]
        let instance = PlacementInstance(municipalities: munis, cases: cases)
        let result = try await quick.solveOnOwnThread(instance)
        #expect(Reference.problems(instance, result) == [])
        let reasons = Dictionary(uniqueKeysWithValues: result.unplaced.map { ($0.caseID, $0.reason) })
        #expect(reasons["large"] == "a household of 7 needs a large dwelling: no municipality has one")
        #expect(reasons["excluded"] == "excluded from every municipality")
        #expect(reasons["dialysis"] == "no municipality it may go to has dialysis capacity")
        #expect(result.assignments.map(\.caseID) == ["fine"])
        #expect(result.stats.provenOptimal)
    }

    @Test("capacity used up: the binding dimension is named")
    func capacityLeft() async throws {
        let munis: [PlacementInstance.Municipality] = [.init(code: "2480", name: "Umeå", capacity: ["persons": 10, "dwellings": 5, "trauma_care": 1])]
        let cases: [PlacementInstance.Case] = [
            .init(id: "a", ages: [30], needs: ["trauma_care": 1], waitingDays: 100),
            .init(id: "b", ages: [31], needs: ["trauma_care": 1], waitingDays: 10),
        ]
        let result = try await quick.solveOnOwnThread(PlacementInstance(municipalities: munis, cases: cases))
        #expect(result.assignments.map(\.caseID) == ["a"])
        #expect(result.unplaced.first?.reason == "no municipality with trauma care capacity left")
    }

    @Test("one municipality, unicode names, reasons and next best")
    func reasonsAndUnicode() async throws {
        let munis: [PlacementInstance.Municipality] = [
            .init(code: "2480", name: "Umeå", capacity: ["persons": 4, "dwellings": 2], languages: ["ar"], shortageOccupations: ["nurse"]),
            .init(code: "1880", name: "Örebro", capacity: ["persons": 4, "dwellings": 2]),
        ]
        let household = PlacementInstance.Case(id: "Ünïcødé-1", ages: [34, 31], language: "ar", occupations: ["nurse"],
                                               familyTies: ["2480"], preferences: ["2480"], waitingDays: 45)
        let instance = PlacementInstance(municipalities: munis, cases: [household])
        let result = try await quick.solveOnOwnThread(instance)
        #expect(Reference.problems(instance, result) == [])
        let a = try! #require(result.assignments.first)
        #expect(a.municipality == "2480")
        #expect(a.score == 1000 + 45 + 200 + 40 + 60 + 30)
        #expect(a.reasons == ["family ties in Umeå (2480)", "speaks ar, offered in Umeå", "shortage occupation nurse", "preferred", "waited 45 days"])
        #expect(a.nextBest?.municipality == "1880")
        #expect(a.nextBest?.scoreDifference == 330)
        #expect(result.stats.provenOptimal)
        let json = try! JSONSerialization.jsonObject(with: result.jsonData()) as! [String: Any]
        #expect(json["format"] as? String == "placement-result/1")
        let first = (json["assignments"] as! [[String: Any]])[0]
        #expect(first["case"] as? String == "Ünïcødé-1")
        #expect((first["reasons"] as! [String])[0] == "family ties in Umeå (2480)")

        let one = PlacementInstance(municipalities: [munis[0]], cases: [household])
        #expect(try await quick.solveOnOwnThread(one).objective == 1375)
    }

    @Test("the bound is a true upper bound and the objective an integer sum on generated instances", arguments: [1, 2, 3])
    func boundHolds(seed: Int) async throws {
        let instance = Reference.random(UInt64(77 + seed), cases: 7, municipalities: 2)
        let result = try await quick.solveOnOwnThread(instance)
        #expect(result.bound >= Reference.bruteForce(instance))
    }
}
