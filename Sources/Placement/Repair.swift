/// Construction heuristics: turn multipliers (or nothing) into a feasible placement.
enum Repair {
    /// Regret-based construction on reduced scores (score − λ·demand, i.e. `cost` from
    /// ``Lagrangian``): repeatedly place the case that would lose most if it did not get its best
    /// municipality that still fits (regret = best − max(second best, 0)), re-evaluating lazily as
    /// capacity fills. Cases whose best reduced score is not positive are left for ``fill``.
    static func regret(_ state: inout State, cost: [Double]) {
        let problem = state.problem
        let M = problem.muniCount
        var heap = Heap()

        func evaluate(_ c: Int) -> (pair: Int, regret: Double) {
            let t = Int(problem.caseType[c])
            var r1 = 0.0, r2 = 0.0
            var best = -1
            for p in problem.pairStart[c]..<problem.pairStart[c + 1] {
                let m = Int(problem.pairMuni[p])
                let r = Double(problem.pairScore[p]) - cost[t * M + m]
                if r <= r2 { continue }
                guard state.fits(type: t, in: m) else { continue }
                if r > r1 { r2 = r1; r1 = r; best = p } else { r2 = r }
            }
            return (best, r1 - r2)
        }

        for c in 0..<problem.caseCount where state.pairOf[c] < 0 {
            let (p, r) = evaluate(c)
            if p >= 0 { heap.push(r, Int32(c)) }
        }
        while let (key, c32) = heap.pop() {
            let c = Int(c32)
            let (p, r) = evaluate(c)
            if p < 0 { continue }
            if r < key - 1e-9 * max(1, abs(key)) {
                heap.push(r, c32)
                continue
            }
            state.set(c, pair: p)
        }
    }

    /// LP-guided construction from near-optimal prices (`cost`, per type and municipality). At such
    /// prices most cases have several municipalities within `tolerance` of their best reduced
    /// score (the LP spreads them there fractionally); the question is only how to pack them.
    /// Cases with a clear best go there; the rest go most-constrained first (fewest near-best
    /// options, then largest household), each to the best-scoring near-best municipality with room,
    /// the tightest fit among equals. Cases the prices leave out (best reduced score below
    /// −tolerance) and those that found no room are left for ``fill``.
    static func guided(_ state: inout State, cost: [Double], tolerance: Double) {
        let problem = state.problem
        let M = problem.muniCount, K = problem.dimCount
        var options = [Int32](repeating: 0, count: problem.caseCount)
        var bestReduced = [Double](repeating: -.infinity, count: problem.caseCount)
        var order: [Int32] = []
        for c in 0..<problem.caseCount where state.pairOf[c] < 0 {
            let row = Int(problem.caseType[c]) * M
            var b = -Double.infinity
            for p in problem.pairStart[c]..<problem.pairStart[c + 1] {
                b = max(b, Double(problem.pairScore[p]) - cost[row + Int(problem.pairMuni[p])])
            }
            bestReduced[c] = b
            if b < -tolerance { continue }
            var n: Int32 = 0
            for p in problem.pairStart[c]..<problem.pairStart[c + 1]
            where Double(problem.pairScore[p]) - cost[row + Int(problem.pairMuni[p])] >= b - tolerance { n += 1 }
            options[c] = n
            order.append(Int32(c))
        }
        order.sort { a, b in
            let (ia, ib) = (Int(a), Int(b))
            if options[ia] != options[ib] { return options[ia] < options[ib] }
            let sa = problem.typeDemand[Int(problem.caseType[ia]) * K], sb = problem.typeDemand[Int(problem.caseType[ib]) * K]
            if sa != sb { return sa > sb }
            return a < b
        }
        for c32 in order {
            let c = Int(c32)
            let t = Int(problem.caseType[c])
            let row = t * M
            let floor = bestReduced[c] - tolerance
            var best = -1, bestScore = 0, bestSlack = Int.max
            for p in problem.pairStart[c]..<problem.pairStart[c + 1] {
                let m = Int(problem.pairMuni[p])
                if Double(problem.pairScore[p]) - cost[row + m] < floor { continue }
                let score = problem.pairScore[p]
                if score < bestScore { continue }
                let slack = state.remaining[m * K] - problem.typeDemand[t * K]
                if score == bestScore && slack >= bestSlack { continue }
                if state.fits(type: t, in: m) { best = p; bestScore = score; bestSlack = slack }
            }
            if best >= 0 { state.set(c, pair: best) }
        }
    }

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

    /// Cases by decreasing score per person (best score / household size): small households
    /// first, which is what persons capacity in short supply asks for.
    static func byDensity(_ problem: Problem) -> [Int32] {
        let K = problem.dimCount
        var key = [Double](repeating: 0, count: problem.caseCount)
        for c in 0..<problem.caseCount {
            var best = 0
            for p in problem.pairStart[c]..<problem.pairStart[c + 1] { best = max(best, problem.pairScore[p]) }
            key[c] = Double(best) / Double(max(1, problem.typeDemand[Int(problem.caseType[c]) * K]))
        }
        return (0..<problem.caseCount).map { Int32($0) }.sorted { key[Int($0)] != key[Int($1)] ? key[Int($0)] > key[Int($1)] : $0 < $1 }
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

/// A binary max-heap of (key, case); equal keys pop the lower case first, so order is deterministic.
struct Heap {
    private var keys: [Double] = []
    private var items: [Int32] = []

    var isEmpty: Bool { keys.isEmpty }

    @inline(__always) private func above(_ i: Int, _ j: Int) -> Bool {
        keys[i] > keys[j] || (keys[i] == keys[j] && items[i] < items[j])
    }

    mutating func push(_ key: Double, _ item: Int32) {
        keys.append(key)
        items.append(item)
        var i = keys.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            if !above(i, parent) { break }
            keys.swapAt(i, parent)
            items.swapAt(i, parent)
            i = parent
        }
    }

    mutating func pop() -> (Double, Int32)? {
        guard let topKey = keys.first, let topItem = items.first else { return nil }
        let lastKey = keys.removeLast(), lastItem = items.removeLast()
        if !keys.isEmpty {
            keys[0] = lastKey
            items[0] = lastItem
            var i = 0
            while true {
                let l = 2 * i + 1, r = l + 1
                var m = i
                if l < keys.count && above(l, m) { m = l }
                if r < keys.count && above(r, m) { m = r }
                if m == i { break }
                keys.swapAt(i, m)
                items.swapAt(i, m)
                i = m
            }
        }
        return (topKey, topItem)
    }
}
