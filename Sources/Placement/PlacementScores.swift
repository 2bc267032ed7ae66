/// What placing each case of an instance in each municipality scores (FORMAT.md "Score"), for
/// valuing placements made elsewhere — the year simulation values every weekly placement at
/// the whole year's scores, as the hindsight solve does.
public struct PlacementScores: Sendable {
    private let problem: Problem
    private let municipality: [String: Int32]

    public init(_ instance: PlacementInstance) {
        problem = Problem(instance)
        var index: [String: Int32] = [:]
        for (m, municipality) in instance.municipalities.enumerated() where index[municipality.code] == nil {
            index[municipality.code] = Int32(m)
        }
        municipality = index
    }

    /// The score of case number `index` in the municipality `code`; nil when the case may not
    /// go there (excluded, beyond the instance's capacity, or worth nothing).
    public func score(case index: Int, in code: String) -> Int? {
        guard index >= 0, index < problem.caseCount, let m = municipality[code] else { return nil }
        let pair = problem.pair(index, m)
        return pair >= 0 ? problem.pairScore[pair] : nil
    }
}
