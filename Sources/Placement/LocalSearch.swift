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
}
