import Foundation
import Postgres

/// A login that acts in Reception, with the name people see. The audit trail records logins
/// (session_user, which no session can forge); names are kept here by an administrator, so a
/// renamed officer's history stays exact. A deactivated login can no longer act (the database
/// refuses it).
public struct OfficerRecord: Sendable, Codable, Equatable {
    public let login: String
    public let name: String
    public let active: Bool
    public let addedAt: Date
    public let deactivatedAt: Date?

    enum CodingKeys: String, CodingKey {
        case login, name, active, addedAt = "added_at", deactivatedAt = "deactivated_at"
    }

    init(row: Row) throws {
        login = try row.decode("login")
        name = try row.decode("name")
        active = try row.decode("active")
        addedAt = try row.decode("added_at")
        deactivatedAt = try row.decode("deactivated_at")
    }
}

public enum Officers {
    /// Records the display name of `login` (an administrator's task). Adding a login that is
    /// there already renames it.
    @discardableResult
    public static func add(login: String, name: String, on connection: Connection) async throws -> OfficerRecord {
        let name = name.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !login.isEmpty, login.count <= 63 else { throw ReceptionError.invalid("a login has 1 to 63 characters") }
        guard !name.isEmpty, name.count <= 100 else { throw ReceptionError.invalid("a name has 1 to 100 characters") }
        let rows = try await connection.query("""
            INSERT INTO officers (login, name) VALUES (\(login), \(name))
            ON CONFLICT (login) DO UPDATE SET name = EXCLUDED.name
            RETURNING *
            """)
        return try OfficerRecord(row: rows[0])
    }

    public static func list(on connection: Connection) async throws -> [OfficerRecord] {
        try await connection.query("SELECT * FROM officers ORDER BY login").map(OfficerRecord.init(row:))
    }

    /// Deactivates or reactivates a login; `notFound` when it is not recorded.
    @discardableResult
    public static func setActive(_ active: Bool, login: String, on connection: Connection) async throws -> OfficerRecord {
        let rows = try await connection.query("UPDATE officers SET active = \(active) WHERE login = \(login) RETURNING *")
        guard let row = rows.first else { throw ReceptionError.notFound("no officer with login \(login)") }
        return try OfficerRecord(row: row)
    }
}
