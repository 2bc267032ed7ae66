import ArgumentParser
import Foundation
import Placement
import ReceptionKit
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `reception solve`: the placement engine on a JSON file, without the database.
struct SolveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "solve",
        abstract: "Place households in municipalities: read a placement instance, write the best placement found.",
        discussion: """
            Reads a placement-instance/1 JSON document (a file, or - for
            standard input) and writes a placement-result/1 document to
            standard output (or --output). Nothing else is ever written to
            standard output. The same instance gives the same placement.

            INSTANCE (placement-instance/1; unknown keys are ignored)
              format          "placement-instance/1"
              weights         {placed, placed_person, waiting_day,
                              family_ties, language, occupation,
                              preference}: whole numbers; a missing
                              weight is 0
              municipalities  [{code, name, capacity: {dimension: units},
                              languages: [..], shortage_occupations: [..]}]
              cases           [{id, members: [{age}], needs: {dimension:
                              units}, language, occupations, family_ties,
                              preferences, excluded, waiting_days}]
              forecast        optional: households expected later in
                              the period, in the shape of cases (ids
                              unique across both); never placed, the
                              engine keeps capacity they need more
            Dimensions: persons, dwellings, large_dwellings, school_places,
            preschool_places, and any need (trauma_care, dialysis, ..); an
            absent dimension has capacity 0. A case needs persons = its
            members, 1 dwelling, 1 large dwelling if 5 or more members, a
            school place per member aged 6-15, a preschool place per member
            aged 1-5, plus its needs. It is placed whole or not at all, never
            where it is excluded, never beyond any capacity. Placing it scores
            placed + placed_person x members + waiting_day x waiting_days,
            plus family_ties, language, occupation, preference where the
            municipality matches.

            RESULT (placement-result/1)
              objective       total score of the assignments
              bound           proven upper bound: no placement scores more,
                              so bound - objective is a certified gap
              assignments     [{case, municipality, score, reasons: [..],
                              next_best: {municipality, name, score,
                              score_difference, reason}}]
              unplaced        [{case, reason}]
              stats           {seconds, gap, proven_optimal,
                              bound_iterations, search_iterations,
                              time_limit_reached, nodes, forecast: {cases,
                              objective, bound, placed,
                              objective_without_forecast}}
            On a regional instance (up to 20 municipalities, 1,500 cases)
            the engine also tries to prove its placement optimal (branch
            and price; nodes counts its search). proven_optimal: true means
            bound == objective; a proof cut short by --time-limit keeps the
            bound it proved and says time_limit_reached.
            With a forecast, assignments and unplaced hold the current
            cases only; bound is theirs alone, as without a forecast;
            stats.forecast is the joint problem's objective and bound; a
            household left waiting for expected arrivals says so.

            --generate region|national --cases N --seed S writes a realistic
            synthetic instance instead of solving (same seed, same file).
            --replay-year --cases N --seed S replays a generated reception
            year in 52 weekly batches, with and without a forecast, and
            prints one JSON line: how close each comes to placing the whole
            year at once (the look-ahead benchmark).

            Exit codes: 0 solved or generated; 64 bad command line; 65 invalid
            instance (the message names the JSON path, for example
            cases[17].members[2].age); 66 instance file unreadable; 74 output
            unwritable.

            Examples:
              reception solve batch.json --time-limit 10 --output result.json
              reception solve --generate national --cases 2000 --seed 7 > i.json
              reception solve - --stats < i.json
            """
    )

    @Argument(help: ArgumentHelp("The instance file, or - for standard input.", valueName: "instance"))
    var instance: String?

    @Option(name: .long, help: ArgumentHelp("Seconds the whole command may take (reading, solving, writing); the engine returns the best placement found by then.", valueName: "seconds"))
    var timeLimit: Double = 60

    @Option(name: .shortAndLong, help: ArgumentHelp("Write the result (or generated instance) to this file instead of standard output.", valueName: "file"))
    var output: String?

    @Option(name: .long, help: ArgumentHelp("Write a synthetic instance of this kind (region or national) instead of solving.", valueName: "kind"))
    var generate: String?

    @Option(name: .long, help: ArgumentHelp("With --generate: the number of households.", valueName: "n"))
    var cases: Int = 300

    @Option(name: .long, help: ArgumentHelp("With --generate: the random seed.", valueName: "s"))
    var seed: UInt64 = 1

    @Flag(name: .long, help: "Print a one-line summary (objective, bound, gap, seconds, peak memory) to standard error.")
    var stats = false

    @Flag(name: .long, help: "Print the objective and the bound to standard error as they improve.")
    var progress = false

    @Flag(name: .long, help: "Stop when the engine's fixed search budgets are spent rather than at --time-limit: the same instance then always gives the same placement.")
    var reproducible = false

    @Flag(name: .long, help: "Replay a generated reception year (--cases households, --seed) in weekly batches, with and without a forecast, against placing the year at once.")
    var replayYear = false

    func validate() throws {
        if replayYear {
            guard generate == nil && instance == nil else { throw ValidationError("--replay-year takes no instance and no --generate") }
            guard cases > 0 else { throw ValidationError("--cases: \(cases) households cannot make a year") }
        } else if let kind = generate {
            guard InstanceGenerator.Kind(rawValue: kind) != nil else {
                throw ValidationError("--generate: \(kind) is not region or national")
            }
            guard instance == nil else { throw ValidationError("give either an instance file or --generate, not both") }
            guard cases >= 0 else { throw ValidationError("--cases: \(cases) is negative") }
        } else {
            guard instance != nil else { throw ValidationError("missing the instance file (or - for standard input)") }
        }
        guard timeLimit.isFinite && timeLimit > 0 else { throw ValidationError("--time-limit: \(timeLimit) is not a positive number of seconds") }
    }

    /// A national surge instance (290 municipalities, 50,000 households) is about 10 MiB.
    static let maxInstanceBytes = 256 << 20

    func run() async throws {
        let start = Date()
        if replayYear {
            let o = YearReplay.run(households: cases, seed: seed, solver: Solver(timeLimit: timeLimit))
            let line = String(format: "{\"seed\":%llu,\"households\":%d,\"hindsight\":%d,\"hindsight_bound\":%d,\"hindsight_placed\":%d,"
                              + "\"plain\":%d,\"plain_placed\":%d,\"look_ahead\":%d,\"look_ahead_placed\":%d,"
                              + "\"plain_share\":%.6f,\"look_ahead_share\":%.6f,\"closed\":%.6f,\"seconds\":%.1f}\n",
                              seed, o.households, o.hindsight, o.hindsightBound, o.hindsightPlaced, o.plain, o.plainPlaced,
                              o.lookAhead, o.lookAheadPlaced, o.plainShare, o.lookAheadShare, o.closed, Date().timeIntervalSince(start))
            try write(Data(line.utf8))
            return
        }
        if let kind = generate.flatMap(InstanceGenerator.Kind.init(rawValue:)) {
            let generated = InstanceGenerator.generate(kind: kind, cases: cases, seed: seed)
            try write(generated.jsonData())
            return
        }
        let source = instance ?? "-"
        let data: Data
        var isDirectory: ObjCBool = false
        if source != "-" {
            guard FileManager.default.fileExists(atPath: source, isDirectory: &isDirectory) else {
                throw CLIError("\(source): no such file", exitCode: ExitCodes.noInput)
            }
            guard !isDirectory.boolValue else { throw CLIError("\(source): is a directory", exitCode: ExitCodes.noInput) }
        }
        // Bounded like case import, file or pipe: nothing past the limit is read into memory.
        do {
            data = Data(try ImportFile.contents(atPath: source == "-" ? "/dev/stdin" : source, limit: Self.maxInstanceBytes))
        } catch .tooLarge {
            throw CLIError("\(source == "-" ? "<stdin>" : source): larger than \(Self.maxInstanceBytes >> 20) MiB, the most reception solve reads",
                           exitCode: ExitCodes.badData)
        } catch .unreadable(let reason) {
            throw CLIError("\(source == "-" ? "<stdin>" : source): cannot read: \(reason)", exitCode: ExitCodes.noInput)
        }
        let problem: PlacementInstance
        do {
            problem = try PlacementInstance.decode(from: data)
        } catch {
            throw CLIError("\(source == "-" ? "<stdin>" : source): \(error)", exitCode: ExitCodes.badData)
        }
        let printer: ProgressLine? = progress ? ProgressLine() : nil
        // --time-limit is the command's: the engine gets what reading the instance left, less a
        // reserve (1.5%) for explaining and writing the result (a second on a 50,000-household surge).
        let engineLimit = max(0.05, (timeLimit - Date().timeIntervalSince(start)) * 0.985)
        var solver = Solver(timeLimit: engineLimit, stopping: reproducible ? .budget : .timeLimit)
        if let printer { solver.progress = { printer.report($0) } }
        let result = solver.solve(problem)
        printer?.finish(result)
        try write(result.jsonData())
        if stats {
            let seconds = Date().timeIntervalSince(start)
            let line = String(format: "reception: solve: %d cases, %d municipalities, objective %d, bound %d, gap %.4f%%, %.3f s, peak %.1f MiB\n",
                              problem.cases.count, problem.municipalities.count, result.objective, result.bound,
                              result.gap * 100, seconds, Self.peakMemoryMiB())
            FileHandle.standardError.write(Data(line.utf8))
        }
    }

    private func write(_ data: Data) throws {
        if let output, output != "-" {
            do {
                // Atomic (a temporary file renamed into place) for a file, so that a failed run
                // leaves no half-written result; a device or a pipe (/dev/null, /dev/stdout, a
                // FIFO) is written to as it is, never replaced by a file.
                let url = URL(fileURLWithPath: output)
                let type = (try? FileManager.default.attributesOfItem(atPath: output))?[.type] as? FileAttributeType
                try data.write(to: url, options: type == nil || type == .typeRegular ? .atomic : [])
            } catch {
                throw CLIError("\(output): cannot write: \(Self.reason(error))", exitCode: ExitCodes.cannotWrite)
            }
        } else {
            FileHandle.standardOutput.write(data)
        }
    }

    private static func reason(_ error: any Error) -> String {
        let nsError = error as NSError
        if let underlying = nsError.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain,
           let text = strerror(Int32(underlying.code)) {
            return String(cString: text)
        }
        return nsError.localizedDescription
    }

    /// Peak resident memory of this process so far, from getrusage (kilobytes on Linux, bytes on macOS).
    static func peakMemoryMiB() -> Double {
        var usage = rusage()
        #if canImport(Glibc)
        let status = getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        #else
        let status = getrusage(RUSAGE_SELF, &usage)
        #endif
        guard status == 0 else { return 0 }
        #if canImport(Darwin)
        return Double(usage.ru_maxrss) / 1_048_576
        #else
        return Double(usage.ru_maxrss) / 1024
        #endif
    }
}
