/// Proof of optimality (issue 10 §1): branch and price from the heuristics' best placement.
/// Scores are integers, so a bound B proves a placement of objective z optimal when ⌊B⌋ ≤ z, and a
/// node whose bound has ⌊B⌋ ≤ incumbent is closed.
///
/// 1. **Exact LP bound** (``rootLP(_:deadline:)``): the capacity Lagrangian L(λ) (``Lagrangian``)
///    minimised by a stabilised Kelley / Dantzig–Wolfe master (``DenseSimplex``; columns are
///    subproblem solutions, its duals the next λ, smoothed toward the best λ: Wentges, α = ½). It
///    starts from the engine's own multipliers and ends at the LP bound (the engine's bound is
///    8–170 points above it on the examples).
/// 2. **Reduced-cost fixing** against incumbent + 1 (``reduce(_:value:)``): with
///    G = L − (incumbent + 1), a pair that loses more than G against the household's best option
///    cannot be in a better placement, nor can a household whose best reduced score exceeds G stay
///    out. A household left with one pair is pre-assigned, one left with none stays out; what
///    remains are the *undecided* households (on the examples 88–166 of 120–400).
/// 3. **Dantzig–Wolfe master over municipality packings** for the undecided households: rows are
///    "household i at most once" (exactly once if it must be placed) and "municipality m takes
///    one packing"; a column is a packing of m that fits its capacity left. Pricing is one exact
///    multi-dimensional knapsack per municipality (``MunicipalityKnapsack``), at duals smoothed
///    toward the best so far. Σ_i π_i + Σ_m KP_m(π) is a valid bound at every iteration; at
///    convergence it is the Dantzig–Wolfe bound, which is integral per municipality and so closes
///    the "where" part of the gap (region-120-s2 and -s3 are proven at the root by it).
/// 4. **Branching** (depth first): on the household whose share placed, y_i = Σ_{packings ∋ i} x,
///    is closest to ½ (placed / out, the likelier first); when every y_i is integral, on the most
///    fractional (household, municipality) share (there / not there). Columns are kept in one pool
///    and reused by every node where they are still valid.
/// 5. **Primal**: the packings the master uses most, taken greedily without overlap, completed
///    by ``Repair/fill(_:order:guide:)`` and ``LocalSearch``; an integral master solution is a
///    placement too.
///
/// On the examples (Python prototype of exactly this, HiGHS as the masters' LP solver and as the
/// knapsack oracle) the trees have 1 (national-300-s5: the root bound is the optimum), 1, 1, 9, 11
/// and 15 nodes. When the deadline or the node budget
/// stops the search, the certified bound is the largest bound of a node still open (an open child
/// inherits its parent's bound), never below the incumbent and never above the bound given in.
struct BranchAndBound {
    /// Nodes per proof at effort 1 (the examples need at most 15).
    static let nodeBudget = 5_000
    /// Pricing rounds per proof at effort 1 when the run is bounded by its budget rather than the
    /// clock (region-120-s3 needs about 110, region-120-s2 fewer than 500).
    static let roundBudget = 500
    /// Undecided households above which a budgeted proof does not start: its master's rounds
    /// grow with their square (region-400-s4's 280 took a minute for nothing), and a budgeted
    /// solve, the tests' and the year replay's, has no clock to stop it sooner.
    static let budgetedUndecided = 200

    /// Where the proof runs: its masters are dense, of order (binding capacity rows) for the LP and
    /// (undecided households + municipalities) for the packings.
    /// Regional batches only (issue 10: up to 7 municipalities and 1,000 households; a margin
    /// above that). A national instance's packing master has hundreds of municipality rows and its
    /// rounds are too slow for the dense simplex: there the heuristics keep the whole time.
    static func applies(_ problem: Problem) -> Bool {
        problem.caseCount > 0 && problem.muniCount > 0 && problem.caseCount <= 1_500 && problem.muniCount <= 20
    }

    let problem: Problem
    private var local: LocalSearch

    // Incumbent, on the full problem.
    private(set) var incumbent: Int
    private(set) var incumbentPairs: [Int]

    private(set) var nodes = 0

    init(problem: Problem, incumbent: State) {
        self.problem = problem
        local = LocalSearch(problem: problem)
        self.incumbent = incumbent.objective
        incumbentPairs = incumbent.snapshot
    }

