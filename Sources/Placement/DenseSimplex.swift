/// A small primal simplex for the two masters of ``BranchAndBound``:
///
///     maximise  Σ_j cost_j · x_j + Σ_r logicalCost_r · s_r
///     subject to Σ_j a_rj · x_j + s_r = rhs_r   for every row r,   x, s ≥ 0
///
/// Each row has one logical variable s_r: a slack (cost 0) for a "≤" row, or an artificial
/// (cost −``big``) for an "=" row, which the optimum drives to 0 when the row can be met. The
/// logical basis is the starting basis (B = I, rhs ≥ 0), so no phase 1 is needed. Columns are
/// sparse and only ever added; the basis inverse is dense, of order `rowCount` (a few hundred rows:
/// the undecided households and the municipalities of a regional instance).
///
/// Deterministic: Dantzig pricing with the lowest index among equals, Bland's rule after a run of
/// degenerate pivots, a refactorisation every 64 pivots.
struct DenseSimplex {
    static let big = 1e9

    let rowCount: Int
    var rhs: [Double]
    var logicalCost: [Double]

    // Columns, sparse: rows colRow[colStart[j] ..< colStart[j + 1]] with values colValue[...].
    private(set) var colStart: [Int] = [0]
    private(set) var colRow: [Int32] = []
    private(set) var colValue: [Double] = []
    private(set) var cost: [Double] = []
    var columnCount: Int { cost.count }

    /// Basic variable of each row position: j ≥ 0 a column, −(r + 1) the logical of row r.
    private var basic: [Int]
    private var inverse: [Double]          // rowCount², row-major: row i belongs to basic[i]
    private var primal: [Double]
    private(set) var duals: [Double]
    private(set) var objective = 0.0
    private var pivotsSinceRefactor = 0
    private var alpha: [Double]
    private var basicCost: [Double]

    init(rhs: [Double], logicalCost: [Double]) {
        precondition(rhs.count == logicalCost.count && rhs.allSatisfy { $0 >= 0 })
        rowCount = rhs.count
        self.rhs = rhs
        self.logicalCost = logicalCost
        basic = (0..<rhs.count).map { -($0 + 1) }
        inverse = [Double](repeating: 0, count: rhs.count * rhs.count)
        for i in 0..<rhs.count { inverse[i * rhs.count + i] = 1 }
        primal = rhs
        duals = [Double](repeating: 0, count: rhs.count)
        alpha = duals
        basicCost = duals
    }

    @discardableResult
    mutating func addColumn(rows: [Int32], values: [Double], cost c: Double) -> Int {
        colRow += rows
        colValue += values
        colStart.append(colRow.count)
        cost.append(c)
        return cost.count - 1
    }

    /// Bland's order of a variable: the columns, then the logicals by row (the order entering
    /// variables are looked for in), so that the rule is one consistent order and cannot cycle.
    private func blandIndex(_ v: Int) -> Int { v >= 0 ? v : columnCount + (-v - 1) }

    private func costOf(_ v: Int) -> Double { v >= 0 ? cost[v] : logicalCost[-v - 1] }

    /// x_j of every column at the current basis.
    var columnValues: [Double] {
        var x = [Double](repeating: 0, count: columnCount)
        for (i, v) in basic.enumerated() where v >= 0 { x[v] = max(0, primal[i]) }
        return x
    }

    /// Value of the logical variable of row r (slack left, or artificial still in use).
    func logicalValue(_ r: Int) -> Double {
        for (i, v) in basic.enumerated() where v == -(r + 1) { return max(0, primal[i]) }
        return 0
    }

    private mutating func computeDuals() {
        let n = rowCount
        for i in 0..<n { basicCost[i] = costOf(basic[i]) }     // once per pivot: no allocation
        duals.withUnsafeMutableBufferPointer { duals in
            inverse.withUnsafeBufferPointer { inverse in
                for j in 0..<n { duals[j] = 0 }
                for i in 0..<n {
                    let c = basicCost[i]
                    if c == 0 { continue }
                    let row = i * n
                    for j in 0..<n { duals[j] += c * inverse[row + j] }
                }
            }
        }
    }

    /// Reduced cost (maximisation: enter when positive) of column j.
    @inline(__always)
    private func reducedCost(_ j: Int) -> Double {
        var d = cost[j]
        for k in colStart[j]..<colStart[j + 1] { d -= duals[Int(colRow[k])] * colValue[k] }
        return d
    }

    private mutating func resetToLogicalBasis() {
        let n = rowCount
        basic = (0..<n).map { -($0 + 1) }
        for i in 0..<(n * n) { inverse[i] = 0 }
        for i in 0..<n { inverse[i * n + i] = 1 }
        primal = rhs
        pivotsSinceRefactor = 0
    }

