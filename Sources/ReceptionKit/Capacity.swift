import Foundation
import Postgres

/// One municipality's capacity in one dimension for one period.
public struct CapacityLine: Sendable, Equatable, Encodable {
    public let municipality: String
    public let municipalityName: String
    public let active: Bool
    public let period: Int
    public let dimension: String
    /// What the municipality has agreed to take.
    public let quota: Int
    /// Held by active allocations (proposed or confirmed), within the quota.
    public let used: Int
    /// Placed past the quota by forced overrides; > 0 only when the quota is full.
    public let forced: Int
    /// quota − used.
    public var free: Int { quota - used }

    enum CodingKeys: String, CodingKey {
        case municipality, municipalityName = "municipality_name", active, period, dimension, quota, used, forced, free
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(municipality, forKey: .municipality)
        try container.encode(municipalityName, forKey: .municipalityName)
        try container.encode(active, forKey: .active)
        try container.encode(period, forKey: .period)
        try container.encode(dimension, forKey: .dimension)
        try container.encode(quota, forKey: .quota)
        try container.encode(used, forKey: .used)
        try container.encode(forced, forKey: .forced)
        try container.encode(free, forKey: .free)
    }
}

/// `persons=120`: a quota for one dimension.
public struct QuotaAssignment: Sendable, Equatable {
    public var dimension: String
    public var quota: Int

    public init(dimension: String, quota: Int) {
        self.dimension = dimension
        self.quota = quota
    }

    /// Parses every `dimension=quota`, reporting all that are wrong.
    public static func parse(_ texts: [String]) throws -> [QuotaAssignment] {
        var result: [QuotaAssignment] = []
        var problems: [ValidationProblem] = []
        for text in texts {
            let parts = text.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = parts[0].trimmingCharacters(in: .whitespaces)
            guard parts.count == 2, let quota = Int(parts[1].trimmingCharacters(in: .whitespaces)) else {
                problems.append(ValidationProblem(.arguments, field: CaseFieldRules.quoted(text), reason: "expected dimension=quota, e.g. persons=120"))
                continue
            }
            if !CaseFieldRules.isSnakeCase(name) {
                problems.append(ValidationProblem(.arguments, field: CaseFieldRules.quoted(name), reason: "is not a dimension name (lower-case letters, digits and _)"))
            } else if quota < 0 || quota > 1_000_000 {
                problems.append(ValidationProblem(.arguments, field: name, reason: "\(quota) is not a quota (0 to 1000000)"))
            } else if result.contains(where: { $0.dimension == name }) {
                problems.append(ValidationProblem(.arguments, field: name, reason: "is given twice"))
            } else {
                result.append(QuotaAssignment(dimension: name, quota: quota))
            }
        }
        if texts.isEmpty { problems.append(ValidationProblem(.arguments, field: "", reason: "give at least one dimension=quota, e.g. persons=120")) }
        guard problems.isEmpty else { throw InvalidInput(problems) }
        return result
    }
}

/// Quotas per municipality, period (a calendar year) and dimension. Only the quota is set
/// here; `used` and `forced` are the allocations' business, kept by the database.
public enum Capacity {
    public static let periods = 2000...2100


    /// Sets quotas, creating the rows that do not exist. A quota below what is already
    /// allocated is refused by the database, and then nothing of the call is written.
    /// Unknown dimensions are refused unless `registerNewDimensions`.
    @discardableResult
    public static func set(municipality code: String, period: Int, quotas: [QuotaAssignment],
                           registerNewDimensions: Bool = false,
                           on connection: Connection) async throws -> [CapacityLine] {
        guard periods.contains(period) else {
            throw InvalidInput([ValidationProblem(.arguments, field: "period", reason: "\(period) is not a year from 2000 to 2100")])
        }
        do {
            return try await connection.withTransaction { connection in
                guard try await !connection.query("SELECT 1 FROM municipalities WHERE code = \(code)").isEmpty else {
                    throw ReceptionError.notFound("no municipality with code \(code)")
                }
                let names = quotas.map(\.dimension)
                let known = Set(try await connection.query("SELECT name FROM dimensions WHERE name = ANY(\(names))")
                    .map { try $0.decode("name", as: String.self) })
                let unknown = names.filter { !known.contains($0) }
                if !unknown.isEmpty {
                    guard registerNewDimensions else {
                        throw InvalidInput(unknown.map {
                            ValidationProblem(.arguments, field: $0, reason: "unknown dimension (--new-dimensions registers it)")
                        })
                    }
                    try await connection.execute("""
                        INSERT INTO dimensions (name, description)
                        SELECT name, 'registered with a quota' FROM unnest(\(unknown)) AS name
                        ON CONFLICT (name) DO NOTHING
                        """)
                }
                try await connection.execute("""
                    INSERT INTO capacity (municipality_code, period, dimension, quota)
                    SELECT \(code), \(period), q.dimension, q.quota
                    FROM unnest(\(names), \(quotas.map(\.quota))) AS q (dimension, quota)
                    ORDER BY q.dimension
                    ON CONFLICT (municipality_code, period, dimension) DO UPDATE SET quota = EXCLUDED.quota
                    """)
                return try await show(period: period, municipality: code, on: connection)
            }
        } catch let PostgresError.server(error) where error.sqlState == .checkViolation {
            // capacity_used_within_quota: the trigger's message names the municipality, the
            // dimension, the period and the units allocated; codes and numbers only.
            throw ReceptionError.refused(error.message)
        }
    }

    /// Capacity lines for one period (nil: every period), of one municipality or all.
    public static func show(period: Int?, municipality code: String? = nil,
                            on connection: Connection) async throws -> [CapacityLine] {
        if let code, try await connection.query("SELECT 1 FROM municipalities WHERE code = \(code)").isEmpty {
            throw ReceptionError.notFound("no municipality with code \(code)")
        }
        let rows = try await connection.query("""
            SELECT c.municipality_code, m.name, m.active, c.period, c.dimension, c.quota, c.used, c.forced
            FROM capacity_overview c JOIN municipalities m ON m.code = c.municipality_code
            WHERE (\(period)::int IS NULL OR c.period = \(period))
              AND (\(code)::text IS NULL OR c.municipality_code = \(code))
            ORDER BY c.municipality_code, c.period, c.dimension
            """)
        return try rows.map { row in
            CapacityLine(municipality: try row.decode("municipality_code"), municipalityName: try row.decode("name"),
                         active: try row.decode("active"), period: try row.decode("period"),
                         dimension: try row.decode("dimension"), quota: try row.decode("quota"),
                         used: try row.decode("used"), forced: try row.decode("forced"))
        }
    }
}
