import Foundation

/// Where Reception finds its database: `--database-url`, else `RECEPTION_DATABASE_URL`, else
/// libpq's own defaults (`PGHOST`, `PGDATABASE`, `~/.pgpass`, ...), which an empty connection
/// string selects.
public enum DatabaseURL {
    public static let environmentVariable = "RECEPTION_DATABASE_URL"

    public static func resolve(_ option: String?, environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        if let option, !option.isEmpty { return option }
        if let value = environment[environmentVariable], !value.isEmpty { return value }
        return nil
    }
}
