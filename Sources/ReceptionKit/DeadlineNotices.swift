import Foundation
import Postgres

/// The daily deadline check's record (sql/013_anvisningar.sql `deadline_notices`): which
/// waiting households became due soon or overdue, and on which day it was noticed.
public enum DeadlineNotices {
    public enum Kind: String, Sendable, Codable, CaseIterable {
        /// The latest reception date is near (within the check's notice days).
        case due
        /// The latest reception date has passed and the household still waits.
        case overdue
    }

    /// One notice, with the case's reference for the officer.
    public struct Notice: Sendable, Equatable, Encodable {
        public let reference: String
        public let kind: Kind
        public let noticedOn: CalendarDay
        public let latestReceptionOn: CalendarDay
        /// The case's status now (a notice stays when the household is placed meanwhile).
        public let status: String

        enum CodingKeys: String, CodingKey {
            case reference, kind, noticedOn = "noticed_on", latestReceptionOn = "latest_reception_on", status
        }
    }

    /// Records today's notices (once per household and kind: due when its date is at most 14
    /// days away, overdue once it has passed); returns how many of each.
    public static func check(on connection: Connection) async throws -> (due: Int, overdue: Int) {
        let row = try await connection.query("SELECT due, overdue FROM deadline_check()")[0]
        return (try row.decode("due"), try row.decode("overdue"))
    }

    /// The notices recorded on `day`, earliest deadline first.
    public static func list(on day: CalendarDay, on connection: Connection) async throws -> [Notice] {
        try await connection.query("""
            SELECT c.reference, n.kind, n.noticed_on, n.latest_reception_on, c.status
            FROM deadline_notices n JOIN cases c ON c.id = n.case_id
            WHERE n.noticed_on = \(day)
            ORDER BY n.latest_reception_on, c.reference
            """).map { row in
            Notice(reference: try row.decode("reference"),
                   kind: Kind(rawValue: try row.decode("kind", as: String.self)) ?? .due,
                   noticedOn: try row.decode("noticed_on"), latestReceptionOn: try row.decode("latest_reception_on"),
                   status: try row.decode("status"))
        }
    }
}
