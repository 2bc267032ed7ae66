/// The placement solver.
///
/// Method:
/// 1. Compile the instance (``Problem``): demand vectors, demand types, and for each case only the
///    municipalities it may go to (not excluded, demand within capacity, positive score).
/// 2. Bound: the Lagrangian dual of the capacity constraints (``Lagrangian``). Prices start with
///    one market-clearing price per dimension (exact line searches), then exact coordinate descent
///    per municipality and dimension (``DualCoordinate``), then a few subgradient steps. The best
///    value, rounded safely, is `bound`; it is within a small fraction of the LP bound.
/// 3. Placements: greedy constructions (longest waiting first; by Lagrangian profit), local search
///    (moves, ejections, augmenting paths: ``LocalSearch``), simulated annealing with capacity as
///    a priced soft constraint (``Anneal``), ruin and recreate (``Search``), local search again.
/// 4. Anytime (``Stopping/timeLimit``): while time is left and the placement is not proven
///    optimal, more ruin and recreate from the best placement with fresh seeds, alternating with
///    more subgradient steps on the bound (``improve(_:_:deadline:progress:)``).
/// 5. Explanations (``Explanation``) from the final capacity left.
///
/// With a `forecast` (FORMAT.md "Look-ahead"), steps 1–3 run twice: on the current cases alone
/// (which gives `bound`, exactly as without a forecast, and the placement the engine would make
/// without looking ahead) and on current and forecast households together (``LookAhead``); the
/// answer is the joint placement's current part.
///
/// Determinism: steps 1–3 run for a budget of iterations or moves computed from the instance's
/// size, with seeded generators; with ``Stopping/budget`` the result (assignments, unplaced,
/// objective, bound, reasons) is a pure function of the instance and `effort`, and the time limit
/// is only a safety stop. With ``Stopping/timeLimit`` step 4 keeps improving until the time limit
/// (or a proof of optimality): the result is then at least as good, and may depend on the machine.
public struct Solver: Sendable {
    /// When the solver stops improving.
    public enum Stopping: Sendable {
        /// When its budgets are spent (or at the time limit, if that comes first): the same
        /// instance always gives the same answer. For tests and replays.
        case budget
        /// At the time limit, unless the placement is proven optimal first: what an officer
        /// waiting for a batch, or `reception solve`, wants from the time it gave.
        case timeLimit
    }

    /// Wall-clock seconds after which every phase stops and the best placement so far is returned.
    public var timeLimit: Double
    /// Multiplies the search budgets; 1 meets the targets of issue 4 well within their time on a
    /// small machine.
    public var effort: Double
    public var stopping: Stopping
    /// Told the objective and bound each time either improves, on the solver's thread: keep it
    /// short (print, or hand the figures to another thread).
    public var progress: (@Sendable (Progress) -> Void)?
    /// With a forecast: the current cases come first. Each is worth a large premium in the joint
    /// search, so that as many of them are placed as without the forecast, and the forecast
    /// decides only *where* (the deadline rule's due households: ``LookAhead``). Scores, bounds
    /// and reasons stay FORMAT.md's.
    public var currentFirst = false

    /// The solve so far, for someone waiting for it.
    public struct Progress: Sendable, Equatable {
        /// Seconds since the solve started.
        public var seconds: Double
        /// Score of the best placement found so far.
        public var objective: Int
        /// Proven upper bound on the best possible score (0 until the bound's first pass).
        public var bound: Int

        public init(seconds: Double, objective: Int, bound: Int) {
            self.seconds = seconds
            self.objective = objective
            self.bound = bound
        }
    }

    public init(timeLimit: Double = 60, effort: Double = 1, stopping: Stopping = .budget,
                progress: (@Sendable (Progress) -> Void)? = nil) {
        self.timeLimit = timeLimit
        self.effort = effort
        self.stopping = stopping
        self.progress = progress
    }

