import Foundation
import Postgres

/// A registered household, as stored, with its needs and its active allocation if any.
///
/// Holds personal data (ages, needs, ties): for the officer's screen and for the placement
/// engine, never for a log line.
public struct CaseRecord: Sendable, Equatable, Encodable {
    public let id: Int64
    public let reference: String
    public let ages: [Int]
    /// Needs beyond what the ages imply, by dimension.
    public let needs: [String: Int]
    public let language: String?
    public let occupations: [String]
    public let familyTies: [String]
    public let preferences: [String]
    public let excluded: [String]
    public let arrivedOn: CalendarDay
    /// The anvisning's date; nil for a case registered before anvisningar were recorded.
    public let anvisningOn: CalendarDay?
    /// The latest reception date (the anvisning's own, else two months after it); nil without
    /// an anvisning date.
    public let latestReceptionOn: CalendarDay?
    public let category: CaseCategory?
    /// registered (pending placement), proposed, placed or withdrawn.
    public let status: String
    public let withdrawnAt: Date?
    public let withdrawnReason: String?
    /// Why the anvisning ended (withdrawn cases only).
    public let withdrawnCause: WithdrawalCause?
    public let createdAt: Date
    /// The proposed or confirmed allocation, if the case has one.
    public let allocation: ActiveAllocation?

    public struct ActiveAllocation: Sendable, Equatable, Encodable {
        public let id: Int64
        public let municipality: String
        public let period: Int
        public let status: String
    }

    /// Still to be received: registered, or proposed and not yet confirmed.
    public var isWaiting: Bool { status == "registered" || status == "proposed" }

    /// Days from `today` to the latest reception date (negative: past it); nil without one.
    public func daysLeft(on today: CalendarDay) -> Int? {
        latestReceptionOn.map { today.days(until: $0) }
    }

    /// Whole days between arrival and `today`, as placement-instance/1 counts waiting.
    public func waitingDays(on today: CalendarDay) -> Int {
        max(0, arrivedOn.days(until: today))
    }

    enum CodingKeys: String, CodingKey {
        case id, reference, ages, needs, language, occupations, familyTies = "family_ties", preferences, excluded
        case arrivedOn = "arrived_on", anvisningOn = "anvisning_on", latestReceptionOn = "latest_reception_on", category, status, withdrawnAt = "withdrawn_at", withdrawnReason = "withdrawn_reason", withdrawnCause = "withdrawn_cause"
        case createdAt = "created_at", allocation
    }

    init(row: Row) throws {
        id = try row.decode("id")
        reference = try row.decode("reference")
        ages = try row.decode("ages")
        // Two parallel arrays rather than a jsonb object: decoding JSON per row would cost
        // seconds when listing tens of thousands of cases.
        let dimensions = try row.decode("need_dimensions", as: [String].self)
        let units = try row.decode("need_units", as: [Int].self)
        needs = Dictionary(zip(dimensions, units), uniquingKeysWith: { first, _ in first })
        language = try row.decode("language")
        occupations = try row.decode("occupations")
        familyTies = try row.decode("family_ties")
        preferences = try row.decode("preferences")
        excluded = try row.decode("excluded")
        arrivedOn = try row.decode("arrived_on")
        anvisningOn = try row.decode("anvisning_on")
        latestReceptionOn = try row.decode("latest_reception_on")
        category = try row.decode("category", as: String?.self).flatMap(CaseCategory.init(rawValue:))
        status = try row.decode("status")
        withdrawnAt = try row.decode("withdrawn_at")
        withdrawnReason = try row.decode("withdrawn_reason")
        withdrawnCause = try (row.decode("withdrawn_cause", as: String?.self)).flatMap(WithdrawalCause.init(rawValue:))
        createdAt = try row.decode("created_at")
        if let allocationID = try row.decode("allocation_id", as: Int64?.self) {
            allocation = ActiveAllocation(id: allocationID, municipality: try row.decode("allocation_municipality"),
                                          period: try row.decode("allocation_period"), status: try row.decode("allocation_status"))
        } else {
            allocation = nil
        }
    }
}

/// One entry of a case's audit trail.
public struct CaseEvent: Sendable, Equatable, Encodable {
    public let at: Date
    public let actor: String
    /// `case.registered`, `allocation.proposed`, `case.withdrawn`, ...
    public let action: String
    public let municipality: String?
    public let allocationID: Int64?
    public let batchID: Int64?
    /// Ids, codes, counts, statuses, and a decision's reason.
    public let details: [String: JSONTree]

    enum CodingKeys: String, CodingKey {
        case at, actor, action, municipality, allocationID = "allocation_id", batchID = "batch_id", details
    }
}

/// Reading and withdrawing cases.
public enum Cases {
    public static let statuses = ["registered", "proposed", "placed", "withdrawn"]

