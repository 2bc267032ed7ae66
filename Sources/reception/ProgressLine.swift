import Foundation
import Placement
import Synchronization

/// Prints a solve's progress to standard error as it improves, at most a few lines a second:
/// `reception solve --progress` and the officer waiting on `reception batch run`.
final class ProgressLine: Sendable {
    private struct Printed { var at = -Double.infinity; var last: Solver.Progress? }
    private let printed = Mutex(Printed())
    /// Seconds between two lines, so that a fast run of improvements does not flood the terminal.
    private let interval: Double

    init(interval: Double = 0.25) { self.interval = interval }

    func report(_ progress: Solver.Progress) {
        let due = printed.withLock { printed in
            printed.last = progress
            guard progress.seconds - printed.at >= interval else { return false }
            printed.at = progress.seconds
            return true
        }
        if due { Self.write(progress) }
    }

    /// The last figures, if the throttle held them back, and how the solve ended.
    func finish(_ result: PlacementResult) {
        let held = printed.withLock { printed -> Solver.Progress? in
            defer { printed.last = nil }
            return printed.last.flatMap { $0.seconds > printed.at ? $0 : nil }
        }
        if let held { Self.write(held) }
        let verdict = result.stats.provenOptimal
            ? "proven optimal"
            : String(format: "at most %.3f%% below the best possible", result.gap * 100)
        let head = String(format: "%7.1f s  finished: objective %d, ", result.stats.seconds, result.objective)
        FileHandle.standardError.write(Data((head + verdict + "\n").utf8))
    }

    static func line(_ progress: Solver.Progress) -> String {
        guard progress.bound > 0 else {
            return String(format: "%7.1f s  objective %d\n", progress.seconds, progress.objective)
        }
        let gap = 100 * Double(progress.bound - progress.objective) / Double(progress.bound)
        return String(format: "%7.1f s  objective %d  bound %d  gap %.3f%%\n", progress.seconds, progress.objective, progress.bound, gap)
    }

    private static func write(_ progress: Solver.Progress) {
        FileHandle.standardError.write(Data(line(progress).utf8))
    }
}
