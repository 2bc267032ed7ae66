import ArgumentParser
import Foundation
import Postgres
import ReceptionKit

struct CaseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "case",
        abstract: "Register arrivals, and show, list and withdraw cases.",
        discussion: """
            A case is one household, placed whole or not at all, known by its reference
            (e.g. the Migration Agency's dossier number). Statuses: registered (waiting
            for a placement), proposed, placed, withdrawn.

            Cases hold personal data (ages, health needs, family ties): what these
            commands print is for the officer's screen; do not paste it into tickets or
            logs.

            Example:
              reception case add --ref MIG-2026-000123 --ages 34,31,9,4 \\
                --needs trauma_care --language ar --ties 2480
            """,
        subcommands: [Add.self, CaseImportCommand.self, Show.self, List.self, Notices.self, Withdraw.self, Reinstate.self]
    )

    static let optionNames = [
        "ref": "--ref", "ages": "--ages", "needs": "--needs", "language": "--language", "occupations": "--occupations",
        "family_ties": "--ties", "preferences": "--prefer", "excluded": "--exclude", "arrived": "--arrived",
        "anvisning": "--anvisning", "latest_reception": "--latest-reception", "category": "--category",
    ]

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Register one arriving household.",
            discussion: """
                Lists are separated by commas. A need is name or name:units (default 1
                unit), and must be a known dimension (accessible_dwellings, trauma_care,
                ...) unless --new-needs, which registers it (no municipality has capacity
                for it until a quota is set). Municipality lists are four-digit codes; a
                code may not be both preferred and excluded. The arrival date defaults to
                today.

                The anvisning (the Migration Agency's assignment to the cooperation):
                --anvisning is its date (default: the arrival date), --latest-reception
                the latest reception date it names (default: two months after the
                anvisning; quota refugees often have longer), --category one of
                agency_accommodation (the default), quota_refugee, temporary_protection.
                They cannot be changed after registration.

                Example:
                  reception case add --ref MIG-2026-000123 --ages 34,31,9,4 \\
                    --needs trauma_care,accessible_dwellings:1 --language ar \\
                    --occupations nurse --ties 2480 --prefer 2480,2460 \\
                    --exclude 2284 --arrived 2026-11-02 --anvisning 2026-10-28
                """)

        @Option(help: ArgumentHelp("The case reference, e.g. MIG-2026-000123.", valueName: "ref")) var ref: String
        @Option(help: ArgumentHelp("The members' ages in whole years, e.g. 34,31,9,4.", valueName: "ages")) var ages: String
        @Option(help: ArgumentHelp("Needs, e.g. trauma_care,accessible_dwellings:1.", valueName: "needs")) var needs: String?
        @Option(help: ArgumentHelp("The household's language, ISO 639 (ar, prs, so, ti).", valueName: "code")) var language: String?
        @Option(help: ArgumentHelp("Occupations, e.g. nurse,welder.", valueName: "codes")) var occupations: String?
        @Option(help: ArgumentHelp("Municipalities with family ties.", valueName: "codes")) var ties: String?
        @Option(help: ArgumentHelp("Preferred municipalities.", valueName: "codes")) var prefer: String?
        @Option(help: ArgumentHelp("Municipalities where the household must never be placed.", valueName: "codes")) var exclude: String?
        @Option(help: ArgumentHelp("The arrival date (YYYY-MM-DD); default today.", valueName: "date")) var arrived: String?
        @Option(help: ArgumentHelp("The anvisning's date (YYYY-MM-DD); default the arrival date.", valueName: "date")) var anvisning: String?
        @Option(help: ArgumentHelp("The latest reception date the anvisning names; default two months after it.", valueName: "date")) var latestReception: String?
        @Option(help: ArgumentHelp("agency_accommodation (default), quota_refugee or temporary_protection.", valueName: "category")) var category: String?
        @Flag(help: "Register need names that are not yet capacity dimensions.") var newNeeds = false
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let database = try await connection.connect()
            let rules = try await CaseRules.load(on: database, acceptNewNeeds: newNeeds)
            let fields = CaseTextFields(reference: ref, ages: ages, needs: needs, language: language, occupations: occupations,
                                        familyTies: ties, preferences: prefer, excluded: exclude, arrived: arrived,
                                        anvisning: anvisning, latestReception: latestReception, category: category)
            var problems: [ValidationProblem] = []
            do {
                guard let newCase = fields.validate(at: .arguments, rules: rules, problems: &problems) else {
                    throw InvalidInput(problems)
                }
                let report = try await CaseRegistration.register(
                    newCase, options: .init(registerNewNeeds: newNeeds), on: database)
                guard let record = try await Cases.find(newCase.reference, on: database) else {
                    throw CLIError("the case was registered but cannot be read back", exitCode: ExitCodes.software)
                }
                if output.json {
                    try JSONOutput.print(record)
                } else {
                    print("Registered case \(record.reference).")
                    print(CaseCommand.describe(record, today: rules.today))
                    CaseCommand.noteNewDimensions(report.newDimensions)
                }
            } catch let error as InvalidInput {
                try ProblemReport.fail(error, json: output.json, optionNames: CaseCommand.optionNames)
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show a case and its event history.",
            discussion: "Example: reception case show MIG-2026-000123")

        @Argument(help: "The case reference.") var reference: String
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: OutputOptions

        struct Document: Encodable {
            let `case`: CaseRecord
            let events: [CaseEvent]
        }

        func run() async throws {
            let database = try await connection.connect()
            guard let record = try await Cases.find(reference, on: database) else {
                throw CLIError("no case with reference \(reference)", exitCode: ExitCodes.notFound)
            }
            let events = try await Cases.history(caseID: record.id, on: database)
            if output.json {
                try JSONOutput.print(Document(case: record, events: events))
                return
            }
            print(CaseCommand.describe(record, today: try await ReceptionClock.today(on: database)))
            print("")
            let formatter = ISO8601DateFormatter()
            print(TerminalTable(headers: ["AT", "ACTION", "BY", "MUNICIPALITY", "ALLOCATION", "DETAILS"], rows: events.map { event in
                [formatter.string(from: event.at), event.action, event.actor, event.municipality ?? "",
                 event.allocationID.map(String.init) ?? "", CaseCommand.describe(event.details)]
            }).render())
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List cases, longest waiting first; or the ones due soon or overdue.",
            discussion: """
                --municipality lists the cases proposed for or placed in that municipality.
                --due-within 14d lists the households still waiting (registered, or
                proposed and not confirmed) whose latest reception date is at most 14
                days away, or already past; --overdue only those past it. Both list the
                earliest date first. A period is days (14d or 14) or weeks (2w).

                Examples:
                  reception case list --status registered --limit 50
                  reception case list --due-within 14d
                  reception case list --overdue --json
                """)

        @Option(help: ArgumentHelp("registered, proposed, placed or withdrawn.", valueName: "status")) var status: String?
        @Option(help: ArgumentHelp("Cases with an active allocation in this municipality.", valueName: "code")) var municipality: String?
        @Option(help: ArgumentHelp("Waiting cases whose latest reception date is at most this far away (or past), e.g. 14d or 2w.", valueName: "period")) var dueWithin: String?
        @Flag(help: "Waiting cases past their latest reception date.") var overdue = false
        @Option(help: ArgumentHelp("At most this many cases.", valueName: "n")) var limit: Int?
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: OutputOptions

        func validate() throws {
            if let dueWithin, CaseCommand.days(dueWithin) == nil {
                throw ValidationError("--due-within: \(dueWithin) is not a number of days (14d, 14) or weeks (2w), up to 366 days")
            }
            if let status, !Cases.statuses.contains(status) {
                throw ValidationError("--status: \(status) is not one of \(Cases.statuses.joined(separator: ", "))")
            }
            if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
        }

        func run() async throws {
            let database = try await connection.connect()
            let cases = try await Cases.list(.init(status: status, municipality: municipality, limit: limit,
                                                   dueWithinDays: dueWithin.flatMap(CaseCommand.days), overdue: overdue), on: database)
            if output.json { try JSONOutput.print(cases); return }
            let today = try await ReceptionClock.today(on: database)
            if cases.isEmpty && (dueWithin != nil || overdue) {
                print(overdue ? "No household is waiting past its latest reception date." : "No waiting household is due within \(dueWithin ?? "").")
                return
            }
            print(TerminalTable(headers: ["REFERENCE", "STATUS", "MEMBERS", "ARRIVED", "WAITING", "LATEST RECEPTION", "MUNICIPALITY"], rows: cases.map {
                [$0.reference, $0.status, String($0.ages.count), $0.arrivedOn.description, "\($0.waitingDays(on: today)) d",
                 CaseCommand.deadline($0, today: today), $0.allocation.map { "\($0.municipality) (\($0.status))" } ?? ""]
            }, numericColumns: [2, 4]).render())
        }
    }

    struct Notices: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The morning's list: households that became due soon or overdue.",
            discussion: """
                receptiond's daily deadline-check job (--deadline-check-schedule, by default
                every day at 05:00 Europe/Stockholm) notices each waiting household once
                when its latest reception date comes within 14 days (due), and once when
                the date passes while it still waits (overdue). This lists the notices of
                one day, today by default; `case list --due-within 14d` lists every
                household due now, noticed or not.

                Examples:
                  reception case notices
                  reception case notices --day 2027-03-01 --json
                """)

        @Option(help: ArgumentHelp("The day whose notices to list (YYYY-MM-DD); default today.", valueName: "date")) var day: String?
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: OutputOptions

        func validate() throws {
            if let day, CaseFieldRules.day(day) == nil { throw ValidationError("--day: \(day) is not a date (YYYY-MM-DD)") }
        }

        func run() async throws {
            let database = try await connection.connect()
            let today = try await ReceptionClock.today(on: database)
            let date = day.flatMap(CaseFieldRules.day) ?? today
            let notices = try await DeadlineNotices.list(on: date, on: database)
            if output.json { try JSONOutput.print(notices); return }
            guard !notices.isEmpty else {
                print("No deadline notices on \(date). (Is a receptiond running? It records them once a day.)")
                return
            }
            print(TerminalTable(headers: ["REFERENCE", "NOTICE", "LATEST RECEPTION", "STATUS NOW"], rows: notices.map {
                [$0.reference, $0.kind == .overdue ? "overdue" : "due soon", $0.latestReceptionOn.description, $0.status]
            }).render())
        }
    }

    struct Withdraw: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Withdraw a case: it will not be placed.",
            discussion: """
                An open proposal or a confirmed placement of the case is cancelled and its
                capacity released. The reason is kept in the audit trail: write why, not who
                the family is (no names, no health details).

                The cause is counted by the intake report (anvisningar that ended without
                reception): declined (the person declined the anvisning), moved-on-own (found
                housing themselves, or left), cancelled (the Migration Agency cancelled the
                anvisning), or other (the default).

                Example:
                  reception case withdraw MIG-2026-000123 --cause moved-on-own \\
                    --reason "moved to relatives in Norway"
                """)

        @Argument(help: "The case reference.") var reference: String
        @Option(help: ArgumentHelp("Why (kept in the audit trail; no personal data).", valueName: "text")) var reason: String
        @Option(help: ArgumentHelp("declined, moved-on-own, cancelled or other.", valueName: "cause"),
                transform: { text in
                    guard let cause = WithdrawalCause(argument: text) else {
                        throw ValidationError("--cause: '\(text)' is not a cause; use declined, moved-on-own, cancelled or other")
                    }
                    return cause
                })
        var cause: WithdrawalCause = .other
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let record = try await Cases.withdraw(reference, reason: reason, cause: cause, on: try await connection.connect())
            if output.json { try JSONOutput.print(record) } else { print("Withdrew case \(record.reference).") }
        }
    }

    struct Reinstate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Reinstate a withdrawn case: it waits for a placement again.",
            discussion: """
                For a withdrawal made in error, or a person who comes back after declining.
                The withdrawal's cause and reason are cleared from the case; the withdrawal and
                the reinstatement both stay in the audit trail. The case's anvisning and latest
                reception date are unchanged.

                Example: reception case reinstate MIG-2026-000123
                """)

        @Argument(help: "The case reference.") var reference: String
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let record = try await Cases.reinstate(reference, on: try await connection.connect())
            if output.json { try JSONOutput.print(record) } else { print("Reinstated case \(record.reference): it waits for a placement.") }
        }
    }

    /// A case as lines of `label: value`, for people.
    static func describe(_ record: CaseRecord, today: CalendarDay) -> String {
        var lines: [(String, String)] = [
            ("Reference", record.reference),
            ("Status", record.status + (record.allocation.map { " (\($0.status) in \($0.municipality), \($0.period), allocation \($0.id))" } ?? "")),
            ("Members", "\(record.ages.count), ages \(record.ages.map(String.init).joined(separator: ", "))"),
            ("Needs", record.needs.isEmpty ? "none" : record.needs.sorted(by: { $0.key < $1.key }).map { "\($0.key) \($0.value)" }.joined(separator: ", ")),
            ("Language", record.language ?? ""),
            ("Occupations", record.occupations.joined(separator: ", ")),
            ("Family ties", record.familyTies.joined(separator: ", ")),
            ("Preferences", record.preferences.joined(separator: ", ")),
            ("Excluded", record.excluded.joined(separator: ", ")),
            ("Arrived", "\(record.arrivedOn) (\(record.waitingDays(on: today)) days ago)"),
            ("Anvisning", record.anvisningOn.map { "\($0)" + (record.category.map { ", \($0.description)" } ?? "") } ?? "not recorded"),
            ("Latest date", record.latestReceptionOn == nil ? "none" : deadline(record, today: today)),
        ]
        if record.status == "withdrawn" {
            lines.append(("Withdrawn", (record.withdrawnCause.map { "\($0.description): " } ?? "") + (record.withdrawnReason ?? "")))
        }
        return lines.map { "\($0.0.padding(toLength: 12, withPad: " ", startingAt: 0)) \($0.1.isEmpty ? "–" : TerminalText.escaped($0.1))" }
            .joined(separator: "\n")
    }

    /// The latest reception date and how it stands today, for a waiting household.
    static func deadline(_ record: CaseRecord, today: CalendarDay) -> String {
        guard let latest = record.latestReceptionOn, let left = record.daysLeft(on: today) else { return "" }
        guard record.isWaiting else { return latest.description }
        switch left {
        case ..<0: return "\(latest) (overdue \(-left) d)"
        case 0: return "\(latest) (today)"
        default: return "\(latest) (in \(left) d)"
        }
    }

    /// `14d`, `14` or `2w` as days; nil for anything else or more than a year.
    static func days(_ text: String) -> Int? {
        let trimmed = text.trimmingCharacters(in: .whitespaces).lowercased()
        let (digits, factor) = trimmed.hasSuffix("w") ? (trimmed.dropLast(), 7)
                             : trimmed.hasSuffix("d") ? (trimmed.dropLast(), 1) : (trimmed[...], 1)
        guard let count = Int(digits), count >= 0 else { return nil }
        let days = count.multipliedReportingOverflow(by: factor)
        return !days.overflow && days.partialValue <= 366 ? days.partialValue : nil
    }

    static func describe(_ details: [String: JSONTree]) -> String {
        details.keys.sorted().compactMap { key in
            switch details[key]! {
            case .null: nil
            case .string(let text): "\(key)=\(text)"
            case .integer(let number): "\(key)=\(number)"
            case .number(let number): "\(key)=\(number)"
            case .bool(let flag): "\(key)=\(flag)"
            case .array, .object: "\(key)=…"
            }
        }.joined(separator: " ")
    }

    static func noteNewDimensions(_ names: [String]) {
        guard !names.isEmpty else { return }
        print("New needs registered: \(names.joined(separator: ", ")). No municipality has capacity for them yet: set it with `reception capacity set CODE \(names[0])=N`.")
    }
}