    // MARK: 1. Exact LP bound

    /// Minimises the capacity Lagrangian from `dual`'s best multipliers to the LP bound (within
    /// 1e-7 relative) or until the deadline. Leaves `dual` evaluated at its best λ.
    mutating func rootLP(_ dual: inout Lagrangian, deadline: Deadline, maxIterations: Int = 600) {
        let M = problem.muniCount, K = problem.dimCount
        var rows: [Int] = []
        for i in 0..<(M * K) where dual.binding[i] { rows.append(i) }
        // Nothing to price, or too large for the dense master (national: 1,129 rows; there the
        // reduction fixes nothing anyway and works from the engine's λ).
        if rows.isEmpty || rows.count > 300 { return }
        // Rows 0..<R: capacity (slack); row R: convexity (artificial, = 1).
        let R = rows.count
        var master = DenseSimplex(rhs: rows.map { Double(problem.capacity[$0]) } + [1],
                                  logicalCost: [Double](repeating: 0, count: R) + [-DenseSimplex.big])
        var rowOf = [Int](repeating: -1, count: M * K)
        for (r, i) in rows.enumerated() { rowOf[i] = r }
        dual.lambda = dual.bestLambda
        var centre = rows.map { dual.bestLambda[$0] }
        var usage = [Double](repeating: 0, count: R)
        let convexity = Int32(R)
        for iteration in 0..<maxIterations where !deadline.isOver {
            dual.evaluate()                                    // keeps bestValue / bestLambda
            // The column of this subproblem solution.
            for r in 0..<R { usage[r] = 0 }
            var value = 0.0
            for c in 0..<problem.caseCount {
                let p = dual.choice[c]
                if p < 0 { continue }
                value += Double(problem.pairScore[p])
                let m = Int(problem.pairMuni[p]), t = Int(problem.caseType[c])
                for i in Int(problem.typeDimStart[t])..<Int(problem.typeDimStart[t + 1]) {
                    let r = rowOf[m * K + Int(problem.typeDims[i])]
                    if r >= 0 { usage[r] += Double(problem.typeAmounts[i]) }
                }
            }
            var rowsOfColumn: [Int32] = [], values: [Double] = []
            for r in 0..<R where usage[r] != 0 { rowsOfColumn.append(Int32(r)); values.append(usage[r]) }
            rowsOfColumn.append(convexity); values.append(1)
            master.addColumn(rows: rowsOfColumn, values: values, cost: value)
            master.solve(deadline: deadline)
            if master.logicalValue(R) < 1e-9 && dual.bestValue - master.objective <= 1e-7 * abs(dual.bestValue) + 1e-6 { break }
            for (r, i) in rows.enumerated() { centre[r] = dual.bestLambda[i] }
            let alpha = iteration % 5 == 4 ? 0.0 : 0.5
            for i in 0..<(M * K) { dual.lambda[i] = 0 }
            for (r, i) in rows.enumerated() { dual.lambda[i] = max(0, alpha * centre[r] + (1 - alpha) * master.duals[r]) }
        }
        dual.lambda = dual.bestLambda
        dual.evaluate()
    }

    // MARK: 2. Reduction

    /// The undecided part after reduced-cost fixing.
    struct Reduced {
        /// Undecided household i is case `cases[i]`; `mustPlace[i]`: it cannot stay out.
        var cases: [Int] = []
        var mustPlace: [Bool] = []
        /// Allowed pair of (i, m), or -1: option[i * M + m].
        var option: [Int] = []
        /// Pre-assigned households, their pairs and total score.
        var fixedCases: [Int] = []
        var fixed: [Int] = []
        var fixedScore = 0
        /// Capacity left after the pre-assigned households: left[m * K + d].
        var left: [Int] = []
        /// No placement better than the incumbent exists (pre-assigned households overfill a
        /// municipality, or a household that must be placed has nowhere to go).
        var infeasible = false
    }

