import Foundation
import ReceptionKit

/// Reports input problems to the officer: one line each on stderr (or a JSON document on
/// stdout with --json), then exit 65. Problems may quote the offending value of a field, which
/// is how the officer fixes their input; they go to the terminal, never to a log.
enum ProblemReport {
    static func fail(_ error: InvalidInput, json: Bool, optionNames: [String: String] = [:]) throws -> Never {
        if json {
            try JSONOutput.print(ProblemDocument(problems: error.problems))
        } else {
            var text = ""
            for problem in error.problems {
                if problem.location == .arguments, let option = optionNames[problem.field] {
                    text += "\(option): \(TerminalText.escaped(problem.reason))\n"
                } else {
                    text += "\(TerminalText.escaped("\(problem)"))\n"
                }
            }
            FileHandle.standardError.write(Data(text.utf8))
        }
        let count = error.problems.count
        ReceptionCommand.fail(count == 1 ? "the input has a problem; nothing was written"
                                         : "the input has \(count) problems; nothing was written",
                              code: ExitCodes.badData)
    }

    /// A file of households (an import, a forecast, a simulation's arrivals), whole: too large
    /// is a problem with the input (65), unreadable a missing input (66).
    static func readImportFile(_ path: String, json: Bool) throws -> [UInt8] {
        do throws(ImportFile.ReadError) {
            return try ImportFile.contents(atPath: path)
        } catch {
            switch error {
            case .tooLarge:
                try fail(InvalidInput([ValidationProblem(.file, field: "", reason: error.description)]), json: json)
            case .unreadable(let reason):
                throw CLIError("cannot read \(path): \(reason)", exitCode: ExitCodes.noInput)
            }
        }
    }

    struct ProblemDocument: Encodable {
        var ok = false
        let problems: [ValidationProblem]
    }
}

/// Progress lines on stderr, only when it is a terminal: a script piping the output sees none.
struct TerminalProgress: Sendable {
    let enabled = isatty(2) == 1

    func show(_ message: String) {
        guard enabled else { return }
        FileHandle.standardError.write(Data("\r\u{1B}[K\(message)".utf8))
    }

    func done() {
        guard enabled else { return }
        FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
    }
}

/// 100000 → "100,000", for people.
func grouped(_ number: Int) -> String {
    let digits = String(number.magnitude)
    var result = ""
    for (index, digit) in digits.enumerated() {
        if index > 0 && (digits.count - index) % 3 == 0 { result += "," }
        result.append(digit)
    }
    return (number < 0 ? "-" : "") + result
}
