import Postgres
import ReceptionKit
import TestSupport

/// A fresh migrated database with a connection, for the registration tests.
enum RegistrationTestDatabase {
    static func with<T>(_ body: (Connection) async throws -> T) async throws -> T {
        try await TestDatabase.withMigratedDatabase { url in
            let connection = try await Connection.connect(url, applicationName: "reception-tests")
            return try await body(connection)
        }
    }

    /// Umeå and Vännäs with room for a few households in 2026.
    static func seed(on connection: Connection) async throws {
        for (code, name) in [("2480", "Umeå"), ("2460", "Vännäs")] {
            _ = try await Municipalities.add(code: code, name: name, joinsOn: CalendarDay(year: 2020, month: 1, day: 1),
                                             on: connection)
            try await Capacity.set(municipality: code, period: 2026, quotas: [
                .init(dimension: "persons", quota: 10), .init(dimension: "dwellings", quota: 4),
                .init(dimension: "school_places", quota: 3), .init(dimension: "preschool_places", quota: 3),
                .init(dimension: "large_dwellings", quota: 1), .init(dimension: "trauma_care", quota: 1),
                .init(dimension: "accessible_dwellings", quota: 1),
            ], on: connection)
        }
    }

    static func rules(on connection: Connection, acceptNewNeeds: Bool = false) async throws -> CaseRules {
        try await CaseRules.load(on: connection, acceptNewNeeds: acceptNewNeeds)
    }

    static func count(_ table: String, on connection: Connection) async throws -> Int {
        switch table {
        case "cases": try await connection.query("SELECT count(*) AS n FROM cases")[0].decode("n")
        case "case_needs": try await connection.query("SELECT count(*) AS n FROM case_needs")[0].decode("n")
        default: fatalError("unknown table \(table)")
        }
    }
}
