/// Improvement moves on real scores. Each accepted move strictly increases the objective and keeps
/// the placement feasible, so every pass terminates. Work is counted in pair inspections; the
/// caller's `budget` bounds it deterministically.
struct LocalSearch {
    let problem: Problem
    /// Best score each case can get anywhere (an optimistic value for pruning).
    let maxScore: [Int]
    /// Pair inspections so far.
    var work = 0

    init(problem: Problem) {
        self.problem = problem
        var maxScore = [Int](repeating: 0, count: problem.caseCount)
        for c in 0..<problem.caseCount {
            for p in problem.pairStart[c]..<problem.pairStart[c + 1] { maxScore[c] = max(maxScore[c], problem.pairScore[p]) }
        }
        self.maxScore = maxScore
    }

    /// Runs insert/move and ejection passes until none improves or the budget is spent.
    mutating func run(_ state: inout State, budget: Int) {
        let stop = work + budget
        while work < stop {
            let before = state.objective
            movePass(&state, stop: stop)
            if work >= stop { break }
            ejectionPass(&state, stop: stop)
            if work >= stop { break }
            augmentPass(&state, stop: stop)
            if work >= stop { break }
            forcePass(&state, stop: stop)
            if state.objective == before { break }
        }
    }

    /// Inserts each unplaced case, and moves each placed case, to its best-scoring municipality
    /// with room, when that scores more than where it is now.
    mutating func movePass(_ state: inout State, stop: Int) {
        var improved = true
        while improved && work < stop {
            improved = false
            for c in 0..<problem.caseCount {
                let s0 = state.score(of: c)
                if s0 >= maxScore[c] { continue }
                let t = Int(problem.caseType[c])
                var best = -1, bestScore = s0
                let lo = problem.pairStart[c], hi = problem.pairStart[c + 1]
                work += hi - lo
                for p in lo..<hi where problem.pairScore[p] > bestScore {
                    if p != state.pairOf[c] && state.fits(type: t, in: Int(problem.pairMuni[p])) {
                        best = p
                        bestScore = problem.pairScore[p]
                    }
                }
                if best >= 0 {
                    state.set(c, pair: best)
                    improved = true
                }
            }
        }
    }

    /// For each case u and each municipality m it would score more in but does not fit: make room
    /// by moving one case c out of m, to its best other municipality with room (possibly where u
    /// was) or to unplaced, when the total improves. Covers swaps and replacing a shorter-waiting
    /// household by a longer-waiting one.
    mutating func ejectionPass(_ state: inout State, stop: Int) {
        for u in 0..<problem.caseCount {
            if work >= stop { return }
            let s0 = state.score(of: u)
            if s0 >= maxScore[u] { continue }
            let m0 = state.muni(of: u)
            let tu = Int(problem.caseType[u])
            var bestGain = 0
            var bestMove = (pu: -1, c: -1, pc: -1)
            for pu in problem.pairStart[u]..<problem.pairStart[u + 1] {
                let su = problem.pairScore[pu]
                if su <= s0 { continue }
                let m = Int(problem.pairMuni[pu])
                if m == m0 || state.fits(type: tu, in: m) { continue }
                let gainU = su - s0
                for c32 in state.members[m] {
                    let c = Int(c32)
                    let pcOld = state.pairOf[c]
                    let sc = problem.pairScore[pcOld]
                    // Optimistic: c goes to its best municipality anywhere.
                    if gainU + maxScore[c] - sc <= bestGain { continue }
                    let tc = Int(problem.caseType[c])
                    if !state.fits(type: tu, in: m, replacing: tc) { continue }
                    // Best destination of c, or unplaced.
                    var destScore = 0, dest = -1
                    let lo = problem.pairStart[c], hi = problem.pairStart[c + 1]
                    work += hi - lo
                    for q in lo..<hi where problem.pairScore[q] > destScore {
                        let mq = Int(problem.pairMuni[q])
                        if mq == m { continue }
                        let ok = mq == m0 ? state.fits(type: tc, in: mq, replacing: tu) : state.fits(type: tc, in: mq)
                        if ok { destScore = problem.pairScore[q]; dest = q }
                    }
                    let gain = gainU + destScore - sc
                    if gain > bestGain {
                        bestGain = gain
                        bestMove = (pu, c, dest)
                    }
                }
            }
            if bestGain > 0 {
                state.set(bestMove.c, pair: -1)
                state.set(u, pair: bestMove.pu)
                if bestMove.pc >= 0 { state.set(bestMove.c, pair: bestMove.pc) }
            }
        }
    }

    // Augmenting paths: an unplaced household u goes to m1 in place of c1, c1 goes to m2 in place
    // of c2, ..., and the last one goes where there is room (or stays out if that still gains).
    // Breadth-first over municipalities, each visited once per search, as in bipartite matching:
    // where municipalities hold one or two households, this is what packing needs.
    private var visited: [UInt32] = []
    private var generation: UInt32 = 0
    private var nodeCase: [Int32] = []
    private var nodeParent: [Int32] = []
    private var nodePair: [Int] = []       // the pair the node's case takes (into its parent's place)
    private var nodeGain: [Int] = []

