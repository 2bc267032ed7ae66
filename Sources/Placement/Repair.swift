/// Construction heuristics: turn multipliers (or nothing) into a feasible placement. (A
/// regret-based repair on reduced scores was tried and dropped: at near-optimal prices most
/// households are tied between many municipalities, regrets are all near zero, and the result
/// was worse than these simple greedy orders followed by local search.)
enum Repair {
    /// Greedy by Lagrangian profit: cases by decreasing best reduced score (score − λ·demand at
    /// `cost`), each to the municipality with room where its reduced score is highest. Cases with
    /// no positive reduced score anywhere are left for ``fill``.
    static func profit(_ state: inout State, cost: [Double]) {
        let problem = state.problem
        let M = problem.muniCount
        var key = [Double](repeating: 0, count: problem.caseCount)
        var order: [Int32] = []
        for c in 0..<problem.caseCount where state.pairOf[c] < 0 {
            let row = Int(problem.caseType[c]) * M
            var b = -Double.infinity
            for p in problem.pairStart[c]..<problem.pairStart[c + 1] {
                b = max(b, Double(problem.pairScore[p]) - cost[row + Int(problem.pairMuni[p])])
            }
            if b > 0 { key[c] = b; order.append(Int32(c)) }
        }
        order.sort { key[Int($0)] != key[Int($1)] ? key[Int($0)] > key[Int($1)] : $0 < $1 }
        for c32 in order {
            let c = Int(c32)
            let t = Int(problem.caseType[c])
            let row = t * M
            var best = -1
            var bestReduced = 0.0
            for p in problem.pairStart[c]..<problem.pairStart[c + 1] {
                let m = Int(problem.pairMuni[p])
                let r = Double(problem.pairScore[p]) - cost[row + m]
                if r > bestReduced && state.fits(type: t, in: m) { best = p; bestReduced = r }
            }
            if best >= 0 { state.set(c, pair: best) }
        }
    }

    /// Places every unplaced case that still fits somewhere, in the given order, each in its
    /// best-scoring municipality with room.
    static func fill(_ state: inout State, order: [Int32], guide: [Double]) {
        for c32 in order {
            let c = Int(c32)
            if state.pairOf[c] >= 0 { continue }
            let best = bestFit(state, c, guide: guide)
            if best >= 0 { state.set(c, pair: best) }
        }
    }

    /// The pair of the best-scoring municipality with room for case c; among equal scores, the one
    /// whose capacity is cheapest at the dual prices (`guide`, per type and municipality: λ·demand),
    /// so that scarce capacity is left to the households that need it. -1 if none has room.
    @inline(__always)
    static func bestFit(_ state: State, _ c: Int, guide: [Double]) -> Int {
        let problem = state.problem
        let M = problem.muniCount
        let t = Int(problem.caseType[c])
        let row = t * M
        var best = -1, bestScore = 0
        var bestCost = Double.infinity
        for p in problem.pairStart[c]..<problem.pairStart[c + 1] {
            let score = problem.pairScore[p]
            if score < bestScore { continue }
            let m = Int(problem.pairMuni[p])
            let cost = guide.isEmpty ? 0 : guide[row + m]
            if score == bestScore && cost >= bestCost { continue }
            if state.fits(type: t, in: m) {
                best = p
                bestScore = score
                bestCost = cost
            }
        }
        return best
    }

    /// Cases by decreasing best score, ties by index: longest waiting first.
    static func byValue(_ problem: Problem) -> [Int32] {
        var best = [Int](repeating: 0, count: problem.caseCount)
        for c in 0..<problem.caseCount {
            for p in problem.pairStart[c]..<problem.pairStart[c + 1] { best[c] = max(best[c], problem.pairScore[p]) }
        }
        return (0..<problem.caseCount).map { Int32($0) }.sorted { best[Int($0)] != best[Int($1)] ? best[Int($0)] > best[Int($1)] : $0 < $1 }
    }
}