    /// Solves the instance. Never fails: an empty or infeasible-for-everyone instance gives an
    /// answer with every case unplaced and its reason. Call ``PlacementInstance/validate()`` first
    /// on instances that were not decoded from JSON. `stop` ends the search early, like the time
    /// limit (see ``solveOnOwnThread(_:stop:)`` for the daemon's way to call it).
    public func solve(_ instance: PlacementInstance, stop: StopSignal? = nil) -> PlacementResult {
        let deadline = Deadline(seconds: timeLimit, stop: stop)
        if !instance.forecast.isEmpty {
            let result = LookAhead.solve(instance, solver: self, deadline: deadline)
            // The joint search's figures are not the answer's: the officer hears the current
            // households' part of it as it goes (LookAhead), then the answer's.
            progress?(Progress(seconds: result.stats.seconds, objective: result.objective, bound: result.bound))
            return result
        }
        let problem = Problem(instance)
        var run = optimise(problem, deadline: deadline, progress: progress)
        let proof = prove(problem, &run, deadline: deadline, progress: progress)
        if stopping == .timeLimit { improve(problem, &run, deadline: deadline, progress: progress) }
        let (assignments, unplaced) = Explanation.assignments(instance, problem, run.state)
        return PlacementResult(
            objective: run.state.objective, bound: run.bound,
            assignments: assignments, unplaced: unplaced,
            stats: .init(seconds: deadline.elapsed, boundIterations: run.boundIterations,
                         searchIterations: run.searchIterations,
                         provenOptimal: run.state.objective == run.bound,
                         timeLimitReached: deadline.reached || proof.cutShort, nodes: proof.nodes))
    }

    /// The proof of optimality (``BranchAndBound``) from the heuristics' best, where the
    /// heuristics left a gap and the instance is small enough for it. With ``Stopping/budget``
    /// it is bounded by its node and pricing-round budgets (the time limit is only a safety
    /// stop); with ``Stopping/timeLimit`` by 85% of the time left, so that the searches keep a
    /// turn when it cannot finish (on regional instances they have long reached their plateau).
    /// Improves `run`'s placement and bound with what it found.
    func prove(_ problem: Problem, _ run: inout Run, deadline: Deadline,
               progress: (@Sendable (Progress) -> Void)?) -> (nodes: Int, cutShort: Bool) {
        guard run.state.objective < run.bound, BranchAndBound.applies(problem), !deadline.isOver else { return (0, false) }
        let limit = stopping == .timeLimit ? Deadline(seconds: 0.85 * deadline.remaining, stop: nil, parent: deadline) : deadline
        var prover = BranchAndBound(problem: problem, incumbent: run.state)
        let outcome = prover.run(dual: run.dual, upperBound: run.bound, deadline: limit,
                                 maxNodes: max(1, Int(effort * Double(BranchAndBound.nodeBudget))),
                                 maxRounds: stopping == .timeLimit ? .max : max(1, Int(effort * Double(BranchAndBound.roundBudget))),
                                 maxUndecided: stopping == .timeLimit ? .max : BranchAndBound.budgetedUndecided)
        if outcome.objective > run.state.objective {
            run.state.restore(outcome.pairs)
            precondition(run.state.isFeasible && run.state.objective == outcome.objective, "the proof produced an infeasible placement")
        }
        if outcome.bound < run.bound { run.bound = max(outcome.bound, run.state.objective) }
        progress?(Progress(seconds: deadline.elapsed, objective: run.state.objective, bound: run.bound))
        return (outcome.nodes, outcome.cutShort)
    }

    /// What one optimisation of a compiled problem found.
    struct Run {
        /// The best feasible placement.
        var state: State
        /// A proven upper bound on the problem's optimum, at least `state.objective`.
        var bound: Int
        /// The multipliers the bound came from (`bestLambda` set, evaluated).
        var dual: Lagrangian
        var boundIterations: Int
        var searchIterations: Int
    }

