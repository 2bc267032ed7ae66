import Foundation
import Postgres

/// The append-only record of who did what, written by the database's triggers.
public struct AuditEvent: Codable, Sendable {
    public let id: Int
    public let at: Date
    public let actor: String
    public let action: String
    public let caseReference: String?
    public let municipalityCode: String?
    public let allocationID: Int?
    public let batchID: Int?
    /// Ids, codes, counts and statuses; a decision's reason as the officer wrote it.
    public let details: String

    enum CodingKeys: String, CodingKey {
        case id, at, actor, action, caseReference = "case_reference", municipalityCode = "municipality"
        case allocationID = "allocation_id", batchID = "batch_id", details
    }
}

public enum AuditTrail {
    public struct Filter: Sendable {
        public var caseReference: String?
        public var municipality: String?
        public var since: Date?
        public var limit: Int

        public init(caseReference: String? = nil, municipality: String? = nil, since: Date? = nil, limit: Int = 500) {
            self.caseReference = caseReference
            self.municipality = municipality
            self.since = since
            self.limit = limit
        }
    }

    /// Events in time order (the most recent `limit` of them).
    public static func events(_ filter: Filter, on connection: Connection) async throws -> [AuditEvent] {
        if let reference = filter.caseReference {
            let known = try await connection.query("SELECT 1 FROM cases WHERE reference = \(reference)")
            if known.isEmpty { throw ReceptionError.notFound("no case with reference \(reference)") }
        }
        let rows = try await connection.query("""
            SELECT * FROM (
                SELECT e.id, e.at, e.actor, e.action, c.reference, e.municipality_code, e.allocation_id, e.batch_id,
                       e.details::text AS details
                FROM audit_events e LEFT JOIN cases c ON c.id = e.case_id
                WHERE (\(filter.caseReference)::text IS NULL OR c.reference = \(filter.caseReference))
                  AND (\(filter.municipality)::text IS NULL OR e.municipality_code = \(filter.municipality))
                  AND (\(filter.since)::timestamptz IS NULL OR e.at >= \(filter.since))
                ORDER BY e.id DESC
                LIMIT \(filter.limit)
            ) recent ORDER BY id
            """)
        return try rows.map { row in
            AuditEvent(
                id: try row.decode("id"), at: try row.decode("at"), actor: try row.decode("actor"),
                action: try row.decode("action"), caseReference: try row.decode("reference"),
                municipalityCode: try row.decode("municipality_code"), allocationID: try row.decode("allocation_id"),
                batchID: try row.decode("batch_id"), details: try row.decode("details"))
        }
    }
}
