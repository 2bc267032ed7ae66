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
        Repair.fill(&state, order: Repair.byValue(problem))
        search.run(&state, budget: Int(Double(20 * pairCount) * effort))
        var best = state.snapshot
        var bestObjective = state.objective

        // Lagrangian bound, with a repaired placement every few iterations.
        var dual = Lagrangian(problem: problem)
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
                Repair.fill(&trial, order: Repair.byValue(problem))
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
            Repair.fill(&trial, order: Repair.byValue(problem))
            search.run(&trial, budget: 10 * pairCount)
            if trial.objective > bestObjective {
                bestObjective = trial.objective
                best = trial.snapshot
            }
        }
        state.restore(best)
        var searchIterations = 0
        if state.objective < bound && !outOfTime() {
            var rr = Search(problem: problem, seed: 0x5EED)
            let iterations = Int(effort * Double(min(20_000, max(200, 2_000_000_000 / (pairCount * 20)))))
            searchIterations = rr.run(&state, local: &search, iterations: iterations, bound: bound, outOfTime: outOfTime)
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
