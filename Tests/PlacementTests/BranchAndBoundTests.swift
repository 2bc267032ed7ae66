import Foundation
import Testing
@testable import Placement

/// The proof of optimality (``BranchAndBound``) against what brute force and the examples' exact
/// optima say: a proof may stop short, but never claims more than it proved.
@Suite("Proof of optimality")
struct BranchAndBoundTests {
    /// Started from an empty placement, so that the search itself has to find the optimum: its
    /// primal, its branching and its closing of nodes are all exercised, not only the root bound.
    /// One instance at a time: forty searches at once would crowd the suite's two cores.
    @Test("from an empty placement, the proof finds the brute-force optimum and proves exactly that", .serialized, arguments: 0..<40)
    func againstBruteForce(seed: Int) async throws {
        // Brute force and the proof are seconds of CPU in a debug build: off the shared pool.
        let checked = try await OwnThread.run("test-proof") { () -> Checked in
            let instance = Reference.random(UInt64(7000 + seed), cases: 8 + seed % 3, municipalities: 2 + seed % 2)
            let problem = Problem(instance)
            let run = Solver(timeLimit: 60).optimise(problem, deadline: Deadline(seconds: 60, stop: nil))
            var prover = BranchAndBound(problem: problem, incumbent: State(problem: problem))
            let outcome = prover.run(dual: run.dual, upperBound: run.bound, deadline: Deadline(seconds: 60, stop: nil),
                                     maxNodes: BranchAndBound.nodeBudget, maxRounds: BranchAndBound.roundBudget)
            var state = State(problem: problem)
            state.restore(outcome.pairs)
            return Checked(optimum: Reference.bruteForce(instance), objective: outcome.objective, bound: outcome.bound,
                           proven: outcome.proven, placementIsWhatItSays: state.isFeasible && state.objective == outcome.objective)
        }
        let optimum = checked.optimum
        #expect(checked.bound >= optimum, "bound \(checked.bound) below the optimum \(optimum)")
        #expect(checked.objective <= optimum)
        #expect(checked.placementIsWhatItSays, "the proof's placement is not what it says")
        #expect(checked.proven, "not proven: objective \(checked.objective), bound \(checked.bound), optimum \(optimum)")
        if checked.proven { #expect(checked.objective == optimum && checked.bound == optimum) }
    }

    private struct Checked: Sendable {
        let optimum: Int, objective: Int, bound: Int, proven: Bool, placementIsWhatItSays: Bool
    }

    @Test("region-120-s3 and region-120-s2 are proven optimal: bound == objective == the exact optimum", arguments: ["region-120-s3", "region-120-s2"])
    func provenExample(name: String) async throws {
        let (instance, optimum) = try Self.example(name)
        // The proof's budgets end it, not the clock (s2 takes seconds alone, minutes of a
        // debug build under the suite's load).
        let result = try await Solver(timeLimit: 900).solveOnOwnThread(instance)
        #expect(Reference.problems(instance, result) == [])
        #expect(result.stats.provenOptimal)
        #expect(Double(result.objective) == optimum && Double(result.bound) == optimum,
                "objective \(result.objective), bound \(result.bound), optimum \(optimum)")
    }

    /// region-120-s1 needs 15 nodes and tens of seconds: one second stops the proof mid-way.
    @Test("a proof stopped by the time limit keeps a bound above the optimum and claims nothing")
    func stoppedMidProof() async throws {
        let (instance, optimum) = try Self.example("region-120-s1")
        let result = try await Solver(timeLimit: 1, stopping: .timeLimit).solveOnOwnThread(instance)
        #expect(Reference.problems(instance, result) == [])
        #expect(Double(result.bound) >= optimum)
        #expect(result.stats.timeLimitReached)
        #expect(result.stats.provenOptimal == (result.objective == result.bound))
        #expect(!result.stats.provenOptimal || Double(result.objective) == optimum)
    }

    static func example(_ name: String) throws -> (PlacementInstance, Double) {
        let directory = Reference.examplesDirectory
        let instance = try PlacementInstance.decode(from: Data(contentsOf: directory.appendingPathComponent("\(name).json")))
        let optimumFile = try Data(contentsOf: directory.appendingPathComponent("\(name).optimum"))
        let optimum = try #require((try JSONSerialization.jsonObject(with: optimumFile) as? [String: Any])?["objective"] as? Double)
        return (instance, optimum)
    }
}
