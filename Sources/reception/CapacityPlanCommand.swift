import ArgumentParser
import Foundation
import Postgres
import ReceptionKit

/// `reception capacity plan`: a municipality's quota released over the year.
struct PlanCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Spread a municipality's quota over the year: what it releases, month by month.",
        discussion: """
            A batch on a day uses only what the municipality's plan has released by that
            day (at most the quota), less what is used. A dimension without a plan has its
            whole quota released from 1 January, as before. Officers' overrides stay bound
            by the quota alone: they are decisions about one household.

            Examples:
              reception capacity plan set 2480 --period 2027 persons=10/month dwellings=1/month
              reception capacity plan set 2480 --period 2027 large_dwellings=1@2027-03-15 large_dwellings=1@2027-09-01
              reception capacity plan set 2480 --period 2027 --file umea-2027.csv
              reception capacity plan show 2480 --period 2027
              reception capacity plan clear 2480 --period 2027 persons
            """,
        subcommands: [SetPlan.self, ShowPlan.self, ClearPlan.self])

    static func table(_ lines: [CapacityPlan.Line]) -> TerminalTable {
        let months = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
        return TerminalTable(headers: ["DIMENSION", "QUOTA", "PLAN"] + months, rows: lines.map { line in
            [line.dimension, String(line.quota), line.releases.isEmpty ? "none" : "\(line.releases.count) releases"]
                + line.byMonth.map(String.init)
        }, numericColumns: Set(3..<15).union([1]))
    }

    static func print(_ lines: [CapacityPlan.Line], code: String, period: Int) {
        Swift.print("Released by the end of each month of \(period) in \(code) (cumulative, at most the quota):")
        Swift.print(table(lines).render())
    }

    struct SetPlan: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "set",
            abstract: "Set the plan of one or more dimensions (each replaces that dimension's plan).",
            discussion: """
                dimension=N/month releases N on the first of each month; dimension=N@YYYY-MM-DD
                releases N on that day (give a dimension several times for several days).
                --file reads a CSV with the columns dimension,from,units, where from is a day
                (YYYY-MM-DD) or a month (YYYY-MM, its first day). The dimension must have a
                quota for the period already. A plan may release more than the quota; no more
                than the quota is ever used. Recorded in the audit trail.
                """)

        @Argument(help: "The municipality code.") var code: String
        @Argument(help: ArgumentHelp("Releases: persons=10/month, dwellings=2@2027-03-15.", valueName: "release"))
        var releases: [String] = []
        @Option(help: ArgumentHelp("A CSV of releases: dimension,from,units.", valueName: "file")) var file: String?
        @Option(help: ArgumentHelp("The calendar year; default the current one.", valueName: "year")) var period: Int?
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: OutputOptions

        func validate() throws {
            if releases.isEmpty && file == nil { throw ValidationError("give releases (persons=10/month) or --file") }
            if !releases.isEmpty && file != nil { throw ValidationError("give releases or --file, not both") }
        }

        func run() async throws {
            let database = try await connection.connect()
            let year = try await ReceptionClock.period(period, on: database)
            do {
                let plans: [String: [CapacityPlan.Release]]
                if let file {
                    let data: [UInt8]
                    do {
                        data = try ImportFile.contents(atPath: file, limit: 16 << 20)
                    } catch {
                        throw CLIError("\(file): cannot read: \(error)", exitCode: ExitCodes.noInput)
                    }
                    plans = try CapacityPlan.parseCSV(data, period: year)
                } else {
                    plans = try CapacityPlan.parse(releases, period: year)
                }
                let lines = try await CapacityPlan.set(municipality: code, period: year, plans: plans, on: database)
                if output.json { try JSONOutput.print(lines) } else { PlanCommand.print(lines, code: code, period: year) }
            } catch let error as InvalidInput {
                try ProblemReport.fail(error, json: output.json, optionNames: ["period": "--period"])
            }
        }
    }

    struct ShowPlan: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "show",
            abstract: "Show what a municipality's plan releases by the end of each month.")

        @Argument(help: "The municipality code.") var code: String
        @Option(help: ArgumentHelp("The calendar year; default the current one.", valueName: "year")) var period: Int?
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let database = try await connection.connect()
            let year = try await ReceptionClock.period(period, on: database)
            let lines = try await CapacityPlan.show(municipality: code, period: year, on: database)
            if output.json { try JSONOutput.print(lines); return }
            if lines.isEmpty { Swift.print("No capacity set for \(code) in \(year)."); return }
            PlanCommand.print(lines, code: code, period: year)
        }
    }

    struct ClearPlan: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "clear",
            abstract: "Remove the plan of dimensions: their whole quota is released again.")

        @Argument(help: "The municipality code.") var code: String
        @Argument(help: "The dimensions whose plan to remove.") var dimensions: [String]
        @Option(help: ArgumentHelp("The calendar year; default the current one.", valueName: "year")) var period: Int?
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: OutputOptions

        func validate() throws {
            if dimensions.isEmpty { throw ValidationError("name the dimensions whose plan to remove, e.g. persons") }
        }

        func run() async throws {
            let database = try await connection.connect()
            let year = try await ReceptionClock.period(period, on: database)
            let lines = try await CapacityPlan.set(municipality: code, period: year,
                                                   plans: Dictionary(uniqueKeysWithValues: dimensions.map { ($0, []) }), on: database)
            if output.json { try JSONOutput.print(lines) } else { PlanCommand.print(lines, code: code, period: year) }
        }
    }
}