    /// The case's columns, its needs, and its active allocation. One
    /// statement for every filter: the parameters are bound values, so the planner sees
    /// which ones are NULL and drops their conditions.
    static func select(reference: String? = nil, status: String? = nil, municipality: String? = nil,
                       dueWithinDays: Int? = nil, overdue: Bool = false, limit: Int? = nil) -> Query {
        """
        SELECT c.id, c.reference, c.ages, c.language, c.occupations, c.family_ties, c.preferences, c.excluded,
               c.arrived_on, c.anvisning_on, c.latest_reception_on, c.category, c.status, c.withdrawn_at, c.withdrawn_reason, c.withdrawn_cause, c.created_at,
               coalesce(n.dimensions, '{}') AS need_dimensions, coalesce(n.units, '{}') AS need_units,
               a.id AS allocation_id, a.municipality_code AS allocation_municipality,
               a.period AS allocation_period, a.status AS allocation_status
        FROM cases c
        LEFT JOIN allocations a ON a.case_id = c.id AND a.status IN ('proposed', 'confirmed')
        LEFT JOIN LATERAL (
            SELECT array_agg(cn.dimension ORDER BY cn.dimension) AS dimensions,
                   array_agg(cn.units ORDER BY cn.dimension) AS units
            FROM case_needs cn WHERE cn.case_id = c.id
        ) n ON true
        WHERE (\(reference)::text IS NULL OR upper(btrim(c.reference)) = \(reference.map(CaseReference.key)))
          AND (\(status)::text IS NULL OR c.status = \(status))
          AND (\(municipality)::text IS NULL OR a.municipality_code = \(municipality))
          AND (\(dueWithinDays)::int IS NULL OR (c.status IN ('registered', 'proposed')
               AND c.latest_reception_on <= reception_today() + \(dueWithinDays)::int))
          AND (NOT \(overdue) OR (c.status IN ('registered', 'proposed') AND c.latest_reception_on < reception_today()))
        ORDER BY CASE WHEN \(dueWithinDays)::int IS NOT NULL OR \(overdue) THEN c.latest_reception_on END, c.arrived_on, c.id
        LIMIT \(limit)
        """
    }

    /// The case with this reference, nil when there is none.
    public static func find(_ reference: String, on connection: Connection) async throws -> CaseRecord? {
        try await connection.query(select(reference: reference)).first.map(CaseRecord.init(row:))
    }

    /// The case's audit trail, oldest first.
    public static func history(caseID: Int64, on connection: Connection) async throws -> [CaseEvent] {
        let rows = try await connection.query("""
            SELECT at, actor, action, municipality_code, allocation_id, batch_id, details
            FROM audit_events WHERE case_id = \(caseID) ORDER BY at, id
            """)
        return try rows.map { row in
            CaseEvent(at: try row.decode("at"), actor: try row.decode("actor"), action: try row.decode("action"),
                      municipality: try row.decode("municipality_code"), allocationID: try row.decode("allocation_id"),
                      batchID: try row.decode("batch_id"),
                      details: try row.decode("details", as: JSONValue<[String: JSONTree]>.self).value)
        }
    }

    public struct Filter: Sendable {
        public var status: String?
        /// Cases with an active (proposed or confirmed) allocation in this municipality.
        public var municipality: String?
        public var limit: Int?
        /// Waiting cases whose latest reception date is at most this many days away (or past).
        public var dueWithinDays: Int?
        /// Waiting cases past their latest reception date.
        public var overdue: Bool

        public init(status: String? = nil, municipality: String? = nil, limit: Int? = nil,
                    dueWithinDays: Int? = nil, overdue: Bool = false) {
            self.status = status
            self.municipality = municipality
            self.limit = limit
            self.dueWithinDays = dueWithinDays
            self.overdue = overdue
        }
    }

    /// Cases, longest waiting first; with a deadline filter, earliest deadline first.
    public static func list(_ filter: Filter = Filter(), on connection: Connection) async throws -> [CaseRecord] {
        if let status = filter.status, !statuses.contains(status) {
            throw ReceptionError.invalid("unknown status \(status) (one of \(statuses.joined(separator: ", ")))")
        }
        let query = select(status: filter.status, municipality: filter.municipality,
                           dueWithinDays: filter.dueWithinDays, overdue: filter.overdue, limit: filter.limit)
        return try await connection.query(query).map(CaseRecord.init(row:))
    }

    /// The case with `reference`, or `notFound`.
    private static func existing(_ reference: String, on connection: Connection) async throws -> CaseRecord {
        guard let record = try await find(reference, on: connection) else {
            throw ReceptionError.notFound("no case with reference \(reference)")
        }
        return record
    }

    /// Reinstates a withdrawn case: it waits for a placement again (its cause and reason are
    /// cleared; both the withdrawal and the reinstatement stay in the trail).
    public static func reinstate(_ reference: String, on connection: Connection) async throws -> CaseRecord {
        try await connection.withTransaction { connection in
            let record = try await existing(reference, on: connection)
            if record.status != "withdrawn" { throw ReceptionError.refused("case \(reference) is not withdrawn (it is \(record.status))") }
            try await connection.execute("SELECT reinstate_case(\(record.id))")
            return try await existing(reference, on: connection)
        }
    }

    /// Withdraws a case: it will never be placed (the database refuses allocations for it),
    /// and its active allocation, if any, is cancelled and its capacity released.
    public static func withdraw(_ reference: String, reason: String, cause: WithdrawalCause = .other,
                                on connection: Connection) async throws -> CaseRecord {
        let reason = reason.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !reason.isEmpty else { throw ReceptionError.invalid("a withdrawal needs a reason (--reason)") }
        return try await connection.withTransaction { connection in
            let record = try await existing(reference, on: connection)
            if record.status == "withdrawn" { throw ReceptionError.refused("case \(reference) is already withdrawn") }
            // The audited path (sql/017_anvisning_endings.sql): it locks the case and checks again.
            try await connection.execute("SELECT withdraw_case(\(record.id), \(reason), \(cause.rawValue))")
            return try await existing(reference, on: connection)
        }
    }
}
