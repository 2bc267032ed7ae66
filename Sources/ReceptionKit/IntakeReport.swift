import Foundation
import Postgres

/// Each municipality's intake in a period against its quota: what councils read.
///
/// "Placed" counts confirmed allocations; "proposed" counts proposals still awaiting an
/// officer's decision (they already hold capacity). The fill rate is placed persons over the
/// persons quota.
public struct IntakeReport: Encodable, Sendable {
    public struct Dimension: Encodable, Sendable, Equatable {
        public let dimension: String
        public let quota: Int
        /// Units held by active allocations within the quota.
        public let used: Int
        /// Units placed past the quota by forced overrides.
        public let forced: Int
        public var free: Int { max(0, quota - used) }

        enum CodingKeys: String, CodingKey { case dimension, quota, used, forced, free }

        public init(dimension: String, quota: Int, used: Int, forced: Int) {
            self.dimension = dimension
            self.quota = quota
            self.used = used
            self.forced = forced
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(dimension, forKey: .dimension)
            try container.encode(quota, forKey: .quota)
            try container.encode(used, forKey: .used)
            try container.encode(forced, forKey: .forced)
            try container.encode(free, forKey: .free)
        }
    }

    public struct Municipality: Encodable, Sendable {
        public let code: String
        public let name: String
        public let active: Bool
        public let personsQuota: Int
        public let placedPersons: Int
        public let placedHouseholds: Int
        public let proposedPersons: Int
        public let proposedHouseholds: Int
        /// Placed members under 18.
        public let placedChildren: Int
        /// Placed households with at least one special need (trauma care, accessible dwelling, ...).
        public let placedWithSpecialNeeds: Int
        public let forcedPlacements: Int
        /// January to December: the persons quota the plan has released by each month's end
        /// (cumulative; the whole quota without a plan) against the persons and households
        /// received by then (confirmed, by the day of confirmation).
        public let months: [Month]
        /// Placed households received (confirmed) by their latest reception date, and after it.
        public let receivedOnTime: Int
        public let receivedLate: Int
        public let dimensions: [Dimension]
        /// The day it joins the cooperation, while that is still ahead (it receives nothing before).
        public let joinsOn: CalendarDay?

        /// Placed persons over the persons quota; nil without a quota.
        public var fillRate: Double? { personsQuota > 0 ? Double(placedPersons) / Double(personsQuota) : nil }

        enum CodingKeys: String, CodingKey {
            case code, name, active, personsQuota = "persons_quota", placedPersons = "placed_persons"
            case placedHouseholds = "placed_households", proposedPersons = "proposed_persons"
            case proposedHouseholds = "proposed_households", placedChildren = "placed_children"
            case placedWithSpecialNeeds = "placed_with_special_needs", forcedPlacements = "forced_placements"
            case dimensions, fillRate = "fill_rate", joinsOn = "joins_on"
            case receivedOnTime = "received_on_time", receivedLate = "received_late", months
        }

