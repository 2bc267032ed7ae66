import Placement
import Postgres

/// What a batch counts when capacity is short (sql/020_batch_counts.sql): households, as the
/// standard weights do, or persons, as the kommuntal does — the engine's `placed_person`
/// weight then carries what `placed` carries for households, once per member.
public enum BatchCounting: String, Sendable, CaseIterable, Codable {
    case households
    case persons

    /// The engine's weights for this count; everything but the count is the standard's.
    public var weights: PlacementInstance.Weights {
        var weights = PlacementInstance.Weights.standard
        if self == .persons {
            weights.placedPerson = weights.placed
            weights.placed = 0
        }
        return weights
    }

    /// The cooperation's setting.
    public static func current(on connection: Connection) async throws -> BatchCounting {
        let text = try await connection.query("SELECT counts FROM reception_settings")[0].decode("counts", as: String.self)
        return BatchCounting(rawValue: text) ?? .households
    }

    /// Sets it; only the schema owner may (as the time zone).
    public static func set(_ counting: BatchCounting, on connection: Connection) async throws {
        try await connection.execute("UPDATE reception_settings SET counts = \(counting.rawValue)")
    }
}
