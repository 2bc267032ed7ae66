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
        subcommands: [SetQuotas.self, Show.self, PlanCommand.self, Revisions.self, Transfer.self, Transfers.self]
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

                --reason records a revision of existing quotas (the county's figure revised
                mid-year): the day, the previous and new quota, who and why, listed by
                `reception capacity revisions`. Batches after it use the new quota.

                Example:
                  reception capacity set 2480 --period 2027 persons=120 \\
                    dwellings=45 school_places=30 trauma_care=4
                  reception capacity set 2480 --period 2027 persons=180 \\
                    --reason "county figure revised by the Migration Agency, decision 2027-06-12"
                """)

        @Argument(help: "The municipality code.") var code: String
        @Argument(help: ArgumentHelp("Quotas as dimension=number, e.g. persons=120 dwellings=45.", valueName: "dimension=quota"))
        var quotas: [String] = []
        @Option(help: ArgumentHelp("The calendar year; default the current one.", valueName: "year"))
        var period: Int?
        @Flag(help: "Register dimensions that do not exist yet (a new kind of need).")
        var newDimensions = false
        @Option(help: ArgumentHelp("Record this as a revision of existing quotas, with why (no personal data).", valueName: "text"))
        var reason: String?
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            do {
                let assignments = try QuotaAssignment.parse(quotas)
                let database = try await connection.connect()
                if let reason {
                    let year = try await ReceptionClock.period(period, on: database)
                    let revisions = try await QuotaRevisions.revise(municipality: code, period: year, quotas: assignments,
                                                                    reason: reason, on: database)
                    if output.json { try JSONOutput.print(revisions.prefix(assignments.count).map { $0 }); return }
                    for revision in revisions.prefix(assignments.count) {
                        print("Revised \(revision.dimension) in \(revision.municipality) for \(revision.period): \(revision.previous) → \(revision.quota), on \(revision.revisedOn).")
                    }
                    print(CapacityCommand.table(try await Capacity.show(period: year, municipality: code, on: database)).render())
                    return
                }
                let lines = try await Capacity.set(
                    municipality: code, period: try await ReceptionClock.period(period, on: database), quotas: assignments,
                    registerNewDimensions: newDimensions, on: database)
                if output.json { try JSONOutput.print(lines) } else { print(CapacityCommand.table(lines).render()) }
            } catch let error as InvalidInput {
                try ProblemReport.fail(error, json: output.json, optionNames: ["period": "--period"])
            }
        }
    }

    struct Revisions: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List revised quotas: the day, previous and new quota, who and why.",
            discussion: """
                An auditor's login sees the revisions without their reasons.

                Example: reception capacity revisions --period 2027
                """)

        @Argument(help: "A municipality code; default all.") var code: String?
        @Option(help: ArgumentHelp("The calendar year; default the current one.", valueName: "year")) var period: Int?
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let database = try await connection.connect()
            let year = try await ReceptionClock.period(period, on: database)
            let revisions = try await QuotaRevisions.list(period: year, municipality: code, on: database)
            if output.json { try JSONOutput.print(revisions); return }
            if revisions.isEmpty { print("No quota revised in \(year)\(code.map { " for \($0)" } ?? "")."); return }
            print(TerminalTable(headers: ["DAY", "MUNICIPALITY", "DIMENSION", "FROM", "TO", "BY", "REASON"], rows: revisions.map {
                [$0.revisedOn.description, $0.municipality, $0.dimension, String($0.previous), String($0.quota), $0.revisedBy,
                 $0.reason.map { TerminalText.escaped($0) } ?? "(not shown to this role)"]
            }, numericColumns: [3, 4]).render())
        }
    }

    struct Transfer: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Transfer quota from one municipality to another, by agreement.",
            discussion: """
                Moves units of each dimension's quota in one step: the giver's quota goes down
                (refused below what it has already allocated), the receiver's goes up. The
                transfer is recorded once, with the day, both sides, who and why; the intake
                report shows it on both sides, and batches after it use both new quotas. A
                receiver with a plan for the dimension gets the new units as its plan releases
                them: set its plan again (reception capacity plan set) to place them sooner.

                Example:
                  reception capacity transfer --from 2480 --to 2460 --period 2027 persons=5 \\
                    --reason "agreement of 3 March: Vännäs takes five of Umeå's places"
                """)

        @Option(help: ArgumentHelp("The municipality giving quota.", valueName: "code")) var from: String
        @Option(help: ArgumentHelp("The municipality receiving it.", valueName: "code")) var to: String
        @Argument(help: ArgumentHelp("Units as dimension=number, e.g. persons=5 dwellings=2.", valueName: "dimension=units"))
        var units: [String]
        @Option(help: ArgumentHelp("The calendar year; default the current one.", valueName: "year")) var period: Int?
        @Option(help: ArgumentHelp("The agreement (no personal data).", valueName: "text")) var reason: String
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            do {
                let assignments = try QuotaAssignment.parse(units)
                let database = try await connection.connect()
                let year = try await ReceptionClock.period(period, on: database)
                let transfers = try await QuotaTransfers.transfer(from: from, to: to, period: year, units: assignments,
                                                                  reason: reason, on: database)
                if output.json { try JSONOutput.print(transfers); return }
                for transfer in transfers.reversed() {
                    print("Transferred \(transfer.units) \(transfer.dimension) of \(transfer.period) from \(transfer.from) to \(transfer.to), on \(transfer.agreedOn).")
                }
                let lines = try await Capacity.show(period: year, on: database).filter { [from, to].contains($0.municipality) }
                print(CapacityCommand.table(lines).render())
            } catch let error as InvalidInput {
                try ProblemReport.fail(error, json: output.json, optionNames: ["period": "--period"])
            }
        }
    }

    struct Transfers: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List quota transfers between municipalities: the day, both sides, who and why.",
            discussion: """
                With a code, the transfers it gave or received. An auditor's login sees them
                without their reasons.

                Example: reception capacity transfers --period 2027 2460
                """)

        @Argument(help: "A municipality code; default all.") var code: String?
        @Option(help: ArgumentHelp("The calendar year; default the current one.", valueName: "year")) var period: Int?
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let database = try await connection.connect()
            let year = try await ReceptionClock.period(period, on: database)
            let transfers = try await QuotaTransfers.list(period: year, municipality: code, on: database)
            if output.json { try JSONOutput.print(transfers); return }
            if transfers.isEmpty { print("No quota transferred in \(year)\(code.map { " by or to \($0)" } ?? "")."); return }
            print(TerminalTable(headers: ["DAY", "FROM", "TO", "DIMENSION", "UNITS", "BY", "REASON"], rows: transfers.map {
                [$0.agreedOn.description, $0.from, $0.to, $0.dimension, String($0.units), $0.recordedBy,
                 $0.reason.map { TerminalText.escaped($0) } ?? "(not shown to this role)"]
            }, numericColumns: [4]).render())
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
