/// The Lagrangian dual of the capacity constraints.
///
/// For multipliers λ[m,d] ≥ 0 (a price per unit of capacity), relaxing capacity leaves each case
/// free to take its best *reduced* score, score(c,m) − Σ_d λ[m,d]·demand(c,d), or stay unplaced:
///
///     L(λ) = Σ_m Σ_d λ[m,d]·capacity[m,d] + Σ_c max(0, max_m reduced(c,m))
///
/// Every L(λ) is an upper bound on the best feasible objective (weak duality). Minimising L over
/// λ gives the LP bound (the subproblem has the integrality property). Pairs that break a hard
/// rule (excluded, or a demand above the municipality's whole capacity) were removed from the
/// problem, so they never weaken the bound.
///
/// Minimisation, in the solver's order: ``uniformShift(dimension:scratch:)`` (one exact
/// market-clearing price per dimension), ``DualCoordinate`` (exact per municipality and
/// dimension), then ``step(value:target:patience:)``: projected subgradient steps with Polyak
/// step sizes toward the best known feasible objective, a deflected (Camerini–Fratta–Maffioli)
/// direction, a 1/(capacity+1) preconditioner, and ε-subgradients that split near-tied choices
/// (exact ties are everywhere here: equal scores across municipalities). Everything is a pure
/// function of the problem and the iteration count, so it is deterministic.
struct Lagrangian {
    let problem: Problem
    /// λ[m * K + d]
    var lambda: [Double]
    /// cost[t * M + m] = Σ_d λ[m,d]·demand(t,d), refreshed by ``evaluate()``.
    var cost: [Double]
    /// The subproblem's choice of pair per case (-1: unplaced), and the demand it puts on each (m,d).
    var choice: [Int]
    var usage: [Double]
    /// caseBest[c]: the best reduced score of case c over its pairs (−∞ if none), from the last
    /// ``evaluate()``.
    var caseBest: [Double]
    /// Moving average of "the subproblem places case c" over the subgradient steps: an estimate
    /// of how much of c the LP places (0: the LP leaves it out).
    var placedSum: [Double] = []
    var placedSteps = 0

    /// Updates the estimate with the current subproblem solution (an exponential moving average,
    /// so that the latest, best multipliers count most). placedSteps counts the updates.
    mutating func accumulatePlaced() {
        if placedSum.isEmpty { placedSum = [Double](repeating: 0.5, count: problem.caseCount) }
        for c in 0..<problem.caseCount { placedSum[c] = 0.95 * placedSum[c] + (choice[c] >= 0 ? 0.05 : 0) }
        placedSteps += 1
    }

    /// Reduced scores within this of the best count as ties when forming the subgradient.
    var tieTolerance = 1.0
    /// Whether (m,d) can ever be exceeded: the demand of all cases that may go to m exceeds its
    /// capacity. Other multipliers stay 0.
    let binding: [Bool]
    /// Lowest value found and its multipliers.
    var bestValue = Double.infinity
    var bestLambda: [Double]
    /// Value of the λ = 0 bound: Σ_c best score, exact.
    let trivialBound: Int
    var iterations = 0

    private var direction: [Double]
    /// Diagonal preconditioner of the steps: 1 / (capacity + 1), since the demand that a price
    /// change moves grows with the number of cases a municipality holds.
    var scale: [Double]
    var theta = 1.0
    var deflection = 0.5
    private var sinceImprovement = 0

