/// Ruin and recreate: take a few households out of one or two municipalities (or evict whoever
/// blocks an unplaced household from a municipality it could use), put the evicted and every
/// unplaced household that might now fit back greedily in a slightly shuffled order, and keep the
/// change when the objective did not drop. Each step touches only the municipalities it ruined, so
/// a step costs about (evicted + unplaced) × municipalities, not the whole instance.
/// A seeded generator makes it deterministic.
struct Search {
    let problem: Problem
    var rng: SplitMix64
    private let maxScore: [Int]
    private var touched: [Int] = []
    private var candidates: [Int32] = []
    private var keys: [Double] = []
    private var order: [Int] = []

    /// Dual prices of each type in each municipality, for tie-breaking (see ``Repair/bestFit``).
    var guide: [Double]

    init(problem: Problem, maxScore: [Int], guide: [Double], seed: UInt64) {
        self.problem = problem
        self.guide = guide
        self.maxScore = maxScore
        rng = SplitMix64(seed: seed)
    }

    /// Runs `iterations` steps (fewer if the objective reaches `bound` or time runs out) and leaves
    /// `state` at the best placement found. Returns the number of steps done.
    mutating func run(_ state: inout State, iterations: Int, bound: Int, outOfTime: () -> Bool) -> Int {
        guard problem.caseCount > 0, problem.muniCount > 0 else { return 0 }
        var best = state.snapshot
        var bestObjective = state.objective
        var done = 0
        while done < iterations && bestObjective < bound {
            if done & 63 == 0 && outOfTime() { break }
            done += 1
            let before = state.objective
            _ = state.mark()
            touched.removeAll(keepingCapacity: true)
            candidates.removeAll(keepingCapacity: true)
            ruin(&state)
            recreate(&state)
            if state.objective >= before {
                state.commit(to: 0)
                if state.objective > bestObjective {
                    bestObjective = state.objective
                    best = state.snapshot
                }
            } else {
                state.rollback(to: 0)
                state.commit(to: 0)
            }
        }
        state.restore(best)
        return done
    }

    private mutating func evict(_ state: inout State, _ c: Int) {
        state.set(c, pair: -1)
        candidates.append(Int32(c))
    }

    private mutating func ruin(_ state: inout State) {
        let M = problem.muniCount
        let unplaced = state.unplaced
        let strategy = rng.below(unplaced.isEmpty ? 2 : 4)
        switch strategy {
        case 0, 1:
            // Part of one or two municipalities.
            for _ in 0...strategy {
                var m = rng.below(M)
                for _ in 0..<8 where state.members[m].isEmpty { m = rng.below(M) }
                touched.append(m)
                let count = 1 + rng.below(min(8, max(1, state.members[m].count)))
                for _ in 0..<count {
                    let list = state.members[m]
                    if list.isEmpty { break }
                    evict(&state, Int(list[rng.below(list.count)]))
                }
            }
        default:
            // Force an unplaced household into one of its municipalities, evicting at random.
            let u = Int(unplaced[rng.below(unplaced.count)])
            let lo = problem.pairStart[u], hi = problem.pairStart[u + 1]
            guard hi > lo else { return }
            let p = lo + rng.below(hi - lo)
            let m = Int(problem.pairMuni[p])
            let t = Int(problem.caseType[u])
            touched.append(m)
            var evictions = 0
            while !state.fits(type: t, in: m) && !state.members[m].isEmpty && evictions < 16 {
                let list = state.members[m]
                evict(&state, Int(list[rng.below(list.count)]))
                evictions += 1
            }
            if state.fits(type: t, in: m) { state.set(u, pair: p) }
        }
    }

    /// Greedy reinsertion of the evicted and of every unplaced case that fits in a ruined
    /// municipality, by value with random noise (or largest first), each to its best-scoring
    /// municipality with room.
    private mutating func recreate(_ state: inout State) {
        let K = problem.dimCount
        let evicted = candidates.count
        for u32 in state.unplaced {
            let u = Int(u32)
            if maxScore[u] <= 0 { continue }
            let t = Int(problem.caseType[u])
            var mayFit = false
            for m in touched where state.fits(type: t, in: m) { mayFit = true; break }
            if mayFit && !candidates[0..<evicted].contains(u32) { candidates.append(u32) }
        }
        keys.removeAll(keepingCapacity: true)
        let mode = rng.below(5)
        let noise = [0.0, 50.0, 300.0, 2000.0, 0.0][mode]
        for c32 in candidates {
            let c = Int(c32)
            if mode == 4 {
                keys.append(Double(problem.typeDemand[Int(problem.caseType[c]) * K]) + rng.unit())
            } else {
                keys.append(Double(maxScore[c]) + noise * rng.unit())
            }
        }
        order.removeAll(keepingCapacity: true)
        order.append(contentsOf: candidates.indices)
        order.sort { keys[$0] != keys[$1] ? keys[$0] > keys[$1] : $0 < $1 }
        for i in order {
            let c = Int(candidates[i])
            if state.pairOf[c] >= 0 { continue }
            let best = Repair.bestFit(state, c, guide: guide)
            if best >= 0 { state.set(c, pair: best) }
        }
    }
}
