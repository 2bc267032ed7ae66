import Foundation
import Synchronization
import Testing
@testable import Placement

private let quick = Solver(timeLimit: 600, effort: 0.05)

/// FORMAT.md "Look-ahead: `forecast`" (issue 10 §3).
@Suite("Look-ahead")
struct LookAheadTests {
    /// Room for 5 persons in 5 dwellings; a family of 5 is here, 5 singles are expected.
    static let keep = PlacementInstance(
        municipalities: [.init(code: "2480", name: "Umeå", capacity: ["persons": 5, "dwellings": 5, "large_dwellings": 1])],
        cases: [.init(id: "family", ages: [40, 38, 17, 16, 17], waitingDays: 20)],
        forecast: (1...5).map { .init(id: "expected-\($0)", ages: [30]) })

    @Test("capacity is kept for expected households that need it more, and the household says so")
    func keepsCapacity() async throws {
        let result = try await quick.solveOnOwnThread(Self.keep)
        #expect(result.assignments.isEmpty)
        #expect(result.unplaced.map(\.caseID) == ["family"])
        #expect(result.unplaced[0].reason.hasPrefix("capacity kept for expected arrivals who need it more"), "\(result.unplaced[0].reason)")
        #expect(result.objective == 0)
        // bound: the current cases alone, as if there were no forecast.
        var alone = Self.keep
        alone.forecast = []
        let plain = try await quick.solveOnOwnThread(alone)
        #expect(plain.assignments.map(\.caseID) == ["family"])
        #expect(result.bound == plain.bound)
        let f = try #require(result.stats.forecast)
        #expect(f.cases == 5 && f.placed == 5)
        #expect(f.objective == 5 * 1000)
        #expect(f.bound >= f.objective)
        #expect(f.objectiveWithoutForecast == plain.objective)
        #expect(Reference.problems(alone, result) == [])
        #expect(plain.stats.forecast == nil)
    }

    @Test("current cases that come first are placed, where the expected households lose least, at FORMAT.md scores")
    func currentCasesFirst() async throws {
        // One large dwelling in each municipality. The family here would rather go to Umeå (ties:
        // 1,500 points there, 1,000 in Vännäs). Two large families are expected: one worth 1,839
        // in Umeå (ties, preference, language), one 1,299 in Vännäs (preference).
        let weights = PlacementInstance.Weights(placed: 1000, familyTies: 500, language: 40, preference: 300)
        let room: [String: Int] = ["persons": 5, "dwellings": 1, "large_dwellings": 1]
        let ages = [40, 38, 17, 16, 17]
        let instance = PlacementInstance(
            weights: weights,
            municipalities: [.init(code: "2480", name: "Umeå", capacity: room, languages: ["ar"]),
                             .init(code: "2460", name: "Vännäs", capacity: room)],
            cases: [.init(id: "family", ages: ages, familyTies: ["2480"])],
            forecast: [.init(id: "expected-umea", ages: ages, language: "ar", familyTies: ["2480"], preferences: ["2480"]),
                       .init(id: "expected-vannas", ages: ages, preferences: ["2460"])])

        // Looking ahead plainly, the two expected families are worth more: the family waits.
        let plain = try await quick.solveOnOwnThread(instance)
        #expect(plain.assignments.isEmpty)

        // Coming first, it is placed, and in Vännäs (1,000 + Umeå's 1,839 beats 1,500 + 1,299).
        var first = quick
        first.currentFirst = true
        let result = try await first.solveOnOwnThread(instance)
        #expect(result.assignments.map(\.caseID) == ["family"])
        #expect(result.assignments.first?.municipality == "2460")
        #expect(result.objective == 1000 && result.assignments.first?.score == 1000)
        var alone = instance
        alone.forecast = []
        #expect(Reference.problems(alone, result) == [], "scores, objective and bound are the current cases'")
        #expect(result.bound == (try await quick.solveOnOwnThread(alone)).bound)
        #expect(result.stats.forecast?.placed == 1)
    }

    @Test("a tie goes to the household that is here")
    func tieGoesToTheCurrentHousehold() async throws {
        let instance = PlacementInstance(
            municipalities: [.init(code: "2480", capacity: ["persons": 1, "dwellings": 1])],
            cases: [.init(id: "here", ages: [30])], forecast: [.init(id: "expected", ages: [30])])
        let result = try await quick.solveOnOwnThread(instance)
        #expect(result.assignments.map(\.caseID) == ["here"])
        #expect(result.stats.forecast?.placed == 0)
    }

