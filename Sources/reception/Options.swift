import ArgumentParser
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

    func connect() async throws -> Connection {
        try await Connection.connect(DatabaseURL.resolve(databaseURL), applicationName: "reception")
    }
}

/// Tables for people, or JSON for scripts.
struct OutputOptions: ParsableArguments {
    @Flag(help: "Print JSON instead of a table (for scripts).")
    var json = false
}
