import Foundation
import Logging
import Placement
import Postgres
import ReceptionKit
import Testing
import TestSupport

/// Issue 11 §1: anvisningar with their latest reception date and category; the due and overdue
/// lists; the daily notices; a batch that places due households first; the intake report's
/// on time and late. Every date is relative to the test database's pinned "today".
@Suite("Anvisningar and deadlines")
struct DeadlineTests {
    let today = TestDatabase.today

    func day(_ offset: Int) -> CalendarDay { today.adding(days: offset)! }

    func newCase(_ reference: String, anvisning: Int, latest: Int? = nil, category: CaseCategory = .agencyAccommodation,
                 needs: [NewCase.Need] = []) -> NewCase {
        NewCase(reference: reference, ages: [35, 33, 8], needs: needs, language: "ar", arrivedOn: day(anvisning),
                anvisningOn: day(anvisning), latestReceptionOn: latest.map(day), category: category)
    }

    /// PostgreSQL's `date + interval '2 months'`: the same day two months on, or that month's last.
    func twoMonthsAfter(_ day: CalendarDay) -> CalendarDay {
        let month = day.month + 2, year = day.year + (month > 12 ? 1 : 0), m = (month - 1) % 12 + 1
        return (0...3).lazy.compactMap { CalendarDay(year: year, month: m, day: day.day - $0) }.first!
    }

    @Test func theLatestReceptionDateIsTheAnvisningsOwnOrTwoMonthsAfterIt() async throws {
        try await TestDatabase.withMigratedDatabase { url in
            let db = try await Connection.connect(url)
            try await CaseRegistration.register(newCase("ANV-1", anvisning: -40), on: db)
            try await CaseRegistration.register(newCase("ANV-2", anvisning: -40, latest: 60, category: .quotaRefugee), on: db)
            let first = try #require(try await Cases.find("ANV-1", on: db))
            #expect(first.anvisningOn == day(-40))
            #expect(first.latestReceptionOn == twoMonthsAfter(day(-40)))
            #expect(first.category == .agencyAccommodation)
            let second = try #require(try await Cases.find("ANV-2", on: db))
            #expect(second.latestReceptionOn == day(60) && second.category == .quotaRefugee)
            // A case registered without an anvisning date takes its arrival's.
            var plain = NewCase(reference: "ANV-3", ages: [40], arrivedOn: day(-5))
            plain.language = nil
            try await CaseRegistration.register(plain, on: db)
            #expect(try await Cases.find("ANV-3", on: db)?.anvisningOn == day(-5))
        }
    }

