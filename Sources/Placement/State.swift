/// A placement under construction: where each case is, what capacity is left, the objective, and
/// the cases in each municipality. Every change goes through ``set(_:pair:)``, which keeps all of
/// these consistent and can record a journal so that a rejected search step is undone exactly.
struct State {
    let problem: Problem
    /// pairOf[c]: the pair index (so municipality and score) of case c, or -1 if unplaced.
    private(set) var pairOf: [Int]
    /// remaining[m * K + d]: capacity still free.
    private(set) var remaining: [Int]
    /// Sum of the scores of the placed cases.
    private(set) var objective: Int
    /// Cases placed in each municipality, in no particular order, and at index `muniCount` the
    /// unplaced cases; position[c] is c's index in its list.
    private(set) var members: [[Int32]]
    private var position: [Int32]
    /// When recording, every change appends (case, previous pair) so it can be undone.
    var recording = false
    private(set) var journal: [(Int32, Int)] = []

    init(problem: Problem) {
        self.problem = problem
        pairOf = [Int](repeating: -1, count: problem.caseCount)
        remaining = problem.capacity
        objective = 0
        members = [[Int32]](repeating: [], count: problem.muniCount + 1)
        members[problem.muniCount] = (0..<problem.caseCount).map { Int32($0) }
        position = (0..<problem.caseCount).map { Int32($0) }
    }

    @inline(__always) func muni(of c: Int) -> Int {
        let p = pairOf[c]
        return p < 0 ? -1 : Int(problem.pairMuni[p])
    }

    @inline(__always) func score(of c: Int) -> Int {
        let p = pairOf[c]
        return p < 0 ? 0 : problem.pairScore[p]
    }

    /// Whether case type t fits in municipality m with what is left there.
    @inline(__always) func fits(type t: Int, in m: Int) -> Bool {
        let K = problem.dimCount
        let lo = Int(problem.typeDimStart[t]), hi = Int(problem.typeDimStart[t + 1])
        for i in lo..<hi where problem.typeAmounts[i] > remaining[m * K + Int(problem.typeDims[i])] { return false }
        return true
    }

    /// Whether type t fits in m once case `leaving` (of type tl, currently in m) has left.
    @inline(__always) func fits(type t: Int, in m: Int, replacing tl: Int) -> Bool {
        let K = problem.dimCount
        let lo = Int(problem.typeDimStart[t]), hi = Int(problem.typeDimStart[t + 1])
        for i in lo..<hi {
            let d = Int(problem.typeDims[i])
            if problem.typeAmounts[i] > remaining[m * K + d] + problem.typeDemand[tl * K + d] { return false }
        }
        return true
    }

    /// Moves case c to pair p (a pair of c), or unplaces it when p < 0. The caller checks capacity.
    mutating func set(_ c: Int, pair p: Int) {
        let old = pairOf[c]
        if old == p { return }
        if recording { journal.append((Int32(c), old)) }
        let K = problem.dimCount
        let t = Int(problem.caseType[c])
        let lo = Int(problem.typeDimStart[t]), hi = Int(problem.typeDimStart[t + 1])
        var from = problem.muniCount
        if old >= 0 {
            from = Int(problem.pairMuni[old])
            for i in lo..<hi { remaining[from * K + Int(problem.typeDims[i])] += problem.typeAmounts[i] }
            objective -= problem.pairScore[old]
        }
        let at = Int(position[c])
        let last = members[from].removeLast()
        if Int(last) != c {
            members[from][at] = last
            position[Int(last)] = Int32(at)
        }
        var to = problem.muniCount
        if p >= 0 {
            to = Int(problem.pairMuni[p])
            for i in lo..<hi { remaining[to * K + Int(problem.typeDims[i])] -= problem.typeAmounts[i] }
            objective += problem.pairScore[p]
        }
        position[c] = Int32(members[to].count)
        members[to].append(Int32(c))
        pairOf[c] = p
    }

    /// Starts a journal: changes from here on can be undone with ``rollback(to:)``.
    mutating func mark() -> Int {
        recording = true
        return journal.count
    }

    /// Undoes every change recorded since `mark`.
    mutating func rollback(to mark: Int) {
        let saved = recording
        recording = false
        while journal.count > mark {
            let (c, p) = journal.removeLast()
            set(Int(c), pair: p)
        }
        recording = saved
    }

    /// Keeps the changes since `mark`. At the outermost mark (0) the journal is forgotten and
    /// recording stops; inside an outer mark the entries stay, so the outer level can still undo.
    mutating func commit(to mark: Int) {
        if mark == 0 {
            journal.removeAll(keepingCapacity: true)
            recording = false
        }
    }

    /// The pairs of every case (a snapshot to restore later with ``restore(_:)``).
    var snapshot: [Int] { pairOf }

    mutating func restore(_ pairs: [Int]) {
        let saved = recording
        recording = false
        for c in 0..<pairs.count where pairOf[c] != pairs[c] && pairOf[c] >= 0 { set(c, pair: -1) }
        for c in 0..<pairs.count where pairOf[c] != pairs[c] { set(c, pair: pairs[c]) }
        recording = saved
    }

    /// The unplaced cases, in no particular order.
    var unplaced: [Int32] { members[problem.muniCount] }

    /// Whether no capacity is exceeded (used by assertions and tests).
    var isFeasible: Bool { remaining.allSatisfy { $0 >= 0 } }
}