    init(problem: Problem) {
        self.problem = problem
        let M = problem.muniCount, K = problem.dimCount
        lambda = [Double](repeating: 0, count: M * K)
        bestLambda = lambda
        direction = lambda
        scale = problem.capacity.map { 1 / (Double($0) + 1) }
        cost = [Double](repeating: 0, count: problem.typeCount * M)
        choice = [Int](repeating: -1, count: problem.caseCount)
        caseBest = [Double](repeating: 0, count: problem.caseCount)
        usage = [Double](repeating: 0, count: M * K)
        var potential = [Int](repeating: 0, count: M * K)
        var trivial = 0
        for c in 0..<problem.caseCount {
            let t = Int(problem.caseType[c])
            var best = 0
            for p in problem.pairStart[c]..<problem.pairStart[c + 1] {
                best = max(best, problem.pairScore[p])
                let m = Int(problem.pairMuni[p])
                for i in Int(problem.typeDimStart[t])..<Int(problem.typeDimStart[t + 1]) {
                    potential[m * K + Int(problem.typeDims[i])] += problem.typeAmounts[i]
                }
            }
            trivial += best
        }
        trivialBound = trivial
        binding = (0..<(M * K)).map { potential[$0] > problem.capacity[$0] }
    }

    /// Computes L(λ) for the current λ, with ``choice`` and ``usage``. Also keeps the best value.
    @discardableResult
    mutating func evaluate() -> Double {
        let M = problem.muniCount, K = problem.dimCount
        var value = 0.0
        for i in 0..<(M * K) where lambda[i] != 0 { value += lambda[i] * Double(problem.capacity[i]) }
        lambda.withUnsafeBufferPointer { lam in
            cost.withUnsafeMutableBufferPointer { cost in
                for t in 0..<problem.typeCount {
                    let lo = Int(problem.typeDimStart[t]), hi = Int(problem.typeDimStart[t + 1])
                    for m in 0..<M {
                        var s = 0.0
                        for i in lo..<hi { s += lam[m * K + Int(problem.typeDims[i])] * Double(problem.typeAmounts[i]) }
                        cost[t * M + m] = s
                    }
                }
            }
        }
        for i in 0..<usage.count { usage[i] = 0 }
        var sum = 0.0
        let eps = tieTolerance
        problem.pairMuni.withUnsafeBufferPointer { muni in
            problem.pairScore.withUnsafeBufferPointer { score in
                cost.withUnsafeBufferPointer { cost in
                    for c in 0..<problem.caseCount {
                        let t = Int(problem.caseType[c])
                        let row = t * M
                        let lo = problem.pairStart[c], hi = problem.pairStart[c + 1]
                        var best = 0.0, second = 0.0, raw = -Double.infinity
                        var bestPair = -1
                        for p in lo..<hi {
                            let r = Double(score[p]) - cost[row + Int(muni[p])]
                            raw = max(raw, r)
                            if r > second {
                                if r > best { second = best; best = r; bestPair = p } else { second = r }
                            }
                        }
                        caseBest[c] = raw
                        sum += best
                        choice[c] = bestPair
                        if bestPair < 0 { continue }
                        let dlo = Int(problem.typeDimStart[t]), dhi = Int(problem.typeDimStart[t + 1])
                        if second < best - eps {
                            let m = Int(muni[bestPair])
                            for i in dlo..<dhi { usage[m * K + Int(problem.typeDims[i])] += Double(problem.typeAmounts[i]) }
                            continue
                        }
                        // Near-ties (within eps, "unplaced" included as an option worth 0): split
                        // the demand evenly. This is an eps-subgradient, and a far better direction
                        // than any single tied choice: with equal scores everywhere, one choice would
                        // make every price increase look useless.
                        let floor = best - eps
                        var n = floor <= 0 ? 1 : 0
                        for p in lo..<hi where Double(score[p]) - cost[row + Int(muni[p])] >= floor { n += 1 }
                        let share = 1 / Double(n)
                        for p in lo..<hi where Double(score[p]) - cost[row + Int(muni[p])] >= floor {
                            let m = Int(muni[p])
                            for i in dlo..<dhi { usage[m * K + Int(problem.typeDims[i])] += share * Double(problem.typeAmounts[i]) }
                        }
                    }
                }
            }
        }
        value += sum
        iterations += 1
        if value < bestValue {
            bestValue = value
            bestLambda = lambda
            sinceImprovement = 0
        } else {
            sinceImprovement += 1
        }
        return value
    }

