import ArgumentParser
import Foundation
import Placement
import Postgres
import ReceptionKit

struct BatchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "batch",
        abstract: "Run placement batches: propose a municipality for every pending household.",
        discussion: """
            A batch takes every registered (pending) case and what is left of each active
            municipality's capacity for the period, finds the placement with the highest
            total score (placing as many households as possible, longest-waiting first,
            then family ties, language, shortage occupations and preferences), and writes
            one proposal per placed case. Proposals hold their capacity until an officer
            confirms or rejects them (see `reception allocation`). The result is
            certified: `bound` is a proven upper limit on the best possible score, so the
            gap says how close to optimal it is (unless households changed while it
            solved: then no bound is claimed, and `batch show` says why).

            The batch runs in the worker daemon (receptiond); `batch run` waits for it
            unless --no-wait. Officers may go on deciding meanwhile: when the batch writes,
            it leaves out households withdrawn or placed in the meantime and places again,
            from what is left, those that changed or no longer fit. Two batches at once
            never overbook: the database refuses it.

            Deadlines first: households whose latest reception date falls before the
            next batch (a week away) are placed before anyone else, wherever they fit;
            one that cannot be is named with its date.

            Looking ahead: `batch run` passes the engine the households still expected
            this period — resampled from the last 12 months of arrivals, as many as the
            remaining quota leaves or the last 12 months' pace brings by 31 December,
            whichever is more (or --expected N) — so that it keeps scarce capacity
            (large dwellings, care, places near family) for expected households that
            need it more; a household left waiting for that reason says so. With fewer
            than 20 arrivals in the last 12 months there is no forecast, and the batch
            says so — unless the officer supplies one: --forecast FILE, households
            expected later this period in the import format (reception case import
            --help; ref labels each household, once; dates may be any in the period
            and are not used), used as they are, or
            --expected N of them drawn from the file. --no-look-ahead places as if no
            one else were coming.
            """,
        subcommands: [Run.self, Show.self, List.self, Instance.self]
    )

    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Enqueue an allocation batch and (by default) wait for its result.",
            discussion: """
                Examples:
                  reception batch run --period 2026
                  reception batch run --municipality 2480 --municipality 2460 --dry-run
                  reception batch run --no-wait --json     # prints the batch id, returns at once
                  reception batch run --forecast expected-2027.csv   # a new installation's forecast
                """)

        @Option(help: "The period (calendar year) whose capacity to use; defaults to this year.") var period: Int?
        @Option(name: .customLong("municipality"), help: ArgumentHelp("Only these municipalities take part (repeatable); default: every active one.", valueName: "code"))
        var municipalities: [String] = []
        @Option(name: .customLong("time-limit"), help: ArgumentHelp("Seconds the placement engine may use at most.", valueName: "seconds"))
        var timeLimit: Double = 30
        @Flag(name: .customLong("dry-run"), help: "Show what would be proposed; write no proposals.") var dryRun = false
        @Flag(name: .customLong("no-wait"), help: "Return once the batch is queued.") var noWait = false
        @Flag(name: .customLong("no-look-ahead"), help: "Place as if this batch were the last of the period: no forecast of the households still expected.") var noLookAhead = false
        @Option(help: ArgumentHelp("Households still expected this period, for the look-ahead; default: as many as the remaining quota leaves or the last 12 months' pace brings, whichever is more.", valueName: "n")) var expected: Int?
        @Option(help: ArgumentHelp("Households expected later this period (CSV or JSON in the import format): the look-ahead's forecast, instead of the last 12 months resampled.", valueName: "file"))
        var forecast: String?
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: OutputOptions

        func validate() throws {
            if forecast != nil && noLookAhead { throw ValidationError("--forecast is the look-ahead's: give it or --no-look-ahead, not both") }
            if let forecast, CaseImport.Format(path: forecast) == nil { throw ValidationError("--forecast: \(forecast) is neither .csv nor .json") }
            if timeLimit <= 0 || timeLimit > 3600 { throw ValidationError("--time-limit must be between 0 and 3600 seconds") }
            if let expected, expected < 0 || expected > 1_000_000 { throw ValidationError("--expected must be between 0 and 1000000 households") }
            if expected != nil && noLookAhead { throw ValidationError("--expected is the look-ahead's figure: give it or --no-look-ahead, not both") }
            if let period, !(2000...2100).contains(period) { throw ValidationError("--period must be a year between 2000 and 2100") }
        }

        func run() async throws {
            let database = try await connection.connect()
            let period = try await ReceptionClock.period(self.period, on: database)
            var expectedHouseholds: [PlacementInstance.Case] = []
            if let forecast { expectedHouseholds = try await Self.readForecast(forecast, period: period, json: output.json, on: database) }
            let requested = try await Batches.request(
                period: period, municipalities: municipalities.isEmpty ? nil : municipalities,
                timeLimit: timeLimit, dryRun: dryRun, lookAhead: !noLookAhead, expected: expected, forecast: expectedHouseholds,
                on: database)
            if noWait {
                if output.json { return try JSONOutput.print(requested) }
                print("Queued batch \(requested.id) for \(requested.period)\(dryRun ? " (dry run)" : ""). Follow it with: reception batch show \(requested.id)")
                return
            }
            // On a terminal one line, rewritten each second; otherwise a line each time the
            // engine's figures improve (a log a script can keep).
            let interactive = isatty(STDERR_FILENO) == 1 && !output.json
            var hinted = false
            var printed: BatchProgress?
            func report(_ batch: BatchRecord, _ waited: Duration) {
                if batch.status == "queued" && waited >= .seconds(10) && !hinted {
                    hinted = true
                    FileHandle.standardError.write(Data("batch \(batch.id) is still queued: is a receptiond running? (start one with: receptiond --database-url ...)\n".utf8))
                } else if interactive {
                    let figures = batch.progress.map { "  " + BatchReport.progress($0) } ?? ""
                    FileHandle.standardError.write(Data("\r\u{1B}[Kbatch \(batch.id): \(batch.status)… \(waited.components.seconds) s\(figures)".utf8))
                } else if let progress = batch.progress, progress != printed {
                    printed = progress
                    FileHandle.standardError.write(Data("batch \(batch.id): \(String(format: "%.1f", progress.seconds)) s  \(BatchReport.progress(progress))\n".utf8))
                }
            }

            // The batch runs on in its daemon whatever happens to this session: a server that
            // restarts or fails over (a multi-host URL) is reconnected to, and the wait goes on.
            // A second apart and a few times only (each connect retries for up to 15 s itself):
            // a server that drops every session gets a clear refusal, not a loop.
            var waitingOn = database
            var reconnects = 0
            let batch: BatchRecord
            while true {
                do {
                    batch = try await Batches.wait(for: requested.id, on: waitingOn, onWait: report)
                    break
                } catch let error as PostgresError where error.isConnectionProblem && reconnects < Self.reconnects {
                    reconnects += 1
                    FileHandle.standardError.write(Data("\nreception: lost the database while waiting for batch \(requested.id) (it runs on in its daemon); reconnecting (\(reconnects) of \(Self.reconnects))\n".utf8))
                    try await Task.sleep(for: .seconds(1))
                    waitingOn = try await connection.connect()
                }
            }
            if interactive { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
            if output.json { try JSONOutput.print(batch) } else { print(BatchReport.render(batch)) }
            if batch.status != "finished" { throw ExitCode(ExitCodes.failure) }
        }

        /// How many times a lost session is reconnected to while waiting for a batch.
        static let reconnects = 5

        /// The officer's forecast file, validated as an import is: every problem named, exit 65.
        static func readForecast(_ file: String, period: Int, json: Bool, on database: Connection) async throws -> [PlacementInstance.Case] {
            let data = try ProblemReport.readImportFile(file, json: json)
            // Expected households: their dates (not used) may be any day of the period.
            var rules = try await CaseRules.load(on: database)
            rules.today = max(rules.today, CalendarDay(year: period, month: 12, day: 31) ?? rules.today)
            let contents = CaseImport.read(data, format: CaseImport.Format(path: file)!, rules: rules)
            if !contents.problems.isEmpty { try ProblemReport.fail(InvalidInput(contents.problems), json: json) }
            guard contents.entries.count <= BatchForecast.maximumExpected else {
                try ProblemReport.fail(InvalidInput([ValidationProblem(.file, field: "",
                    reason: "\(contents.entries.count) households; a forecast holds at most \(BatchForecast.maximumExpected)")]), json: json)
            }
            return contents.entries.map { entry in
                let household = entry.newCase
                return PlacementInstance.Case(
                    id: household.reference, ages: household.ages,
                    needs: Dictionary(household.needs.map { ($0.dimension, $0.units) }, uniquingKeysWith: +),
                    language: household.language, occupations: household.occupations, familyTies: household.familyTies,
                    preferences: household.preferences, excluded: household.excluded)
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show a batch: objective, bound and gap, placed and unplaced cases with reasons.",
            discussion: "Example: reception batch show 7")

        @Argument(help: "The batch id.") var id: Int
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let database = try await connection.connect()
            let batch = try await Batches.find(id, on: database)
            if output.json { return try JSONOutput.print(batch) }
            print(BatchReport.render(batch))
            if batch.summary != nil, !batch.dryRun {
                let proposals = try await Allocations.list(.init(batch: id), on: database)
                if !proposals.isEmpty {
                    print("")
                    print(AllocationTable.render(proposals))
                }
            }
            let references = try await BatchReport.references(for: batch, on: database)
            if let unplaced = batch.summary?.unplaced, !unplaced.isEmpty {
                print("")
                print("Not placed:")
                print(TerminalTable(headers: ["CASE", "REASON"],
                                rows: unplaced.map { [references[$0.caseID] ?? "#\($0.caseID)", $0.reason] }).render())
            }
            if let proposals = batch.summary?.proposals, !proposals.isEmpty {
                print("")
                print("Would propose (dry run):")
                print(TerminalTable(headers: ["CASE", "MUNICIPALITY", "SCORE", "REASONS"],
                                rows: proposals.map { [references[$0.caseID] ?? "#\($0.caseID)", $0.municipality, String($0.score), $0.reasons.joined(separator: "; ")] },
                                numericColumns: [2]).render())
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List recent batches.",
            discussion: "Example: reception batch list --period 2026")

        @Option(help: "Only batches of this period.") var period: Int?
        @Option(help: "At most this many.") var limit = 50
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let database = try await connection.connect()
            let batches = try await Batches.list(period: period, limit: limit, on: database)
            if output.json { return try JSONOutput.print(batches) }
            if batches.isEmpty { print("No batches yet. Start one with: reception batch run"); return }
            let formatter = ISO8601DateFormatter()
            print(TerminalTable(
                headers: ["ID", "PERIOD", "STATUS", "DRY RUN", "CASES", "PLACED", "UNPLACED", "OBJECTIVE", "GAP", "REQUESTED BY", "CREATED"],
                rows: batches.map { b in
                    [String(b.id), String(b.period), b.status, b.dryRun ? "yes" : "", b.summary.map { String($0.cases) } ?? "",
                     b.summary.map { String($0.placed) } ?? "", b.summary.map { String($0.unplaced.count) } ?? "",
                     b.objective.map(String.init) ?? "", b.gap.map(BatchReport.percent) ?? "", b.requestedBy,
                     formatter.string(from: b.createdAt)]
                }, numericColumns: [0, 1, 4, 5, 6, 7, 8]).render())
        }
    }
}

