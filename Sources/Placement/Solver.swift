/// The placement solver.
///
/// Method:
/// 1. Compile the instance (``Problem``): demand vectors, demand types, and for each case only the
///    municipalities it may go to, with their scores.
/// 2. Lagrangian dual of the capacity constraints (``Lagrangian``), by deflected subgradient. Its
///    best value, rounded safely, is the reported `bound`. Along the way, regret-based repair on the
///    reduced scores (``Repair``) plus local search (``LocalSearch``) turns multipliers into
///    feasible placements; the best one is the Polyak target of the next steps.
/// 3. Ruin and recreate (``Search``) from the best placement until the budget is spent or the
///    objective reaches the bound.
/// 4. Explanations (``Explanation``) from the final capacity left.
///
/// Determinism: every phase runs for an iteration budget computed from the instance's size, with a
/// seeded generator; the result (assignments, unplaced, objective, bound, reasons) is a pure
/// function of the instance. The time limit is only a safety stop: if it cuts a phase short,
/// `stats.timeLimitReached` is true and the result may then depend on the machine's speed.
public struct Solver: Sendable {
    /// Wall-clock seconds after which every phase stops and the best placement so far is returned.
    public var timeLimit: Double
    /// Multiplies every iteration budget; 1 is tuned to meet the targets in far less than the
    /// time limit on a small machine.
    public var effort: Double

    public init(timeLimit: Double = 60, effort: Double = 1) {
        self.timeLimit = timeLimit
        self.effort = effort
    }