    @Test func badAnvisningFieldsAreRefusedNamingTheirField() throws {
        let rules = CaseRules(knownDimensions: [], today: today)
        func problems(_ fields: CaseTextFields) -> [String] {
            var problems: [ValidationProblem] = []
            _ = fields.validate(at: .line(2), rules: rules, problems: &problems)
            return problems.map(\.description)
        }
        #expect(problems(CaseTextFields(reference: "A-1", ages: "30", anvisning: day(3).description))
                == ["line 2, field anvisning: \(day(3)) is in the future"])
        #expect(problems(CaseTextFields(reference: "A-1", ages: "30", anvisning: day(-3).description, latestReception: day(-4).description))
                == ["line 2, field latest_reception: \(day(-4)) is before the anvisning (\(day(-3)))"])
        #expect(problems(CaseTextFields(reference: "A-1", ages: "30", latestReception: "soon"))
                == ["line 2, field latest_reception: \"soon\" is not a date (YYYY-MM-DD)"])
        #expect(problems(CaseTextFields(reference: "A-1", ages: "30", category: "refugee"))
                == ["line 2, field category: \"refugee\" is not a category (agency_accommodation, quota_refugee, temporary_protection)"])
        // And the JSON import names its path.
        let json = Array(#"[{"id": "J-1", "ages": [30], "latest_reception": 20270101, "category": "quota_refugee"}]"#.utf8)
        let contents = CaseImport.read(json, format: .json, rules: rules)
        #expect(contents.problems.map(\.description) == ["[0].latest_reception: expected a date string (YYYY-MM-DD), found a number"])
    }

    @Test func theOfficersCommandsTakeAndShowTheAnvisning() async throws {
        try await TestDatabase.withMigratedDatabase { url in
            let reception = try TestDatabase.executable("reception")
            let refused = try await Process.output(of: reception, ["case", "add", "--ref", "CLI-1", "--ages", "30",
                "--anvisning", day(-3).description, "--latest-reception", day(-4).description, "--database-url", url])
            #expect(refused.status == 65, "\(refused.output)")
            #expect(refused.output.contains("--latest-reception"), "names the option: \(refused.output)")
            let added = try await Process.output(of: reception, ["case", "add", "--ref", "CLI-1", "--ages", "30",
                "--anvisning", day(-50).description, "--category", "quota_refugee", "--database-url", url])
            #expect(added.status == 0, "\(added.output)")
            #expect(added.output.contains("quota refugee"))
            let due = try await Process.output(of: reception, ["case", "list", "--due-within", "2w", "--database-url", url])
            #expect(due.status == 0 && due.output.contains("CLI-1") && due.output.contains("(in "), "\(due.output)")
            let none = try await Process.output(of: reception, ["case", "list", "--overdue", "--database-url", url])
            #expect(none.output.contains("No household is waiting past its latest reception date."), "\(none.output)")
            let bad = try await Process.output(of: reception, ["case", "list", "--due-within", "soon", "--database-url", url])
            #expect(bad.status == 64 && bad.output.contains("--due-within"), "\(bad.output)")
        }
    }

    @Test func dueAndOverdueListsAndTheDailyNoticesOncePerHousehold() async throws {
        try await TestDatabase.withMigratedDatabase { url in
            let db = try await Connection.connect(url)
            try await CaseRegistration.register(newCase("LATE-1", anvisning: -70, latest: -1), on: db)
            try await CaseRegistration.register(newCase("SOON-1", anvisning: -20, latest: 5), on: db)
            try await CaseRegistration.register(newCase("LATER-1", anvisning: -20, latest: 40), on: db)
            try await CaseRegistration.register(newCase("EDGE-1", anvisning: -20, latest: 14), on: db)
            try await CaseRegistration.register(newCase("EDGE-2", anvisning: -20, latest: 15), on: db)
            // "Within 14 days" includes the 14th, in the list, the notices and the report alike.
            #expect(try await Cases.list(.init(dueWithinDays: 14), on: db).map(\.reference) == ["LATE-1", "SOON-1", "EDGE-1"])
            #expect(try await Cases.list(.init(overdue: true), on: db).map(\.reference) == ["LATE-1"])

            try await TestLogins.with(database: url) { logins in
                let worker = try await logins.connect(.worker)
                let first = try await DeadlineNotices.check(on: worker)
                #expect(first.due == 2 && first.overdue == 1)
                let again = try await DeadlineNotices.check(on: worker)
                #expect(again.due == 0 && again.overdue == 0, "each household is noticed once per kind")
                let officer = try await logins.connect(.officer)
                let notices = try await DeadlineNotices.list(on: today, on: officer)
                #expect(notices.map { "\($0.reference) \($0.kind.rawValue)" } == ["LATE-1 overdue", "SOON-1 due", "EDGE-1 due"])

                // Attacks: an officer may not run the check (nor forge notices), an auditor reads
                // counts, never which households.
                await expectRefused("SELECT * FROM deadline_check()", on: officer, .insufficientPrivilege)
                let soonID = try await WorkflowFixture.caseID("LATER-1", on: db)
                await expectRefused("INSERT INTO deadline_notices VALUES (\(soonID), 'due', reception_today(), reception_today())",
                                    on: officer, .insufficientPrivilege)
                await expectRefused("INSERT INTO deadline_notices VALUES (\(soonID), 'due', reception_today(), reception_today())",
                                    on: worker, .insufficientPrivilege)
                let auditor = try await logins.connect(.auditor)
                await expectRefused("SELECT * FROM deadline_notices", on: auditor, .insufficientPrivilege)
                let counts = try await auditor.query("SELECT waiting_past_date, due_within_14_days FROM deadlines_overview")[0]
                #expect(try counts.decode("waiting_past_date", as: Int.self) == 1)
                #expect(try counts.decode("due_within_14_days", as: Int.self) == 2)
            }
        }
    }

    @Test func nobodyMovesADeadlineOrForgesAReceptionDay() async throws {
        try await SecurityGround.with { ground in
            let officer = try await ground.logins.connect(.officer)
            let worker = try await ground.logins.connect(.worker)
            let id = try await ground.caseID()
            for login in [officer, worker] {
                await expectRefused("UPDATE cases SET latest_reception_given = reception_today() + 365 WHERE id = \(id)", on: login, .insufficientPrivilege)
                await expectRefused("UPDATE cases SET anvisning_on = reception_today() WHERE id = \(id)", on: login, .insufficientPrivilege)
            }
            await expectRefused("UPDATE cases SET category = 'quota_refugee' WHERE id = \(id)", on: officer, .insufficientPrivilege)
            // Nor register one with a later deadline by dating its anvisning in the future.
            await expectRefused("""
                INSERT INTO cases (reference, ages, arrived_on, anvisning_on) VALUES ('FUTURE-1', '{30}', reception_today(), reception_today() + 30)
                """, on: officer, .checkViolation)
            await expectRefused("""
                INSERT INTO allocations (case_id, municipality_code, period, status, forced, decision_reason, received_on)
                VALUES (\(id), '2480', 2026, 'confirmed', false, 'placed by hand', '2000-01-01')
                """, on: officer, .insufficientPrivilege)
            await expectRefused("""
                INSERT INTO allocations (case_id, municipality_code, period, status, score, batch_id, received_on)
                VALUES (\(id), '2480', 2026, 'proposed', 900, \(ground.runningBatch), '2000-01-01')
                """, on: worker, .insufficientPrivilege)
            await expectRefused("UPDATE allocations SET received_on = '2000-01-01'", on: officer, .insufficientPrivilege)
            // Even the schema owner's own write is replaced by the database's day.
            try await ground.admin.execute("""
                INSERT INTO allocations (case_id, municipality_code, period, status, decision_reason, received_on)
                VALUES (\(id), '2480', 2026, 'confirmed', 'placed by hand', '2000-01-01')
                """)
            let received = try await ground.admin.query("SELECT received_on FROM allocations WHERE case_id = \(id)")[0]
            #expect(try received.decode("received_on", as: CalendarDay.self) == today)
            try await ground.admin.execute("UPDATE allocations SET received_on = '2000-01-01' WHERE case_id = \(id)")
            let kept = try await ground.admin.query("SELECT received_on FROM allocations WHERE case_id = \(id)")[0]
            #expect(try kept.decode("received_on", as: CalendarDay.self) == today)
        }
    }

    @Test func aBatchPlacesHouseholdsDueBeforeTheNextBatchFirstAndTheReportCountsOnTimeAndLate() async throws {
        try await TestDatabase.withMigratedDatabase { url in
            let db = try await Connection.connect(url)
            // Room for one household of three in each of three municipalities; six wait, the
            // first arrived longest ago.
            try await WorkflowFixture.seed(on: db, cases: 6, personsQuota: 3)
            try await db.execute("INSERT INTO dimensions (name, description) VALUES ('dialysis', 'need') ON CONFLICT DO NOTHING")
            // The two who arrived last are due within the week, one of them late already; a
            // third due one needs dialysis, which no municipality offers.
            for (reference, anvisning, latest) in [("MIG-2026-1005", -62, 3), ("MIG-2026-1006", -70, -2), ("MIG-2026-1004", -61, 4)] {
                try await db.execute("""
                    UPDATE cases SET anvisning_on = \(day(anvisning)), latest_reception_given = \(day(latest)) WHERE reference = \(reference)
                    """)
            }
            let dialysis = try await WorkflowFixture.caseID("MIG-2026-1004", on: db)
            try await db.execute("INSERT INTO case_needs (case_id, dimension, units) VALUES (\(dialysis), 'dialysis', 1)")

            let batch = try await WorkflowFixture.batch(on: db)
            let summary = try await BatchRun.run(batchID: batch, on: db, logger: Logger(label: "test"))
            let proposals = try await Allocations.list(.init(batch: batch), on: db)
            let placed = Set(try await db.query("""
                SELECT c.reference FROM allocations a JOIN cases c ON c.id = a.case_id WHERE a.batch_id = \(batch)
                """).map { try $0.decode("reference", as: String.self) })
            #expect(placed.isSuperset(of: ["MIG-2026-1005", "MIG-2026-1006"]), "the due households first: \(placed)")
            #expect(placed.count == 3)
            let late = try #require(summary.unplaced.first { $0.caseID == dialysis })
            #expect(late.reason.hasPrefix("cannot be received by its latest reception date (\(day(4)))"), "\(late.reason)")
            #expect(try await Batches.find(batch, on: db).bound == nil, "two stages prove no bound for the whole batch")
            #expect(summary.dueFirst == BatchSummary.DueFirst(due: 3, placed: 2, nextBatchOn: day(DeadlineFirst.horizonDays)))

            // Confirmed today: one by its date, one after it.
            try await TestLogins.with(database: url) { logins in
                let officer = try await logins.connect(.officer)
                let due = proposals.filter { ["MIG-2026-1005", "MIG-2026-1006"].contains($0.caseReference) }
                _ = try await Allocations.confirm(ids: due.map { Int($0.id) }, on: officer)
            }
            let report = try await IntakeReport.load(period: WorkflowFixture.period, on: db)
            #expect(report.total.receivedOnTime == 1 && report.total.receivedLate == 1)
            #expect(report.deadlines.waitingPastDate == 0)
            #expect(report.renderTable().contains("ON TIME"))
            #expect(report.renderCSV().contains("received_on_time,received_late"))
        }
    }

    @Test func receptiondRecordsTheNoticesAsAPeriodicJob() async throws {
        try await TestDatabase.withMigratedDatabase { url in
            let db = try await Connection.connect(url)
            try await CaseRegistration.register(newCase("LATE-2", anvisning: -70, latest: -1), on: db)
            let daemon = try Receptiond.start(url, ["--deadline-check-schedule", "every 15m"])
            defer { Receptiond.stop(daemon) }
            let noticed = try await withTimeout(.seconds(60)) {
                while true {
                    let rows = try await db.query("SELECT count(*) AS n FROM deadline_notices WHERE kind = 'overdue'")
                    if try rows[0].decode("n", as: Int.self) > 0 { return true }
                    try await Task.sleep(for: .milliseconds(200))
                }
            }
            #expect(noticed)
        }
    }
}