    private mutating func refactor() {
        let n = rowCount
        var a = [Double](repeating: 0, count: n * n)
        for (pos, v) in basic.enumerated() {
            if v >= 0 {
                for k in colStart[v]..<colStart[v + 1] { a[Int(colRow[k]) * n + pos] = colValue[k] }
            } else {
                a[(-v - 1) * n + pos] = 1
            }
        }
        var inv = [Double](repeating: 0, count: n * n)
        for i in 0..<n { inv[i * n + i] = 1 }
        // Gauss–Jordan on [B | I], on raw buffers (O(n³): at a few hundred rows, array accesses
        // made it most of a proof's time). Columns left of `col` are already eliminated in `a`.
        let singular = a.withUnsafeMutableBufferPointer { a in
            inv.withUnsafeMutableBufferPointer { inv in
                for col in 0..<n {
                    var pivot = col, bestAbs = abs(a[col * n + col])
                    for r in (col + 1)..<n where abs(a[r * n + col]) > bestAbs { pivot = r; bestAbs = abs(a[r * n + col]) }
                    if bestAbs <= 1e-9 { return true }
                    if pivot != col {
                        for j in 0..<n { a.swapAt(col * n + j, pivot * n + j); inv.swapAt(col * n + j, pivot * n + j) }
                    }
                    let d = a[col * n + col]
                    for j in col..<n { a[col * n + j] /= d }
                    for j in 0..<n { inv[col * n + j] /= d }
                    for r in 0..<n where r != col {
                        let f = a[r * n + col]
                        if f == 0 { continue }
                        for j in col..<n { a[r * n + j] -= f * a[col * n + j] }
                        for j in 0..<n { inv[r * n + j] -= f * inv[col * n + j] }
                    }
                }
                return false
            }
        }
        // Numerically singular: start again from the logical basis (B = I is always feasible
        // here, rhs ≥ 0) rather than carry a drifted inverse.
        if singular { resetToLogicalBasis(); return }
        inverse = inv
        for i in 0..<n {
            var s = 0.0
            for r in 0..<n where rhs[r] != 0 { s += inverse[i * n + r] * rhs[r] }
            primal[i] = s
        }
        pivotsSinceRefactor = 0
    }

    /// Primal simplex from the current basis (columns added since the last call are priced too).
    /// Returns false if `maxPivots` or the deadline (looked at every 16 pivots) stopped it before
    /// optimality.
    @discardableResult
    mutating func solve(maxPivots: Int = 20_000, deadline: Deadline? = nil) -> Bool {
        let n = rowCount
        var degenerate = 0
        var bland = false
        var optimal = false
        for pivot in 0..<maxPivots {
            if pivot % 16 == 15, deadline?.isOver == true { break }
            computeDuals()
            // Once a run of degenerate pivots is seen, Bland's rule for the rest of this solve: it
            // terminates only when applied throughout (noise-sized steps would otherwise reset it).
            if degenerate > 50 { bland = true }
            let tolerance = 1e-9 * max(1, abs(objective))
            var entering = Int.min, bestReduced = tolerance
            for j in 0..<columnCount {
                let d = reducedCost(j)
                if d > bestReduced { entering = j; bestReduced = d; if bland { break } }
            }
            if entering == Int.min || !bland {
                for r in 0..<n {
                    let d = logicalCost[r] - duals[r]
                    if d > bestReduced { entering = -(r + 1); bestReduced = d; if bland { break } }
                }
            }
            if entering == Int.min { optimal = true; break }
            let lo = entering >= 0 ? colStart[entering] : 0, hi = entering >= 0 ? colStart[entering + 1] : 0
            inverse.withUnsafeBufferPointer { inverse in
                alpha.withUnsafeMutableBufferPointer { alpha in
                    for i in 0..<n {
                        var s = 0.0
                        if entering >= 0 {
                            for k in lo..<hi { s += inverse[i * n + Int(colRow[k])] * colValue[k] }
                        } else {
                            s = inverse[i * n + (-entering - 1)]
                        }
                        alpha[i] = s
                    }
                }
            }
            var leave = -1, ratio = Double.infinity
            for i in 0..<n where alpha[i] > 1e-8 {     // tiny pivots are noise: they blow up the inverse
                let t = max(0, primal[i]) / alpha[i]
                if t < ratio - 1e-12 || (bland && t <= ratio + 1e-12 && leave >= 0 && blandIndex(basic[i]) < blandIndex(basic[leave])) { ratio = t; leave = i }
            }
            if leave < 0 { optimal = true; break }      // unbounded: cannot happen for these masters
            degenerate = ratio <= 1e-12 ? degenerate + 1 : 0
            let p = alpha[leave]
            primal[leave] /= p
            let primalLeave = primal[leave]
            alpha.withUnsafeBufferPointer { alpha in
                primal.withUnsafeMutableBufferPointer { primal in
                    inverse.withUnsafeMutableBufferPointer { inverse in
                        let pivotRow = leave * n
                        for j in 0..<n { inverse[pivotRow + j] /= p }
                        for i in 0..<n where i != leave && alpha[i] != 0 {
                            let f = alpha[i], row = i * n
                            for j in 0..<n { inverse[row + j] -= f * inverse[pivotRow + j] }
                            primal[i] -= f * primalLeave
                        }
                    }
                }
            }
            basic[leave] = entering
            pivotsSinceRefactor += 1
            if pivotsSinceRefactor >= 64 { refactor() }
        }
        computeDuals()
        var z = 0.0
        for (i, v) in basic.enumerated() { z += costOf(v) * max(0, primal[i]) }
        objective = z
        return optimal
    }
}