    /// Reduced-cost fixing at `dual`'s evaluated λ (cost, caseBest current) with value `value`.
    func reduce(_ dual: Lagrangian, value: Double) -> Reduced {
        let M = problem.muniCount, K = problem.dimCount
        var out = Reduced()
        out.left = problem.capacity
        // Fix only what loses clearly more than the gap (the float error is far below 1e-6·|L|).
        let gap = value - Double(incumbent + 1) + 1e-9 * abs(value) + 1e-6
        for c in 0..<problem.caseCount {
            let t = Int(problem.caseType[c])
            let top = max(0, dual.caseBest[c].isFinite ? dual.caseBest[c] : 0)
            var keep: [Int] = []
            for p in problem.pairStart[c]..<problem.pairStart[c + 1] {
                let r = Double(problem.pairScore[p]) - dual.cost[t * M + Int(problem.pairMuni[p])]
                if top - r <= gap { keep.append(p) }
            }
            let mayStayOut = top <= gap
            if keep.isEmpty {
                if !mayStayOut { out.infeasible = true }
                continue
            }
            if keep.count == 1 && !mayStayOut {
                let p = keep[0], m = Int(problem.pairMuni[p])
                out.fixedCases.append(c)
                out.fixed.append(p)
                out.fixedScore += problem.pairScore[p]
                for i in Int(problem.typeDimStart[t])..<Int(problem.typeDimStart[t + 1]) {
                    out.left[m * K + Int(problem.typeDims[i])] -= problem.typeAmounts[i]
                }
                continue
            }
            out.cases.append(c)
            out.mustPlace.append(!mayStayOut)
            var row = [Int](repeating: -1, count: M)
            for p in keep { row[Int(problem.pairMuni[p])] = p }
            out.option += row
        }
        if out.left.contains(where: { $0 < 0 }) { out.infeasible = true }
        return out
    }

    // MARK: 3–5. Branch and price over the undecided households

    struct Outcome {
        var pairs: [Int]
        var objective: Int
        /// Certified upper bound on the optimum, ≥ objective; == objective when proven.
        var bound: Int
        var nodes: Int
        var proven: Bool
        /// The deadline stopped it before the proof (the result then depends on timing).
        var cutShort: Bool
    }

    /// The whole proof: LP bound, reduction, branch and price. `dual` is the engine's Lagrangian
    /// (evaluated at its best λ); `upperBound` a bound already proven (the engine's `bound`).
    mutating func run(dual inputDual: Lagrangian, upperBound: Int, deadline: Deadline, maxNodes: Int, maxRounds: Int = .max,
                      maxUndecided: Int = .max) -> Outcome {
        var dual = inputDual
        rootLP(&dual, deadline: deadline)
        var bound = min(upperBound, max(dual.certifiedBound, incumbent))
        func outcome(_ bound: Int, proven: Bool) -> Outcome {
            Outcome(pairs: incumbentPairs, objective: incumbent, bound: max(bound, incumbent), nodes: nodes, proven: proven,
                    cutShort: !proven && deadline.isOver)
        }
        if bound <= incumbent { return outcome(incumbent, proven: true) }
        if deadline.isOver { return outcome(bound, proven: false) }

        let reduced = reduce(dual, value: dual.bestValue)
        if reduced.infeasible { return outcome(incumbent, proven: true) }
        if reduced.cases.count > maxUndecided { return outcome(bound, proven: false) }
        var search = PackingSearch(problem: problem, reduced: reduced, lambda: dual.bestLambda)
        search.maxRounds = maxRounds
        let compiled = problem
        var improver = local
        // The LP's own case multipliers (each household's best reduced score at λ): there
        // Σ u + Σ_m KP_m(u) is already at most the LP bound, so column generation starts at it.
        let centre = reduced.cases.map { max(0, dual.caseBest[$0].isFinite ? dual.caseBest[$0] : 0) }
        let certifier = dual
        let result = search.run(incumbent: incumbent, pairs: incumbentPairs, centre: centre, rootBound: Double(bound),
                                deadline: deadline, maxNodes: maxNodes, certify: { certifier.certified($0) },
                                improve: { BranchAndBound.completed($0, problem: compiled, local: &improver) })
        nodes = search.nodes
        if result.incumbent > incumbent {
            incumbent = result.incumbent
            incumbentPairs = result.pairs
        }
        bound = min(bound, max(result.bound, incumbent))
        return outcome(bound, proven: bound <= incumbent)
    }