extension BatchCommand {
    struct Instance: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the placement instance a batch would solve now (placement-instance/1 JSON).",
            discussion: """
                The pending cases and the capacity left, exactly as a batch would load them, so
                that a batch can be reproduced and studied offline with `reception solve`. Case
                ids are the database's numeric ids, not references; the file still holds
                household details (ages, needs): treat it as personal data.

                Example:
                  reception batch instance --period 2026 > batch.json
                  reception solve batch.json
                """)

        @Option(help: "The period (calendar year); defaults to this year.") var period: Int?
        @Option(name: .customLong("municipality"), help: ArgumentHelp("Only these municipalities (repeatable).", valueName: "code"))
        var municipalities: [String] = []
        @OptionGroup var connection: ConnectionOptions

        func run() async throws {
            let database = try await connection.connect()
            let instance = try await database.withTransaction(isolation: .repeatableRead, readOnly: true) { database in
                let clock = try await ReceptionClock.read(on: database)
                return try await BatchInstance.load(
                    period: period ?? clock.period, municipalities: municipalities.isEmpty ? nil : municipalities,
                    today: clock.today, weights: try await BatchCounting.current(on: database).weights, on: database)
            }
            FileHandle.standardOutput.write(instance.jsonData())
            FileHandle.standardOutput.write(Data("\n".utf8))
        }
    }
}