    mutating func augmentPass(_ state: inout State, stop: Int) {
        if visited.count != problem.muniCount { visited = [UInt32](repeating: 0, count: problem.muniCount) }
        for u32 in state.unplaced {
            if work >= stop { return }
            let u = Int(u32)
            if maxScore[u] <= 0 || state.pairOf[u] >= 0 { continue }
            augment(&state, from: u)
        }
    }

    /// For each unplaced household u and each municipality m it may go to: put u in m, evicting
    /// the lowest-scoring households there until it fits, then re-place each evicted one by an
    /// augmenting path; keep the result if the objective rose, else undo.
    mutating func forcePass(_ state: inout State, stop: Int) {
        if visited.count != problem.muniCount { visited = [UInt32](repeating: 0, count: problem.muniCount) }
        let K = problem.dimCount
        for u32 in state.unplaced {
            let u = Int(u32)
            if maxScore[u] <= 0 || state.pairOf[u] >= 0 { continue }
            let tu = Int(problem.caseType[u])
            for p in problem.pairStart[u]..<problem.pairStart[u + 1] {
                if work >= stop { return }
                let m = Int(problem.pairMuni[p])
                // Can u fit at all once m is emptied?
                var possible = true
                for i in Int(problem.typeDimStart[tu])..<Int(problem.typeDimStart[tu + 1])
                where problem.typeAmounts[i] > problem.capacity[m * K + Int(problem.typeDims[i])] { possible = false; break }
                if !possible { continue }
                let before = state.objective
                let mark = state.mark()
                var evicted: [Int] = []
                while !state.fits(type: tu, in: m) {
                    var lowest = -1, lowestScore = Int.max
                    for c32 in state.members[m] where problem.pairScore[state.pairOf[Int(c32)]] < lowestScore {
                        lowest = Int(c32)
                        lowestScore = problem.pairScore[state.pairOf[lowest]]
                    }
                    if lowest < 0 { break }
                    state.set(lowest, pair: -1)
                    evicted.append(lowest)
                }
                work += 4 * (problem.pairStart[u + 1] - problem.pairStart[u])
                guard state.fits(type: tu, in: m) else { state.rollback(to: mark); state.commit(to: mark); continue }
                state.set(u, pair: p)
                for e in evicted where state.pairOf[e] < 0 {
                    let q = Repair.bestFit(state, e, guide: [])
                    if q >= 0 { state.set(e, pair: q) } else { augment(&state, from: e) }
                }
                if state.objective > before {
                    state.commit(to: mark)
                    break
                }
                state.rollback(to: mark)
                state.commit(to: mark)
            }
        }
    }

    private mutating func augment(_ state: inout State, from u: Int) {
        generation &+= 1
        if generation == 0 { for i in 0..<visited.count { visited[i] = 0 }; generation = 1 }
        nodeCase.removeAll(keepingCapacity: true)
        nodeParent.removeAll(keepingCapacity: true)
        nodePair.removeAll(keepingCapacity: true)
        nodeGain.removeAll(keepingCapacity: true)
        // Node 0: u, needing a place, gain 0.
        nodeCase.append(Int32(u)); nodeParent.append(-1); nodePair.append(-1); nodeGain.append(0)
        var bestGain = 0, bestNode = -1, bestPair = -1
        var head = 0
        let limit = 4 * problem.muniCount + 64
        while head < nodeCase.count && nodeCase.count < limit {
            let x = Int(nodeCase[head])
            let gain = nodeGain[head]
            let tx = Int(problem.caseType[x])
            // Terminal: x stays out (not for u itself).
            if head > 0 && gain > bestGain { bestGain = gain; bestNode = head; bestPair = -1 }
            let lo = problem.pairStart[x], hi = problem.pairStart[x + 1]
            work += hi - lo
            for p in lo..<hi {
                let m = Int(problem.pairMuni[p])
                if visited[m] == generation { continue }
                let sx = problem.pairScore[p]
                if state.fits(type: tx, in: m) {
                    if gain + sx > bestGain { bestGain = gain + sx; bestNode = head; bestPair = p }
                    continue
                }
                visited[m] = generation
                for c32 in state.members[m] {
                    let c = Int(c32)
                    let tc = Int(problem.caseType[c])
                    if !state.fits(type: tx, in: m, replacing: tc) { continue }
                    nodeCase.append(c32)
                    nodeParent.append(Int32(head))
                    nodePair.append(p)
                    nodeGain.append(gain + sx - problem.pairScore[state.pairOf[c]])
                }
            }
            head += 1
        }
        guard bestNode >= 0, bestGain > 0 else { return }
        // Apply from the end of the chain back to u.
        var node = bestNode
        var pair = bestPair
        while node >= 0 {
            let x = Int(nodeCase[node])
            state.set(x, pair: -1)
            if pair >= 0 { state.set(x, pair: pair) }
            pair = nodePair[node]
            node = Int(nodeParent[node])
        }
    }
}