    /// A placement from a partial one (pairs by case, -1 unplaced): completed greedily, then local
    /// search. Returns the full pairs and the objective.
    static func completed(_ pairs: [Int], problem: Problem, local: inout LocalSearch) -> (pairs: [Int], objective: Int) {
        var state = State(problem: problem)
        for (c, p) in pairs.enumerated() where p >= 0 {
            if state.fits(type: Int(problem.caseType[c]), in: Int(problem.pairMuni[p])) { state.set(c, pair: p) }
        }
        Repair.fill(&state, order: Repair.byValue(problem), guide: [])
        local.run(&state, budget: 4 * max(1, problem.pairMuni.count))
        return (state.snapshot, state.objective)
    }
}

/// Steps 3–5 of ``BranchAndBound`` on a ``BranchAndBound/Reduced`` problem.
struct PackingSearch {
    let problem: Problem
    let reduced: BranchAndBound.Reduced
    let n: Int
    let M: Int
    /// λ[m * K + d] of the LP, for the knapsacks' surrogate weights.
    let lambda: [Double]

    private var knapsack: MunicipalityKnapsack
    // Column pool.
    private var pool: [PackingColumn] = []
    private var known: Set<PackingColumn> = []

    // Node state (trail-undone): status 0 free, 1 must, −1 out; banned[i * M + m].
    private var status: [Int8]
    private var banned: [Bool]
    private var trail: [Int] = []      // (index << 1) | kind, see setStatus / ban
    private var trailOld: [Int8] = []

    private(set) var nodes = 0
    private(set) var pricingRounds = 0
    /// Wentges smoothing: price at smoothing·(best duals so far) + (1 − smoothing)·(the master's).
    /// The set-packing master is very degenerate, so its own duals jump; measured on the
    /// examples, 0.95 converges in the fewest rounds of 0.5–0.98.
    let smoothing = 0.95
    /// Pricing rounds for the whole search (a deterministic budget; `Int.max` when only the
    /// deadline bounds it).
    var maxRounds = Int.max
    private var incumbent = 0
    private var incumbentPairs: [Int] = []

    struct PackingColumn: Hashable {
        var muni: Int32
        var items: [Int32]
        var score: Int
    }

    /// Cost of leaving a "must be placed" row unmet in the master: more than all the undecided
    /// households can score together.
    let penalty: Double

    init(problem: Problem, reduced: BranchAndBound.Reduced, lambda: [Double]) {
        self.problem = problem
        self.reduced = reduced
        n = reduced.cases.count
        M = problem.muniCount
        var total = 0.0
        for i in 0..<n {
            var top = 0
            for m in 0..<problem.muniCount where reduced.option[i * problem.muniCount + m] >= 0 {
                top = max(top, problem.pairScore[reduced.option[i * problem.muniCount + m]])
            }
            total += Double(top)
        }
        penalty = total + 1
        self.lambda = lambda
        knapsack = MunicipalityKnapsack(problem: problem)
        status = reduced.mustPlace.map { $0 ? 1 : 0 }
        banned = [Bool](repeating: false, count: reduced.cases.count * problem.muniCount)
    }

    // Trail: kind 0 = status change of i (old value kept in trailOld), kind 1 = ban of i * M + m.
    private mutating func setStatus(_ i: Int, _ s: Int8) {
        if status[i] == s { return }
        trail.append(i << 1); trailOld.append(status[i]); status[i] = s
    }
    private mutating func ban(_ i: Int, _ m: Int) {
        if banned[i * M + m] { return }
        trail.append((i * M + m) << 1 | 1); trailOld.append(0); banned[i * M + m] = true
    }
    private mutating func undo(to mark: Int) {
        while trail.count > mark {
            let e = trail.removeLast(), old = trailOld.removeLast()
            if e & 1 == 0 { status[e >> 1] = old } else { banned[e >> 1] = false }
        }
    }

    private func allowed(_ i: Int, _ m: Int) -> Bool {
        status[i] >= 0 && !banned[i * M + m] && reduced.option[i * M + m] >= 0
    }

    private func valid(_ col: PackingColumn) -> Bool {
        let m = Int(col.muni)
        for i32 in col.items where !allowed(Int(i32), m) { return false }
        return true
    }

