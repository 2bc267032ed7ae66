/// The pricing problem of ``BranchAndBound``'s Dantzig–Wolfe master: for one municipality m and
/// case multipliers u (the master's duals of "each household at most once"),
///
///     KP_m(u) = max Σ_c (score(c, m) − u_c) · z_c   over 0/1 packings z within m's capacity.
///
/// Every Lagrangian value Σ_c u_c + Σ_m KP_m(u) is an upper bound on the problem (relaxing the
/// assignment rows instead of the capacity rows). Its subproblems are integral per municipality,
/// so it sees what the LP cannot: that a small municipality's dwellings, persons and school places
/// cannot all be filled exactly by whole households.
///
/// Solved by depth-first search (``DepthFirst``) with a surrogate fractional bound: the capacity
/// rows of m aggregated with multipliers fitted to these profits, plus ε. A search past its node
/// budget stops branching and returns the largest bound of the subtrees it left (still a valid
/// upper bound) with the best packing found so far.
struct MunicipalityKnapsack {
    let problem: Problem
    /// Search nodes per knapsack before it stops branching.
    var nodeBudget = 20_000

    /// The items of the best packing found by the last ``solve(capacity:types:profits:lambdaRow:)``
    /// (indices into its arrays); optimal when the search stayed within its node budget.
    private(set) var selection: [Int] = []

    init(problem: Problem) {
        self.problem = problem
    }

    /// An upper bound on KP_m for the items given as (type, profit > 0) within `capacity` (per
    /// dimension), exact unless the search ran out of its node budget (``selection`` is then the
    /// best packing found, otherwise the optimal one). `lambdaRow[d]` = λ[m, d], where the
    /// surrogate multipliers start (may be all zero).
    mutating func solve(capacity: [Int], types: [Int32], profits: [Double], lambdaRow: [Double]) -> Double {
        let K = problem.dimCount
        let n = types.count
        selection.removeAll(keepingCapacity: true)     // never the last call's packing
        if n == 0 { return 0 }
        // Surrogate weights: the prices, plus a little of every dimension so that no item is free.
        var surrogate = multipliers(capacity: capacity, types: types, profits: profits, start: lambdaRow)
        for d in 0..<K { surrogate[d] += 1e-3 / Double(max(0, capacity[d]) + 1) }
        let weights = types.map { t in
            var w = 0.0
            for d in 0..<K { w += surrogate[d] * Double(problem.typeDemand[Int(t) * K + d]) }
            return w
        }
        var order = Array(0..<n)
        order.sort { a, b in
            let ra = profits[a] / max(weights[a], 1e-12), rb = profits[b] / max(weights[b], 1e-12)
            if ra != rb { return ra > rb }
            return profits[a] != profits[b] ? profits[a] > profits[b] : a < b
        }
        var dfs = DepthFirst(n: n, K: K, typeCount: problem.typeCount, nodeBudget: nodeBudget,
                             dwellings: problem.dimNames.firstIndex(of: "dwellings"))
        defer { dfs.deallocate() }
        for (p, k) in order.enumerated() {
            dfs.profit[p] = profits[k]
            dfs.weight[p] = weights[k]
            dfs.type[p] = types[k]
            for d in 0..<K { dfs.demand[p * K + d] = problem.typeDemand[Int(types[k]) * K + d] }
        }
        let byProfit = (0..<n).sorted { dfs.profit[$0] != dfs.profit[$1] ? dfs.profit[$0] > dfs.profit[$1] : $0 < $1 }
        for (i, p) in byProfit.enumerated() { dfs.byProfit[i] = p }
        for d in 0..<K { dfs.remaining[d] = capacity[d]; dfs.surrogate[d] = surrogate[d] }
        let root = dfs.fractionalBound(from: 0)
        // Greedy first solution (in ratio order) as the starting lower bound.
        var greedy = 0.0
        for p in 0..<n where dfs.fits(p) {
            dfs.take(p, -1)
            greedy += dfs.profit[p]
            selection.append(order[p])
        }
        if greedy >= root - 1e-9 { return root }
        for d in 0..<K { dfs.remaining[d] = capacity[d] }
        dfs.best = greedy
        dfs.search(position: 0, value: 0)
        if dfs.best > greedy + 1e-9 {
            selection.removeAll(keepingCapacity: true)
            for p in 0..<n where dfs.bestTaken[p] { selection.append(order[p]) }
        }
        return dfs.nodes > nodeBudget ? min(root, max(dfs.best, dfs.openBound)) : dfs.best
    }

    /// Multipliers w ≥ 0 for the surrogate row, chosen for these profits: exact coordinate descent
    /// on the knapsack's own Lagrangian Σ_d w_d·cap_d + Σ_i max(0, p_i − w·a_i), whose minimum is
    /// its LP bound. Any w is valid; a good one makes the search's bound tight.
    private func multipliers(capacity: [Int], types: [Int32], profits: [Double], start: [Double]) -> [Double] {
        let K = problem.dimCount
        var w = start
        var cost = [Double](repeating: 0, count: types.count)      // w·a_i
        func amount(_ t: Int32, _ d: Int) -> Int { problem.typeDemand[Int(t) * K + d] }
        for (i, t) in types.enumerated() { for d in 0..<K { cost[i] += w[d] * Double(amount(t, d)) } }
        var points: [(Double, Int)] = []
        for _ in 0..<4 {
            for d in 0..<K {
                points.removeAll(keepingCapacity: true)
                for (i, t) in types.enumerated() {
                    let a = amount(t, d)
                    if a == 0 { continue }
                    let q = profits[i] - (cost[i] - w[d] * Double(a))
                    if q > 0 { points.append((q / Double(a), a)) }
                }
                points.sort { $0.0 > $1.0 }
                var demand = 0, value = 0.0
                for (breakpoint, a) in points {
                    demand += a
                    if demand > capacity[d] { value = breakpoint; break }
                }
                if value != w[d] {
                    for (i, t) in types.enumerated() { cost[i] += (value - w[d]) * Double(amount(t, d)) }
                    w[d] = value
                }
            }
        }
        return w
    }
}

