/// Exact re-matching of one household per municipality: release one household from each of a set
/// of municipalities (its place becomes a *slot* with the capacity it leaves free), pool the
/// released households with unplaced ones, and assign pool to slots, at most one per slot, by a
/// maximum weight bipartite matching (Hungarian method). The current placement is one such matching, so a
/// step never loses; it finds at once the long exchange chains that move-by-move search misses,
/// and it is exact where municipalities hold one household each (national batches of small
/// quotas).
struct Matching {
    /// Chance that a step releases every household of a municipality (one merged slot).
    static let merge = 0.3
    let problem: Problem
    var rng: SplitMix64
    private var pool: [Int32] = []
    private var cost: [Int] = []
    private var rows: [Int] = []
    private var inRow: [Bool] = []
    private var rowIndex: [Int] = []

    init(problem: Problem, seed: UInt64) {
        self.problem = problem
        rng = SplitMix64(seed: seed)
    }

    /// One step; returns the gain (≥ 0). The slots are at most `maxRows` municipalities, grown
    /// breadth-first from where the unplaced households could go (then where the households
    /// released there could go, and so on), so that a step stays small and to the point.
    mutating func step(_ state: inout State, maxRows: Int, maxPool: Int, mergeChance: Double = 0, frontier given: [Int32]? = nil) -> Int {
        let M = problem.muniCount
        guard M > 0 else { return 0 }
        let before = state.objective
        if inRow.count != M {
            inRow = [Bool](repeating: false, count: M)
            rowIndex = [Int](repeating: -1, count: M)
        }
        rows.removeAll(keepingCapacity: true)
        pool.removeAll(keepingCapacity: true)
        // Unplaced households that could go somewhere, in random order, up to the pool limit.
        var frontier: [Int32] = given ?? state.unplaced.filter { problem.pairStart[Int($0) + 1] > problem.pairStart[Int($0)] }
        for i in stride(from: frontier.count - 1, to: 0, by: -1) { frontier.swapAt(i, rng.below(i + 1)) }
        if frontier.count > maxPool / 2 { frontier.removeLast(frontier.count - maxPool / 2) }
        pool += frontier
        // Grow the rows: municipalities the frontier may go to, releasing one household in each
        // (sometimes all of them, so that a large household can take the place of several).
        let mark = state.mark()
        var head = 0
        var queue = frontier
        while head < queue.count && rows.count < maxRows {
            let h = Int(queue[head])
            head += 1
            let lo = problem.pairStart[h], hi = problem.pairStart[h + 1]
            let offset = hi > lo ? rng.below(hi - lo) : 0
            for k in 0..<(hi - lo) {
                let m = Int(problem.pairMuni[lo + (k + offset) % (hi - lo)])
                if inRow[m] { continue }
                inRow[m] = true
                rows.append(m)
                let list = state.members[m]
                if !list.isEmpty {
                    let all = list.count > 1 && rng.chance(mergeChance)
                    let chosen = all ? list : [list[rng.below(list.count)]]
                    for c in chosen {
                        state.set(Int(c), pair: -1)
                        pool.append(c)
                        queue.append(c)
                    }
                }
                if rows.count >= maxRows { break }
            }
        }
        defer { for m in rows { inRow[m] = false } }
        let n = pool.count, R = rows.count
        if n == 0 || R == 0 {
            state.rollback(to: mark)
            state.commit(to: mark)
            return 0
        }
        // Rows: slots (what each municipality has free now); columns: pool households, then R
        // "leave empty" columns.
        let cols = n + R
        let forbidden = Int.max / 4
        cost = [Int](repeating: forbidden, count: R * cols)
        for r in 0..<R { for k in 0..<R { cost[r * cols + n + k] = 0 } }
        for (r, m) in rows.enumerated() { rowIndex[m] = r }
        for (j, h32) in pool.enumerated() {
            let h = Int(h32)
            let t = Int(problem.caseType[h])
            for p in problem.pairStart[h]..<problem.pairStart[h + 1] {
                let m = Int(problem.pairMuni[p])
                if inRow[m] && state.fits(type: t, in: m) { cost[rowIndex[m] * cols + j] = -problem.pairScore[p] }
            }
        }
        let match = Matching.hungarian(rows: R, cols: cols, cost: cost, forbidden: forbidden)
        for (r, m) in rows.enumerated() {
            let j = match[r]
            if j >= 0 && j < n {
                let h = Int(pool[j])
                state.set(h, pair: problem.pair(h, Int32(m)))
            }
        }
        if state.objective < before {
            state.rollback(to: mark)
        }
        state.commit(to: mark)
        return state.objective - before
    }

    /// Minimum-cost assignment of every row to a distinct column (rows ≤ cols), by shortest
    /// augmenting paths with potentials (O(rows² · cols)). Returns the column of each row.
    static func hungarian(rows n: Int, cols m: Int, cost: [Int], forbidden: Int) -> [Int] {
        var u = [Int](repeating: 0, count: n + 1)
        var v = [Int](repeating: 0, count: m + 1)
        var p = [Int](repeating: 0, count: m + 1)      // p[j]: row matched to column j (1-based), 0 none
        var way = [Int](repeating: 0, count: m + 1)
        var minv = [Int](repeating: 0, count: m + 1)
        var used = [Bool](repeating: false, count: m + 1)
        if n > 0 && m > 0 {
            cost.withUnsafeBufferPointer { cost in
                u.withUnsafeMutableBufferPointer { u in
                    v.withUnsafeMutableBufferPointer { v in
                        p.withUnsafeMutableBufferPointer { p in
                            way.withUnsafeMutableBufferPointer { way in
                                minv.withUnsafeMutableBufferPointer { minv in
                                    used.withUnsafeMutableBufferPointer { used in
                                        for i in 1...n {
                                            p[0] = i
                                            var j0 = 0
                                            for j in 0...m { minv[j] = Int.max; used[j] = false }
                                            repeat {
                                                used[j0] = true
                                                let i0 = p[j0]
                                                var delta = Int.max, j1 = 0
                                                let row = (i0 - 1) * m - 1
                                                let ui0 = u[i0]
                                                for j in 1...m where !used[j] {
                                                    let c = cost[row + j]
                                                    let cur = (c >= forbidden ? forbidden : c) - ui0 - v[j]
                                                    if cur < minv[j] { minv[j] = cur; way[j] = j0 }
                                                    if minv[j] < delta { delta = minv[j]; j1 = j }
                                                }
                                                for j in 0...m {
                                                    if used[j] { u[p[j]] += delta; v[j] -= delta } else { minv[j] -= delta }
                                                }
                                                j0 = j1
                                            } while p[j0] != 0
                                            repeat {
                                                let j1 = way[j0]
                                                p[j0] = p[j1]
                                                j0 = j1
                                            } while j0 != 0
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        var result = [Int](repeating: -1, count: n)
        for j in 1...max(1, m) where m > 0 && p[j] != 0 {
            let c = cost[(p[j] - 1) * m + j - 1]
            result[p[j] - 1] = c >= forbidden ? -1 : j - 1
        }
        return result
    }
}
