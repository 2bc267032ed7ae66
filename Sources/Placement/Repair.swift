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

    /// Places every unplaced case that still fits somewhere, in the given order, each in its
    /// best-scoring municipality with room.
    static func fill(_ state: inout State, order: [Int32]) {
        let problem = state.problem
        for c32 in order {
            let c = Int(c32)
            if state.pairOf[c] >= 0 { continue }
            let t = Int(problem.caseType[c])
            var best = -1, bestScore = 0
            for p in problem.pairStart[c]..<problem.pairStart[c + 1] where problem.pairScore[p] > bestScore {
                if state.fits(type: t, in: Int(problem.pairMuni[p])) { best = p; bestScore = problem.pairScore[p] }
            }
            if best >= 0 { state.set(c, pair: best) }
        }
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
