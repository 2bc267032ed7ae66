import ArgumentParser
import Foundation
import Postgres
import ReceptionKit

struct DatabaseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "db",
        abstract: "Create and upgrade the database schema.",
        discussion: """
            The schema lives in numbered SQL files (sql/001_domain.sql, ...). `migrate`
            applies the pending ones in order, each in its own transaction, and records
            each with a checksum; it refuses to run if an applied file has changed since.
            Two migrations started at once are safe: the second waits for the first, then
            finds nothing to do.

            The sql/ folder is found beside the executable's build folder, or in the
            current folder; set RECEPTION_SQL_DIR to point elsewhere.
            """,
        subcommands: [Migrate.self, Status.self]
    )

    struct Migrate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Apply the pending migrations.",
            discussion: "Example: reception db migrate --database-url postgresql:///reception")

        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let migrator = try Migrations.migrator()
            let database = try await connection.connect()
            let applied = try await migrator.migrate(on: database) { migration in
                if !output.json { FileHandle.standardError.write(Data("applying \(migration.fileName)\n".utf8)) }
            }
            if output.json {
                try JSONOutput.print(["applied": applied.map(\.fileName)])
            } else if applied.isEmpty {
                print("The database is up to date (\(migrator.migrations.count) migrations).")
            } else {
                print("Applied \(applied.count) migration\(applied.count == 1 ? "" : "s"): \(applied.map(\.fileName).joined(separator: ", ")).")
            }
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List applied and pending migrations.",
            discussion: "Exits 1 when a migration is pending, changed or missing, so scripts can check it. Example: reception db status --json")

        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: OutputOptions

        struct Row: Encodable {
            let version: Int
            let name: String
            let state: String
            let appliedAt: Date?
        }

        func run() async throws {
            let migrator = try Migrations.migrator()
            let database = try await connection.connect()
            let rows = try await migrator.status(on: database).map { entry -> Row in
                switch entry.state {
                case .applied(let at): Row(version: entry.version, name: entry.name, state: "applied", appliedAt: at)
                case .pending: Row(version: entry.version, name: entry.name, state: "pending", appliedAt: nil)
                case .changed(let at): Row(version: entry.version, name: entry.name, state: "changed", appliedAt: at)
                case .missing(let at): Row(version: entry.version, name: entry.name, state: "missing", appliedAt: at)
                }
            }
            if output.json {
                try JSONOutput.print(rows)
            } else {
                let formatter = ISO8601DateFormatter()
                print(TextTable(
                    headers: ["VERSION", "NAME", "STATE", "APPLIED AT"],
                    rows: rows.map { [String(format: "%03d", $0.version), $0.name, $0.state, $0.appliedAt.map(formatter.string) ?? ""] }
                ).render())
            }
            if rows.contains(where: { $0.state != "applied" }) { throw ExitCode(ExitCodes.failure) }
        }
    }
}
