import Foundation
import Postgres

/// Quota moved between two municipalities by agreement (sql/018_quota_transfers.sql): one
/// record, both quotas changed together. Batches after it use both new quotas.
public enum QuotaTransfers {
    public struct Transfer: Sendable, Equatable, Encodable {
        public let id: Int64
        public let period: Int
        public let dimension: String
        public let from: String
        public let to: String
        public let units: Int
        public let agreedOn: CalendarDay
        /// The agreement, in the officer's words; nil when read through the auditors' redacted view.
        public let reason: String?
        public let recordedBy: String

        enum CodingKeys: String, CodingKey {
            case id, period, dimension, from, to, units, agreedOn = "agreed_on", reason, recordedBy = "recorded_by"
        }
    }

    /// Moves each assignment's units of quota from `from` to `to`, all or none.
    public static func transfer(from: String, to: String, period: Int, units: [QuotaAssignment], reason: String,
                                on connection: Connection) async throws -> [Transfer] {
        let ids: [Int64]
        do {
            ids = try await connection.withTransaction { connection in
                var ids: [Int64] = []
                for assignment in units {
                    ids.append(try await connection.query("""
                        SELECT transfer_quota(\(from), \(to), \(period)::int, \(assignment.dimension), \(assignment.quota)::int, \(reason)) AS id
                        """)[0].decode("id", as: Int64.self))
                }
                return ids
            }
        } catch let PostgresError.server(error)
            where error.sqlState == .checkViolation || error.sqlState == .invalidParameterValue || error.sqlState == .foreignKeyViolation {
            // Codes and numbers only (transfer_quota's refusals, capacity_used_within_quota).
            throw ReceptionError.refused(error.message)
        }
        return try await list(period: period, on: connection).filter { ids.contains($0.id) }
    }

    /// Transfers of a period, newest first; with `municipality`, those it gave or received. A
    /// login that may not read the reasons (an auditor) reads the redacted view.
    public static func list(period: Int?, municipality code: String? = nil,
                            on connection: Connection) async throws -> [Transfer] {
        let withReasons = try await ReasonAccess.mayRead("quota_transfers", on: connection)
        let source: Query = withReasons ? "quota_transfers" : "quota_transfers_redacted"
        let reason: Query = withReasons ? "reason" : "NULL::text AS reason"
        return try await connection.query("""
            SELECT id, period, dimension, from_municipality, to_municipality, units, agreed_on, \(fragment: reason), recorded_by
            FROM \(fragment: source)
            WHERE (\(period)::int IS NULL OR period = \(period))
              AND (\(code)::text IS NULL OR from_municipality = \(code) OR to_municipality = \(code))
            ORDER BY id DESC
            """).map { row in
            Transfer(id: try row.decode("id"), period: try row.decode("period"), dimension: try row.decode("dimension"),
                     from: try row.decode("from_municipality"), to: try row.decode("to_municipality"), units: try row.decode("units"),
                     agreedOn: try row.decode("agreed_on"), reason: try row.decode("reason"), recordedBy: try row.decode("recorded_by"))
        }
    }
}
