/// Exact coordinate descent on the Lagrangian dual: for one municipality m and dimension d, L as a
/// function of λ[m,d] alone is convex and piecewise linear, and its minimum is a market-clearing
/// price: the highest price at which the cases that still prefer m (over their best alternative
/// elsewhere, or staying unplaced) fit in capacity[m,d]. Sorting those cases by the price at which
/// each would leave gives it exactly.
///
/// One sweep visits every (m, d) that can bind. It keeps, per case, its best and second-best
/// reduced scores so that the alternative to m is known without rescanning; a case is rescanned
/// only when its best or second best got worse. Sweeps alone can stall where a better λ needs
/// several prices to move together, so the solver alternates them with global price shifts.
struct DualCoordinate {
    let problem: Problem
    /// Cases that may go to municipality m: muniCase[muniStart[m] ..< muniStart[m + 1]], with the
    /// matching pair index in muniPair.
    let muniStart: [Int]
    let muniCase: [Int32]
    let muniPair: [Int32]
    /// Types whose demand in dimension d is positive: dimTypes[dimTypeStart[d] ..< dimTypeStart[d+1]].
    let dimTypeStart: [Int]
    let dimTypes: [Int32]

    private var best: [Double]
    private var bestMuni: [Int32]
    private var second: [Double]
    private var secondMuni: [Int32]
    private var scratch: [(Double, Int)] = []

    init(problem: Problem) {
        self.problem = problem
        let M = problem.muniCount, K = problem.dimCount
        var count = [Int](repeating: 0, count: M + 1)
        for p in 0..<problem.pairMuni.count { count[Int(problem.pairMuni[p]) + 1] += 1 }
        for m in 0..<M { count[m + 1] += count[m] }
        muniStart = count
        var fill = count
        var muniCase = [Int32](repeating: 0, count: problem.pairMuni.count)
        var muniPair = [Int32](repeating: 0, count: problem.pairMuni.count)
        for c in 0..<problem.caseCount {
            for p in problem.pairStart[c]..<problem.pairStart[c + 1] {
                let m = Int(problem.pairMuni[p])
                muniCase[fill[m]] = Int32(c)
                muniPair[fill[m]] = Int32(p)
                fill[m] += 1
            }
        }
        self.muniCase = muniCase
        self.muniPair = muniPair
        var dimTypeStart = [0]
        var dimTypes: [Int32] = []
        for d in 0..<K {
            for t in 0..<problem.typeCount where problem.typeDemand[t * K + d] > 0 { dimTypes.append(Int32(t)) }
            dimTypeStart.append(dimTypes.count)
        }
        self.dimTypeStart = dimTypeStart
        self.dimTypes = dimTypes
        best = [Double](repeating: -.infinity, count: problem.caseCount)
        second = best
        bestMuni = [Int32](repeating: -1, count: problem.caseCount)
        secondMuni = bestMuni
    }

    private mutating func rescan(_ c: Int, cost: [Double]) {
        let M = problem.muniCount
        let row = Int(problem.caseType[c]) * M
        var b = -Double.infinity, s = -Double.infinity
        var bm: Int32 = -1, sm: Int32 = -1
        for p in problem.pairStart[c]..<problem.pairStart[c + 1] {
            let m = problem.pairMuni[p]
            let r = Double(problem.pairScore[p]) - cost[row + Int(m)]
            if r > s {
                if r > b { s = b; sm = bm; b = r; bm = m } else { s = r; sm = m }
            }
        }
        best[c] = b; bestMuni[c] = bm; second[c] = s; secondMuni[c] = sm
    }

    /// One sweep over all binding (m, d). `dual.cost` must be current (call `dual.evaluate()`
    /// first); λ and cost are updated in place. Call `dual.evaluate()` afterwards for the bound.
    mutating func sweep(_ dual: inout Lagrangian) {
        let M = problem.muniCount, K = problem.dimCount
        for c in 0..<problem.caseCount { rescan(c, cost: dual.cost) }
        for m in 0..<M {
            for d in 0..<K where dual.binding[m * K + d] {
                let current = dual.lambda[m * K + d]
                scratch.removeAll(keepingCapacity: true)
                for i in muniStart[m]..<muniStart[m + 1] {
                    let c = Int(muniCase[i])
                    let t = Int(problem.caseType[c])
                    let a = problem.typeDemand[t * K + d]
                    if a == 0 { continue }
                    let r = Double(problem.pairScore[Int(muniPair[i])]) - dual.cost[t * M + m]
                    let alternative = max(0, bestMuni[c] == Int32(m) ? second[c] : best[c])
                    let breakpoint = current + (r - alternative) / Double(a)
                    if breakpoint > 0 { scratch.append((breakpoint, a)) }
                }
                scratch.sort { $0.0 > $1.0 }
                let cap = problem.capacity[m * K + d]
                var demand = 0
                var price = 0.0
                for (breakpoint, a) in scratch {
                    demand += a
                    if demand > cap { price = breakpoint; break }
                }
                let delta = price - current
                if abs(delta) <= 1e-9 * max(1, current) { continue }
                dual.lambda[m * K + d] = price
                for j in dimTypeStart[d]..<dimTypeStart[d + 1] {
                    let t = Int(dimTypes[j])
                    dual.cost[t * M + m] += delta * Double(problem.typeDemand[t * K + d])
                }
                // Refresh the best/second of the cases that may go to m and use d.
                for i in muniStart[m]..<muniStart[m + 1] {
                    let c = Int(muniCase[i])
                    let t = Int(problem.caseType[c])
                    if problem.typeDemand[t * K + d] == 0 { continue }
                    let r = Double(problem.pairScore[Int(muniPair[i])]) - dual.cost[t * M + m]
                    let mm = Int32(m)
                    if bestMuni[c] == mm {
                        if r >= second[c] { best[c] = r } else { rescan(c, cost: dual.cost) }
                    } else if secondMuni[c] == mm {
                        if r > best[c] {
                            second[c] = best[c]; secondMuni[c] = bestMuni[c]; best[c] = r; bestMuni[c] = mm
                        } else if delta < 0 {
                            second[c] = r
                        } else {
                            rescan(c, cost: dual.cost)
                        }
                    } else if r > best[c] {
                        second[c] = best[c]; secondMuni[c] = bestMuni[c]; best[c] = r; bestMuni[c] = mm
                    } else if r > second[c] {
                        second[c] = r; secondMuni[c] = mm
                    }
                }
            }
        }
    }
}
