/// Simulated annealing with capacity as a soft constraint. Overflow of each (municipality,
/// dimension) costs a penalty per unit, starting from the dual prices and raised where overflow
/// persists, so the search can pass through slightly infeasible placements to reach packings that
/// strict moves cannot. Moves: move a household (or take it out), swap two households between
/// municipalities, or let an unplaced household take a placed one's place. The best *feasible*
/// placement seen is kept. Seeded, so deterministic.
struct Anneal {
    /// A unit of overflow costs its dual price plus this share of the best score of any case.
    static let baseWeight = 0.1
    /// Where overflow persists, its price rises by this share every 4,096 moves.
    static let raise = 0.05
    let problem: Problem
    var rng: SplitMix64
    private var pairOf: [Int]
    /// Cases in each municipality (index muniCount: unplaced), and each case's index there.
    private var members: [[Int32]]
    private var position: [Int32]
    private var slack: [Int]          // capacity − load; negative is overflow
    private var weight: [Double]      // penalty per unit of overflow
    private var score = 0
    private var penalty = 0.0
    private var violated = 0
    private(set) var best: [Int]
    private(set) var bestScore: Int

    /// Cases never to be placed by a move (may be empty).
    private let banned: [Bool]

    init(problem: Problem, start: State, prices: [Double], banned: [Bool] = [], seed: UInt64) {
        self.problem = problem
        self.banned = banned.isEmpty ? [Bool](repeating: false, count: problem.caseCount) : banned
        rng = SplitMix64(seed: seed)
        pairOf = start.snapshot
        members = start.members
        var position = [Int32](repeating: 0, count: problem.caseCount)
        for list in start.members { for (i, c) in list.enumerated() { position[Int(c)] = Int32(i) } }
        self.position = position
        slack = start.remaining
        score = start.objective
        best = pairOf
        bestScore = score
        var floor = 0.0
        for c in 0..<problem.caseCount {
            for p in problem.pairStart[c]..<problem.pairStart[c + 1] { floor = max(floor, Double(problem.pairScore[p])) }
        }
        // A unit of overflow costs at least a tenth of the best score, plus its dual price.
        weight = prices.map { $0 + Anneal.baseWeight * floor }
        if weight.isEmpty { weight = [Double](repeating: Anneal.baseWeight * floor, count: problem.muniCount * problem.dimCount) }
    }

    /// Penalty change in m when demand of type t is added (sign +1) or removed (−1).
    @inline(__always)
    private func penaltyDelta(_ t: Int, _ m: Int, _ sign: Int) -> Double {
        let K = problem.dimCount
        var delta = 0.0
        for i in Int(problem.typeDimStart[t])..<Int(problem.typeDimStart[t + 1]) {
            let j = m * K + Int(problem.typeDims[i])
            let before = slack[j], after = before - sign * problem.typeAmounts[i]
            delta += weight[j] * Double(max(0, -after) - max(0, -before))
        }
        return delta
    }

    /// Same for two changes in the same municipality (one type out, another in).
    @inline(__always)
    private func penaltyDelta(out to: Int, in ti: Int, _ m: Int) -> Double {
        let K = problem.dimCount
        var delta = 0.0
        for i in Int(problem.typeDimStart[to])..<Int(problem.typeDimStart[to + 1]) {
            let d = Int(problem.typeDims[i])
            let j = m * K + d
            let before = slack[j], after = before + problem.typeAmounts[i] - problem.typeDemand[ti * K + d]
            delta += weight[j] * Double(max(0, -after) - max(0, -before))
        }
        for i in Int(problem.typeDimStart[ti])..<Int(problem.typeDimStart[ti + 1]) {
            let d = Int(problem.typeDims[i])
            if problem.typeDemand[to * K + d] != 0 { continue }   // counted above
            let j = m * K + d
            let before = slack[j], after = before - problem.typeAmounts[i]
            delta += weight[j] * Double(max(0, -after) - max(0, -before))
        }
        return delta
    }

    @inline(__always)
    private mutating func apply(_ t: Int, _ m: Int, _ sign: Int) {
        let K = problem.dimCount
        for i in Int(problem.typeDimStart[t])..<Int(problem.typeDimStart[t + 1]) {
            let j = m * K + Int(problem.typeDims[i])
            let before = slack[j]
            let after = before - sign * problem.typeAmounts[i]
            slack[j] = after
            penalty += weight[j] * Double(max(0, -after) - max(0, -before))
            if before >= 0 && after < 0 { violated += 1 } else if before < 0 && after >= 0 { violated -= 1 }
        }
    }

