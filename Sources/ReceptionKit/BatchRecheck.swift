import Placement
import Postgres

/// At a batch's write, what changed since its snapshot: locks the households it proposes that
/// are still pending, then the municipalities that still take placements and their capacity
/// (the order every writer takes them in: sql/009_batch_jobs.sql), then sorts each proposal
/// into kept, dropped (the household is no longer pending) or to re-solve (its details
/// changed, its municipality no longer takes placements, or what it needs no longer fits what
/// is left).
///
/// What fits is judged with the database's own definition of a household's demand
/// (`case_demands`), the one the allocation trigger reserves.
struct BatchRecheck {
    var kept: [PlacementResult.Assignment] = []
    var dropped = 0
    /// Case ids, in the snapshot's order.
    var toResolve: [Int] = []
    /// Capacity left after the kept proposals, by municipality and dimension.
    var free: [String: [String: Int]] = [:]
    /// The snapshot's municipalities that still take placements.
    var eligible: Set<String> = []
    /// What each unchanged household needs, by case id, as `case_demands` says under the lock:
    /// the write gives it with each proposal, and the database checks it (sql/012_batch_write.sql).
    var demand: [Int: [String: Int]] = [:]

    static func run(
        _ snapshot: BatchSnapshot, _ proposals: [PlacementResult.Assignment], on connection: Connection
    ) async throws -> BatchRecheck {
        var recheck = BatchRecheck()
        let ids = proposals.compactMap { Int($0.caseID) }.sorted()
        // Locked by the database's functions (sql/009_batch_jobs.sql): the worker may lock
        // these rows only for the batch its login runs.
        // Only the households still pending come back (and are locked).
        var fingerprint: [Int: String] = [:]
        for row in try await connection.query("""
            SELECT id, fingerprint FROM batch_lock_cases(\(snapshot.batchID)::bigint, \(ids)::bigint[])
            """) {
            fingerprint[try row.decode("id", as: Int.self)] = try row.decode("fingerprint", as: String.self)
        }
        // Only the municipalities that still take placements come back (with their capacity).
        let codes = snapshot.instance.municipalities.map(\.code)
        for row in try await connection.query("""
            SELECT municipality_code, dimension, free FROM batch_lock_capacity(\(snapshot.batchID)::bigint, \(codes)::text[])
            """) {
            let code = try row.decode("municipality_code", as: String.self)
            recheck.eligible.insert(code)
            recheck.free[code, default: [:]][try row.decode("dimension")] = try row.decode("free", as: Int.self)
        }
        // What the municipalities' plans have not released by the batch's day stays out of reach
        // (sql/015), read now that the capacity rows are locked.
        for row in try await connection.query("""
            SELECT municipality_code, dimension,
                   quota - capacity_released(municipality_code, period, dimension, quota, \(snapshot.today)) AS withheld
            FROM capacity WHERE period = \(snapshot.period) AND municipality_code = ANY(\(codes))
            """) {
            let code = try row.decode("municipality_code", as: String.self), dimension = try row.decode("dimension", as: String.self)
            let withheld = max(0, try row.decode("withheld", as: Int.self))
            if withheld > 0, let free = recheck.free[code]?[dimension] { recheck.free[code]?[dimension] = free - withheld }
        }

        let unchanged = ids.filter { fingerprint[$0] != nil && fingerprint[$0] == snapshot.fingerprints[$0] }
        var demand: [Int: [String: Int]] = [:]
        for row in try await connection.query("""
            SELECT case_id, dimension, units FROM case_demands WHERE case_id = ANY(\(unchanged))
            """) {
            demand[try row.decode("case_id", as: Int.self), default: [:]][try row.decode("dimension")] = try row.decode("units", as: Int.self)
        }
        recheck.demand = demand

        // Best proposals first (then by case id): when capacity shrank, the most valuable ones
        // keep their place.
        let ordered = proposals.sorted { a, b in
            a.score != b.score ? a.score > b.score : (Int(a.caseID) ?? 0) < (Int(b.caseID) ?? 0)
        }
        var resolve = Set<Int>()
        for proposal in ordered {
            guard let id = Int(proposal.caseID), fingerprint[id] != nil else {
                recheck.dropped += 1
                continue
            }
            guard fingerprint[id] == snapshot.fingerprints[id], recheck.eligible.contains(proposal.municipality),
                  let needs = demand[id], recheck.fits(needs, in: proposal.municipality) else {
                resolve.insert(id)
                continue
            }
            for (dimension, units) in needs { recheck.free[proposal.municipality, default: [:]][dimension, default: 0] -= units }
            recheck.kept.append(proposal)
        }
        let order = Dictionary(uniqueKeysWithValues: snapshot.instance.cases.enumerated().map { (Int($1.id) ?? 0, $0) })
        recheck.toResolve = resolve.sorted { (order[$0] ?? .max, $0) < (order[$1] ?? .max, $1) }
        return recheck
    }

    func fits(_ needs: [String: Int], in municipality: String) -> Bool {
        needs.allSatisfy { dimension, units in units <= (free[municipality]?[dimension] ?? 0) }
    }

    /// The households to re-solve, as they are now (their rows are locked), against the
    /// capacity left in the municipalities that still take placements.
    func resolveInstance(_ snapshot: BatchSnapshot, on connection: Connection) async throws -> PlacementInstance {
        let cases = try await BatchInstance.pendingCases(ids: toResolve, today: snapshot.today, on: connection).cases
        let municipalities = snapshot.instance.municipalities.filter { eligible.contains($0.code) }.map { municipality in
            var left = municipality
            left.capacity = (free[municipality.code] ?? [:]).mapValues { max(0, $0) }
            return left
        }
        return PlacementInstance(weights: snapshot.instance.weights, municipalities: municipalities, cases: cases)
    }
}
