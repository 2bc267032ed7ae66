import ArgumentParser
import Foundation
import ReceptionKit

struct OfficerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "officer",
        abstract: "Keep the names of the logins that act in Reception (administrators).",
        discussion: """
            Every decision and audit event records the database login that made it, which
            no session can change. This table gives each login the name people see in
            listings. Only the administrator who owns the schema can change it. A
            deactivated login can no longer act, though its history stays.

            The login itself is a PostgreSQL role in one of Reception's groups:
              CREATE ROLE anna LOGIN PASSWORD '...' IN ROLE reception_officer;

            Examples:
              reception officer add anna "Anna Lind"
              reception officer list
              reception officer deactivate anna
            """,
        subcommands: [Add.self, List.self, Deactivate.self, Reactivate.self]
    )

    static func table(_ officers: [OfficerRecord]) -> TerminalTable {
        TerminalTable(headers: ["LOGIN", "NAME", "ACTIVE"],
                  rows: officers.map { [$0.login, $0.name, $0.active ? "yes" : "no"] })
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Give a login its display name (again: renames it).",
            discussion: "Example: reception officer add anna \"Anna Lind\"")

        @Argument(help: "The database login.") var login: String
        @Argument(help: "The name people see.") var name: String
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let record = try await Officers.add(login: login, name: name, on: try await connection.connect())
            if output.json { try JSONOutput.print(record) } else { print(OfficerCommand.table([record]).render()) }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the logins and their names.")

        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let officers = try await Officers.list(on: try await connection.connect())
            if output.json { try JSONOutput.print(officers) }
            else if officers.isEmpty { print("No officers recorded. Add one with: reception officer add LOGIN NAME") }
            else { print(OfficerCommand.table(officers).render()) }
        }
    }

    struct Deactivate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Stop a login from acting in Reception; its history stays.",
            discussion: "Example: reception officer deactivate anna")

        @Argument(help: "The database login.") var login: String
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let record = try await Officers.setActive(false, login: login, on: try await connection.connect())
            if output.json { try JSONOutput.print(record) } else { print("Deactivated \(TerminalText.escaped(record.login)) (\(TerminalText.escaped(record.name))).") }
        }
    }

    struct Reactivate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Let a deactivated login act again.",
            discussion: "Example: reception officer reactivate anna")

        @Argument(help: "The database login.") var login: String
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let record = try await Officers.setActive(true, login: login, on: try await connection.connect())
            if output.json { try JSONOutput.print(record) } else { print("Reactivated \(TerminalText.escaped(record.login)) (\(TerminalText.escaped(record.name))).") }
        }
    }
}
