/// Look-ahead through `forecast` (FORMAT.md "Look-ahead: `forecast`"): place the current cases as
/// if the forecast households were coming.
///
/// Method: a joint solve. The current cases and the forecast households form one instance (the
/// forecast after the cases), solved by the same ``Solver/optimise(_:deadline:)``; the answer is
/// the joint placement's current part, so capacity the joint solve gives to forecast households
/// stays free for the batches that will hold the real ones.
///
/// - An expected household is worth ``discount`` (1 point) less than one that is here, in the
///   joint *search* only: between equals, the household that is here is placed and the sample
///   waits. (A larger discount, 3% of an expected household's base value, was measured on the
///   year replay and changed nothing: 98.70% of hindsight against 98.76% on seeds 1–5.)
/// - `stats.forecast` reports the joint problem at FORMAT.md scores, without the discount: the
///   joint placement's score and a proven bound on the best joint score, from the same
///   ``Lagrangian`` run on the undiscounted joint problem.
/// - `bound` is the bound of the current cases alone, computed exactly as without a forecast: the
///   current cases are also solved alone (which gives their bound and the placement the engine
///   would make without looking ahead; the answer's objective is never above it, as its placement
///   is feasible for the current cases alone).
/// - Reasons (``Explanation/keptFor(_:_:_:_:_:)``): a current household that waits though it would
///   fit in what the current placements leave, or that the solve without the forecast places, says
///   that its capacity is kept for expected arrivals.
enum LookAhead {
    /// Points taken off every score of an expected household in the joint search.
    static let discount = 1

    /// What the reasons need to know of the look-ahead.
    struct Kept {
        /// Forecast households the joint solve places in each municipality.
        var forecastPlaced: [Int]
        /// Municipality of each current case in the solve without the forecast, or -1.
        var withoutForecast: [Int]
    }

    /// The discount of each joint household: ``discount`` for an expected one; for a current case
    /// 0, or with `premium` (``Solver/currentFirst``) minus that premium.
    static func discounts(_ joint: PlacementInstance, current: Int, premium: Int = 0) -> [Int] {
        (0..<joint.cases.count).map { $0 < current ? -premium : discount }
    }

    /// What a current case that comes first is worth on top of its score: ten times the best
    /// score of any household, so that the joint search gives up several expected households
    /// (a large family's place holds two or three) rather than one current case. Not a strict
    /// precedence; the caller that needs one checks (DeadlineFirst does).
    static func premium(_ scored: Problem) -> Int {
        10 * max(1, scored.pairScore.max() ?? 1)
    }

    static func solve(_ instance: PlacementInstance, solver: Solver, deadline: Deadline) -> PlacementResult {
        let n = instance.cases.count
        let current = PlacementInstance(weights: instance.weights, municipalities: instance.municipalities, cases: instance.cases)
        let joint = PlacementInstance(weights: instance.weights, municipalities: instance.municipalities,
                                      cases: instance.cases + instance.forecast)

        // 1. The joint solve, expected households discounted (and current ones at a premium
        //    when they come first).
        let scored = Problem(joint)
        let search = Problem(joint, discount: discounts(joint, current: n, premium: solver.currentFirst ? premium(scored) : 0))
        var jointRun = solver.optimise(search, deadline: deadline)
        // While it improves, the officer hears the current households' part of the best joint
        // placement so far (their scores are undiscounted), without a bound: the joint bound is
        // not theirs, and theirs comes at the end. The part may go down as the joint improves.
        let report: ((State) -> Void)? = solver.progress.map { progress in
            { state in
                // Current cases come first in both problems, with the same pairs: their pair
                // indices agree, and `scored` has their scores without any premium.
                let part = (0..<n).reduce(0) { sum, c in state.pairOf[c] >= 0 ? sum + scored.pairScore[state.pairOf[c]] : sum }
                progress(Solver.Progress(seconds: deadline.elapsed, objective: part, bound: 0))
            }
        }
        report?(jointRun.state)
        if solver.stopping == .timeLimit {
            // Anytime: improve the joint placement for most of what is left, keeping a fifth
            // (at least) for the joint bound and the current cases' own solve.
            let share = Deadline(seconds: max(0, solver.timeLimit - deadline.elapsed) * 0.8, stop: deadline.stop)
            solver.improve(search, &jointRun, deadline: share, progress: nil, onImprovement: report)
        }

        // 2. The joint problem at FORMAT.md scores: the same placement, and a bound on it.
        let jointState = transfer(jointRun.state, cases: 0..<joint.cases.count, to: scored)
        let jointDual = solver.bound(scored, target: jointState.objective, deadline: deadline)
        let jointBound = max(jointDual.certifiedBound, jointState.objective)

        // 3. The current cases alone: their bound, and the placement without the forecast.
        let alone = Problem(current)
        var plain = solver.optimise(alone, deadline: deadline)
        _ = solver.prove(alone, &plain, deadline: deadline, progress: nil)   // the same bound as a plain solve of them

        // 4. The answer: the current part of the joint placement.
        let state = transfer(jointRun.state, cases: 0..<n, to: alone)
        precondition(state.isFeasible, "placement engine produced an infeasible placement")
        var forecastPlaced = [Int](repeating: 0, count: instance.municipalities.count)
        for c in n..<joint.cases.count {
            let m = jointRun.state.muni(of: c)
            if m >= 0 { forecastPlaced[m] += 1 }
        }
        let kept = Kept(forecastPlaced: forecastPlaced, withoutForecast: (0..<n).map { plain.state.muni(of: $0) })
        let (assignments, unplaced) = Explanation.assignments(current, alone, state, kept: kept)
        let bound = max(plain.bound, state.objective)
        return PlacementResult(
            objective: state.objective, bound: bound,
            assignments: assignments, unplaced: unplaced,
            stats: .init(seconds: deadline.elapsed, boundIterations: plain.boundIterations + jointDual.iterations + jointRun.boundIterations,
                         searchIterations: plain.searchIterations + jointRun.searchIterations,
                         provenOptimal: state.objective == bound, timeLimitReached: deadline.reached,
                         forecast: .init(cases: instance.forecast.count, objective: jointState.objective, bound: jointBound,
                                         placed: forecastPlaced.reduce(0, +), objectiveWithoutForecast: plain.state.objective)))
    }

    /// The placement of `cases` (indices shared by both problems: current cases first) in a
    /// problem of another compilation of the same municipalities.
    static func transfer(_ from: State, cases: Range<Int>, to problem: Problem) -> State {
        var state = State(problem: problem)
        for c in cases {
            let m = from.muni(of: c)
            guard m >= 0 else { continue }
            // The pair exists: exclusions and whole capacities are the same, and a score is never
            // lower than in the discounted problem it comes from.
            let p = problem.pair(c, Int32(m))
            precondition(p >= 0, "look-ahead: a placement without its pair")
            state.set(c, pair: p)
        }
        return state
    }
}
