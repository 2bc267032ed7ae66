import ArgumentParser
import Foundation
import ReceptionKit

struct AllocationCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "allocation",
        abstract: "Decide on placement proposals: confirm, reject, or place by hand.",
        discussion: """
            A batch proposes a municipality for each household it can place; each proposal
            already holds its capacity. An officer then confirms it (the household is
            placed), rejects it (capacity is freed and the case waits for the next batch),
            or overrides it (places the case somewhere else, still within capacity unless
            --force). Every decision records who (your database login), when and why in the audit
            trail.
            """,
        subcommands: [List.self, Confirm.self, Reject.self, Override.self]
    )

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List allocations.",
            discussion: "Example: reception allocation list --status proposed --municipality 2480")

        @Option(help: "proposed, confirmed, rejected or cancelled.") var status: String?
        @Option(help: ArgumentHelp("A municipality code.", valueName: "code")) var municipality: String?
        @Option(help: "A calendar year.") var period: Int?
        @Option(help: ArgumentHelp("Only the proposals of this batch.", valueName: "id")) var batch: Int?
        @Option(name: .customLong("case"), help: ArgumentHelp("Only this case.", valueName: "ref")) var caseReference: String?
        @Option(help: "At most this many rows.") var limit = 1000
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: OutputOptions

        func validate() throws {
            if let status, !Allocations.statuses.contains(status) {
                throw ValidationError("--status must be one of \(Allocations.statuses.joined(separator: ", "))")
            }
        }

        func run() async throws {
            let database = try await connection.connect()
            let records = try await Allocations.list(
                .init(status: status, municipality: municipality, period: period, batch: batch,
                      caseReference: caseReference, limit: limit), on: database)
            if output.json { return try JSONOutput.print(records) }
            if records.isEmpty { print("No allocations match."); return }
            print(AllocationTable.render(records))
        }
    }

    struct Confirm: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Confirm proposals: the households are placed.",
            discussion: """
                All or nothing: if one id is not a proposal, nothing is confirmed.
                Example: reception allocation confirm 12 13 14
                """)

        @Argument(help: "Allocation ids.") var ids: [Int]
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: OutputOptions

        func validate() throws { if ids.isEmpty { throw ValidationError("name at least one allocation id") } }

        func run() async throws {
            let database = try await connection.connect()
            let records = try await Allocations.confirm(ids: ids, on: database)
            if output.json { return try JSONOutput.print(records) }
            print("Confirmed \(records.count) placement\(records.count == 1 ? "" : "s"):")
            print(AllocationTable.render(records))
        }
    }

    struct Reject: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Reject a proposal: capacity is freed and the case waits for the next batch.",
            discussion: "Example: reception allocation reject 12 --reason \"dwelling not ready until March\"")

        @Argument(help: "The allocation id.") var id: Int
        @Option(help: "Why (recorded in the audit trail; write no personal data).") var reason: String
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: OutputOptions

        func validate() throws {
            if reason.trimmingCharacters(in: .whitespaces).isEmpty { throw ValidationError("--reason cannot be empty") }
        }

        func run() async throws {
            let database = try await connection.connect()
            let record = try await Allocations.reject(id: id, reason: reason, on: database)
            if output.json { return try JSONOutput.print(record) }
            print("Rejected allocation \(record.id): case \(record.caseReference) is pending again; \(record.persons) person\(record.persons == 1 ? "" : "s") of capacity freed in \(TerminalText.escaped(record.municipalityName)).")
        }
    }

    struct Override: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Place a case by hand in a municipality, confirmed at once.",
            discussion: """
                A case with a proposal or placement is moved (its old place is freed); a
                pending case gets a new placement. Capacity is checked like any placement;
                --force places past capacity and is recorded as forced (it shows as over quota
                in the intake report). A municipality the case excludes, or a deactivated one,
                is refused even with --force.
                Example:
                  reception allocation override MIG-2026-000123 --to 2460 \\
                    --reason "relatives in Vännäs"
                """)

        @Argument(help: ArgumentHelp("The case reference.", valueName: "ref")) var reference: String
        @Option(help: ArgumentHelp("The municipality code to place the case in.", valueName: "code")) var to: String
        @Option(help: "Why (recorded in the audit trail; write no personal data).") var reason: String
        @Option(help: "The period (calendar year); defaults to the current placement's, else this year.") var period: Int?
        @Flag(help: "Place past capacity (recorded as forced).") var force = false
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: OutputOptions

        func validate() throws {
            if reason.trimmingCharacters(in: .whitespaces).isEmpty { throw ValidationError("--reason cannot be empty") }
        }

        func run() async throws {
            let database = try await connection.connect()
            let record = try await Allocations.override(
                caseReference: reference, to: to, period: period, reason: reason, force: force,
                on: database)
            if output.json { return try JSONOutput.print(record) }
            print("Placed case \(record.caseReference) in \(TerminalText.escaped(record.municipalityName)) (\(record.municipalityCode)) for \(record.period)\(record.forced ? ", forced past capacity" : ""): allocation \(record.id).")
        }
    }
}

enum AllocationTable {
    static func render(_ records: [AllocationRecord]) -> String {
        TerminalTable(
            headers: ["ID", "CASE", "PERSONS", "MUNICIPALITY", "PERIOD", "STATUS", "SCORE", "BATCH", "DECIDED BY", "REASONS"],
            rows: records.map { r in
                [String(r.id), r.caseReference, String(r.persons), "\(r.municipalityCode) \(r.municipalityName)", String(r.period),
                 r.status + (r.forced ? " (forced)" : ""), r.score.map(String.init) ?? "", r.batchID.map(String.init) ?? "manual",
                 r.decidedBy ?? "", (r.decisionReason.map { [$0] } ?? r.reasons).joined(separator: "; ")]
            },
            numericColumns: [0, 2, 4, 6]
        ).render()
    }
}