    /// Solves the instance. Never fails: an empty or infeasible-for-everyone instance gives an
    /// answer with every case unplaced and its reason. Call ``PlacementInstance/validate()`` first
    /// on instances that were not decoded from JSON.
    public func solve(_ instance: PlacementInstance) -> PlacementResult {
        let clock = ContinuousClock()
        let start = clock.now
        let deadline = start.advanced(by: .milliseconds(Int64(max(0, timeLimit) * 1000)))
        var timedOut = false
        func outOfTime() -> Bool {
            if !timedOut && clock.now >= deadline { timedOut = true }
            return timedOut
        }

        let problem = Problem(instance)
        let pairCount = max(1, problem.pairMuni.count)
        var search = LocalSearch(problem: problem)

        // A first placement: longest waiting first, best municipality with room.
        var state = State(problem: problem)
        Repair.fill(&state, order: Repair.byValue(problem), guide: [])
        search.run(&state, budget: Int(Double(20 * pairCount) * effort))
        var best = state.snapshot
        var bestObjective = state.objective

        // Lagrangian bound, with a repaired placement every few iterations.
        var dual = Lagrangian(problem: problem)
        // Global prices first: one market-clearing price per dimension, a few rounds. This gets
        // close to the LP bound at once, where plain subgradient steps from λ = 0 stall on ties.
        var scratch: [(Double, Int)] = []
        for _ in 0..<3 where !outOfTime() {
            for d in 0..<problem.dimCount {
                dual.evaluate()
                dual.uniformShift(dimension: d, scratch: &scratch)
            }
        }
        dual.evaluate()
        var coordinate = DualCoordinate(problem: problem)
        for _ in 0..<4 where !outOfTime() {
            coordinate.sweep(&dual)
            dual.evaluate()
        }
        do {
            var trial = State(problem: problem)
            Repair.regret(&trial, cost: dual.cost)
            Repair.fill(&trial, order: Repair.byValue(problem), guide: dual.cost)
            let before = trial.objective
            search.run(&trial, budget: 10 * pairCount)
            var trial2 = State(problem: problem)
            Repair.fill(&trial2, order: Repair.byValue(problem), guide: dual.cost)
            let before2 = trial2.objective
            search.run(&trial2, budget: 10 * pairCount)
            var trial3 = State(problem: problem)
            Repair.guided(&trial3, cost: dual.cost, tolerance: 1)
            let before3a = trial3.objective
            Repair.fill(&trial3, order: Repair.byValue(problem), guide: dual.cost)
            let before3 = trial3.objective
            search.run(&trial3, budget: 10 * pairCount)
            var trial4 = State(problem: problem)
            Repair.profit(&trial4, cost: dual.cost)
            let b4a = trial4.objective
            Repair.fill(&trial4, order: Repair.byValue(problem), guide: dual.cost)
            let b4 = trial4.objective
            search.run(&trial4, budget: 10 * pairCount)
            var trial5 = State(problem: problem)
            Repair.fill(&trial5, order: Repair.byDensity(problem), guide: dual.cost)
            let b5 = trial5.objective
            search.run(&trial5, budget: 10 * pairCount)
            debugLog("profit \(b4a) \(b4) LS \(trial4.objective)  density \(b5) LS \(trial5.objective)")
            for tr in [trial4, trial5] where tr.objective > bestObjective {
                bestObjective = tr.objective
                best = tr.snapshot
            }
            debugLog("after uniform: bound \(dual.bestValue) repair \(before) LS \(trial.objective) greedy \(bestObjective) guided greedy \(before2) LS \(trial2.objective) LPguided \(before3a) \(before3) LS \(trial3.objective)")
            if trial3.objective > bestObjective {
                bestObjective = trial3.objective
                best = trial3.snapshot
            }
            if trial.objective > bestObjective {
                bestObjective = trial.objective
                best = trial.snapshot
            }
            if trial2.objective > bestObjective {
                bestObjective = trial2.objective
                best = trial2.snapshot
            }
        }
        let maxIterations = Int(effort * Double(min(1500, max(150, 300_000_000 / pairCount))))
        let repairEvery = max(10, maxIterations / 15)
        var iteration = 0
        while iteration < maxIterations && !outOfTime() {
            let value = dual.evaluate()
            iteration += 1
            if dual.certifiedBound <= bestObjective { break }
            if iteration % repairEvery == 0 {
                var trial = State(problem: problem)
                Repair.regret(&trial, cost: dual.cost)
                Repair.fill(&trial, order: Repair.byValue(problem), guide: dual.cost)
                search.run(&trial, budget: 4 * pairCount)
                if trial.objective > bestObjective {
                    bestObjective = trial.objective
                    best = trial.snapshot
                }
            }
            if !dual.step(value: value, target: Double(bestObjective), patience: 15) { break }
        }
        let bound = max(dual.certifiedBound, bestObjective)

        // Repair from the best multipliers, then ruin and recreate.
        if bestObjective < bound && !outOfTime() {
            dual.lambda = dual.bestLambda
            dual.evaluate()
            var trial = State(problem: problem)
            Repair.regret(&trial, cost: dual.cost)
            Repair.fill(&trial, order: Repair.byValue(problem), guide: dual.cost)
            search.run(&trial, budget: 10 * pairCount)
            if trial.objective > bestObjective {
                bestObjective = trial.objective
                best = trial.snapshot
            }
        }
        state.restore(best)
        if let text = ProcessInfo.processInfo.environment["PLACEMENT_SA"], let moves = Int(text), moves > 0 {
            let env = ProcessInfo.processInfo.environment
            var sa = Anneal(problem: problem, start: state, prices: dual.bestLambda, seed: 0xA11EA1)
            sa.run(moves: moves, hot: Double(env["SA_HOT"] ?? "300")!, cold: Double(env["SA_COLD"] ?? "1")!, outOfTime: outOfTime)
            debugLog("SA from \(state.objective) to \(sa.bestScore)")
            if sa.bestScore > state.objective {
                state.restore(sa.best)
                search.run(&state, budget: 10 * pairCount)
                bestObjective = state.objective
            }
        }
        var searchIterations = 0
        if state.objective < bound && !outOfTime() {
            dual.lambda = dual.bestLambda
            dual.evaluate()
            var rr = Search(problem: problem, maxScore: search.maxScore, guide: dual.cost, seed: 0x5EED)
            let iterations = Int(effort * 40_000)
            searchIterations = rr.run(&state, iterations: iterations, bound: bound, outOfTime: outOfTime)
            search.run(&state, budget: 10 * pairCount)
        }
        precondition(state.isFeasible, "placement engine produced an infeasible placement")

        let (assignments, unplaced) = Explanation.assignments(instance, problem, state)
        let elapsed = clock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        return PlacementResult(
            objective: state.objective, bound: bound,
            assignments: assignments, unplaced: unplaced,
            stats: .init(seconds: seconds, boundIterations: dual.iterations, searchIterations: searchIterations,
                         provenOptimal: state.objective == bound, timeLimitReached: timedOut))
    }
}

import Foundation
func debugLog(_ s: @autoclosure () -> String) {
    if ProcessInfo.processInfo.environment["PLACEMENT_DEBUG"] != nil { FileHandle.standardError.write((s() + "\n").data(using: .utf8)!) }
}
