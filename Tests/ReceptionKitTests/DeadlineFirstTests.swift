import Placement
import Postgres
import Testing
@testable import ReceptionKit

/// The deadline rule's first stage in a batch that looks ahead (README "Deadlines first"): the
/// due household is received, and where it goes is chosen by looking ahead.
@Suite("Deadlines first, looking ahead")
struct DeadlineFirstTests {
    static let today = CalendarDay(year: 2027, month: 3, day: 1)!
    static let ages = [40, 38, 17, 16, 17]

    /// One large dwelling in each of Umeå and Vännäs. The due family would rather go to Umeå
    /// (ties: 1,500 points there, 1,000 in Vännäs); of the two large families expected, one is
    /// worth 1,839 in Umeå and the other 1,299 in Vännäs.
    static func instance(forecast: Bool) -> PlacementInstance {
        let room: [String: Int] = ["persons": 5, "dwellings": 1, "large_dwellings": 1]
        return PlacementInstance(
            weights: .init(placed: 1000, familyTies: 500, language: 40, preference: 300),
            municipalities: [.init(code: "2480", name: "Umeå", capacity: room, languages: ["ar"]),
                             .init(code: "2460", name: "Vännäs", capacity: room)],
            cases: [.init(id: "due", ages: ages, familyTies: ["2480"])],
            forecast: forecast
                ? [.init(id: "expected-umea", ages: ages, language: "ar", familyTies: ["2480"], preferences: ["2480"]),
                   .init(id: "expected-vannas", ages: ages, preferences: ["2460"])]
                : [])
    }

    static func solve(_ instance: PlacementInstance) async throws -> (PlacementResult, BatchSummary.DueFirst?) {
        try await DeadlineFirst.solve(
            instance, today: today, deadlines: ["due": today.adding(days: 3)!], horizonDays: DeadlineFirst.horizonDays,
            timeLimit: 5, solve: YearSimulation.solve, progress: nil)
    }

    @Test func aDueHouseholdIsReceivedWhereTheExpectedOnesLoseLeast() async throws {
        // Plainly it goes where it scores most.
        let (plain, plainDue) = try await Self.solve(Self.instance(forecast: false))
        #expect(plain.assignments.map(\.municipality) == ["2480"])
        #expect(plainDue?.placed == 1)

        // Looking ahead (where a plain look-ahead would keep it waiting for the two expected
        // families) it is still received, in Vännäs, which leaves Umeå to the family worth most there.
        let (ahead, aheadDue) = try await Self.solve(Self.instance(forecast: true))
        #expect(ahead.assignments.map(\.caseID) == ["due"])
        #expect(ahead.assignments.map(\.municipality) == ["2460"])
        #expect(ahead.objective == 1000 && ahead.unplaced.isEmpty)
        #expect(aheadDue == BatchSummary.DueFirst(due: 1, placed: 1, nextBatchOn: Self.today.adding(days: DeadlineFirst.horizonDays)!))
    }
}
