import Foundation

/// When a periodic job is due: a series of slots in time, written as an operator would say it.
///
///     every 15m                          every 15 minutes, from midnight UTC
///     every hour                         on the hour (also: every minute, every day)
///     every day at 02:00 Europe/Stockholm
///     every monday at 06:30 Europe/Stockholm
///
/// Without a time zone a time of day is UTC. A time that a daylight-saving change skips runs
/// at the first moment after the gap (02:30 on the last Sunday of March in Stockholm runs at
/// 03:00); one that happens twice runs once, the first time.
public struct Schedule: Sendable, Hashable, CustomStringConvertible {
    enum Rule: Hashable {
        /// Slots at whole multiples of this many seconds since 1970-01-01 00:00 UTC.
        case every(seconds: Int64)
        /// Each day, or each given weekday (1 = Sunday, as `Calendar` counts), at a time of day.
        case at(hour: Int, minute: Int, weekday: Int?)
    }

    let rule: Rule
    let timeZone: TimeZone
    /// The text it was parsed from, normalised.
    public let description: String

    static let weekdays = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"]

    /// Parses a schedule, or says what is wrong with it.
    public static func parse(_ text: String) throws(ScheduleError) -> Schedule {
        let words = text.lowercased().split(whereSeparator: \.isWhitespace).map(String.init)
        let original = text.split(whereSeparator: \.isWhitespace).map(String.init)
        guard words.first == "every", words.count >= 2 else {
            throw ScheduleError(text: text, problem: "a schedule starts with 'every' (every 15m, every hour, every day at 02:00 Europe/Stockholm)")
        }
        let unit = words[1]
        if words.count == 2 {
            switch unit {
            case "minute": return Schedule(rule: .every(seconds: 60), timeZone: .gmt, description: "every minute")
            case "hour": return Schedule(rule: .every(seconds: 3600), timeZone: .gmt, description: "every hour")
            case "day": return Schedule(rule: .at(hour: 0, minute: 0, weekday: nil), timeZone: .gmt, description: "every day at 00:00 UTC")
            case let day where weekdays.contains(day):
                throw ScheduleError(text: text, problem: "a weekday takes a time of day (every \(day) at 06:00)")
            default:
                guard let interval = DurationText.parse(unit), interval >= .seconds(1) else {
                    throw ScheduleError(text: text, problem: "'\(original[1])' is neither an interval (30s, 15m, 6h, 1d) nor minute, hour or day")
                }
                let seconds = interval.components.seconds
                guard Duration.seconds(seconds) == interval else {
                    throw ScheduleError(text: text, problem: "an interval is whole seconds")
                }
                return Schedule(rule: .every(seconds: seconds), timeZone: .gmt, description: "every \(unit)")
            }
        }
        let weekday: Int?
        if unit == "day" {
            weekday = nil
        } else if let index = weekdays.firstIndex(of: unit) {
            weekday = index + 1
        } else {
            throw ScheduleError(text: text, problem: "'\(original[1])' is not day or a weekday (monday ... sunday): only those take a time of day")
        }
        guard words.count >= 4, words[2] == "at" else {
            throw ScheduleError(text: text, problem: "a time of day follows 'at' (every \(unit) at 02:00)")
        }
        let clock = words[3].split(separator: ":", omittingEmptySubsequences: false)
        guard clock.count == 2, clock.allSatisfy({ $0.count == 2 && $0.allSatisfy(\.isASCII) }),
              let hour = Int(clock[0]), let minute = Int(clock[1]), (0...23).contains(hour), (0...59).contains(minute) else {
            throw ScheduleError(text: text, problem: "'\(original[3])' is not a time of day as HH:MM (00:00 to 23:59)")
        }
        var timeZone = TimeZone.gmt
        if words.count == 5 {
            guard let zone = TimeZone(identifier: original[4]) else {
                throw ScheduleError(text: text, problem: "'\(original[4])' is not a time zone of the IANA database (Europe/Stockholm, UTC)")
            }
            timeZone = zone
        } else if words.count > 5 {
            throw ScheduleError(text: text, problem: "unexpected '\(original[5...].joined(separator: " "))' after the time zone")
        }
        let zoneName = words.count == 5 ? original[4] : "UTC"
        let day = weekday.map { weekdays[$0 - 1] } ?? "day"
        return Schedule(rule: .at(hour: hour, minute: minute, weekday: weekday), timeZone: timeZone,
                        description: "every \(day) at \(words[3]) \(zoneName)")
    }

    /// The latest slot at or before `date`.
    public func latestSlot(atOrBefore date: Date) -> Date {
        switch rule {
        case .every(let seconds):
            let since = Int64(date.timeIntervalSince1970.rounded(.down))
            let slot = since - ((since % seconds) + seconds) % seconds
            return Date(timeIntervalSince1970: TimeInterval(slot))
        case .at:
            // The first slot after a moment a little over a week back, then forward.
            var slot = nextSlot(after: date.addingTimeInterval(-8 * 86_400))
            while true {
                let next = nextSlot(after: slot)
                if next > date { return slot }
                slot = next
            }
        }
    }

    /// The first slot strictly after `date`.
    public func nextSlot(after date: Date) -> Date {
        switch rule {
        case .every(let seconds):
            return latestSlot(atOrBefore: date).addingTimeInterval(TimeInterval(seconds))
        case .at(let hour, let minute, let weekday):
            var calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = timeZone
            var components = DateComponents(hour: hour, minute: minute, second: 0)
            components.weekday = weekday
            return calendar.nextDate(after: date, matching: components, matchingPolicy: .nextTime,
                                     repeatedTimePolicy: .first, direction: .forward)
                ?? date.addingTimeInterval(86_400)
        }
    }
}

/// A schedule that could not be read, and why.
public struct ScheduleError: Error, Sendable, CustomStringConvertible {
    public let text: String
    public let problem: String
    public var description: String { "schedule '\(text)': \(problem)" }
}
