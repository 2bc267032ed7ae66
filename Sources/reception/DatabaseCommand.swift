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
        subcommands: [Migrate.self, Status.self, Clock.self, Counts.self]
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
            try await Migrations.secureDatabase(on: database)
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
                print(TerminalTable(
                    headers: ["VERSION", "NAME", "STATE", "APPLIED AT"],
                    rows: rows.map { [String(format: "%03d", $0.version), $0.name, $0.state, $0.appliedAt.map(formatter.string) ?? ""] }
                ).render())
            }
            if !output.json, !rows.contains(where: { $0.state != "applied" }),
               let clock = try? await ReceptionClock.read(on: database) {
                print("Today is \(clock.today) in \(clock.timeZone) (period \(clock.period)).")
                if let fixed = clock.fixedToday {
                    FileHandle.standardError.write(Data("warning: the clock is fixed at \(fixed) (a rehearsal or test database); reception db clock --unfix ends that\n".utf8))
                }
            }
            if rows.contains(where: { $0.state != "applied" }) { throw ExitCode(ExitCodes.failure) }
        }
    }

    struct Clock: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show or set the cooperation's clock: its time zone, and a fixed day for rehearsals.",
            discussion: """
                Reception's "today" and current period are the database's date in the
                cooperation's time zone (default Europe/Stockholm), the same for every host:
                an override at 00:30 on 1 January Swedish time counts against the new year.

                A rehearsal or training database can be fixed at one day (--fix); a live one
                never should be. Setting either needs the administrator who owns the schema.

                Examples:
                  reception db clock
                  reception db clock --time-zone Europe/Helsinki
                  reception db clock --fix 2027-01-15
                  reception db clock --unfix
                """)

        @Option(name: .customLong("time-zone"), help: ArgumentHelp("An IANA time zone name.", valueName: "zone"))
        var timeZone: String?
        @Option(help: ArgumentHelp("Fix today at this day (YYYY-MM-DD).", valueName: "date")) var fix: String?
        @Flag(help: "Use the real date again.") var unfix = false
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: OutputOptions

        func validate() throws {
            if fix != nil && unfix { throw ValidationError("give --fix or --unfix, not both") }
            if let fix {
                guard let day = CalendarDay(fix) else { throw ValidationError("--fix: \(fix) is not a date (YYYY-MM-DD)") }
                // The database's own limits (sql/004_clock.sql), said before connecting.
                guard (2000...2099).contains(day.year) else { throw ValidationError("--fix: a day from 2000-01-01 to 2099-12-31") }
            }
        }

        func run() async throws {
            let database = try await connection.connect()
            try await database.withTransaction { database in
                if let timeZone { try await ReceptionClock.setTimeZone(timeZone, on: database) }
                if let fix { try await ReceptionClock.fix(today: CalendarDay(fix), on: database) }
                if unfix { try await ReceptionClock.fix(today: nil, on: database) }
            }
            let clock = try await ReceptionClock.read(on: database)
            if output.json { return try JSONOutput.print(clock) }
            print("Today is \(clock.today) in \(clock.timeZone) (period \(clock.period))"
                  + (clock.fixedToday != nil ? ", fixed: this is a rehearsal or test database." : ", the real date."))
        }
    }

    struct Counts: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show or set what batches count when capacity is short: households or persons.",
            discussion: """
                With households (the default), a batch that cannot place everyone places as
                many households as fit: two single adults before a family of four for the
                same persons' places. The kommuntal of the Settlement Act is a number of
                persons; a cooperation that wants its batches to serve that figure counts
                persons: each member then weighs what a household weighed (the engine's
                placed_person weight), and the family is placed. Setting it needs the
                administrator who owns the schema; every batch records what it counted
                (reception batch show), and reception simulate --counts shows what the
                choice does over a year.

                Examples:
                  reception db counts
                  reception db counts persons
                """)

        @Argument(help: "households or persons; omit it to show the setting.") var counting: BatchCounting?
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let database = try await connection.connect()
            if let counting { try await BatchCounting.set(counting, on: database) }
            let current = try await BatchCounting.current(on: database)
            if output.json { return try JSONOutput.print(["counts": current.rawValue]) }
            print(current == .households
                  ? "Batches count households: when capacity is short, as many households as fit are placed."
                  : "Batches count persons: when capacity is short, as many persons as fit are placed.")
        }
    }
}

extension BatchCounting: ExpressibleByArgument {}
