import Foundation
import Postgres

/// One allocation of a case to a municipality, as officers see it.
public struct AllocationRecord: Codable, Sendable, Equatable {
    public let id: Int
    public let caseID: Int
    public let caseReference: String
    public let persons: Int
    public let municipalityCode: String
    public let municipalityName: String
    public let period: Int
    public let status: String
    public let forced: Bool
    public let score: Int?
    public let reasons: [String]
    public let batchID: Int?
    public let createdBy: String
    public let createdAt: Date
    public let decidedBy: String?
    public let decidedAt: Date?
    public let decisionReason: String?

    enum CodingKeys: String, CodingKey {
        case id, caseID = "case_id", caseReference = "case_reference", persons
        case municipalityCode = "municipality", municipalityName = "municipality_name", period, status, forced
        case score, reasons, batchID = "batch_id", createdBy = "created_by", createdAt = "created_at"
        case decidedBy = "decided_by", decidedAt = "decided_at", decisionReason = "decision_reason"
    }
}

/// Officers' decisions on proposals: confirm, reject, override.
///
/// The database does the accounting: an allocation that is rejected gives its capacity back
/// and its case becomes pending again; an override is capacity-checked unless forced, and a
/// forced one is recorded as such. These functions add clear refusals for the common mistakes.
public enum Allocations {
    public static let statuses = ["proposed", "confirmed", "rejected", "cancelled"]

    public struct Filter: Sendable {
        public var status: String?
        public var municipality: String?
        public var period: Int?
        public var batch: Int?
        public var caseReference: String?
        public var limit: Int

        public init(status: String? = nil, municipality: String? = nil, period: Int? = nil, batch: Int? = nil,
                    caseReference: String? = nil, limit: Int = 1000) {
            self.status = status
            self.municipality = municipality
            self.period = period
            self.batch = batch
            self.caseReference = caseReference
            self.limit = limit
        }
    }

    public static func list(_ filter: Filter, on connection: Connection) async throws -> [AllocationRecord] {
        let rows = try await connection.query("""
            SELECT \(fragment: columns)
            FROM allocations a JOIN cases c ON c.id = a.case_id JOIN municipalities m ON m.code = a.municipality_code
            WHERE (\(filter.status)::text IS NULL OR a.status = \(filter.status))
              AND (\(filter.municipality)::text IS NULL OR a.municipality_code = \(filter.municipality))
              AND (\(filter.period)::bigint IS NULL OR a.period = \(filter.period))
              AND (\(filter.batch)::bigint IS NULL OR a.batch_id = \(filter.batch))
              AND (\(filter.caseReference)::text IS NULL OR c.reference = \(filter.caseReference))
            ORDER BY a.id
            LIMIT \(filter.limit)
            """)
        return try rows.map(record)
    }

    public static func find(ids: [Int], on connection: Connection) async throws -> [AllocationRecord] {
        let rows = try await connection.query("""
            SELECT \(fragment: columns)
            FROM allocations a JOIN cases c ON c.id = a.case_id JOIN municipalities m ON m.code = a.municipality_code
            WHERE a.id = ANY(\(ids)) ORDER BY a.id
            """)
        return try rows.map(record)
    }

    /// Confirms proposals, all or none: one that is not a proposal refuses the whole call.
    public static func confirm(ids: [Int], on connection: Connection) async throws -> [AllocationRecord] {
        try await connection.withTransaction { connection in
            try await requireProposals(ids, verb: "confirm", on: connection)
            try await connection.execute("UPDATE allocations SET status = 'confirmed' WHERE id = ANY(\(ids)) AND status = 'proposed'")
            return try await find(ids: ids, on: connection)
        }
    }

    /// Rejects a proposal: its capacity is freed and its case is pending again.
    public static func reject(id: Int, reason: String, on connection: Connection) async throws -> AllocationRecord {
        guard !reason.trimmingCharacters(in: .whitespaces).isEmpty else { throw ReceptionError.invalid("a rejection needs a reason") }
        return try await connection.withTransaction { connection in
            try await requireProposals([id], verb: "reject", on: connection)
            try await connection.execute("UPDATE allocations SET status = 'rejected', decision_reason = \(reason) WHERE id = \(id)")
            return try await find(ids: [id], on: connection)[0]
        }
    }

