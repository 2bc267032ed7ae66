import Foundation
import Logging
import Placement
import Postgres

/// What a batch found, stored in `batches.summary` (ids and counts only, no personal data).
public struct BatchSummary: Codable, Sendable, Equatable {
    public struct Unplaced: Codable, Sendable, Equatable {
        public let caseID: Int
        public let reason: String
        enum CodingKeys: String, CodingKey { case caseID = "case_id", reason }
    }

    /// A proposal of a dry run (a real run's proposals are its allocations).
    public struct Proposal: Codable, Sendable, Equatable {
        public let caseID: Int
        public let municipality: String
        public let score: Int
        public let reasons: [String]
        enum CodingKeys: String, CodingKey { case caseID = "case_id", municipality, score, reasons }
    }

    public let cases: Int
    public let municipalities: Int
    public let placed: Int
    public let unplaced: [Unplaced]
    public let proposals: [Proposal]?
    public let seconds: Double
    public let provenOptimal: Bool
    public let timeLimitReached: Bool

    enum CodingKeys: String, CodingKey {
        case cases, municipalities, placed, unplaced, proposals, seconds
        case provenOptimal = "proven_optimal", timeLimitReached = "time_limit_reached"
    }
}

/// Runs an allocation batch: loads the pending cases and the capacity left, solves with the
/// placement engine, and writes the proposals (which reserve their capacity) with the batch's
/// result. The caller provides the transaction, so that the job that asked for the batch is
/// completed in the same commit: proposals exist exactly when the job succeeded.
///
/// Run it in a REPEATABLE READ transaction: if another batch or a decision changes a case or a
/// capacity row that this one read, the database raises a serialization failure and the whole
/// batch runs again on fresh numbers, so two batches at once never overbook.
public enum BatchRun {
    /// The job kind and its arguments; sql/008_privileges.sql's request_batch() creates such
    /// jobs, so the two must agree (the tests through receptiond would fail otherwise).
    public static let jobKind = "allocation-batch"

    public struct Arguments: Codable, Sendable {
        public let batchID: Int
        enum CodingKeys: String, CodingKey { case batchID = "batch_id" }
        public init(batchID: Int) { self.batchID = batchID }
    }

    public static func run(
        batchID: Int, on connection: Connection, logger: Logger
    ) async throws -> BatchSummary {
        let batches = try await connection.query("""
            SELECT period, dry_run, status, summary->'municipalities_requested' AS requested,
                   (summary->>'time_limit')::float8 AS time_limit
            FROM batches WHERE id = \(batchID) FOR UPDATE
            """)
        guard let batch = batches.first else { throw ReceptionError.notFound("no batch with id \(batchID)") }
        let status = try batch.decode("status", as: String.self)
        guard status == "queued" || status == "running" else {
            throw ReceptionError.refused("batch \(batchID) is already \(status)")
        }
        let period = try batch.decode("period", as: Int.self)
        let dryRun = try batch.decode("dry_run", as: Bool.self)
        let requested = try batch.decode("requested", as: JSONValue<[String]>?.self)?.value
        let timeLimit = try batch.decode("time_limit", as: Double?.self) ?? 30

        let today = try await ReceptionClock.today(on: connection)
        let instance = try await BatchInstance.load(period: period, municipalities: requested, today: today, on: connection)
        let result = Solver(timeLimit: timeLimit).solve(instance)
        logger.info("batch solved", metadata: [
            "batch.id": "\(batchID)", "batch.cases": "\(instance.cases.count)",
            "batch.placed": "\(result.assignments.count)", "batch.objective": "\(result.objective)",
            "batch.bound": "\(result.bound)", "batch.seconds": "\(result.stats.seconds)",
        ])

        if !dryRun && !result.assignments.isEmpty {
            // One statement for all proposals, ordered by municipality so that concurrent writers
            // take capacity locks in the same order.
            let ordered = result.assignments.sorted { ($0.municipality, $0.caseID) < ($1.municipality, $1.caseID) }
            try await connection.execute("""
                INSERT INTO allocations (case_id, municipality_code, period, status, score, reasons, next_best, batch_id)
                SELECT p.case_id, p.municipality, \(period), 'proposed', p.score,
                       coalesce((SELECT array_agg(r) FROM jsonb_array_elements_text(p.reasons) r), '{}'),
                       p.next_best, \(batchID)
                FROM jsonb_to_recordset(\(JSONValue(ordered.map(ProposalRow.init)))) AS p(
                    case_id bigint, municipality text, score int, reasons jsonb, next_best jsonb)
                ORDER BY p.municipality, p.case_id
                """)
        }

        let summary = BatchSummary(
            cases: instance.cases.count, municipalities: instance.municipalities.count,
            placed: result.assignments.count,
            unplaced: result.unplaced.map { .init(caseID: Int($0.caseID) ?? 0, reason: $0.reason) },
            proposals: dryRun ? result.assignments.map {
                .init(caseID: Int($0.caseID) ?? 0, municipality: $0.municipality, score: $0.score, reasons: $0.reasons)
            } : nil,
            seconds: result.stats.seconds, provenOptimal: result.stats.provenOptimal,
            timeLimitReached: result.stats.timeLimitReached)
        try await connection.execute("""
            UPDATE batches
               SET status = 'finished', finished_at = now(), started_at = coalesce(started_at, now()),
                   objective = \(result.objective), bound = \(result.bound),
                   summary = summary || \(JSONValue(summary))
             WHERE id = \(batchID)
            """)
        return summary
    }

    /// One proposal as the INSERT reads it from JSON.
    struct ProposalRow: Codable, Sendable {
        let case_id: Int
        let municipality: String
        let score: Int
        let reasons: [String]
        let next_best: [NextBest]

        struct NextBest: Codable, Sendable {
            let municipality: String
            let score: Int
            let difference: Int
        }

        init(_ assignment: PlacementResult.Assignment) {
            case_id = Int(assignment.caseID) ?? 0
            municipality = assignment.municipality
            score = assignment.score
            reasons = assignment.reasons
            next_best = assignment.nextBest.map { [NextBest(municipality: $0.municipality, score: $0.score, difference: $0.scoreDifference)] } ?? []
        }
    }
}
