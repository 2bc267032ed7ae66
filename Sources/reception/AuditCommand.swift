import ArgumentParser
import Foundation
import Postgres
import ReceptionKit

struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Report each municipality's intake against its quota, and read the audit trail.",
        subcommands: [Intake.self, Trail.self]
    )

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case table, csv, json, html
    }

    struct Intake: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Per municipality: quota, placed persons and households, fill rate, children, special needs, capacity per dimension.",
            discussion: """
                Placed means confirmed; proposed means awaiting an officer's decision (it
                already holds capacity). The numbers come from one consistent snapshot, so the
                totals add up. Formats: table (with a bar per municipality), csv (one row per
                municipality), json, html (one self-contained page with a chart, for a council
                meeting).
                Examples:
                  reception audit intake --period 2026
                  reception audit intake --format html --output intake-2026.html
                """)

        @Option(help: "The period (calendar year); defaults to this year.") var period: Int?
        @Option(help: ArgumentHelp("Only this municipality.", valueName: "code")) var municipality: String?
        @Option(help: "table, csv, json or html.") var format: Format = .table
        @Option(help: ArgumentHelp("Write to this file instead of stdout.", valueName: "file")) var output: String?
        @OptionGroup var connection: ConnectionOptions

        func run() async throws {
            let database = try await connection.connect()
            let report = try await IntakeReport.load(period: try await ReceptionClock.period(period, on: database), municipality: municipality, on: database)
            if let municipality, report.municipalities.isEmpty {
                throw CLIError("no municipality with code \(municipality) has capacity or placements in \(report.period)", exitCode: ExitCodes.notFound)
            }
            let text: String
            switch format {
            case .table: text = report.renderTable() + "\n"
            case .csv: text = report.renderCSV()
            case .html: text = report.renderHTML()
            case .json:
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
                encoder.dateEncodingStrategy = .iso8601
                text = String(decoding: try encoder.encode(report), as: UTF8.self) + "\n"
            }
            if let output {
                do {
                    try text.write(toFile: output, atomically: true, encoding: .utf8)
                } catch {
                    throw CLIError("cannot write \(output): \(error.localizedDescription)", exitCode: ExitCodes.cannotWrite)
                }
                FileHandle.standardError.write(Data("wrote the \(report.period) intake report to \(output)\n".utf8))
            } else {
                FileHandle.standardOutput.write(Data(text.utf8))
            }
        }
    }

    struct Trail: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show the audit trail: who did what, when, to which case or municipality.",
            discussion: """
                The trail is written by the database itself and nobody can change or delete
                it. Shows the most recent events (--limit), oldest first. ACTOR is the name
                an administrator gave the login (reception officer add); the trail itself
                keeps the login, which no session can forge.

                An auditor's login reads the redacted trail: cases by internal id (#42),
                no references and no free-text reasons.

                Examples:
                  reception audit trail --case MIG-2026-000123
                  reception audit trail --municipality 2480 --since 2026-11-01
                """)

        @Option(name: .customLong("case"), help: ArgumentHelp("Only this case.", valueName: "ref")) var caseReference: String?
        @Option(help: ArgumentHelp("Only this municipality.", valueName: "code")) var municipality: String?
        @Option(help: ArgumentHelp("Only events on or after this day (YYYY-MM-DD).", valueName: "date")) var since: String?
        @Option(help: "At most this many events.") var limit = 500
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: OutputOptions

        func validate() throws {
            if let since, CalendarDay(since) == nil { throw ValidationError("--since must be a date like 2026-11-01") }
        }

        func run() async throws {
            let database = try await connection.connect()
            let events = try await AuditTrail.events(
                .init(caseReference: caseReference, municipality: municipality, since: since.flatMap { CalendarDay($0) }, limit: limit),
                on: database)
            if output.json { return try JSONOutput.print(events) }
            if events.isEmpty { print("No events match."); return }
            let formatter = ISO8601DateFormatter()
            print(TerminalTable(
                headers: ["AT", "ACTOR", "ACTION", "CASE", "MUNICIPALITY", "ALLOCATION", "BATCH", "DETAILS"],
                rows: events.map { e in
                    [formatter.string(from: e.at), e.actorName, e.action, e.caseReference ?? e.caseID.map { "#\($0)" } ?? "", e.municipalityCode ?? "",
                     e.allocationID.map(String.init) ?? "", e.batchID.map(String.init) ?? "", e.details == "{}" ? "" : e.details]
                }).render())
        }
    }
}
