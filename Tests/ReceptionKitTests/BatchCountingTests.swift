import Foundation
import Logging
import Postgres
import ReceptionKit
import Testing
import TestSupport

/// Issue 10 §4: a cooperation whose quota is in persons has its batches count persons
/// (`placed_person`), set once for the cooperation by the schema's owner.
@Suite("What a batch counts")
struct BatchCountingTests {
    /// Room for four persons: a family of four adults, or two single adults.
    func seed(_ db: Connection) async throws {
        try await db.executeScript("""
            INSERT INTO municipalities (code, name, joined_on) VALUES ('2480', 'Umeå', '2020-01-01');
            INSERT INTO capacity (municipality_code, period, dimension, quota)
            VALUES ('2480', \(WorkflowFixture.period), 'persons', 4), ('2480', \(WorkflowFixture.period), 'dwellings', 4);
            INSERT INTO cases (reference, ages, arrived_on) VALUES
                ('FAMILY', '{40,38,19,18}', reception_today() - 30), ('SINGLE-1', '{30}', reception_today() - 30),
                ('SINGLE-2', '{31}', reception_today() - 30);
            """)
    }

    func proposed(_ db: Connection) async throws -> (references: Set<String>, summary: BatchSummary) {
        let batch = try await Batches.request(period: WorkflowFixture.period, municipalities: nil, timeLimit: 1, dryRun: true,
                                              lookAhead: false, on: db)
        let summary = try await BatchRun.run(batchID: batch.id, on: db, logger: Logger(label: "test"))
        let ids = (summary.proposals ?? []).map(\.caseID)
        let rows = try await db.query("SELECT reference FROM cases WHERE id = ANY(\(ids))")
        return (Set(try rows.map { try $0.decode("reference", as: String.self) }), summary)
    }

    @Test func countingPersonsPlacesTheFamilyWhereCountingHouseholdsPlacesTheSingles() async throws {
        try await TestDatabase.withMigratedDatabase { url in
            let db = try await Connection.connect(url)
            try await seed(db)
            #expect(try await BatchCounting.current(on: db) == .households)
            let byHouseholds = try await proposed(db)
            #expect(byHouseholds.references == ["SINGLE-1", "SINGLE-2"] && byHouseholds.summary.counts == .households)
            try await BatchCounting.set(.persons, on: db)
            let byPersons = try await proposed(db)
            #expect(byPersons.references == ["FAMILY"] && byPersons.summary.counts == .persons)
        }
    }

    @Test func onlyTheOwnerSetsWhatBatchesCount() async throws {
        try await SecurityGround.with { ground in
            for role in [TestLogins.Role.officer, .worker, .auditor] {
                let login = try await ground.logins.connect(role)
                await expectRefused("UPDATE reception_settings SET counts = 'persons'", on: login, .insufficientPrivilege)
                #expect(try await BatchCounting.current(on: login) == .households, "every role reads it")
            }
            await expectRefused("UPDATE reception_settings SET counts = 'people'", on: ground.admin, .checkViolation)
            let outsider = try await ground.logins.connectOutsiderGivenConnect()
            await expectRefused("UPDATE reception_settings SET counts = 'persons'", on: outsider, .insufficientPrivilege)
        }
    }

    @Test func theAdministratorsCommandShowsAndSetsIt() async throws {
        try await TestDatabase.withMigratedDatabase { url in
            let reception = try TestDatabase.executable("reception")
            let set = try await Process.output(of: reception, ["db", "counts", "persons", "--database-url", url])
            #expect(set.status == 0 && set.output.contains("Batches count persons"), "\(set.output)")
            let shown = try await Process.output(of: reception, ["db", "counts", "--json", "--database-url", url], standardErrorToo: false)
            #expect(shown.status == 0 && shown.output.contains(#""counts" : "persons""#), "\(shown.output)")
            let bad = try await Process.output(of: reception, ["db", "counts", "people", "--database-url", url])
            #expect(bad.status == 64, "\(bad.output)")
        }
    }
}
