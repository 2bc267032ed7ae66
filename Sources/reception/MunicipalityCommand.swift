import ArgumentParser
import Foundation
import Postgres
import ReceptionKit

struct MunicipalityCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "municipality",
        abstract: "Add, list and deactivate the municipalities of the group.",
        discussion: """
            A municipality is identified by its four-digit code (Umeå 2480). It is never
            deleted: deactivating it stops new placements there (the database refuses
            them and cancels its open proposals) while its confirmed placements and
            history stay.

            Example, Örnsköldsvik joining Umeåregionen from the new year:
              reception municipality add 2284 Örnsköldsvik --joins 2027-01-01 \\
                --languages ar,so
            """,
        subcommands: [Add.self, List.self, Deactivate.self, Reactivate.self]
    )

    static func rows(_ municipalities: [Municipality]) -> TerminalTable {
        TerminalTable(headers: ["CODE", "NAME", "ACTIVE", "JOINED", "LANGUAGES", "SHORTAGE OCCUPATIONS"],
                  rows: municipalities.map {
                      [$0.code, $0.name, $0.active ? "yes" : "no", $0.joinedOn.description,
                       $0.languages.joined(separator: ","), $0.shortageOccupations.joined(separator: ",")]
                  })
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a municipality to the group.",
            discussion: """
                The languages and shortage occupations feed the placement score (a household
                that speaks a local language, or works in a shortage occupation, fits
                better).

                Example:
                  reception municipality add 2284 Örnsköldsvik --joins 2027-01-01 \\
                    --languages ar,so --shortage-occupations assistant_nurse,welder
                """)

        @Argument(help: "The four-digit municipality code, e.g. 2284.") var code: String
        @Argument(help: "The municipality's name, e.g. Örnsköldsvik.") var name: String
        @Option(help: ArgumentHelp("The day it joins (YYYY-MM-DD); default today.", valueName: "date"))
        var joins: String?
        @Option(help: ArgumentHelp("Languages spoken locally, ISO 639 codes separated by commas.", valueName: "codes"))
        var languages: String?
        @Option(help: ArgumentHelp("Occupations in shortage there, separated by commas.", valueName: "codes"))
        var shortageOccupations: String?
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: OutputOptions

        func validate() throws {
            if let joins, CalendarDay(joins) == nil { throw ValidationError("--joins: \(joins) is not a date (YYYY-MM-DD)") }
        }

        func run() async throws {
            let database = try await connection.connect()
            do {
                let added = try await Municipalities.add(
                    code: code, name: name, joinsOn: joins.flatMap(CalendarDay.init),
                    languages: list(languages), shortageOccupations: list(shortageOccupations),
                    on: database)
                if output.json { try JSONOutput.print(added) }
                else { print("Added municipality \(added.code) \(TerminalText.escaped(added.name)), joining on \(added.joinedOn).") }
            } catch let error as InvalidInput {
                try ProblemReport.fail(error, json: output.json)
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the municipalities, active and deactivated.",
            discussion: "Example: reception municipality list --json")

        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let municipalities = try await Municipalities.list(on: try await connection.connect())
            if output.json { try JSONOutput.print(municipalities) }
            else { print(MunicipalityCommand.rows(municipalities).render()) }
        }
    }

    struct Deactivate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Stop new placements in a municipality; its history stays.",
            discussion: """
                Its open proposals are cancelled (those households become pending again for
                the next batch); confirmed placements stay. Running it again changes
                nothing.

                Example: reception municipality deactivate 2403
                """)

        @Argument(help: "The municipality code.") var code: String
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let (municipality, wasActive) = try await Municipalities.deactivate(code, on: try await connection.connect())
            if output.json { try JSONOutput.print(municipality) }
            else if wasActive { print("Deactivated municipality \(municipality.code) \(TerminalText.escaped(municipality.name)): it takes no new placements.") }
            else { print("Municipality \(municipality.code) \(TerminalText.escaped(municipality.name)) was already inactive.") }
        }
    }

    struct Reactivate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Take a deactivated municipality back into placements.",
            discussion: "Example: reception municipality reactivate 2403")

        @Argument(help: "The municipality code.") var code: String
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let (municipality, wasActive) = try await Municipalities.reactivate(code, on: try await connection.connect())
            if output.json { try JSONOutput.print(municipality) }
            else if wasActive { print("Municipality \(municipality.code) \(TerminalText.escaped(municipality.name)) was already active.") }
            else { print("Reactivated municipality \(municipality.code) \(TerminalText.escaped(municipality.name)).") }
        }
    }
}

/// "ar, so" → ["ar", "so"].
func list(_ text: String?) -> [String] {
    guard let text else { return [] }
    return text.split(whereSeparator: { $0 == "," || $0 == ";" })
        .map { $0.trimmingCharacters(in: .whitespaces) }
        .filter { !$0.isEmpty }
}
