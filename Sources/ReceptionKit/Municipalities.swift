import Foundation
import Postgres

/// A member municipality of the reception group.
public struct Municipality: Sendable, Equatable, Encodable {
    public let code: String
    public let name: String
    /// False once deactivated: no new placements, history stays.
    public let active: Bool
    /// From this day on it takes part in placements.
    public let joinedOn: CalendarDay
    public let deactivatedAt: Date?
    /// Languages spoken locally, for the placement score.
    public let languages: [String]
    public let shortageOccupations: [String]

    enum CodingKeys: String, CodingKey {
        case code, name, active, joinedOn = "joined_on", deactivatedAt = "deactivated_at"
        case languages, shortageOccupations = "shortage_occupations"
    }

    init(row: Row) throws {
        code = try row.decode("code")
        name = try row.decode("name")
        active = try row.decode("active")
        joinedOn = try row.decode("joined_on")
        deactivatedAt = try row.decode("deactivated_at")
        languages = try row.decode("languages")
        shortageOccupations = try row.decode("shortage_occupations")
    }
}

/// Adding, listing and deactivating municipalities. A municipality is never deleted: its
/// allocations and audit trail refer to it.
public enum Municipalities {

    /// The problems with a new municipality's fields (all of them), empty when it is fine.
    public static func validate(code: String, name: String, languages: [String], shortageOccupations: [String]) -> [ValidationProblem] {
        var problems: [ValidationProblem] = []
        if let reason = CaseFieldRules.municipalityCode(code) { problems.append(ValidationProblem(.arguments, field: "code", reason: reason)) }
        let trimmed = name.trimmingCharacters(in: .whitespaces)
        if trimmed.isEmpty || trimmed.count > 100 {
            problems.append(ValidationProblem(.arguments, field: "name", reason: "must be 1 to 100 characters"))
        }
        for language in languages {
            if let reason = CaseFieldRules.language(language) { problems.append(ValidationProblem(.arguments, field: "languages", reason: reason)) }
        }
        for occupation in shortageOccupations {
            if let reason = CaseFieldRules.occupation(occupation) {
                problems.append(ValidationProblem(.arguments, field: "shortage-occupations", reason: reason))
            }
        }
        return problems
    }

    /// Adds a municipality, active from `joinsOn` (today when nil).
    public static func add(code: String, name: String, joinsOn: CalendarDay? = nil, languages: [String] = [],
                           shortageOccupations: [String] = [],
                           on connection: Connection) async throws -> Municipality {
        let problems = validate(code: code, name: name, languages: languages, shortageOccupations: shortageOccupations)
        guard problems.isEmpty else { throw InvalidInput(problems) }
        do {
            return try await connection.withTransaction { connection in
                let rows = try await connection.query("""
                    INSERT INTO municipalities (code, name, joined_on, languages, shortage_occupations)
                    VALUES (\(code), \(name.trimmingCharacters(in: .whitespaces)), coalesce(\(joinsOn), reception_today()), \(languages), \(shortageOccupations))
                    RETURNING *
                    """)
                return try Municipality(row: rows[0])
            }
        } catch let error as PostgresError where error.sqlState == .uniqueViolation {
            throw ReceptionError.refused("municipality \(code) already exists")
        }
    }

    public static func list(on connection: Connection) async throws -> [Municipality] {
        try await connection.query("SELECT * FROM municipalities ORDER BY code").map(Municipality.init(row:))
    }

    public static func find(_ code: String, on connection: Connection) async throws -> Municipality? {
        try await connection.query("SELECT * FROM municipalities WHERE code = \(code)")
            .first.map(Municipality.init(row:))
    }

    /// Deactivates a municipality: it receives no new placements (the database refuses them),
    /// its open proposals are cancelled, confirmed placements stay. Deactivating an inactive
    /// one changes nothing; `wasActive` says which happened.
    public static func deactivate(_ code: String,
                                  on connection: Connection) async throws -> (municipality: Municipality, wasActive: Bool) {
        try await setActive(false, code: code, on: connection)
    }

    /// Takes a deactivated municipality back into placements.
    public static func reactivate(_ code: String,
                                  on connection: Connection) async throws -> (municipality: Municipality, wasActive: Bool) {
        try await setActive(true, code: code, on: connection)
    }

    private static func setActive(_ active: Bool, code: String,
                                  on connection: Connection) async throws -> (municipality: Municipality, wasActive: Bool) {
        try await connection.withTransaction { connection in
            let before = try await connection.query("SELECT active FROM municipalities WHERE code = \(code) FOR UPDATE")
            guard let row = before.first else { throw ReceptionError.notFound("no municipality with code \(code)") }
            let wasActive = try row.decode("active", as: Bool.self)
            let rows = try await connection.query("""
                UPDATE municipalities SET active = \(active) WHERE code = \(code)
                RETURNING *
                """)
            return (try Municipality(row: rows[0]), wasActive)
        }
    }
}
