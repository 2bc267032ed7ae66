import Postgres

/// Who is acting, for the audit trail. The database's triggers read the `reception.actor`
/// setting of the current transaction; without it they record the database login.
public enum Officer {
    /// Sets the acting officer for the rest of the current transaction (call it inside
    /// `withTransaction`). nil or empty leaves the database login as the actor.
    public static func act(as officer: String?, on connection: Connection) async throws {
        guard let officer, !officer.isEmpty else { return }
        try await connection.execute("SELECT set_config('reception.actor', \(officer), true)")
    }
}