    /// Places a case by hand in a municipality. A case that has an active allocation is moved
    /// (the old place is freed in the same transaction); otherwise a new allocation is made.
    /// Either way the placement is confirmed at once. Capacity is checked by the database;
    /// `force` places past capacity and is recorded as forced. Exclusions and inactive
    /// municipalities are hard rules even when forced.
    public static func override(
        caseReference: String, to municipality: String, period: Int?, reason: String, force: Bool, on connection: Connection
    ) async throws -> AllocationRecord {
        guard !reason.trimmingCharacters(in: .whitespaces).isEmpty else { throw ReceptionError.invalid("an override needs a reason") }
        return try await connection.withTransaction { connection in
            // No lock here (officers may not lock case rows): the allocation trigger locks the
            // case and re-checks everything; a batch proposing meanwhile makes this fail cleanly.
            let cases = try await connection.query("""
                SELECT id, status FROM cases WHERE upper(btrim(reference)) = \(CaseReference.key(caseReference))
                """)
            guard let found = cases.first else { throw ReceptionError.notFound("no case with reference \(caseReference)") }
            let caseID = try found.decode("id", as: Int.self)
            if try found.decode("status", as: String.self) == "withdrawn" {
                throw ReceptionError.refused("case \(caseReference) is withdrawn and cannot be placed")
            }
            let known = try await connection.query("SELECT active FROM municipalities WHERE code = \(municipality)")
            guard let active = known.first else { throw ReceptionError.notFound("no municipality with code \(municipality)") }
            if try !active.decode("active", as: Bool.self) {
                throw ReceptionError.refused("municipality \(municipality) is deactivated and takes no new placements")
            }
            let current = try await connection.query("""
                SELECT id, period FROM allocations WHERE case_id = \(caseID) AND status IN ('proposed', 'confirmed')
                """)
            let id: Int
            if let existing = current.first {
                let targetPeriod = try period ?? existing.decode("period", as: Int.self)
                let rows = try await connection.query("""
                    UPDATE allocations
                       SET municipality_code = \(municipality), period = \(targetPeriod), forced = \(force),
                           status = 'confirmed', decision_reason = \(reason)
                     WHERE id = \(try existing.decode("id", as: Int.self))
                    RETURNING id
                    """)
                id = try rows[0].decode("id")
            } else {
                let rows = try await connection.query("""
                    INSERT INTO allocations (case_id, municipality_code, period, status, forced, decision_reason, reasons)
                    VALUES (\(caseID), \(municipality), coalesce(\(period), reception_period()), 'confirmed', \(force), \(reason), \(["manual placement"]))
                    RETURNING id
                    """)
                id = try rows[0].decode("id")
            }
            return try await find(ids: [id], on: connection)[0]
        }
    }

    private static func requireProposals(_ ids: [Int], verb: String, on connection: Connection) async throws {
        guard !ids.isEmpty else { throw ReceptionError.invalid("name at least one allocation id") }
        let rows = try await connection.query("SELECT id, status FROM allocations WHERE id = ANY(\(ids)) FOR UPDATE")
        var statuses: [Int: String] = [:]
        for row in rows { statuses[try row.decode("id")] = try row.decode("status", as: String.self) }
        let missing = ids.filter { statuses[$0] == nil }
        if !missing.isEmpty {
            throw ReceptionError.notFound("no allocation with id \(missing.map(String.init).joined(separator: ", "))")
        }
        let notProposed = ids.filter { statuses[$0] != "proposed" }
        if !notProposed.isEmpty {
            let list = notProposed.map { "\($0) is \(statuses[$0]!)" }.joined(separator: ", ")
            let hint = verb == "reject" ? " (a confirmed placement is changed with `allocation override`)" : ""
            throw ReceptionError.refused("only proposals can be \(verb)ed: allocation \(list)\(hint); nothing was changed")
        }
    }

    static let columns: Query = """
        a.id, a.case_id, c.reference, cardinality(c.ages) AS persons, a.municipality_code, m.name AS municipality_name,
        a.period, a.status, a.forced, a.score, a.reasons, a.batch_id, a.created_by, a.created_at,
        a.decided_by, a.decided_at, a.decision_reason
        """

    static func record(_ row: Row) throws -> AllocationRecord {
        AllocationRecord(
            id: try row.decode("id"), caseID: try row.decode("case_id"), caseReference: try row.decode("reference"),
            persons: try row.decode("persons"), municipalityCode: try row.decode("municipality_code"),
            municipalityName: try row.decode("municipality_name"), period: try row.decode("period"),
            status: try row.decode("status"), forced: try row.decode("forced"), score: try row.decode("score"),
            reasons: try row.decode("reasons"), batchID: try row.decode("batch_id"), createdBy: try row.decode("created_by"),
            createdAt: try row.decode("created_at"), decidedBy: try row.decode("decided_by"),
            decidedAt: try row.decode("decided_at"), decisionReason: try row.decode("decision_reason"))
    }
}
