import Postgres

/// The one clock for "today" and the current period: the database's date in the cooperation's
/// time zone (`reception_today()` of sql/004_clock.sql), so every host agrees and an action at
/// 00:30 on 1 January Swedish time belongs to the new year. Nothing in Reception reads the
/// host's date for this.
public struct ReceptionClock: Sendable, Equatable, Encodable {
    public let today: CalendarDay
    /// The current period: the calendar year of `today`.
    public let period: Int
    public let timeZone: String
    /// Set when the database's "today" is pinned (a rehearsal or test database).
    public let fixedToday: CalendarDay?

    enum CodingKeys: String, CodingKey { case today, period, timeZone = "time_zone", fixedToday = "fixed_today" }

    public static func read(on connection: Connection) async throws -> ReceptionClock {
        let row = try await connection.query("""
            SELECT reception_today() AS today, reception_period() AS period, s.time_zone, s.fixed_today
            FROM reception_settings s
            """)[0]
        return ReceptionClock(today: try row.decode("today"), period: try row.decode("period"),
                              timeZone: try row.decode("time_zone"), fixedToday: try row.decode("fixed_today"))
    }

    public static func today(on connection: Connection) async throws -> CalendarDay {
        try await connection.query("SELECT reception_today() AS today")[0].decode("today")
    }

    public static func period(on connection: Connection) async throws -> Int {
        try await connection.query("SELECT reception_period() AS period")[0].decode("period")
    }

    /// `given`, else the current period.
    public static func period(_ given: Int?, on connection: Connection) async throws -> Int {
        if let given { return given }
        return try await period(on: connection)
    }

    /// Sets the cooperation's time zone (an IANA name; the database refuses unknown ones).
    /// Only the schema owner may.
    public static func setTimeZone(_ zone: String, on connection: Connection) async throws {
        try await connection.execute("UPDATE reception_settings SET time_zone = \(zone)")
    }

    /// Pins "today" to `day` (nil: the real date again). For rehearsal databases and tests;
    /// only the schema owner may.
    public static func fix(today day: CalendarDay?, on connection: Connection) async throws {
        try await connection.execute("UPDATE reception_settings SET fixed_today = \(day)")
    }
}
