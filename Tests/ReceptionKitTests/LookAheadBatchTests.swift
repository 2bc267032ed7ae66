import Foundation
import Logging
import Postgres
import ReceptionKit
import Testing
import TestSupport

/// Issue 11 §3: a batch passes the engine a forecast of the rest of the period, resampled from
/// the last 12 months of arrivals; `--expected`, `--no-look-ahead`, too little history; and the
/// request's look-ahead settings are the officer's, fixed once the batch exists.
@Suite("Look-ahead batches")
struct LookAheadBatchTests {
    /// Three municipalities with room for `personsQuota` persons each, and `households`
    /// households of three waiting, arrived over the last months (relative to the pinned today).
    func seed(_ db: Connection, households: Int, personsQuota: Int) async throws {
        try await WorkflowFixture.seed(on: db, cases: 0, personsQuota: personsQuota)
        try await db.execute("""
            INSERT INTO cases (reference, ages, language, arrived_on)
            SELECT 'HIST-' || i, '{35,33,8}', 'ar', reception_today() - (3 * i)::int FROM generate_series(1, \(households)) AS i
            """)
    }

    func run(_ db: Connection, lookAhead: Bool = true, expected: Int? = nil) async throws -> BatchSummary {
        let batch = try await Batches.request(period: WorkflowFixture.period, municipalities: nil, timeLimit: 1, dryRun: true,
                                              lookAhead: lookAhead, expected: expected, on: db)
        return try await BatchRun.run(batchID: batch.id, on: db, logger: Logger(label: "test"))
    }

    @Test func aBatchForecastsWhatTheRemainingQuotaLeaves() async throws {
        try await TestDatabase.withMigratedDatabase { url in
            let db = try await Connection.connect(url)
            // 3 × 60 persons of quota, 24 households of 3 waiting: 108 persons, 36 households, to come.
            try await seed(db, households: 24, personsQuota: 60)
            let summary = try await run(db)
            let forecast = try #require(summary.forecast)
            #expect(forecast.used && forecast.history == 24 && forecast.expected == 36 && !forecast.expectedGiven)
            #expect(summary.placed == 24, "room for everyone waiting: the forecast holds nothing back from them")

            let given = try #require(try await run(db, expected: 7).forecast)
            #expect(given.used && given.expected == 7 && given.expectedGiven)
            let off = try #require(try await run(db, lookAhead: false).forecast)
            #expect(!off.used && off.skipped == "turned off for this batch (--no-look-ahead)")
        }
    }

    @Test func withoutEnoughHistoryOrQuotaLeftTheBatchSaysSoAndRunsPlainly() async throws {
        try await TestDatabase.withMigratedDatabase { url in
            let db = try await Connection.connect(url)
            try await seed(db, households: 5, personsQuota: 60)
            let few = try #require(try await run(db).forecast)
            #expect(!few.used && few.skipped == "only 5 arrivals in the last 12 months (a forecast needs at least 20)")
        }
        // The quota is taken by those waiting: arrivals are still expected at the last 12
        // months' pace (24 in 72 days) over the days the period has left, none on 31 December.
        for (day, expected) in [(CalendarDay(year: 2026, month: 7, day: 1)!, 24 * 183 / 365), (CalendarDay(year: 2026, month: 12, day: 31)!, 0)] {
            try await TestDatabase.withMigratedDatabase { url in
                let db = try await Connection.connect(url)
                try await ReceptionClock.fix(today: day, on: db)
                try await seed(db, households: 24, personsQuota: 9)
                let full = try #require(try await run(db).forecast)
                if expected > 0 {
                    #expect(full.used && full.expected == expected, "\(full)")
                } else {
                    #expect(!full.used && full.skipped?.contains("no more arrivals are expected") == true, "\(full)")
                }
            }
        }
    }

    @Test func theLookAheadSettingsAreTheOfficersAndFixed() async throws {
        try await SecurityGround.with { ground in
            let officer = try await ground.logins.connect(.officer)
            let worker = try await ground.logins.connect(.worker)
            await expectRefused("SELECT request_batch(2026, false, 5, '{}', true, -1)", on: officer, .invalidParameterValue)
            let requested = try await Batches.request(period: WorkflowFixture.period, municipalities: nil, timeLimit: 5, dryRun: false,
                                                      lookAhead: false, expected: nil, on: officer)
            let settings = try await ground.admin.query("SELECT summary->'look_ahead' AS l FROM batches WHERE id = \(requested.id)")[0]
            #expect(try settings.decode("l", as: String.self) == "false")
            // A compromised daemon holding a running batch may write its results, not its request.
            await expectRefused("""
                UPDATE batches SET summary = summary || '{"look_ahead": true, "expected": 100000}' WHERE id = \(ground.runningBatch)
                """, on: worker, .raiseException)
            await expectRefused("""
                UPDATE batches SET summary = summary || '{"look_ahead": true}' WHERE id = \(requested.id)
                """, on: ground.admin, .raiseException)
        }
    }
}