    @Test("results hold the current cases only, each once; bounds hold on generated batches", arguments: [UInt64(3), 4, 5])
    func generated(seed: UInt64) async throws {
        let (year, layout) = InstanceGenerator.generateWithLayout(kind: .region, cases: 120, seed: seed)
        let forecast = InstanceGenerator.households(200, seed: seed + 100, layout: layout, idPrefix: "F-")
        var instance = year
        instance.forecast = forecast
        try instance.validate()
        let result = try await quick.solveOnOwnThread(instance)
        #expect(Reference.problems(year, result) == [])
        let ids = Set(forecast.map(\.id))
        #expect(!result.assignments.contains { ids.contains($0.caseID) } && !result.unplaced.contains { ids.contains($0.caseID) })
        #expect(result.bound == (try await quick.solveOnOwnThread(year)).bound)
        let f = try #require(result.stats.forecast)
        #expect(f.cases == 200)
        #expect(f.objective >= result.objective && f.bound >= f.objective)
        for u in result.unplaced { #expect(!u.reason.isEmpty) }
    }

    @Test("tiny instances: the joint bound is above the joint optimum", arguments: 0..<12)
    func jointBound(seed: Int) async throws {
        let a = Reference.random(UInt64(500 + seed), cases: 2 + seed % 3, municipalities: 1 + seed % 2)
        let b = Reference.random(UInt64(900 + seed), cases: 2 + seed % 3, municipalities: 1 + seed % 2)
        var instance = a
        instance.forecast = b.cases.map { var c = $0; c.id = "F" + c.id; return c }
        let result = try await Solver(timeLimit: 30, effort: 0.2).solveOnOwnThread(instance)
        var joint = a
        joint.cases += instance.forecast
        let f = try #require(result.stats.forecast)
        #expect(f.bound >= Reference.bruteForce(joint))
        #expect(f.objective <= Reference.bruteForce(joint))
        #expect(result.bound >= Reference.bruteForce(a))
        #expect(Reference.problems(a, result) == [])
    }

    @Test("the same instance with a forecast gives the same result")
    func determinism() async throws {
        let (year, layout) = InstanceGenerator.generateWithLayout(kind: .region, cases: 80, seed: 9)
        var instance = year
        instance.forecast = InstanceGenerator.households(150, seed: 19, layout: layout, idPrefix: "F-")
        let a = try await quick.solveOnOwnThread(instance), b = try await quick.solveOnOwnThread(instance)
        #expect(a.jsonData(includeStats: false) == b.jsonData(includeStats: false))
        #expect(a.stats.forecast == b.stats.forecast)
    }

    @Test("forecast: decoded, written back, checked like cases, ids unique across both")
    func decoding() throws {
        let json = InstanceTests.valid.replacingOccurrences(
            of: "{\"id\": \"MIG-2026-000124\", \"members\": [{\"age\": 50}]}]}",
            with: "{\"id\": \"MIG-2026-000124\", \"members\": [{\"age\": 50}]}],\n \"forecast\": [{\"id\": \"F-1\", \"members\": [{\"age\": 3}], \"waiting_days\": 0}]}")
        let instance = try PlacementInstance.decode(from: Data(json.utf8))
        #expect(instance.forecast.map(\.id) == ["F-1"])
        #expect(try PlacementInstance.decode(from: instance.jsonData()) == instance)
        #expect(try PlacementInstance.decode(from: Data(InstanceTests.valid.utf8)).forecast.isEmpty)
        let nullForecast = InstanceTests.valid.replacingOccurrences(of: "\"format\": \"placement-instance/1\",", with: "\"format\": \"placement-instance/1\", \"forecast\": null,")
        #expect(try PlacementInstance.decode(from: Data(nullForecast.utf8)).forecast.isEmpty)

        func refusal(_ text: String) -> String? {
            do { _ = try PlacementInstance.decode(from: Data(text.utf8)); return nil } catch { return error.description }
        }
        #expect(refusal(json.replacingOccurrences(of: "\"F-1\"", with: "\"MIG-2026-000123\""))
                == "forecast[0].id: \"MIG-2026-000123\" is used twice (also cases[0])")
        #expect(refusal(json.replacingOccurrences(of: "{\"age\": 3}", with: "{\"age\": 130}"))
                == "forecast[0].members[0].age: 130 is not an age (0 to 120)")
        #expect(refusal(json.replacingOccurrences(of: "\"forecast\": [", with: "\"forecast\": 7, \"x\": [")) == "forecast: expected an array, found a number")
    }

    /// Issue 10 §2: a solve that looks ahead reports as it goes — the current households' part
    /// of the joint placement, without a bound (the joint bound is not theirs) — then the answer.
    @Test func aLookAheadSolveReportsTheCurrentHouseholdsFiguresAsItGoes() async throws {
        let (now, layout) = InstanceGenerator.generateWithLayout(kind: .region, cases: 60, seed: 4)
        var instance = now
        instance.forecast = InstanceGenerator.households(80, seed: 104, layout: layout, idPrefix: "F-")
        final class Reports: Sendable {
            let seen = Mutex<[Solver.Progress]>([])
        }
        let reports = Reports()
        var solver = Solver(timeLimit: 1, stopping: .timeLimit)
        solver.progress = { progress in reports.seen.withLock { $0.append(progress) } }
        let result = try await solver.solveOnOwnThread(instance)
        let seen = reports.seen.withLock { $0 }
        #expect(seen.count >= 2, "\(seen)")
        #expect(seen.dropLast().allSatisfy { $0.bound == 0 }, "no joint bound passed off as theirs")
        #expect(seen.dropLast().allSatisfy { $0.objective <= result.bound }, "current households only: \(seen)")
        #expect(seen.last == Solver.Progress(seconds: result.stats.seconds, objective: result.objective, bound: result.bound))
    }
}
