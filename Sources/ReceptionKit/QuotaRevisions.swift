import Foundation
import Postgres

/// Revised quotas (sql/016_quota_revisions.sql): a quota changed mid-year, with the
/// cooperation's day and the reason. Batches after it use the new quota.
public enum QuotaRevisions {
    public struct Revision: Sendable, Equatable, Encodable {
        public let municipality: String
        public let period: Int
        public let dimension: String
        public let previous: Int
        public let quota: Int
        public let revisedOn: CalendarDay
        /// The officer's reason; nil when read through the auditors' redacted view.
        public let reason: String?
        public let revisedBy: String

        enum CodingKeys: String, CodingKey {
            case municipality, period, dimension, previous, quota, revisedOn = "revised_on", reason, revisedBy = "revised_by"
        }
    }

    /// Revises existing quotas, all or none, each recorded with `reason`.
    public static func revise(municipality code: String, period: Int, quotas: [QuotaAssignment], reason: String,
                              on connection: Connection) async throws -> [Revision] {
        do {
            try await connection.withTransaction { connection in
                for assignment in quotas {
                    _ = try await connection.query("""
                        SELECT revise_quota(\(code), \(period)::int, \(assignment.dimension), \(assignment.quota)::int, \(reason)) AS previous
                        """)
                }
            }
        } catch let PostgresError.server(error) where error.sqlState == .checkViolation || error.sqlState == .invalidParameterValue {
            // Codes and numbers only (capacity_used_within_quota, revise_quota's own refusals).
            throw ReceptionError.refused(error.message)
        }
        return try await list(period: period, municipality: code, on: connection)
    }

    /// Revisions, newest first. A login that may read the reasons (an officer) gets them; one that
    /// may not (an auditor) reads the redacted view, and `reason` is nil.
    public static func list(period: Int?, municipality code: String? = nil,
                            on connection: Connection) async throws -> [Revision] {
        let withReasons = try await ReasonAccess.mayRead("quota_revisions", on: connection)
        let source: Query = withReasons ? "quota_revisions" : "quota_revisions_redacted"
        let reason: Query = withReasons ? "reason" : "NULL::text AS reason"
        return try await connection.query("""
            SELECT municipality_code, period, dimension, previous, quota, revised_on, \(fragment: reason), revised_by
            FROM \(fragment: source)
            WHERE (\(period)::int IS NULL OR period = \(period)) AND (\(code)::text IS NULL OR municipality_code = \(code))
            ORDER BY id DESC
            """).map { row in
            Revision(municipality: try row.decode("municipality_code"), period: try row.decode("period"),
                     dimension: try row.decode("dimension"), previous: try row.decode("previous"), quota: try row.decode("quota"),
                     revisedOn: try row.decode("revised_on"), reason: try row.decode("reason"), revisedBy: try row.decode("revised_by"))
        }
    }
}