    private func score(_ i: Int, _ m: Int) -> Int { problem.pairScore[reduced.option[i * M + m]] }

    private func capacityLeft(_ m: Int) -> [Int] {
        let K = problem.dimCount
        return Array(reduced.left[(m * K)..<((m + 1) * K)])
    }

    /// Prices municipality m at multipliers `pi`: an upper bound on its KP, and the best packing
    /// the knapsack found (exact within its node budget; past it still a packing, and still a
    /// column if it prices out).
    private mutating func price(_ m: Int, _ pi: [Double]) -> (bound: Double, column: PackingColumn?) {
        let K = problem.dimCount
        var types: [Int32] = [], profits: [Double] = [], items: [Int32] = []
        for i in 0..<n where allowed(i, m) {
            let profit = Double(score(i, m)) - pi[i]
            if profit > 1e-9 {
                types.append(problem.caseType[reduced.cases[i]])
                profits.append(profit)
                items.append(Int32(i))
            }
        }
        let lambdaRow = (0..<K).map { lambda[m * K + $0] }
        let bound = knapsack.solve(capacity: capacityLeft(m), types: types, profits: profits, lambdaRow: lambdaRow)
        guard !knapsack.selection.isEmpty else { return (bound, nil) }
        let chosen = knapsack.selection.map { items[$0] }.sorted()
        let total = chosen.reduce(0) { $0 + score(Int($1), m) }
        return (bound, PackingColumn(muni: Int32(m), items: chosen, score: total))
    }

    private struct NodeResult {
        var bound: Double
        var y: [Double]
        var x: [Int: Double]          // (i * M + m) → share
        var columns: [(PackingColumn, Double)]
        var centre: [Double]
        var feasible: Bool
    }

    /// Column generation at the current node. Returns nil if the node is closed by its bound.
    private mutating func solveNode(centre start: [Double], deadline: Deadline, certify: (Double) -> Int) -> NodeResult? {
        let fixed = Double(reduced.fixedScore)
        // Rows: i (≤ 1, or = 1 when it must be placed), then n + m (≤ 1).
        var logical = [Double](repeating: 0, count: n + M)
        // "Must be placed" rows get an artificial at a penalty rather than a big M: the
        // penalised master is a relaxation of the node whatever the penalty (any placement of
        // the node is feasible in it at the same score), so its duals give valid bounds, and a
        // penalty above everything else the undecided households can score keeps them on the
        // scale of the scores (with 1e9 the duals and the knapsacks' profits were all M).
        for i in 0..<n where status[i] == 1 { logical[i] = -penalty }
        // The right-hand sides are perturbed (by far less than any score) against the set-packing
        // master's degeneracy. Its value only steers pricing; the bound is the Lagrangian below.
        var master = DenseSimplex(rhs: (0..<(n + M)).map { (r: Int) -> Double in
            let h = (Double(r + 1) * 0.6180339887498949).truncatingRemainder(dividingBy: 1)
            return r < n && status[r] == 1 ? 1 - 1e-6 * h : 1 + 1e-6 * h   // must rows stay reachable without their artificial
        }, logicalCost: logical)
        var inMaster: [PackingColumn] = []
        func addToMaster(_ col: PackingColumn) {
            var rows = col.items
            rows.append(Int32(n) + col.muni)
            master.addColumn(rows: rows, values: [Double](repeating: 1, count: rows.count), cost: Double(col.score))
            inMaster.append(col)
        }
        for col in pool where valid(col) { addToMaster(col) }
        var centre = start
        for i in 0..<n where status[i] == 0 && centre[i] < 0 { centre[i] = 0 }
        var best = Double.infinity
        for round in 0..<2000 {
            if deadline.isOver || pricingRounds >= maxRounds { break }
            master.solve(deadline: deadline)
            if deadline.isOver { break }
            pricingRounds += 1
            let u = Array(master.duals[0..<n])
            var artificial = false
            for i in 0..<n where status[i] == 1 && master.logicalValue(i) > 1e-9 { artificial = true; break }
            let lower = artificial ? -Double.infinity : master.objective + fixed
            // Price at the smoothed point, then (if that adds nothing) at the master's duals.
            var added = false
            for attempt in 0..<2 {
                let alpha = attempt == 0 ? (round == 0 ? 1.0 : smoothing) : 0.0
                var pi = [Double](repeating: 0, count: n)
                for i in 0..<n where status[i] >= 0 {
                    pi[i] = alpha * centre[i] + (1 - alpha) * u[i]
                    if status[i] == 0 { pi[i] = max(0, pi[i]) }
                }
                var lagrangian = fixed
                for i in 0..<n where status[i] >= 0 { lagrangian += pi[i] }
                for m in 0..<M {
                    let (kp, column) = price(m, pi)
                    lagrangian += max(0, kp)
                    if let col = column, !known.contains(col) {
                        // Keep it if it prices out at the master's duals.
                        var reducedCost = Double(col.score) - master.duals[n + Int(col.muni)]
                        for i in col.items { reducedCost -= u[Int(i)] }
                        if reducedCost > 1e-9 {
                            known.insert(col); pool.append(col); addToMaster(col); added = true
                        }
                    }
                }
                if lagrangian < best { best = lagrangian; centre = pi }
                if added { break }
            }
            if certify(best) <= incumbent { return nil }
            if !artificial && best - lower <= 1e-7 * abs(best) + 1e-6 { break }   // converged
            if !added { break }        // nothing prices out: the master is optimal (or the node infeasible)
        }
        // The master's solution.
        let x = master.columnValues
        var y = [Double](repeating: 0, count: n)
        var share: [Int: Double] = [:]
        var used: [(PackingColumn, Double)] = []
        for (j, col) in inMaster.enumerated() where x[j] > 1e-9 {
            used.append((col, x[j]))
            for i in col.items {
                y[Int(i)] += x[j]
                share[Int(i) * M + Int(col.muni), default: 0] += x[j]
            }
        }
        var feasible = true
        for i in 0..<n where status[i] == 1 && master.logicalValue(i) > 1e-9 { feasible = false }
        return NodeResult(bound: best, y: y, x: share, columns: used, centre: centre, feasible: feasible)
    }

