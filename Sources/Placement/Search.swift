/// Ruin and recreate: take a few households out of the placement (some of one municipality, a few
/// anywhere, or whoever blocks a household from its best municipality), put every unplaced
/// household back greedily in a slightly shuffled order, polish with ``LocalSearch``, and keep the
/// change when the objective did not drop. A seeded generator makes it deterministic.
struct Search {
    let problem: Problem
    var rng: SplitMix64
    private var unplacedMark: [Bool]
    private var candidates: [Int32] = []
    private var keys: [Double] = []

    init(problem: Problem, seed: UInt64) {
        self.problem = problem
        rng = SplitMix64(seed: seed)
        unplacedMark = [Bool](repeating: false, count: problem.caseCount)
    }

    /// Returns the number of iterations done. `state` ends as the best placement found.
    mutating func run(_ state: inout State, local: inout LocalSearch, iterations: Int, bound: Int, outOfTime: () -> Bool) -> Int {
        let C = problem.caseCount, M = problem.muniCount
        guard C > 0, M > 0 else { return 0 }
        var best = state.snapshot
        var bestObjective = state.objective
        let pairCount = max(1, problem.pairMuni.count)
        let polish = max(4 * pairCount / max(1, C), 64) * 64
        var done = 0
        while done < iterations && bestObjective < bound {
            if done & 15 == 0 && outOfTime() { break }
            done += 1
            let before = state.objective
            _ = state.mark()
            ruin(&state)
            recreate(&state, local: local)
            local.run(&state, budget: polish)
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

    private mutating func ruin(_ state: inout State) {
        let C = problem.caseCount, M = problem.muniCount
        let size = 1 + rng.below(min(12, max(2, C / 10)))
        switch rng.below(3) {
        case 0:
            // Part of one municipality.
            var m = rng.below(M)
            for _ in 0..<8 where state.members[m].isEmpty { m = rng.below(M) }
            for _ in 0..<size {
                let list = state.members[m]
                if list.isEmpty { break }
                state.set(Int(list[rng.below(list.count)]), pair: -1)
            }
        case 1:
            // A few households anywhere.
            for _ in 0..<size {
                let c = rng.below(C)
                state.set(c, pair: -1)
            }
        default:
            // Force a household into one of its better municipalities by evicting whoever is in the way.
            let c = rng.below(C)
            let lo = problem.pairStart[c], hi = problem.pairStart[c + 1]
            guard hi > lo else { return }
            let p = lo + rng.below(hi - lo)
            if p == state.pairOf[c] { return }
            let m = Int(problem.pairMuni[p])
            let t = Int(problem.caseType[c])
            state.set(c, pair: -1)
            var guardCount = 0
            while !state.fits(type: t, in: m) && !state.members[m].isEmpty && guardCount < 64 {
                let list = state.members[m]
                state.set(Int(list[rng.below(list.count)]), pair: -1)
                guardCount += 1
            }
            if state.fits(type: t, in: m) { state.set(c, pair: p) }
        }
    }

    /// Greedy reinsertion of every unplaced case, best score first with random noise in the order.
    private mutating func recreate(_ state: inout State, local: LocalSearch) {
        candidates.removeAll(keepingCapacity: true)
        keys.removeAll(keepingCapacity: true)
        let noise = [0.0, 50.0, 300.0, 5000.0][rng.below(4)]
        for c in 0..<problem.caseCount where state.pairOf[c] < 0 && local.maxScore[c] > 0 {
            candidates.append(Int32(c))
            keys.append(Double(local.maxScore[c]) + noise * rng.unit())
        }
        var order = Array(candidates.indices)
        order.sort { keys[$0] != keys[$1] ? keys[$0] > keys[$1] : $0 < $1 }
        Repair.fill(&state, order: order.map { candidates[$0] })
    }
}