enum BatchReport {
    static func percent(_ value: Double) -> String { String(format: "%.3f%%", value * 100) }

    /// A running batch's figures so far, in an officer's words.
    static func progress(_ progress: BatchProgress) -> String {
        guard let gap = progress.gap else { return "score \(progress.objective) so far" }
        return "score \(progress.objective) so far, at most \(percent(gap)) below the best possible"
    }

    static func render(_ batch: BatchRecord) -> String {
        var lines = ["Batch \(batch.id) for \(batch.period)\(batch.dryRun ? " (dry run: nothing written)" : ""): \(batch.status)"]
        if let summary = batch.summary {
            let leftOut = summary.recheck.map { $0.dropped > 0 ? ", \($0.dropped) left out (withdrawn or placed meanwhile)" : "" } ?? ""
            lines.append("  \(summary.cases) pending cases, \(summary.municipalities) municipalities: \(summary.placed) \(batch.dryRun ? "would be proposed" : "proposed"), \(summary.unplaced.count) not placed\(leftOut)")
            let seconds = String(format: "%.2f", summary.seconds)
            if let objective = batch.objective, let bound = batch.bound {
                let certainty = summary.provenOptimal ? "proven optimal" : "at most \(batch.gap.map(percent) ?? "?") below the best possible"
                lines.append("  score \(objective), bound \(bound): \(certainty); solved in \(seconds) s")
            } else if let objective = batch.objective {
                lines.append("  score \(objective); solved in \(seconds) s")
            }
            if let forecast = summary.forecast {
                if forecast.used {
                    let source = forecast.expectedGiven ? "the figure given"
                        : forecast.expectedByPace == true ? "the last 12 months' pace to 31 December, more than the remaining quota leaves"
                        : "what the remaining quota leaves"
                    var line = forecast.fromFile == true
                        ? "  Looking ahead: \(forecast.expected) more households expected this period, "
                            + (forecast.expectedGiven ? "drawn from the \(forecast.history) of the officer's forecast file." : "the officer's forecast file.")
                        : "  Looking ahead: \(forecast.expected) more households expected this period (\(source)), resampled from "
                            + "\(forecast.history) arrivals of the last 12 months."
                    if forecast.keptWaiting > 0 {
                        line += " \(forecast.keptWaiting) households wait, so that capacity stays for expected arrivals who need it more "
                            + "(their reasons: reception batch show \(batch.id))."
                    }
                    lines.append(line)
                } else if let skipped = forecast.skipped {
                    lines.append("  No look-ahead: \(skipped); placed as if no one else were coming.")
                }
            }
            if summary.counts == .persons {
                lines.append("  Counted persons: where capacity was short, as many persons as fit were placed (reception db counts).")
            }
            if let due = summary.dueFirst {
                // Why no bound is shown: the rule solves in two stages (DeadlineFirst).
                lines.append("  Deadlines first: \(due.due) households were due before the next batch (\(due.nextBatchOn)); "
                             + "\(due.placed) of them proposed before anyone else\(due.due > due.placed ? " (reception batch show \(batch.id) names the others, with their date)" : ""). "
                             + "Placed in two stages, so no optimality bound is claimed.")
            }
            if let recheck = summary.recheck, recheck.dropped + recheck.resolved > 0 {
                // Why no bound is shown: the engine's bound was for the households as they were.
                var changes: [String] = []
                if recheck.dropped > 0 { changes.append("\(recheck.dropped) were withdrawn or placed by someone else (left out)") }
                if recheck.resolved > 0 {
                    changes.append("\(recheck.resolved) changed or no longer fitted and were solved again against what was left "
                                   + "(\(recheck.resolvedPlaced) proposed, \(recheck.resolved - recheck.resolvedPlaced) not placed)")
                }
                lines.append("  While it solved, \(changes.joined(separator: "; ")). So no optimality bound is claimed.")
            }
            if !batch.dryRun && summary.placed > 0 {
                lines.append("  Next: reception allocation list --batch \(batch.id), then confirm or reject.")
            }
        } else if let error = batch.error {
            lines.append("  \(TerminalText.escaped(error))")
        } else if let state = batch.jobState {
            lines.append("  job \(batch.jobID.map(String.init) ?? "?"): \(state)\(batch.jobError.map { " — last error: \(TerminalText.escaped($0))" } ?? "")")
            if batch.status == "running" && (state == "available" || state == "retryable") {
                // Handed back at a daemon's shutdown, or waiting for a retry.
                lines.append("  No daemon runs it right now: the next receptiond to start takes it up again from the beginning.")
            }
            if state == "running", let figures = batch.progress {
                lines.append("  After \(String(format: "%.0f", figures.seconds)) s: \(progress(figures))")
            }
        }
        return lines.joined(separator: "\n")
    }

    /// Case references for the ids a summary holds (summaries store ids only).
    static func references(for batch: BatchRecord, on connection: Connection) async throws -> [Int: String] {
        let ids = (batch.summary?.unplaced.map(\.caseID) ?? []) + (batch.summary?.proposals?.map(\.caseID) ?? [])
        guard !ids.isEmpty else { return [:] }
        let rows = try await connection.query("SELECT id, reference FROM cases WHERE id = ANY(\(ids))")
        var result: [Int: String] = [:]
        for row in rows { result[try row.decode("id")] = try row.decode("reference", as: String.self) }
        return result
    }
}