    /// A placement of the full problem from packings (taken greedily by weight, without overlap).
    private func placement(_ columns: [(PackingColumn, Double)]) -> [Int] {
        var pairs = [Int](repeating: -1, count: problem.caseCount)
        for (c, p) in zip(reduced.fixedCases, reduced.fixed) { pairs[c] = p }
        var muniUsed = [Bool](repeating: false, count: M)
        var caseUsed = [Bool](repeating: false, count: n)
        for (col, _) in columns.sorted(by: { $0.1 != $1.1 ? $0.1 > $1.1 : $0.0.score > $1.0.score }) {
            let m = Int(col.muni)
            if muniUsed[m] || col.items.contains(where: { caseUsed[Int($0)] }) { continue }
            muniUsed[m] = true
            for i in col.items {
                caseUsed[Int(i)] = true
                pairs[reduced.cases[Int(i)]] = reduced.option[Int(i) * M + m]
            }
        }
        return pairs
    }

    struct Result {
        var incumbent: Int
        var pairs: [Int]
        var bound: Int
    }

    /// The incumbent's packings of the undecided households (what of each municipality's share
    /// still fits the capacity the pre-assigned ones leave): the root master's first columns, so
    /// that it starts near a placement rather than with every "must be placed" row unmet.
    private mutating func seed(from pairs: [Int]) {
        for m in 0..<M {
            var left = capacityLeft(m)
            var items: [Int32] = []
            var total = 0
            for i in 0..<n {
                let p = pairs[reduced.cases[i]]
                guard p >= 0, Int(problem.pairMuni[p]) == m, allowed(i, m) else { continue }
                let t = Int(problem.caseType[reduced.cases[i]])
                let lo = Int(problem.typeDimStart[t]), hi = Int(problem.typeDimStart[t + 1])
                if (lo..<hi).contains(where: { problem.typeAmounts[$0] > left[Int(problem.typeDims[$0])] }) { continue }
                for k in lo..<hi { left[Int(problem.typeDims[k])] -= problem.typeAmounts[k] }
                items.append(Int32(i))
                total += score(i, m)
            }
            let col = PackingColumn(muni: Int32(m), items: items, score: total)
            if !items.isEmpty && known.insert(col).inserted { pool.append(col) }
        }
    }

