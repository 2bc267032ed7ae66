import Foundation
import Testing
@testable import JobQueue

/// Periodic schedules: what they accept, what they refuse and say why, and their slots,
/// across daylight-saving changes.
@Suite("Schedules of periodic jobs")
struct ScheduleTests {
    static func date(_ text: String) -> Date { try! Date(text, strategy: .iso8601) }

    @Test func intervalsAreAlignedToMidnightUTC() throws {
        let schedule = try Schedule.parse("every 15m")
        #expect(schedule.description == "every 15m")
        #expect(schedule.latestSlot(atOrBefore: Self.date("2027-01-10T10:44:59Z")) == Self.date("2027-01-10T10:30:00Z"))
        #expect(schedule.latestSlot(atOrBefore: Self.date("2027-01-10T10:45:00Z")) == Self.date("2027-01-10T10:45:00Z"))
        #expect(schedule.nextSlot(after: Self.date("2027-01-10T10:45:00Z")) == Self.date("2027-01-10T11:00:00Z"))
        let hourly = try Schedule.parse("Every  Hour")
        #expect(hourly.description == "every hour")
        #expect(hourly.nextSlot(after: Self.date("2027-01-10T23:59:59Z")) == Self.date("2027-01-11T00:00:00Z"))
    }

    @Test func aTimeOfDayIsInItsTimeZone() throws {
        let schedule = try Schedule.parse("every day at 02:00 Europe/Stockholm")
        #expect(schedule.description == "every day at 02:00 Europe/Stockholm")
        // Winter: UTC+1.
        #expect(schedule.latestSlot(atOrBefore: Self.date("2027-01-10T12:00:00Z")) == Self.date("2027-01-10T01:00:00Z"))
        #expect(schedule.latestSlot(atOrBefore: Self.date("2027-01-10T00:59:59Z")) == Self.date("2027-01-09T01:00:00Z"))
        // Summer: UTC+2.
        #expect(schedule.nextSlot(after: Self.date("2027-07-01T00:30:00Z")) == Self.date("2027-07-02T00:00:00Z"))
        #expect(try Schedule.parse("every day at 02:00").latestSlot(atOrBefore: Self.date("2027-01-10T12:00:00Z")) == Self.date("2027-01-10T02:00:00Z"))
    }

    @Test func aSkippedTimeRunsAfterTheGapAndARepeatedOneOnce() throws {
        let schedule = try Schedule.parse("every day at 02:30 Europe/Stockholm")
        // 2027-03-28: clocks go from 02:00 to 03:00; 02:30 does not happen: 03:00 local, 01:00 UTC.
        #expect(schedule.nextSlot(after: Self.date("2027-03-27T12:00:00Z")) == Self.date("2027-03-28T01:00:00Z"))
        // 2027-10-31: 02:30 happens twice; the first (summer time, 00:30 UTC) only.
        let autumn = schedule.nextSlot(after: Self.date("2027-10-30T12:00:00Z"))
        #expect(autumn == Self.date("2027-10-31T00:30:00Z"))
        #expect(schedule.nextSlot(after: autumn) == Self.date("2027-11-01T01:30:00Z"))
    }

    @Test func aWeekdayScheduleRunsOnceAWeek() throws {
        let schedule = try Schedule.parse("every monday at 06:30 Europe/Stockholm")
        // 2027-01-11 is a Monday.
        #expect(schedule.latestSlot(atOrBefore: Self.date("2027-01-14T12:00:00Z")) == Self.date("2027-01-11T05:30:00Z"))
        #expect(schedule.nextSlot(after: Self.date("2027-01-11T05:30:00Z")) == Self.date("2027-01-18T05:30:00Z"))
    }

    @Test(arguments: [
        ("daily at 02:00", "starts with 'every'"),
        ("every", "starts with 'every'"),
        ("every fortnight", "'fortnight' is neither an interval"),
        ("every 0s", "is neither an interval"),
        ("every day at 2am", "'2am' is not a time of day as HH:MM"),
        ("every day at 24:00", "'24:00' is not a time of day"),
        ("every day 02:00", "a time of day follows 'at'"),
        ("every day at 02:00 Mars/Olympus", "'Mars/Olympus' is not a time zone"),
        ("every day at 02:00 UTC please", "unexpected 'please'"),
        ("every 15m at 02:00", "'15m' is not day or a weekday"),
    ])
    func aScheduleThatCannotBeReadSaysWhy(text: String, problem: String) {
        #expect {
            _ = try Schedule.parse(text)
        } throws: { error in
            "\(error)".contains(problem) && "\(error)".contains(text)
        }
    }
}