    /// One subgradient step from the value just evaluated, aiming at `target` (a feasible
    /// objective). Returns false when the step size has become negligible.
    mutating func step(value: Double, target: Double, patience: Int) -> Bool {
        if sinceImprovement >= patience {
            theta *= 0.5
            sinceImprovement = 0
            lambda = bestLambda    // restart from the best point
            return theta > 1e-4
        }
        var norm = 0.0
        for i in 0..<lambda.count where binding[i] {
            var g = Double(problem.capacity[i]) - usage[i]
            if lambda[i] <= 0 && g > 0 { g = 0 }      // projected: cannot go below 0
            let d = g + deflection * direction[i]
            direction[i] = d
            norm += d * d * scale[i]
        }
        if norm == 0 { return false }
        let gap = max(value - target, 1e-9 * max(1, abs(value)))
        let size = theta * gap / norm
        for i in 0..<lambda.count where binding[i] {
            lambda[i] = max(0, lambda[i] - size * scale[i] * direction[i])
        }
        return true
    }

    /// Exact minimisation of L along "raise (or lower) the price of dimension d by the same amount
    /// everywhere". Such a shift leaves every case's favourite municipality unchanged and only
    /// moves its value against staying unplaced, so L along the line is known in closed form from
    /// the last ``evaluate()``: a market-clearing price found by sorting. Returns the shift applied.
    @discardableResult
    mutating func uniformShift(dimension d: Int, scratch: inout [(Double, Int)]) -> Double {
        let M = problem.muniCount, K = problem.dimCount
        var capacityTotal = 0
        var lowest = Double.infinity
        for m in 0..<M {
            capacityTotal += problem.capacity[m * K + d]
            lowest = min(lowest, lambda[m * K + d])
        }
        guard M > 0 else { return 0 }
        scratch.removeAll(keepingCapacity: true)
        for c in 0..<problem.caseCount {
            let t = Int(problem.caseType[c])
            let a = problem.typeDemand[t * K + d]
            let r = caseBest[c]
            if a > 0 && r.isFinite { scratch.append((r / Double(a), a)) }   // in while the shift is below r / a
        }
        scratch.sort { $0.0 > $1.0 }
        var demand = 0
        var shift = -lowest
        for (breakpoint, a) in scratch {
            if breakpoint <= -lowest { break }
            demand += a
            if demand > capacityTotal { shift = breakpoint; break }
        }
        if shift != 0 {
            for m in 0..<M { lambda[m * K + d] += shift }
        }
        return shift
    }

    /// The best bound as an integer that is certainly ≥ the optimum: the objective is an integer,
    /// so flooring a true upper bound is safe; the float sum is first padded by a margin larger
    /// than any accumulated rounding error.
    var certifiedBound: Int {
        guard bestValue.isFinite else { return trivialBound }
        return max(0, min(trivialBound, certified(bestValue)))
    }

    /// A bound computed in floating point on this problem (this Lagrangian's value, or one of
    /// ``BranchAndBound``'s), as an integer certainly at or above the exact value: the objective
    /// is an integer, so flooring a true upper bound is safe once the float sum is padded. Each of
    /// its terms carries a relative error of a few ulps of at most the larger of the value and
    /// the λ = 0 bound; 1e-12 per term is thousands of times that.
    func certified(_ value: Double) -> Int {
        guard value.isFinite else { return value < 0 ? Int.min / 4 : Int.max / 4 }
        let terms = Double(problem.caseCount + problem.muniCount * problem.dimCount + 1)
        let padded = (value + 1e-12 * terms * (abs(value) + Double(trivialBound)) + 1e-6).rounded(.down)
        return padded >= Double(Int.max / 4) ? Int.max / 4 : Int(padded)
    }
}