    mutating func run(incumbent startValue: Int, pairs: [Int], centre start: [Double], rootBound: Double, deadline: Deadline, maxNodes: Int,
                      certify: (Double) -> Int, improve: ([Int]) -> (pairs: [Int], objective: Int)) -> Result {
        incumbent = startValue
        incumbentPairs = pairs
        seed(from: pairs)
        var stack: [Frame] = []

        // Processes the current node; returns its frame (children to explore) or nil if closed.
        // A node's bound is never above its parent's (a child is a restriction); a node cut short
        // before its first pricing round has only its parent's.
        func process(_ centre: [Double], parentBound: Int) -> Frame? {
            nodes += 1
            guard let node = solveNode(centre: centre, deadline: deadline, certify: certify) else { return nil }
            let bound = min(parentBound, certify(node.bound))
            if node.feasible {
                let (pairs, objective) = improve(placement(node.columns))
                if objective > incumbent { incumbent = objective; incumbentPairs = pairs }
            }
            if bound <= incumbent { return nil }
            if deadline.isOver || pricingRounds >= maxRounds {
                return Frame(children: [], next: 0, mark: trail.count, bound: bound, centre: node.centre, open: true)
            }
            // Branch on y.
            var pick = -1, best = 1e-6
            for i in 0..<n where status[i] == 0 {
                let f = min(node.y[i], 1 - node.y[i])
                if f > best { pick = i; best = f }
            }
            if pick >= 0 {
                let children: [Decision] = node.y[pick] >= 0.5 ? [.placed(pick), .out(pick)] : [.out(pick), .placed(pick)]
                return Frame(children: children, next: 0, mark: trail.count, bound: bound, centre: node.centre, open: false)
            }
            // Branch on x.
            var pickKey = -1
            best = 1e-6
            for (key, share) in node.x {
                let f = min(share, 1 - share)
                if f > best || (f == best && key < pickKey) { pickKey = key; best = f }
            }
            if pickKey >= 0 {
                let i = pickKey / M, m = pickKey % M
                return Frame(children: [.at(i, muni: m), .notAt(i, muni: m)], next: 0, mark: trail.count,
                             bound: bound, centre: node.centre, open: false)
            }
            // Nothing fractional to branch on, yet the bound did not close the node (the master was
            // cut short, or its solution is not what the bound says): only a bound closes a node,
            // so it stays open and its bound counts.
            return Frame(children: [], next: 0, mark: trail.count, bound: bound, centre: node.centre, open: true)
        }

        var stalled: [Int] = []     // bounds of nodes left open without children (deadline)
        if let root = process(start, parentBound: certify(rootBound)) {
            if root.open { stalled.append(root.bound) } else { stack.append(root) }
        }
        while let top = stack.last {
            if deadline.isOver || nodes >= maxNodes || pricingRounds >= maxRounds { break }
            if top.next >= top.children.count || top.bound <= incumbent {
                undo(to: top.mark); stack.removeLast(); continue
            }
            let decision = top.children[top.next]
            stack[stack.count - 1].next += 1
            undo(to: top.mark)
            apply(decision)
            if let child = process(top.centre, parentBound: top.bound) {
                if child.open { stalled.append(child.bound) } else { stack.append(child) }
            }
        }
        var bound = incumbent
        for frame in stack where frame.next < frame.children.count { bound = max(bound, frame.bound) }
        for b in stalled { bound = max(bound, b) }
        undo(to: 0)
        return Result(incumbent: incumbent, pairs: incumbentPairs, bound: max(bound, incumbent))
    }

    private mutating func apply(_ decision: Decision) {
        switch decision {
        case .placed(let i): setStatus(i, 1)
        case .out(let i): setStatus(i, -1)
        case .at(let i, let m):
            setStatus(i, 1)
            for mm in 0..<M where mm != m { ban(i, mm) }
        case .notAt(let i, let m): ban(i, m)
        }
    }

    private enum Decision {
        case placed(Int)
        case out(Int)
        case at(Int, muni: Int)
        case notAt(Int, muni: Int)
    }

    private struct Frame {
        var children: [Decision]
        var next: Int
        var mark: Int
        var bound: Int
        var centre: [Double]
        /// Left open (deadline, or an unfinished master): its bound counts, it has no children.
        var open: Bool
    }
}