    /// Steps 2 and 3 of the method on one problem; `progress` hears of each improvement.
    func optimise(_ problem: Problem, deadline: Deadline, progress: (@Sendable (Progress) -> Void)? = nil) -> Run {
        let outOfTime = { deadline.isOver }
        let pairCount = max(1, problem.pairMuni.count)
        let caseCount = max(1, problem.caseCount)
        var local = LocalSearch(problem: problem)

        var state = State(problem: problem)
        var bestObjective = 0
        var best = state.snapshot
        var reportedBound = 0
        func consider(_ trial: State) {
            if trial.objective > bestObjective {
                bestObjective = trial.objective
                best = trial.snapshot
                progress?(Progress(seconds: deadline.elapsed, objective: bestObjective, bound: reportedBound))
            }
        }

        // Greedy: longest waiting first, each to its best municipality with room.
        Repair.fill(&state, order: Repair.byValue(problem), guide: [])
        local.run(&state, budget: 10 * pairCount)
        consider(state)

        // Bound.
        let dual = bound(problem, target: bestObjective, deadline: deadline)
        let bound = max(dual.certifiedBound, bestObjective)
        reportedBound = bound
        progress?(Progress(seconds: deadline.elapsed, objective: bestObjective, bound: bound))

        // Construction by Lagrangian profit.
        if bestObjective < bound && pairCount <= 5_000_000 && !outOfTime() {
            var trial = State(problem: problem)
            Repair.profit(&trial, cost: dual.cost)
            Repair.fill(&trial, order: Repair.byValue(problem), guide: dual.cost)
            local.run(&trial, budget: 10 * pairCount)
            consider(trial)
        }
        state.restore(best)

        // Annealing, restarted from the best placement with a fresh seed while the budget lasts.
        if bestObjective < bound && !outOfTime() {
            let total = Int(effort * Double(min(20_000_000, max(6_000_000, 1500 * caseCount))))
            let rounds = max(1, min(5, total / max(1, 400 * caseCount)))
            let seedBase: UInt64 = 0xA11EA1
            var matching = Matching(problem: problem, seed: seedBase &+ 0x3A7C)
            let rowsPerStep = min(problem.muniCount, 120)
            let matchSteps = Int(effort * Double(problem.muniCount >= 8 ? 8 : 4))
            for round in 0..<rounds where bestObjective < bound && !outOfTime() {
                var banned: [Bool] = []
                if round % 3 == 0 && dual.placedSteps > 0 {
                    // Every third round keeps out the households the LP leaves out (as the
                    // subgradient steps estimate it), starting from a placement without them.
                    banned = dual.placedSum.map { $0 < 0.5 }
                    for c in 0..<problem.caseCount where banned[c] && state.pairOf[c] >= 0 { state.set(c, pair: -1) }
                }
                var anneal = Anneal(problem: problem, start: state, prices: dual.bestLambda, banned: banned, seed: seedBase &+ UInt64(round))
                anneal.run(moves: total / rounds, hot: 30, cold: 1, outOfTime: outOfTime)
                state.restore(anneal.best)
                if !outOfTime() { local.run(&state, budget: 10 * pairCount) }   // it does not read the clock
                var gained = 0
                for _ in 0..<matchSteps where !outOfTime() { gained += matching.step(&state, maxRows: rowsPerStep, maxPool: 2 * rowsPerStep + 64, mergeChance: Matching.merge) }
                if gained > 0 && !outOfTime() { local.run(&state, budget: 10 * pairCount) }
                consider(state)
                state.restore(best)
            }
        }

        // Ruin and recreate.
        var searchIterations = 0
        if bestObjective < bound && !outOfTime() {
            var search = Search(problem: problem, maxScore: local.maxScore, guide: dual.cost, seed: 0x5EED)
            let stepCost = pairCount / caseCount * 64 + problem.muniCount * 8 + state.unplaced.count * 16
            let iterations = Int(effort * Double(min(40_000, max(1_000, 50_000_000 / max(1, stepCost)))))
            searchIterations = search.run(&state, iterations: iterations, bound: bound, outOfTime: outOfTime)
            if !outOfTime() { local.run(&state, budget: 10 * pairCount) }
            consider(state)
        }
        state.restore(best)
        precondition(state.isFeasible, "placement engine produced an infeasible placement")
        return Run(state: state, bound: bound, dual: dual, boundIterations: dual.iterations, searchIterations: searchIterations)
    }