        public init(code: String, name: String, active: Bool, personsQuota: Int, placedPersons: Int, placedHouseholds: Int,
                    proposedPersons: Int, proposedHouseholds: Int, placedChildren: Int, placedWithSpecialNeeds: Int,
                    forcedPlacements: Int, receivedOnTime: Int = 0, receivedLate: Int = 0, months: [Month] = [],
                    dimensions: [Dimension], joinsOn: CalendarDay? = nil) {
            self.months = months
            self.receivedOnTime = receivedOnTime
            self.receivedLate = receivedLate
            self.code = code
            self.name = name
            self.active = active
            self.personsQuota = personsQuota
            self.placedPersons = placedPersons
            self.placedHouseholds = placedHouseholds
            self.proposedPersons = proposedPersons
            self.proposedHouseholds = proposedHouseholds
            self.placedChildren = placedChildren
            self.placedWithSpecialNeeds = placedWithSpecialNeeds
            self.forcedPlacements = forcedPlacements
            self.dimensions = dimensions
            self.joinsOn = joinsOn
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(code, forKey: .code)
            try c.encode(name, forKey: .name)
            try c.encode(active, forKey: .active)
            try c.encode(personsQuota, forKey: .personsQuota)
            try c.encode(placedPersons, forKey: .placedPersons)
            try c.encode(placedHouseholds, forKey: .placedHouseholds)
            try c.encode(proposedPersons, forKey: .proposedPersons)
            try c.encode(proposedHouseholds, forKey: .proposedHouseholds)
            try c.encode(placedChildren, forKey: .placedChildren)
            try c.encode(placedWithSpecialNeeds, forKey: .placedWithSpecialNeeds)
            try c.encode(forcedPlacements, forKey: .forcedPlacements)
            try c.encode(receivedOnTime, forKey: .receivedOnTime)
            try c.encode(receivedLate, forKey: .receivedLate)
            try c.encode(months, forKey: .months)
            try c.encode(dimensions, forKey: .dimensions)
            try c.encodeIfPresent(fillRate, forKey: .fillRate)
            try c.encodeIfPresent(joinsOn, forKey: .joinsOn)
        }
    }

    /// One month of a municipality's plan against its intake, cumulative from January.
    public struct Month: Encodable, Sendable, Equatable {
        public let month: Int
        public let plannedPersons: Int
        public let receivedPersons: Int
        public let receivedHouseholds: Int
        public init(month: Int, plannedPersons: Int, receivedPersons: Int, receivedHouseholds: Int) {
            self.month = month
            self.plannedPersons = plannedPersons
            self.receivedPersons = receivedPersons
            self.receivedHouseholds = receivedHouseholds
        }
        enum CodingKeys: String, CodingKey {
            case month, plannedPersons = "planned_persons", receivedPersons = "received_persons", receivedHouseholds = "received_households"
        }
    }

    public let period: Int
    public let generatedAt: Date
    public let municipalities: [Municipality]
    /// Households still waiting, by their latest reception date (sql/013 `deadlines_overview`).
    public let deadlines: Deadlines

    /// Anvisningar of the period that ended without reception, by cause (sql/017 `anvisning_endings`).
    public let endings: Endings
    /// Quota moved between municipalities by agreement (sql/018), each naming both sides.
    public let transfers: [QuotaTransfers.Transfer]

    public struct Endings: Encodable, Sendable, Equatable {
        /// Households per cause; a cause with none is absent.
        public let counts: [WithdrawalCause: Int]
        public var total: Int { counts.values.reduce(0, +) }

        public init(_ counts: [WithdrawalCause: Int] = [:]) { self.counts = counts.filter { $0.value > 0 } }

        public func count(_ cause: WithdrawalCause) -> Int { counts[cause] ?? 0 }