/// The depth-first search of ``MunicipalityKnapsack``, on items in ratio order (position p is
/// the p-th best ratio), over raw buffers: it runs millions of nodes per proof, and array
/// accesses there cost more in reference counting than the search itself.
private struct DepthFirst {
    let n: Int, K: Int, nodeBudget: Int
    let profit: UnsafeMutablePointer<Double>, weight: UnsafeMutablePointer<Double>
    let type: UnsafeMutablePointer<Int32>, demand: UnsafeMutablePointer<Int>     // demand[p * K + d]
    let byProfit: UnsafeMutablePointer<Int>                                       // positions, most profitable first
    let taken: UnsafeMutablePointer<Bool>, bestTaken: UnsafeMutablePointer<Bool>
    let closed: UnsafeMutablePointer<Bool>                                        // by type
    let remaining: UnsafeMutablePointer<Int>, surrogate: UnsafeMutablePointer<Double>
    let dwellings: Int?                                                           // the dimension every household takes one of
    var nodes = 0
    var best = 0.0
    var openBound = -Double.infinity

    init(n: Int, K: Int, typeCount: Int, nodeBudget: Int, dwellings: Int?) {
        self.n = n; self.K = K; self.nodeBudget = nodeBudget; self.dwellings = dwellings
        profit = .allocate(capacity: n); weight = .allocate(capacity: n)
        type = .allocate(capacity: n); demand = .allocate(capacity: n * K)
        byProfit = .allocate(capacity: n)
        taken = .allocate(capacity: n); taken.initialize(repeating: false, count: n)
        bestTaken = .allocate(capacity: n); bestTaken.initialize(repeating: false, count: n)
        closed = .allocate(capacity: typeCount); closed.initialize(repeating: false, count: typeCount)
        remaining = .allocate(capacity: K); surrogate = .allocate(capacity: K)
    }

    func deallocate() {
        profit.deallocate(); weight.deallocate(); type.deallocate(); demand.deallocate(); byProfit.deallocate()
        taken.deallocate(); bestTaken.deallocate(); closed.deallocate(); remaining.deallocate(); surrogate.deallocate()
    }

    @inline(__always)
    func fits(_ p: Int) -> Bool {
        let row = p * K
        for d in 0..<K where demand[row + d] > remaining[d] { return false }
        return true
    }

    @inline(__always)
    func take(_ p: Int, _ sign: Int) {
        let row = p * K
        for d in 0..<K { remaining[d] += sign * demand[row + d] }
    }

    @inline(__always)
    func available(_ p: Int) -> Bool { !closed[Int(type[p])] && fits(p) }

    /// The smaller of two bounds on what positions from `position` on can add within
    /// `remaining`: the fractional knapsack on the surrogate row, and the best
    /// (dwellings left) profits (every household takes one dwelling; a need only adds).
    func fractionalBound(from position: Int) -> Double {
        var room = 0.0
        for d in 0..<K { room += surrogate[d] * Double(remaining[d]) }
        var total = 0.0
        var p = position
        while p < n && room > 0 {
            if available(p) {     // an item that cannot fit alone is never taken
                if weight[p] <= room { room -= weight[p]; total += profit[p] } else {
                    total += profit[p] * room / weight[p]
                    room = 0
                }
            }
            p += 1
        }
        guard let dwellings else { return total }
        var slots = remaining[dwellings]
        var byCount = 0.0
        var i = 0
        while i < n && slots > 0 {
            let q = byProfit[i]
            if q >= position && available(q) { byCount += profit[q]; slots -= 1 }
            i += 1
        }
        return min(total, byCount)
    }

    /// Items of one type have the same demand, so a packing that skips one and takes a less
    /// profitable one of its type is never better than the swap: skipping an item closes its
    /// type for the subtree (this removes the symmetric branches that equal demands everywhere
    /// would make). Past the node budget the search stops branching and keeps, for every subtree
    /// left, its fractional bound: the result is then still an upper bound, with the best
    /// packing found so far.
    mutating func search(position start: Int, value: Double) {
        nodes += 1
        if value > best + 1e-9 {
            best = value
            bestTaken.update(from: taken, count: n)
        }
        var position = start
        while position < n && !available(position) { position += 1 }
        if position >= n { return }
        let bound = value + fractionalBound(from: position)
        if bound <= best + 1e-9 { return }
        if nodes > nodeBudget { openBound = max(openBound, bound); return }
        let t = Int(type[position])
        take(position, -1)
        taken[position] = true
        search(position: position + 1, value: value + profit[position])
        taken[position] = false
        take(position, 1)
        closed[t] = true
        search(position: position + 1, value: value)
        closed[t] = false
    }
}
