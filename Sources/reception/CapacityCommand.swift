import ArgumentParser
import Foundation
import Postgres
import ReceptionKit

struct CapacityCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "capacity",
        abstract: "Set and show each municipality's quotas.",
        discussion: """
            Capacity is a quota per municipality, period (a calendar year) and
            dimension: persons, dwellings, large_dwellings (households of 5 or more),
            school_places (ages 6–15), preschool_places (ages 1–5), and needs such as
            accessible_dwellings or trauma_care. Allocations use it up: free = quota −
            used. `forced` counts what officers placed past the quota.

            Example:
              reception capacity set 2480 --period 2027 persons=120 dwellings=45 \\
                school_places=30
            """,
        subcommands: [SetQuotas.self, Show.self, PlanCommand.self]
    )

    static func table(_ lines: [CapacityLine]) -> TerminalTable {
        TerminalTable(headers: ["CODE", "MUNICIPALITY", "PERIOD", "DIMENSION", "QUOTA", "USED", "FREE", "FORCED"],
                  rows: lines.map {
                      [$0.municipality, $0.municipalityName + ($0.active ? "" : " (inactive)"), String($0.period), $0.dimension,
                       String($0.quota), String($0.used), String($0.free), String($0.forced)]
                  },
                  numericColumns: [4, 5, 6, 7])
    }

    struct SetQuotas: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "set",
            abstract: "Set quotas for a municipality and period.",
            discussion: """
                Each dimension=quota creates or replaces that quota; other dimensions keep
                theirs. A quota below what is already allocated is refused, and then nothing
                is changed. A dimension nobody has used yet (a new need such as dialysis) is
                refused as a likely typo unless --new-dimensions.

                Example:
                  reception capacity set 2480 --period 2027 persons=120 \\
                    dwellings=45 school_places=30 trauma_care=4
                """)

        @Argument(help: "The municipality code.") var code: String
        @Argument(help: ArgumentHelp("Quotas as dimension=number, e.g. persons=120 dwellings=45.", valueName: "dimension=quota"))
        var quotas: [String] = []
        @Option(help: ArgumentHelp("The calendar year; default the current one.", valueName: "year"))
        var period: Int?
        @Flag(help: "Register dimensions that do not exist yet (a new kind of need).")
        var newDimensions = false
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            do {
                let assignments = try QuotaAssignment.parse(quotas)
                let database = try await connection.connect()
                let lines = try await Capacity.set(
                    municipality: code, period: try await ReceptionClock.period(period, on: database), quotas: assignments,
                    registerNewDimensions: newDimensions, on: database)
                if output.json { try JSONOutput.print(lines) } else { print(CapacityCommand.table(lines).render()) }
            } catch let error as InvalidInput {
                try ProblemReport.fail(error, json: output.json, optionNames: ["period": "--period"])
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show quota, used, free and forced per dimension.",
            discussion: """
                Without a code, every municipality; without --period, the current year.

                Example: reception capacity show --period 2027 2480
                """)

        @Argument(help: "A municipality code; default all.") var code: String?
        @Option(help: ArgumentHelp("The calendar year; default the current one.", valueName: "year"))
        var period: Int?
        @Flag(help: "Every period, not only one.") var allPeriods = false
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: OutputOptions

        func validate() throws {
            if allPeriods && period != nil { throw ValidationError("give --period or --all-periods, not both") }
        }

        func run() async throws {
            let database = try await connection.connect()
            let shown: Int? = allPeriods ? nil : try await ReceptionClock.period(period, on: database)
            let lines = try await Capacity.show(period: shown, municipality: code, on: database)
            if output.json { try JSONOutput.print(lines) }
            else if lines.isEmpty { print("No capacity set\(code.map { " for \($0)" } ?? "")\(shown.map { " in \($0)" } ?? "").") }
            else { print(CapacityCommand.table(lines).render()) }
        }
    }
}
