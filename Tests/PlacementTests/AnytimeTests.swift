import Foundation
import Synchronization
import Testing
@testable import Placement

/// Issue 10 §2: with `Stopping.timeLimit` the engine keeps improving until its time limit, stops
/// sooner only with a proof, and tells a listener its figures as they improve.
@Suite("Solver: anytime and progress")
struct AnytimeTests {
    /// What a listener heard, in order.
    final class Heard: Sendable {
        let reports = Mutex<[Solver.Progress]>([])
        func add(_ progress: Solver.Progress) { reports.withLock { $0.append(progress) } }
        var all: [Solver.Progress] { reports.withLock { $0 } }
    }

    @Test("until the time limit: never worse than the budgeted search, the bound still valid, every report honest")
    func usesItsTimeAndReports() async throws {
        // Small enough that its budgeted phases finish well inside 5 s even on a loaded machine
        // (else the time limit cuts them short and "never worse" is not promised; the solve's
        // thread runs at a lower priority than the suite's database and workers), and with
        // whole households against fractional capacity, so usually not provable.
        let instance = Reference.random(77, cases: 40, municipalities: 4)
        let budget = try await Solver(timeLimit: 600, effort: 0.05).solveOnOwnThread(instance)
        let heard = Heard()
        let anytime = try await Solver(timeLimit: 5, effort: 0.05, stopping: .timeLimit, progress: { heard.add($0) })
            .solveOnOwnThread(instance)
        try #require(!budget.stats.timeLimitReached)
        #expect(Reference.problems(instance, anytime) == [])
        #expect(anytime.objective >= budget.objective)
        #expect(anytime.bound <= budget.bound && anytime.bound >= anytime.objective)
        if !anytime.stats.provenOptimal {
            #expect(anytime.stats.timeLimitReached, "it stopped only at the time limit")
        }
        let reports = heard.all
        #expect(!reports.isEmpty)
        for (earlier, later) in zip(reports, reports.dropFirst()) {
            #expect(later.objective >= earlier.objective)
            #expect(earlier.bound == 0 || later.bound <= earlier.bound)
            #expect(later.seconds >= earlier.seconds)
        }
        #expect(reports.last?.objective == anytime.objective, "the last report is the answer's objective")
        #expect(reports.allSatisfy { $0.bound == 0 || $0.bound >= anytime.bound })
    }

    @Test("with a forecast: the answer's own figures are reported, and the answer is valid")
    func lookAheadReports() async throws {
        var instance = Reference.random(78, cases: 30, municipalities: 3)
        instance.forecast = Reference.random(79, cases: 10, municipalities: 3).cases.map { household in
            var expected = household
            expected.id = "forecast-" + household.id
            return expected
        }
        let heard = Heard()
        let result = try await Solver(timeLimit: 1, effort: 0.05, stopping: .timeLimit, progress: { heard.add($0) })
            .solveOnOwnThread(instance)
        var current = instance
        current.forecast = []
        #expect(Reference.problems(current, result) == [])
        #expect(heard.all.last.map { ($0.objective, $0.bound) } ?? (0, 0) == (result.objective, result.bound))
    }

    @Test("a proof ends the search long before the time limit")
    func stopsWhenProven() async throws {
        // Room for everyone: placing all is optimal, and the bound says so at once.
        let instance = PlacementInstance(
            municipalities: [.init(code: "1", capacity: ["persons": 10, "dwellings": 5, "school_places": 5])],
            cases: [.init(id: "a", ages: [30, 9]), .init(id: "b", ages: [41])])
        let result = try await Solver(timeLimit: 3600, stopping: .timeLimit).solveOnOwnThread(instance)
        #expect(result.stats.provenOptimal)
        #expect(!result.stats.timeLimitReached)
    }

    @Test("stopped from outside, it returns its best so far")
    func stopSignal() async throws {
        let instance = InstanceGenerator.generate(kind: .national, cases: 150, seed: 12)
        let stop = StopSignal()
        let heard = Heard()
        let solver = Solver(timeLimit: 3600, effort: 0.05, stopping: .timeLimit, progress: { progress in
            heard.add(progress)
            if progress.bound > 0 { stop.stop() }
        })
        let result = try await solver.solveOnOwnThread(instance, stop: stop)
        #expect(Reference.problems(instance, result) == [])
        #expect(result.stats.provenOptimal || result.stats.timeLimitReached)
    }
}