        /// Every cause (0 where none) and the total: `{"declined": 1, ..., "total": 3}`.
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.singleValueContainer()
            var object = Dictionary(uniqueKeysWithValues: WithdrawalCause.allCases.map { ($0.rawValue, count($0)) })
            object["total"] = total
            try c.encode(object)
        }
    }

    public struct Deadlines: Encodable, Sendable, Equatable {
        /// Waiting past their latest reception date.
        public let waitingPastDate: Int
        /// Waiting, with the date within the next 14 days.
        public let dueWithin14Days: Int
        /// Waiting, with no anvisning recorded (registered before anvisningar were).
        public let withoutDate: Int

        public init(waitingPastDate: Int = 0, dueWithin14Days: Int = 0, withoutDate: Int = 0) {
            self.waitingPastDate = waitingPastDate
            self.dueWithin14Days = dueWithin14Days
            self.withoutDate = withoutDate
        }

        enum CodingKeys: String, CodingKey {
            case waitingPastDate = "waiting_past_date", dueWithin14Days = "due_within_14_days", withoutDate = "without_date"
        }
    }

    /// The sum over municipalities, for the report's last line.
    public var total: Municipality {
        Municipality(
            code: "", name: "Total", active: true,
            personsQuota: municipalities.reduce(0) { $0 + $1.personsQuota },
            placedPersons: municipalities.reduce(0) { $0 + $1.placedPersons },
            placedHouseholds: municipalities.reduce(0) { $0 + $1.placedHouseholds },
            proposedPersons: municipalities.reduce(0) { $0 + $1.proposedPersons },
            proposedHouseholds: municipalities.reduce(0) { $0 + $1.proposedHouseholds },
            placedChildren: municipalities.reduce(0) { $0 + $1.placedChildren },
            placedWithSpecialNeeds: municipalities.reduce(0) { $0 + $1.placedWithSpecialNeeds },
            forcedPlacements: municipalities.reduce(0) { $0 + $1.forcedPlacements },
            receivedOnTime: municipalities.reduce(0) { $0 + $1.receivedOnTime },
            receivedLate: municipalities.reduce(0) { $0 + $1.receivedLate },
            dimensions: [])
    }

    enum CodingKeys: String, CodingKey { case period, generatedAt = "generated_at", municipalities, total, deadlines, endings, transfers }

    public init(period: Int, generatedAt: Date, municipalities: [Municipality], deadlines: Deadlines = Deadlines(), endings: Endings = Endings(),
                transfers: [QuotaTransfers.Transfer] = []) {
        self.period = period
        self.generatedAt = generatedAt
        self.municipalities = municipalities
        self.deadlines = deadlines
        self.endings = endings
        self.transfers = transfers
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(period, forKey: .period)
        try c.encode(generatedAt, forKey: .generatedAt)
        try c.encode(municipalities, forKey: .municipalities)
        try c.encode(total, forKey: .total)
        try c.encode(deadlines, forKey: .deadlines)
        try c.encode(endings, forKey: .endings)
        try c.encode(transfers, forKey: .transfers)
    }

    /// Reads the report in one snapshot, so its numbers add up even while batches run.
    /// Lists the municipalities that are active or had capacity or placements in the period.
    public static func load(period: Int, municipality: String? = nil, on connection: Connection) async throws -> IntakeReport {
        try await connection.withTransaction(isolation: .repeatableRead, readOnly: true) { connection in
            let rows = try await connection.query("""
                -- intake_by_municipality (sql/008_privileges.sql) counts the active allocations;
                -- it is what auditors may read, so every role's report comes from it.
                WITH intake AS (
                    SELECT * FROM intake_by_municipality WHERE period = \(period)
                )
                SELECT m.code, m.name, m.active, CASE WHEN m.joined_on > reception_today() THEN m.joined_on END AS joins_on,
                       coalesce(i.placed_persons, 0)::bigint AS placed_persons, coalesce(i.placed_households, 0)::bigint AS placed_households,
                       coalesce(i.proposed_persons, 0)::bigint AS proposed_persons, coalesce(i.proposed_households, 0)::bigint AS proposed_households,
                       coalesce(i.placed_children, 0)::bigint AS placed_children, coalesce(i.placed_with_needs, 0)::bigint AS placed_with_needs,
                       coalesce(i.forced_placements, 0)::bigint AS forced_placements,
                       coalesce(i.received_on_time, 0)::bigint AS received_on_time, coalesce(i.received_late, 0)::bigint AS received_late
                FROM municipalities m LEFT JOIN intake i ON i.municipality_code = m.code
                WHERE (\(municipality)::text IS NULL OR m.code = \(municipality))
                  AND (m.active OR i.municipality_code IS NOT NULL
                       OR EXISTS (SELECT 1 FROM capacity_overview k WHERE k.municipality_code = m.code AND k.period = \(period)))
                ORDER BY m.code
                """)
            let capacityRows = try await connection.query("""
                SELECT municipality_code, dimension, quota, used, forced FROM capacity_overview
                WHERE period = \(period) AND (\(municipality)::text IS NULL OR municipality_code = \(municipality))
                ORDER BY municipality_code, dimension
                """)
            // The plan (persons) and the intake by month.
            var releases: [String: [CapacityPlan.Release]] = [:]
            for row in try await connection.query("""
                SELECT municipality_code, available_from::text AS day, units FROM capacity_plan
                WHERE period = \(period) AND dimension = 'persons' AND (\(municipality)::text IS NULL OR municipality_code = \(municipality))
                """) {
                if let day = CaseFieldRules.day(try row.decode("day", as: String.self)) {
                    releases[try row.decode("municipality_code"), default: []].append(.init(from: day, units: try row.decode("units")))
                }
            }
            var received: [String: [Int: (persons: Int, households: Int)]] = [:]
            for row in try await connection.query("""
                SELECT municipality_code, month, persons, households FROM intake_by_month
                WHERE period = \(period) AND (\(municipality)::text IS NULL OR municipality_code = \(municipality))
                """) {
                received[try row.decode("municipality_code"), default: [:]][try row.decode("month", as: Int.self)] =
                    (try row.decode("persons"), try row.decode("households"))
            }
            func months(_ code: String, quota: Int) -> [Month] {
                let planned = CapacityPlan.releasedByMonthEnd(releases[code] ?? [], quota: quota, period: period)
                var persons = 0, households = 0
                return (1...12).map { month in
                    persons += received[code]?[month]?.persons ?? 0
                    households += received[code]?[month]?.households ?? 0
                    return Month(month: month, plannedPersons: planned[month - 1], receivedPersons: persons, receivedHouseholds: households)
                }
            }
            var dimensions: [String: [Dimension]] = [:]
            for row in capacityRows {
                dimensions[try row.decode("municipality_code"), default: []].append(Dimension(
                    dimension: try row.decode("dimension"), quota: try row.decode("quota"),
                    used: try row.decode("used"), forced: try row.decode("forced")))
            }
            let municipalities = try rows.map { row in
                let code = try row.decode("code", as: String.self)
                let personsQuota = dimensions[code]?.first { $0.dimension == "persons" }?.quota ?? 0
                return Municipality(
                    code: code, name: try row.decode("name"), active: try row.decode("active"),
                    personsQuota: personsQuota, placedPersons: try row.decode("placed_persons"),
                    placedHouseholds: try row.decode("placed_households"), proposedPersons: try row.decode("proposed_persons"),
                    proposedHouseholds: try row.decode("proposed_households"), placedChildren: try row.decode("placed_children"),
                    placedWithSpecialNeeds: try row.decode("placed_with_needs"), forcedPlacements: try row.decode("forced_placements"),
                    receivedOnTime: try row.decode("received_on_time"), receivedLate: try row.decode("received_late"),
                    months: months(code, quota: personsQuota),
                    dimensions: dimensions[code] ?? [], joinsOn: try row.decode("joins_on"))
            }
            let waiting = try await connection.query("SELECT waiting_past_date, due_within_14_days, without_date FROM deadlines_overview")[0]
            let deadlines = Deadlines(waitingPastDate: try waiting.decode("waiting_past_date"),
                                      dueWithin14Days: try waiting.decode("due_within_14_days"),
                                      withoutDate: try waiting.decode("without_date"))
            var ended: [WithdrawalCause: Int] = [:]
            for row in try await connection.query("SELECT cause, households FROM anvisning_endings WHERE period = \(period)") {
                if let cause = WithdrawalCause(rawValue: try row.decode("cause")) { ended[cause] = try row.decode("households") }
            }
            let endings = Endings(ended)
            let transfers = try await QuotaTransfers.list(period: period, municipality: municipality, on: connection).reversed()
            return IntakeReport(period: period, generatedAt: Date(), municipalities: municipalities, deadlines: deadlines, endings: endings,
                                transfers: Array(transfers))
        }
    }
}
