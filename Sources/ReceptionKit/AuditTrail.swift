import Foundation
import Postgres

/// The append-only record of who did what, written by the database's triggers.
public struct AuditEvent: Codable, Sendable {
    public let id: Int
    public let at: Date
    /// The login that acted (session_user): what the trail keeps.
    public let actor: String
    /// Its name from `officers`, for people; the login when none is recorded.
    public let actorName: String
    public let action: String
    /// The case's internal id: also in the auditors' redacted trail, which names no person.
    public let caseID: Int?
    /// The case's reference (a dossier number): only for roles that may read cases.
    public let caseReference: String?
    public let municipalityCode: String?
    public let allocationID: Int?
    public let batchID: Int?
    /// Ids, codes, counts and statuses; a decision's reason as the officer wrote it (not in
    /// the redacted trail).
    public let details: String

    enum CodingKeys: String, CodingKey {
        case id, at, actor, actorName = "actor_name", action, caseID = "case_id", caseReference = "case_reference"
        case municipalityCode = "municipality", allocationID = "allocation_id", batchID = "batch_id", details
    }
}

public enum AuditTrail {
    public struct Filter: Sendable {
        public var caseReference: String?
        public var municipality: String?
        /// From the start of this day in the cooperation's time zone.
        public var since: CalendarDay?
        public var limit: Int

        public init(caseReference: String? = nil, municipality: String? = nil, since: CalendarDay? = nil, limit: Int = 500) {
            self.caseReference = caseReference
            self.municipality = municipality
            self.since = since
            self.limit = limit
        }
    }

    /// Whether this session reads the full trail (officers, administrators) or the redacted
    /// one made for auditors (sql/008_privileges.sql: no references, no free-text reasons).
    public static func readsFullTrail(on connection: Connection) async throws -> Bool {
        try await connection.query("""
            SELECT has_table_privilege('public.audit_events', 'SELECT')
               AND has_table_privilege('public.cases', 'SELECT') AS full
            """)[0].decode("full")
    }

    public static func events(_ filter: Filter, on connection: Connection) async throws -> [AuditEvent] {
        let full = try await readsFullTrail(on: connection)
        if let reference = filter.caseReference {
            guard full else {
                throw ReceptionError.refused("this login reads the redacted audit trail, which has no case references; ask an officer")
            }
            let known = try await connection.query(
                "SELECT 1 FROM cases WHERE upper(btrim(reference)) = \(CaseReference.key(reference))")
            if known.isEmpty { throw ReceptionError.notFound("no case with reference \(reference)") }
        }
        let source: Query = full
            ? "SELECT e.*, c.reference FROM audit_events e LEFT JOIN cases c ON c.id = e.case_id"
            : "SELECT e.*, NULL::text AS reference FROM audit_trail_redacted e"
        let rows = try await connection.query("""
            SELECT * FROM (
                SELECT e.id, e.at, e.actor, coalesce(o.name, e.actor) AS actor_name, e.action, e.case_id, e.reference,
                       e.municipality_code, e.allocation_id, e.batch_id, e.details::text AS details
                FROM (\(fragment: source)) e LEFT JOIN officers o ON o.login = e.actor
                WHERE (\(filter.caseReference.map(CaseReference.key))::text IS NULL
                       OR upper(btrim(e.reference)) = \(filter.caseReference.map(CaseReference.key)))
                  AND (\(filter.municipality)::text IS NULL OR e.municipality_code = \(filter.municipality))
                  AND (\(filter.since)::date IS NULL
                       OR e.at >= (\(filter.since)::date::timestamp AT TIME ZONE (SELECT s.time_zone FROM reception_settings s)))
                ORDER BY e.id DESC
                LIMIT \(filter.limit)
            ) recent ORDER BY id
            """)
        return try rows.map { row in
            AuditEvent(
                id: try row.decode("id"), at: try row.decode("at"), actor: try row.decode("actor"),
                actorName: try row.decode("actor_name"), action: try row.decode("action"),
                caseID: try row.decode("case_id"), caseReference: try row.decode("reference"),
                municipalityCode: try row.decode("municipality_code"), allocationID: try row.decode("allocation_id"),
                batchID: try row.decode("batch_id"), details: try row.decode("details"))
        }
    }
}
