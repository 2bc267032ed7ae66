import ArgumentParser
import Foundation
import ReceptionKit
import Synchronization

/// `reception simulate`: a reception year replayed in memory (ReceptionKit's YearSimulation).
struct SimulateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Replay a reception year in weekly batches, plain and with look-ahead, against placing the year at once.",
        discussion: """
            Runs the year's batches as receptiond would — every --every days from
            1 January, each on what the municipalities' plans have released by its day
            less what earlier batches used, households due before the next batch placed
            first (README "Deadlines") — twice: plainly (--no-look-ahead batches) and
            with look-ahead (a forecast resampled from the last 12 months of
            anvisningar). Both are scored against the hindsight optimum: the whole
            year's anvisningar placed at once against the whole quota. A proposal is
            taken as received on its batch's day.

            Purely in memory: it needs no database and never reads or writes a live
            case. The same arguments give the same figures.

            THE YEAR
              By default a generated Umeåregionen year: Umeå, Örnsköldsvik, Vännäs,
              Nordmaling, Robertsfors, Vindeln and Bjurholm; --households anvisningar
              spread over the period, quotas with persons for --capacity-share of them,
              and plans that release persons, school and preschool places month by
              month and dwellings quarter by quarter. The year before it is drawn too,
              as the look-ahead's history.
              --arrivals FILE replays a file of anvisningar instead (the case import's
              CSV or JSON: ref, ages, ..., arrived, anvisning, latest_reception,
              category; every row gives its anvisning date) against the generated
              municipalities, quotas and plans. Rows with an anvisning before the
              period are only history; ties, wishes and
              exclusions must name the municipalities above (codes 2480, 2284, 2460,
              2401, 2409, 2404, 2403).

            THE REPORT
              Score as a share of hindsight, households and persons placed, households
              received after their latest reception date (and of those, any that
              capacity existed for in time: the deadline rule failing), each
              municipality's intake against its plan month by month. A table, --json
              (reception-simulation/1), and --html FILE, a page with charts.

            Exit codes: 0 simulated; 64 bad command line; 65 the arrivals file has
            problems (each named with its line or JSON path and field); 66 the
            arrivals file cannot be read; 70 an invariant broke (a municipality over
            what its plan had released, a household placed twice): please report it;
            74 the page cannot be written.

            Examples:
              reception simulate
              reception simulate --seed 3 --every 2w --html year.html
              reception simulate --arrivals arrivals-2026.csv --period 2026 --json
            """)

    @Option(help: ArgumentHelp("Replay these anvisningar (CSV or JSON, by extension) instead of a generated year.", valueName: "file"))
    var arrivals: String?

    @Option(help: "The simulated period (calendar year). A generated year is 2027 unless given, so that its figures are the same on any day.")
    var period: Int?

    @Option(help: ArgumentHelp("Anvisningar in a generated year.", valueName: "n"))
    var households = 500

    @Option(help: ArgumentHelp("The generated year's seed.", valueName: "s"))
    var seed: UInt64 = 1

    @Option(help: ArgumentHelp("The generated quotas' persons, as a share of the year's anvisningar's persons.", valueName: "share"))
    var capacityShare = 0.85

    @Option(help: ArgumentHelp("Days between batches: 1w (the default), 2w, 10d, ...", valueName: "interval"))
    var every = "1w"

    @Option(help: ArgumentHelp("At most this many seconds per batch solve (the engine usually stops sooner, when its search budgets are spent).", valueName: "seconds"))
    var timeLimit = 10.0

    @Option(help: ArgumentHelp("Also write the report as an HTML page with charts to this file.", valueName: "file"))
    var html: String?

    @Option(help: ArgumentHelp("What the batches count when capacity is short: households (the default) or persons (reception db counts --help).", valueName: "count"))
    var counts: BatchCounting = .households

    @Flag(help: "Replay without the deadline rule (batches on the database always apply it), to see what putting deadlines first costs.")
    var noDeadlineRule = false

    @Flag(help: "No progress lines on standard error.")
    var quiet = false

    @OptionGroup var output: OutputOptions

    /// A generated year's period when none is given: fixed, so that figures are reproducible.
    static let generatedPeriod = 2027

    func validate() throws {
        guard Self.days(every) != nil else {
            throw ValidationError("--every: \(every) is not an interval such as 1w, 2w or 10d (1 to 92 days)")
        }
        if let period, !(2000...2100).contains(period) { throw ValidationError("--period: \(period) is not a year from 2000 to 2100") }
        guard (1...20_000).contains(households) else { throw ValidationError("--households: \(households) is not from 1 to 20000") }
        guard capacityShare.isFinite, (0.05...2).contains(capacityShare) else {
            throw ValidationError("--capacity-share: \(capacityShare) is not from 0.05 to 2")
        }
        guard timeLimit.isFinite, timeLimit > 0 else { throw ValidationError("--time-limit: \(timeLimit) is not a positive number of seconds") }
        if let arrivals, CaseImport.Format(path: arrivals) == nil {
            throw ValidationError("--arrivals: \(arrivals) is neither .csv nor .json")
        }
    }

    /// `1w`, `2w`, `10d` or a bare number of days, from 1 to 92.
    static func days(_ text: String) -> Int? {
        let trimmed = text.trimmingCharacters(in: .whitespaces).lowercased()
        let (digits, unit) = trimmed.last.map { $0.isLetter ? (String(trimmed.dropLast()), $0) : (trimmed, "d") } ?? ("", "d")
        guard digits.count <= 3, let count = Int(digits), count > 0 else { return nil }
        let days: Int
        switch unit {
        case "d": days = count
        case "w": days = count * 7
        default: return nil
        }
        return (1...92).contains(days) ? days : nil
    }

    func run() async throws {
        var year = SimulatedYear.generated(households: households, seed: seed, period: period ?? Self.generatedPeriod,
                                           capacityShare: capacityShare)
        if let arrivals {
            let data = try ProblemReport.readImportFile(arrivals, json: output.json)
            do {
                year = try year.withArrivals(data, format: CaseImport.Format(path: arrivals)!,
                                             file: URL(fileURLWithPath: arrivals).lastPathComponent)
            } catch let error as InvalidInput {
                try ProblemReport.fail(error, json: output.json)
            }
        }
        if counts == .persons {
            year.weights = counts.weights
            year.source += ", batches counting persons"
        }
        let board = ProgressBoard()
        var progress: YearSimulation.Progress?
        if !quiet {
            progress = { strategy, batch, total in board.show(strategy, batch, total) }
        }
        let settings = YearSimulation.Settings(every: Self.days(every)!, timeLimit: timeLimit, deadlineRule: !noDeadlineRule)
        let outcome: YearSimulation.Outcome = try await YearSimulation.run(year, settings: settings, progress: progress)
        board.done()

        if let html {
            do {
                try outcome.renderHTML().write(toFile: html, atomically: true, encoding: .utf8)
            } catch {
                throw CLIError("cannot write \(html): \(error.localizedDescription)", exitCode: ExitCodes.cannotWrite)
            }
            if !quiet { FileHandle.standardError.write(Data("wrote the simulation's page to \(html)\n".utf8)) }
        }
        if output.json {
            try JSONOutput.print(outcome)
        } else {
            FileHandle.standardOutput.write(Data(outcome.renderTable().utf8))
        }
        let broken = outcome.plain.violations.count + outcome.lookAhead.violations.count
        if broken > 0 {
            throw CLIError("the simulation broke \(broken) invariants (listed in its report): please report this", exitCode: ExitCodes.software)
        }
    }
}

/// Where each replay is, for one progress line: both run at once.
private final class ProgressBoard: Sendable {
    private let state = Mutex<[YearSimulation.Strategy: (Int, Int)]>([:])

    private let terminal = TerminalProgress()

    func show(_ strategy: YearSimulation.Strategy, _ batch: Int, _ of: Int) {
        terminal.show(line(strategy, batch, of))
    }

    func done() { terminal.done() }

    private func line(_ strategy: YearSimulation.Strategy, _ batch: Int, _ of: Int) -> String {
        state.withLock { state in
            state[strategy] = (batch, of)
            return "simulating: " + YearSimulation.Strategy.allCases.map { strategy in
                let (done, total) = state[strategy] ?? (0, of)
                return "\(strategy == .plain ? "plain" : "look-ahead") batch \(done)/\(total)"
            }.joined(separator: ", ")
        }
    }
}
