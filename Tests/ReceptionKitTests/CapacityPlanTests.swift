import Foundation
import Logging
import Postgres
import ReceptionKit
import Testing
import TestSupport

/// Issue 11 §2: a municipality's quota released over the year by its plan; batches use only
/// what is released by their day; the intake report shows plan against intake month by month.
@Suite("Capacity plans over the year")
struct CapacityPlanTests {
    let period = WorkflowFixture.period
    /// The plan's dates are in the fixture's period, so this test names its day.
    let today = CalendarDay(year: 2026, month: 11, day: 26)!

    @Test func releasesAreReadFromArgumentsAndFilesWithEveryProblemNamed() throws {
        let plans = try CapacityPlan.parse(["persons=10/month", "dwellings=2@2026-03-15", "dwellings=1@2026-09-01"], period: 2026)
        #expect(plans["persons"]?.count == 12 && plans["persons"]?.allSatisfy { $0.units == 10 && $0.from.day == 1 } == true)
        #expect(plans["dwellings"] == [.init(from: CalendarDay(year: 2026, month: 3, day: 15)!, units: 2),
                                       .init(from: CalendarDay(year: 2026, month: 9, day: 1)!, units: 1)])
        #expect(throws: InvalidInput.self) { try CapacityPlan.parse(["persons=ten/month"], period: 2026) }
        do {
            _ = try CapacityPlan.parse(["persons=0/month", "dwellings=2@2027-01-01", "Persons=3/month"], period: 2026)
            Issue.record("accepted")
        } catch let error as InvalidInput {
            #expect(error.problems.map(\.description) == [
                "\"persons=0/month\": the units per month must be a whole number from 1 to 1000000",
                "\"dwellings=2@2027-01-01\": 2027-01-01 is not in the period 2026",
                "\"Persons=3/month\": expected dimension=N/month or dimension=N@YYYY-MM-DD, e.g. persons=10/month or dwellings=2@2026-03-15",
            ])
        }
        let csv = Array("dimension,from,units\npersons,2026-01,5\nlarge_dwellings,2026-06-15,1\npersons,2026-13,5\n".utf8)
        do {
            _ = try CapacityPlan.parseCSV(csv, period: 2026)
            Issue.record("accepted")
        } catch let error as InvalidInput {
            #expect(error.problems.map(\.description) == ["line 4, field from: \"2026-13\" is not a day (YYYY-MM-DD) or a month (YYYY-MM)"])
        }
        let good = try CapacityPlan.parseCSV(Array("units,dimension,from\n5,persons,2026-01\n1,large_dwellings,2026-06-15\n".utf8), period: 2026)
        #expect(good["persons"] == [.init(from: CalendarDay(year: 2026, month: 1, day: 1)!, units: 5)])
    }

    @Test func aBatchUsesOnlyWhatThePlanHasReleasedByItsDay() async throws {
        try await TestDatabase.withMigratedDatabase { url in
            let db = try await Connection.connect(url)
            try await ReceptionClock.fix(today: today, on: db)
            // Room for three households of three in each municipality, but Umeå releases only
            // three persons in January and the other six on 31 December.
            try await WorkflowFixture.seed(on: db, cases: 12, personsQuota: 9)
            try await TestLogins.with(database: url) { logins in
                let officer = try await logins.connect(.officer)
                let lines = try await CapacityPlan.set(municipality: "2480", period: period, plans: [
                    "persons": [.init(from: CalendarDay(year: 2026, month: 1, day: 1)!, units: 3),
                                .init(from: CalendarDay(year: 2026, month: 12, day: 31)!, units: 6)],
                ], on: officer)
                let persons = try #require(lines.first { $0.dimension == "persons" })
                #expect(persons.byMonth == Array(repeating: 3, count: 11) + [9])

                let instance = try await BatchInstance.load(period: period, municipalities: nil, today: today, on: officer)
                #expect(instance.municipalities.first { $0.code == "2480" }?.capacity["persons"] == 3)
                let batch = try await WorkflowFixture.batch(dryRun: false, on: db)
                let summary = try await BatchRun.run(batchID: batch, on: db, logger: Logger(label: "test"))
                #expect(summary.placed == 7, "one household in Umeå, three in each of the others")
                let proposals = try await Allocations.list(.init(batch: batch), on: db)
                #expect(proposals.filter { $0.municipalityCode == "2480" }.count == 1)

                // The trail has the officer's plan; the report shows plan against intake.
                let event = try await db.query("""
                    SELECT actor, details->>'total' AS total FROM audit_events WHERE action = 'capacity.plan_set'
                    """)
                #expect(event.count == 1)
                let total = try event[0].decode("total", as: String.self)
                #expect(total == "9")
                _ = try await Allocations.confirm(ids: proposals.filter { $0.municipalityCode == "2480" }.map(\.id), on: officer)
                let auditor = try await logins.connect(.auditor)
                let report = try await IntakeReport.load(period: period, municipality: "2480", on: auditor)
                let months = try #require(report.municipalities.first?.months)
                #expect(months.map(\.plannedPersons) == Array(repeating: 3, count: 11) + [9])
                #expect(months[10].receivedPersons == 3 && months[9].receivedPersons == 0 && months[11].receivedHouseholds == 1)
                #expect(report.renderHTML().contains("Plan and intake by month"))
                #expect(report.renderTable().contains("3/3"))
                #expect(report.renderCSV().contains("received_persons_11"))

                // Without a plan again, the whole quota is released.
                _ = try await CapacityPlan.set(municipality: "2480", period: period, plans: ["persons": []], on: officer)
                let whole = try await BatchInstance.load(period: period, municipalities: ["2480"], today: today, on: officer)
                #expect(whole.municipalities.first?.capacity["persons"] == 9 - 3)
            }
        }
    }

    @Test func theOfficersCommandSetsShowsAndRefuses() async throws {
        try await TestDatabase.withMigratedDatabase { url in
            let db = try await Connection.connect(url)
            try await WorkflowFixture.seed(on: db, cases: 0)
            let reception = try TestDatabase.executable("reception")
            let bad = try await Process.output(of: reception, ["capacity", "plan", "set", "2480", "--period", "2026",
                                                               "persons=3@2026-02-30", "--database-url", url])
            #expect(bad.status == 65 && bad.output.contains("\"2026-02-30\" is not a date"), "\(bad.output)")
            let unknown = try await Process.output(of: reception, ["capacity", "plan", "set", "2480", "--period", "2026",
                                                                   "dialysis=1/month", "--database-url", url])
            #expect(unknown.status != 0 && unknown.output.contains("has no 2026 quota for dialysis"), "\(unknown.output)")
            let good = try await Process.output(of: reception, ["capacity", "plan", "set", "2480", "--period", "2026",
                                                                "persons=1/month", "--database-url", url])
            #expect(good.status == 0 && good.output.contains("Released by the end of each month"), "\(good.output)")
            let shown = try await Process.output(of: reception, ["capacity", "plan", "show", "2480", "--period", "2026", "--json",
                                                                 "--database-url", url], standardErrorToo: false)
            let lines = try JSONSerialization.jsonObject(with: Data(shown.output.utf8)) as? [[String: Any]]
            let persons = lines?.first { $0["dimension"] as? String == "persons" }
            #expect(persons?["released_by_month_end"] as? [Int] == Array(1...9) + [9, 9, 9])
        }
    }

    @Test func onlyAnOfficerSetsAPlanAndOnlyThroughTheAuditedFunction() async throws {
        try await SecurityGround.with { ground in
            let officer = try await ground.logins.connect(.officer)
            let worker = try await ground.logins.connect(.worker)
            let auditor = try await ground.logins.connect(.auditor)
            for login in [officer, worker, auditor] {
                await expectRefused("INSERT INTO capacity_plan VALUES ('2480', 2026, 'persons', '2026-01-01', 100)", on: login, .insufficientPrivilege)
            }
            for login in [worker, auditor] {
                await expectRefused("SELECT set_capacity_plan('2480', 2026, 'persons', '[]')", on: login, .insufficientPrivilege)
            }
            await expectRefused("""
                SELECT set_capacity_plan('2480', 2026, 'persons', '[{"from": "2027-01-01", "units": 5}]')
                """, on: officer, .checkViolation)
            await expectRefused("SELECT set_capacity_plan('2480', 2026, 'persons', '[{\"from\": \"2026-01-01\", \"units\": 0}]')",
                                on: officer, .checkViolation)
            // Everyone may read a plan: it names no person.
            _ = try await auditor.query("SELECT * FROM capacity_plan")
        }
    }
}
