import ArgumentParser
import Foundation
import Postgres
import ReceptionKit

/// Where the database is. Shared by every command that talks to it.
struct ConnectionOptions: ParsableArguments {
    @Option(
        name: .customLong("database-url"),
        help: ArgumentHelp(
            "A libpq connection string or URI (postgresql://user@host/db, or host=... dbname=...).",
            discussion: "Defaults to $RECEPTION_DATABASE_URL, then to libpq's own defaults (PGHOST, PGDATABASE, PGUSER, ~/.pgpass).",
            valueName: "url"))
    var databaseURL: String?

    /// Tries after the first when the server is down, restarting or failing over (0.5, 1, 2,
    /// 4 s apart: about 7.5 s when it refuses at once, never past 15 s), each said on standard
    /// error. Anything else — a wrong database, role or password — is said at once.
    static let connectRetries = 4
    static let connectRetryWindow: Duration = .seconds(15)

    func connect() async throws -> Connection {
        let conninfo = DatabaseURL.resolve(databaseURL)
        var delay: Duration = .milliseconds(500)
        var retry = 0
        let started = ContinuousClock.now
        while true {
            do {
                return try await Connection.connect(conninfo, applicationName: "reception")
            } catch let error as PostgresError where retry < Self.connectRetries && error.isTransientConnectionFailure
                                                      && ContinuousClock.now - started + delay < Self.connectRetryWindow {
                let seconds = String(format: "%.1f", Double(delay.components.attoseconds) / 1e18 + Double(delay.components.seconds))
                FileHandle.standardError.write(Data(
                    "reception: the database cannot be reached; retrying in \(seconds) s (\(retry + 1) of \(Self.connectRetries))\n".utf8))
                try await Task.sleep(for: delay)
                delay *= 2
                retry += 1
            }
        }
    }
}

/// Tables for people, or JSON for scripts.
struct OutputOptions: ParsableArguments {
    @Flag(help: "Print JSON instead of a table (for scripts).")
    var json = false
}
