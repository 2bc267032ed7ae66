import Foundation

/// Durations as people write them on command lines: `500ms`, `30s`, `5m`, `2h`, `7d`, or a
/// plain number of seconds.
public enum DurationText {
    public static func parse(_ text: String) -> Duration? {
        let trimmed = text.trimmingCharacters(in: .whitespaces).lowercased()
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86400)]
        var number = Substring(trimmed)
        var scale = 1.0
        for (suffix, factor) in units where trimmed.hasSuffix(suffix) {
            let candidate = trimmed.dropLast(suffix.count)
            // "ms" also ends in "s": take the longest unit that leaves a number.
            if Double(candidate) != nil { number = candidate; scale = factor; break }
        }
        // At most a year: a duration beyond that is a typo, and would overflow.
        guard let value = Double(number), value.isFinite, value >= 0, value * scale <= 366 * 86400 else { return nil }
        return .milliseconds(Int64((value * scale * 1000).rounded()))
    }

    /// `850ms`, `42s`, `3m 12s`, `5h 3m`, `2d 4h`.
    public static func format(_ duration: Duration) -> String {
        let milliseconds = duration.milliseconds
        if milliseconds < 1000 { return "\(milliseconds)ms" }
        let seconds = milliseconds / 1000
        if seconds < 60 { return "\(seconds)s" }
        if seconds < 3600 { return "\(seconds / 60)m \(seconds % 60)s" }
        if seconds < 86400 { return "\(seconds / 3600)h \(seconds % 3600 / 60)m" }
        return "\(seconds / 86400)d \(seconds % 86400 / 3600)h"
    }
}
