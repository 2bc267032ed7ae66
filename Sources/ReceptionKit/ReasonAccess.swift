import Postgres

/// Whether this login may read a table's free-text reasons: an officer reads the table itself,
/// an auditor only its redacted view. The database decides (its grants), not the caller.
enum ReasonAccess {
    static func mayRead(_ table: String, on connection: Connection) async throws -> Bool {
        try await connection.query("SELECT has_table_privilege(\(table)::text, 'SELECT') AS ok")[0].decode("ok", as: Bool.self)
    }
}