    private mutating func setPair(_ c: Int, _ p: Int) {
        let t = Int(problem.caseType[c])
        let old = pairOf[c]
        var from = problem.muniCount, to = problem.muniCount
        if old >= 0 {
            from = Int(problem.pairMuni[old])
            apply(t, from, -1)
            score -= problem.pairScore[old]
        }
        if p >= 0 {
            to = Int(problem.pairMuni[p])
            apply(t, to, 1)
            score += problem.pairScore[p]
        }
        pairOf[c] = p
        let at = Int(position[c])
        let last = members[from].removeLast()
        if Int(last) != c {
            members[from][at] = last
            position[Int(last)] = Int32(at)
        }
        position[c] = Int32(members[to].count)
        members[to].append(Int32(c))
    }

    /// Runs `moves` moves with temperature falling geometrically from `hot` to `cold`.
    mutating func run(moves: Int, hot: Double, cold: Double, outOfTime: () -> Bool) {
        let C = problem.caseCount
        guard C > 0, problem.muniCount > 0, moves > 0 else { return }
        var temperature = hot
        let cooling = moves > 1 ? power(cold / hot, 1 / Double(moves)) : 1
        for move in 0..<moves {
            if move & 4095 == 0 {
                if outOfTime() { break }
                // Raise the price of overflow that persists.
                if violated > 0 && move > 0 {
                    for j in 0..<slack.count where slack[j] < 0 {
                        let raise = weight[j] * Anneal.raise
                        weight[j] += raise
                        penalty += raise * Double(-slack[j])
                    }
                }
            }
            temperature *= cooling
            let c = rng.below(C)
            let pc = pairOf[c]
            let tc = Int(problem.caseType[c])
            let lo = problem.pairStart[c], hi = problem.pairStart[c + 1]
            if hi == lo { continue }
            let kind = rng.below(4)
            if kind < 2 {
                // Move c (or take it out).
                let q = rng.below(hi - lo + 1)
                let p = q == hi - lo ? -1 : lo + q
                if p == pc || (p >= 0 && banned[c]) { continue }
                var delta = Double((p >= 0 ? problem.pairScore[p] : 0) - (pc >= 0 ? problem.pairScore[pc] : 0))
                if pc >= 0 { delta -= penaltyDelta(tc, Int(problem.pairMuni[pc]), -1) }
                if p >= 0 { delta -= penaltyDelta(tc, Int(problem.pairMuni[p]), 1) }
                if delta >= 0 || (delta > -20 * temperature && rng.unit() < exp_(delta / temperature)) {
                    setPair(c, p)
                }
            } else {
                // Swap with another case e: c takes e's municipality, e takes c's (or is taken out).
                // Half the time e is anywhere, half the time it sits in one of c's municipalities.
                var e = rng.below(C)
                if kind == 3 {
                    let m = Int(problem.pairMuni[lo + rng.below(hi - lo)])
                    let list = members[m]
                    if list.isEmpty { continue }
                    e = Int(list[rng.below(list.count)])
                }
                let pe = pairOf[e]
                if e == c || pe < 0 || banned[c] { continue }
                let me = problem.pairMuni[pe]
                let te = Int(problem.caseType[e])
                let pcNew = problem.pair(c, me)
                if pcNew < 0 || pcNew == pc { continue }
                var peNew = -1
                if pc >= 0 {
                    peNew = problem.pair(e, problem.pairMuni[pc])
                    if peNew < 0 { continue }
                }
                var delta = Double(problem.pairScore[pcNew] + (peNew >= 0 ? problem.pairScore[peNew] : 0)
                                   - problem.pairScore[pe] - (pc >= 0 ? problem.pairScore[pc] : 0))
                delta -= penaltyDelta(out: te, in: tc, Int(me))
                if pc >= 0 { delta -= penaltyDelta(out: tc, in: te, Int(problem.pairMuni[pc])) }
                if delta >= 0 || (delta > -20 * temperature && rng.unit() < exp_(delta / temperature)) {
                    setPair(e, -1)
                    setPair(c, pcNew)
                    if peNew >= 0 { setPair(e, peNew) }
                }
            }
            if violated == 0 && score > bestScore {
                bestScore = score
                best = pairOf
            }
        }
    }
}

/// exp and pow without Foundation, good to ~1e-12 relative (acceptance tests need far less).
@inline(__always)
func exp_(_ x: Double) -> Double {
    if x < -700 { return 0 }
    let n = (x / 0.693_147_180_559_945_3).rounded()
    let r = x - n * 0.693_147_180_559_945_3
    var term = 1.0, sum = 1.0
    for k in 1...14 { term *= r / Double(k); sum += term }
    return sum * Double(sign: .plus, exponent: Int(n), significand: 1)
}

func power(_ base: Double, _ exponent: Double) -> Double {
    guard base > 0 else { return 0 }
    var m = base, e = 0.0
    while m > 2 { m /= 2; e += 1 }
    while m < 1 { m *= 2; e -= 1 }
    let y = (m - 1) / (m + 1), y2 = y * y
    var term = y, sum = 0.0, k = 1.0
    while abs(term / k) > 1e-17 { sum += term / k; term *= y2; k += 2 }
    let log = 2 * sum + e * 0.693_147_180_559_945_3
    return exp_(exponent * log)
}