    /// Step 4 of the method: until the time limit or a proof of optimality, rounds of ruin and
    /// recreate from the best placement, each with a fresh seed, alternating with subgradient
    /// steps that aim the bound at the best objective. `run` keeps the best of both.
    /// `onImprovement` hears each better placement, for a caller that reports its own figures
    /// of it (the look-ahead's current households).
    func improve(_ problem: Problem, _ run: inout Run, deadline: Deadline, progress: (@Sendable (Progress) -> Void)?,
                 onImprovement: ((State) -> Void)? = nil) {
        guard problem.caseCount > 0, problem.muniCount > 0 else { return }
        let outOfTime = { deadline.isOver }
        var local = LocalSearch(problem: problem)
        var dual = run.dual
        var state = run.state
        var boundSettled = false
        let pairCount = max(1, problem.pairMuni.count), caseCount = max(1, problem.caseCount)
        // About a tenth of the budgeted ruin-and-recreate phase per round, so that the bound gets
        // its turn several times a second.
        let stepCost = pairCount / caseCount * 64 + problem.muniCount * 8 + state.unplaced.count * 16
        let iterations = max(100, min(4_000, 5_000_000 / max(1, stepCost)))
        var round: UInt64 = 0
        while run.state.objective < run.bound && !outOfTime() {
            round += 1
            var search = Search(problem: problem, maxScore: local.maxScore, guide: dual.cost, seed: 0x5EED &+ round &* 0x9E37_79B9)
            run.searchIterations += search.run(&state, iterations: iterations, bound: run.bound, outOfTime: outOfTime)
            // LocalSearch does not read the clock: a bounded budget keeps a round short (a full
            // 10 × pairs on a 20,000-household surge ran 20 s past the time limit).
            if !outOfTime() { local.run(&state, budget: min(10 * pairCount, 200 * caseCount)) }
            if state.objective > run.state.objective {
                precondition(state.isFeasible, "placement engine produced an infeasible placement")
                run.state = state
                progress?(Progress(seconds: deadline.elapsed, objective: state.objective, bound: run.bound))
                onImprovement?(state)
            } else {
                state.restore(run.state.snapshot)
            }
            if boundSettled || outOfTime() { continue }
            dual.lambda = dual.bestLambda
            for _ in 0..<10 where !outOfTime() {
                let value = dual.evaluate()
                run.boundIterations += 1
                if !dual.step(value: value, target: Double(run.state.objective), patience: 10) { boundSettled = true; break }
            }
            dual.lambda = dual.bestLambda
            dual.evaluate()
            let bound = max(dual.certifiedBound, run.state.objective)
            if bound < run.bound {
                run.bound = bound
                progress?(Progress(seconds: deadline.elapsed, objective: run.state.objective, bound: bound))
            }
        }
    }

    /// Step 2 of the method: the Lagrangian multipliers, minimised toward `target` (the objective
    /// of a feasible placement, which the subgradient steps aim at and stop at). Returns the dual
    /// with `lambda = bestLambda`, evaluated; `certifiedBound` is then a proven upper bound.
    func bound(_ problem: Problem, target: Int, deadline: Deadline) -> Lagrangian {
        let pairCount = max(1, problem.pairMuni.count)
        var dual = Lagrangian(problem: problem)
        var scratch: [(Double, Int)] = []
        for _ in 0..<3 where !deadline.isOver {
            for d in 0..<problem.dimCount {
                dual.evaluate()
                dual.uniformShift(dimension: d, scratch: &scratch)
            }
        }
        dual.evaluate()
        if !deadline.isOver && dual.certifiedBound > target {
            var coordinate = DualCoordinate(problem: problem)
            let sweeps = pairCount > 5_000_000 ? 1 : 4
            for _ in 0..<sweeps where !deadline.isOver {
                coordinate.sweep(&dual)
                dual.evaluate()
            }
        }
        var steps = 0
        let maxSteps = Int(effort * Double(min(300, max(10, 100_000_000 / pairCount))))
        while steps < maxSteps && dual.certifiedBound > target && !deadline.isOver {
            dual.lambda = steps == 0 ? dual.bestLambda : dual.lambda
            let value = dual.evaluate()
            dual.accumulatePlaced()
            steps += 1
            if !dual.step(value: value, target: Double(target), patience: 10) { break }
        }
        dual.lambda = dual.bestLambda
        dual.evaluate()
        return dual
    }
}

/// The time limit and the stop signal, read wherever a phase checks its clock. Once over, it
/// stays over (so that a phase cut short does not resume), and `reached` says so.
final class Deadline {
    private let clock = ContinuousClock()
    private let start: ContinuousClock.Instant
    private let end: ContinuousClock.Instant
    let stop: StopSignal?
    private(set) var reached = false

    /// A deadline within `parent` (never later than it, over when it is): a phase's share of
    /// the time. Reaching the child's own end does not make the parent reached.
    private let parent: Deadline?

    init(seconds: Double, stop: StopSignal?, parent: Deadline? = nil) {
        start = clock.now
        end = start.advanced(by: .milliseconds(Int64(min(max(0, seconds), 1e9) * 1000)))
        self.stop = stop
        self.parent = parent
    }

    var isOver: Bool {
        if !reached && (clock.now >= end || stop?.isStopped == true || parent?.isOver == true) { reached = true }
        return reached
    }

    /// Seconds left before the end (0 once over).
    var remaining: Double {
        if isOver { return 0 }
        let d = end - clock.now
        return max(0, Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18)
    }

    /// Seconds since the solve started.
    var elapsed: Double {
        let d = clock.now - start
        return Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
    }
}
