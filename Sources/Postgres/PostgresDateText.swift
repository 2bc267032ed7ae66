import Foundation

/// Dates in PostgreSQL's ISO text format. Every connection sets `TimeZone = 'UTC'` and
/// `DateStyle = 'ISO, YMD'`, so timestamps arrive as `2026-11-02 14:03:07.123456+00`.
enum PostgresDateText {
    static func timestamp(_ date: Date) -> String {
        let interval = date.timeIntervalSince1970
        var seconds = time_t(interval.rounded(.down))
        var micros = Int(((interval - Double(seconds)) * 1_000_000).rounded())
        if micros >= 1_000_000 { seconds += 1; micros -= 1_000_000 }
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        let micro = String(micros)
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))"
            + " \(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2))."
            + String(repeating: "0", count: 6 - micro.count) + micro + "+00"
    }

    /// Parses `YYYY-MM-DD[ HH:MM:SS[.ffffff]][±HH[:MM[:SS]]]`; nil for anything else.
    static func parse(_ text: String) -> Date? {
        let bytes = Array(text.utf8)
        var index = 0
        func number(_ width: Int) -> Int? {
            guard index + width <= bytes.count else { return nil }
            var value = 0
            for byte in bytes[index..<index + width] {
                guard byte >= 48 && byte <= 57 else { return nil }
                value = value * 10 + Int(byte - 48)
            }
            index += width
            return value
        }
        func expect(_ character: UInt8) -> Bool {
            guard index < bytes.count, bytes[index] == character else { return false }
            index += 1
            return true
        }
        guard let year = number(4), expect(45), let month = number(2), expect(45), let day = number(2),
              CalendarDay(year: year, month: month, day: day) != nil else { return nil }
        var hour = 0, minute = 0, second = 0
        var fraction = 0.0
        var offsetSeconds = 0
        if index < bytes.count {
            guard expect(32) || expect(84), let h = number(2), expect(58), let m = number(2), expect(58),
                  let s = number(2), h < 24, m < 60, s < 61 else { return nil }
            (hour, minute, second) = (h, m, s)
            if expect(46) {
                var scale = 0.1
                while index < bytes.count, bytes[index] >= 48, bytes[index] <= 57 {
                    fraction += Double(bytes[index] - 48) * scale
                    scale /= 10
                    index += 1
                }
            }
            if index < bytes.count {
                let sign: Int
                if expect(43) { sign = 1 } else if expect(45) { sign = -1 } else if expect(90) { sign = 0 } else { return nil }
                if sign != 0 {
                    guard let oh = number(2) else { return nil }
                    var offset = oh * 3600
                    if expect(58) { guard let om = number(2) else { return nil }; offset += om * 60 }
                    if expect(58) { guard let os = number(2) else { return nil }; offset += os }
                    offsetSeconds = sign * offset
                }
            }
            guard index == bytes.count else { return nil }
        }
        var parts = tm()
        parts.tm_year = Int32(year - 1900)
        parts.tm_mon = Int32(month - 1)
        parts.tm_mday = Int32(day)
        parts.tm_hour = Int32(hour)
        parts.tm_min = Int32(minute)
        parts.tm_sec = Int32(second)
        let epoch = Double(timegm(&parts)) - Double(offsetSeconds) + fraction
        return Date(timeIntervalSince1970: epoch)
    }
}
