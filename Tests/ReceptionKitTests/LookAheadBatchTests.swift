import Foundation
import Logging
import Placement
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
            // 3 × 60 persons of quota, 24 households of 3 waiting: 108 persons, 36 households, to
            // come — more than the last 12 months' pace brings in the 35 days left.
            try await ReceptionClock.fix(today: CalendarDay(year: 2026, month: 11, day: 26)!, on: db)
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

    /// Issue 11 §3: a new installation (too little history) looks ahead through the officer's
    /// file, used as it is or resampled to `--expected`.
    @Test func aNewInstallationLooksAheadThroughTheOfficersForecastFile() async throws {
        try await TestDatabase.withMigratedDatabase { url in
            let db = try await Connection.connect(url)
            try await seed(db, households: 5, personsQuota: 60)
            let file = (1...8).map { PlacementInstance.Case(id: "E\($0)", ages: [30, 4], needs: $0 == 1 ? ["trauma_care": 1] : [:], language: "ar") }
            func run(expected: Int?) async throws -> BatchSummary {
                let batch = try await Batches.request(period: WorkflowFixture.period, municipalities: nil, timeLimit: 1, dryRun: true,
                                                      expected: expected, forecast: file, on: db)
                return try await BatchRun.run(batchID: batch.id, on: db, logger: Logger(label: "test"))
            }
            let whole = try #require(try await run(expected: nil).forecast)
            #expect(whole.used && whole.fromFile == true && whole.expected == 8 && whole.history == 8, "\(whole)")
            let drawn = try #require(try await run(expected: 3).forecast)
            #expect(drawn.used && drawn.fromFile == true && drawn.expected == 3 && drawn.expectedGiven, "\(drawn)")
            // What the engine is given: the file's households, needs included.
            let batch = try await Batches.request(period: WorkflowFixture.period, municipalities: nil, timeLimit: 1, dryRun: true,
                                                  forecast: file, on: db)
            let snapshot = try await BatchRun.load(batchID: batch.id, on: db)
            #expect(snapshot.instance.forecast.count == 8)
            #expect(snapshot.instance.forecast.filter { $0.needs == ["trauma_care": 1] }.count == 1)
            #expect(snapshot.instance.forecast.allSatisfy { $0.members.map(\.age) == [30, 4] && $0.language == "ar" })
        }
    }

    /// The forecast's size limit is the database's (sql/019) and the CLI's and the draw's
    /// (`BatchForecast.maximumExpected`): held equal here, at the edge.
    @Test func theDatabaseTakesAForecastOfTheSwiftLimitAndNotOneMore() async throws {
        try await SecurityGround.with { ground in
            let officer = try await ground.logins.connect(.officer)
            let limit = BatchForecast.maximumExpected
            let households = { (count: Int) in (1...count).map { PlacementInstance.Case(id: "E\($0)", ages: [30 + $0 % 40]) } }
            let requested = try await Batches.request(period: WorkflowFixture.period, municipalities: nil, timeLimit: 5, dryRun: true,
                                                      forecast: households(limit), on: officer)
            let kept: Int = try await ground.admin.query("SELECT count(*) AS n FROM batch_forecast_households WHERE batch_id = \(requested.id)")[0].decode("n")
            #expect(kept == limit)
            do {
                _ = try await Batches.request(period: WorkflowFixture.period, municipalities: nil, timeLimit: 5, dryRun: true,
                                              forecast: households(limit + 1), on: officer)
                Issue.record("the database took a forecast of \(limit + 1) households")
            } catch let error as PostgresError {
                #expect("\(error)".contains("at most \(limit) households"), "\(error)")
            }
        }
    }

    @Test func theForecastFileIsTheRequestsAndOnlyAnOfficerGivesIt() async throws {
        try await SecurityGround.with { ground in
            let officer = try await ground.logins.connect(.officer)
            let worker = try await ground.logins.connect(.worker)
            let auditor = try await ground.logins.connect(.auditor)
            for bad in [#"{"ages": [30]}"#, #"[{"ages": [200]}]"#, #"[{"ages": []}]"#, #"[{"ages": ["x"]}]"#, #"[{"ages": 30}]"#,
                        #"[{"ages": [null]}]"#, #"[{"ages": [30], "occupations": [null]}]"#, #"[{"ages": [30], "needs": {"trauma_care": 1e30}}]"#,
                        #"[{"ages": [30], "needs": {"no_such_need": 1}}]"#, #"[{"ages": [30], "needs": {"trauma_care": 0}}]"#] {
                await expectRefused("SELECT request_batch(2026, false, 5, '{}', true, NULL, \(bad)::jsonb)", on: officer, .invalidParameterValue)
            }
            await expectRefused(#"SELECT request_batch(2026, false, 5, '{}', false, NULL, '[{"ages": [30]}]')"#, on: officer, .invalidParameterValue)
            let requested = try await Batches.request(period: WorkflowFixture.period, municipalities: nil, timeLimit: 5, dryRun: true,
                                                      forecast: [PlacementInstance.Case(id: "E", ages: [40, 12])], on: officer)
            let row = try await ground.admin.query("SELECT summary->>'forecast_file' AS f FROM batches WHERE id = \(requested.id)")[0]
            #expect(try row.decode("f", as: String.self) == "1")
            // Nobody writes the file but request_batch, and nobody changes it afterwards.
            for login in [officer, worker] {
                await expectRefused("INSERT INTO batch_forecast_households (batch_id, position, ages) VALUES (\(requested.id), 2, '{30}')",
                                    on: login, .insufficientPrivilege)
                await expectRefused("UPDATE batch_forecast_households SET ages = '{1}' WHERE batch_id = \(requested.id)", on: login, .insufficientPrivilege)
                await expectRefused("DELETE FROM batch_forecast_households WHERE batch_id = \(requested.id)", on: login, .insufficientPrivilege)
            }
            // Not even the owner, once the request is made: no new household, none changed or removed, the count kept.
            await expectRefused("UPDATE batch_forecast_households SET ages = '{1}' WHERE batch_id = \(requested.id)", on: ground.admin, .raiseException)
            await expectRefused("INSERT INTO batch_forecast_households (batch_id, position, ages) VALUES (\(requested.id), 2, '{30}')",
                                on: ground.admin, .raiseException)
            await expectRefused("DELETE FROM batch_forecast_households WHERE batch_id = \(requested.id)", on: ground.admin, .raiseException)
            await expectRefused("""
                UPDATE batches SET summary = summary || '{"forecast_file": 2}' WHERE id = \(requested.id)
                """, on: ground.admin, .raiseException)
            await expectRefused(#"SELECT request_batch(2026, false, 5, '{}', true, NULL, '[{"ages": [30]}]')"#, on: worker, .insufficientPrivilege)
            await expectRefused("""
                UPDATE batches SET summary = summary || '{"forecast_file": 99}' WHERE id = \(ground.runningBatch)
                """, on: worker, .raiseException)
            // The daemon reads it to build the forecast; an auditor has no use for it.
            _ = try await worker.query("SELECT count(*) FROM batch_forecast_households")
            await expectRefused("SELECT count(*) FROM batch_forecast_households", on: auditor, .insufficientPrivilege)
            // A login with no Reception role, let into the database, neither reads nor requests one.
            let outsider = try await ground.logins.connectOutsiderGivenConnect()
            await expectRefused("SELECT count(*) FROM batch_forecast_households", on: outsider, .insufficientPrivilege)
            await expectRefused(#"SELECT request_batch(2026, false, 5, '{}', true, NULL, '[{"ages": [30]}]')"#, on: outsider, .insufficientPrivilege)
        }
    }

    @Test func theOfficersCommandReadsTheForecastFileAndNamesItsProblems() async throws {
        try await TestDatabase.withMigratedDatabase { url in
            let db = try await Connection.connect(url)
            try await seed(db, households: 5, personsQuota: 60)
            let reception = try TestDatabase.executable("reception")
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("forecast-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: folder) }
            let bad = folder.appendingPathComponent("expected.csv")
            try Data("ref,ages,needs\nE-1,30;4,\nE-2,31,no_such_need\n".utf8).write(to: bad)
            let refused = try await Process.output(of: reception, ["batch", "run", "--forecast", bad.path, "--database-url", url])
            #expect(refused.status == 65 && refused.output.contains("line 3") && refused.output.contains("needs"), "\(refused.output)")
            let both = try await Process.output(of: reception, ["batch", "run", "--forecast", bad.path, "--no-look-ahead", "--database-url", url])
            #expect(both.status == 64 && both.output.contains("--forecast"), "\(both.output)")
            let batches = try await db.query("SELECT count(*) AS n FROM batches")[0]
            #expect(try batches.decode("n", as: Int.self) == 0, "nothing was requested")

            let good = folder.appendingPathComponent("expected.json")
            // Expected later this period: a date after today is no problem.
            try Data(#"[{"ref": "E-1", "ages": [30, 4], "anvisning": "2026-12-20"}, {"ref": "E-2", "ages": [52], "needs": {"trauma_care": 1}}]"#.utf8).write(to: good)
            let queued = try await Process.output(of: reception, ["batch", "run", "--forecast", good.path, "--dry-run", "--no-wait", "--database-url", url])
            #expect(queued.status == 0, "\(queued.output)")
            let stored = try await db.query("SELECT count(*) AS n FROM batch_forecast_households")[0]
            #expect(try stored.decode("n", as: Int.self) == 2)
        }
    }
}
