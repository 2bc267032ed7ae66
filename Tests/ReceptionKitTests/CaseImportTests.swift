import Foundation
import Postgres
import ReceptionKit
import Testing
import TestSupport

@Suite("Case import (database)")
struct CaseImportTests {
    static let goodCSV = """
        ref,ages,needs,language,occupations,family_ties,preferences,excluded,arrived
        IMP-1,34;31;9,trauma_care,ar,nurse,2480,2480;2460,2284,2026-10-01
        IMP-2,"40;12",accessible_dwellings:2,so,,,,,2026-10-02
        IMP-3,5,,,,,,,
        """

    func importFile(_ text: String, format: CaseImport.Format = .csv, options: CaseRegistration.Options = .init(),
                    on connection: Connection) async throws -> CaseRegistration.Report {
        let rules = try await RegistrationTestDatabase.rules(on: connection, acceptNewNeeds: options.registerNewNeeds)
        let contents = try await offPool { CaseImport.read(Array(text.utf8), format: format, rules: rules) }
        guard contents.problems.isEmpty else { throw InvalidInput(contents.problems) }
        return try await CaseRegistration.register(contents.entries, options: options, on: connection)
    }

    @Test func importsCasesAndTheirNeedsWithTheOfficerRecorded() async throws {
        try await RegistrationTestDatabase.with { connection in
            let report = try await importFile(Self.goodCSV, options: .init(), on: connection)
            #expect(report.registered == 3)
            let first = try #require(try await Cases.find("IMP-1", on: connection))
            #expect(first.ages == [34, 31, 9])
            #expect(first.needs == ["trauma_care": 1])
            #expect(first.preferences == ["2480", "2460"])
            #expect(first.excluded == ["2284"])
            #expect(first.status == "registered")
            #expect(try await Cases.find("IMP-2", on: connection)?.needs == ["accessible_dwellings": 2])
            #expect(try await Cases.find("IMP-3", on: connection)?.needs == [:])
            let events = try await Cases.history(caseID: first.id, on: connection)
            #expect(events.map(\.action) == ["case.registered"])
            #expect(events.map(\.actor) == [try await TestDatabase.sessionUser(on: connection)])
        }
    }

    @Test func aFileWithOneBadRowWritesNothing() async throws {
        try await RegistrationTestDatabase.with { connection in
            let rules = try await RegistrationTestDatabase.rules(on: connection)
            let contents = CaseImport.read(Array((Self.goodCSV + "\nIMP-4,34;-3,,,,,,,\n").utf8), format: .csv, rules: rules)
            #expect(contents.problems.map(\.description) == ["line 5, field ages: -3 is not an age (0–120)"])
            #expect(contents.entries.count == 3)
            // The command refuses to write then; nothing is in the database.
            #expect(try await RegistrationTestDatabase.count("cases", on: connection) == 0)
        }
    }

    @Test func aFailureWhileWritingLeavesNothing() async throws {
        try await RegistrationTestDatabase.with { (connection: Connection) async throws in
            // A reference twice, past the file check: the third COPY (one row each) fails on
            // the unique constraint, and the cases and needs already copied roll back too.
            let day = CalendarDay(year: 2026, month: 11, day: 1)!
            let entries = [
                NewCase(reference: "A-1", ages: [30], arrivedOn: day),
                NewCase(reference: "A-2", ages: [40], needs: [.init(dimension: "trauma_care", units: 1)], arrivedOn: day),
                NewCase(reference: "A-1", ages: [50], arrivedOn: day),
            ].enumerated().map { CaseImport.Entry(location: .line($0.offset + 2), newCase: $0.element) }
            await #expect(throws: PostgresError.self) {
                _ = try await CaseRegistration.register(entries, options: .init(chunkSize: 1), on: connection)
            }
            #expect(try await RegistrationTestDatabase.count("cases", on: connection) == 0)
            #expect(try await RegistrationTestDatabase.count("case_needs", on: connection) == 0)
            #expect(try await connection.query("SELECT 1 FROM audit_events WHERE action = 'case.registered'").isEmpty)
        }
    }

    @Test func aReferenceRegisteredTwiceIsRefusedWithItsLine() async throws {
        try await RegistrationTestDatabase.with { connection in
            _ = try await importFile(Self.goodCSV, on: connection)
            let again = "ref,ages\nNEW-1,30\nIMP-2,40\n"
            do {
                _ = try await importFile(again, on: connection)
                Issue.record("a registered reference was accepted again")
            } catch let error as InvalidInput {
                #expect(error.problems.map(\.description) == [
                    "line 3, field ref: case IMP-2 is already registered (--skip-existing leaves such cases out)",
                ])
            }
            #expect(try await RegistrationTestDatabase.count("cases", on: connection) == 3)
            #expect(try await Cases.find("NEW-1", on: connection) == nil)
        }
    }

    @Test func skipExistingLeavesRegisteredCasesOut() async throws {
        try await RegistrationTestDatabase.with { connection in
            _ = try await importFile(Self.goodCSV, on: connection)
            let report = try await importFile("ref,ages\nNEW-1,30\nIMP-2,40\n", options: .init(skipExisting: true), on: connection)
            #expect(report.registered == 1)
            #expect(report.skipped == ["IMP-2"])
            // The registered case is untouched.
            #expect(try await Cases.find("IMP-2", on: connection)?.ages == [40, 12])
        }
    }

    @Test func theDatabaseRefusesADuplicateReferenceEvenPastTheApplication() async throws {
        try await RegistrationTestDatabase.with { connection in
            try await connection.execute("INSERT INTO cases (reference, ages, arrived_on) VALUES ('DUP-1', '{30}', '2026-11-01')")
            do {
                try await connection.execute("INSERT INTO cases (reference, ages, arrived_on) VALUES ('DUP-1', '{31}', '2026-11-02')")
                Issue.record("a duplicate reference was inserted")
            } catch let PostgresError.server(error) {
                #expect(error.sqlState == .uniqueViolation)
                #expect(error.constraint == "cases_reference_normalized")
                // Personal data stays out of the loggable description.
                #expect(!"\(error)".contains("DUP-1"))
            }
        }
    }

    @Test func newNeedsAreRegisteredAsDimensionsOnlyWhenAsked() async throws {
        try await RegistrationTestDatabase.with { connection in
            await #expect(throws: InvalidInput.self) {
                _ = try await importFile("ref,ages,needs\nD-1,70,dialysis:3\n", on: connection)
            }
            let report = try await importFile("ref,ages,needs\nD-1,70,dialysis:3\n", options: .init(registerNewNeeds: true), on: connection)
            #expect(report.newDimensions == ["dialysis"])
            #expect(try await Cases.find("D-1", on: connection)?.needs == ["dialysis": 3])
            #expect(try await !connection.query("SELECT 1 FROM dimensions WHERE name = 'dialysis'").isEmpty)
        }
    }

    @Test func importsJSON() async throws {
        try await RegistrationTestDatabase.with { connection in
            let json = """
                [{"id": "J-1", "members": [{"age": 34}, {"age": 4}], "needs": {"trauma_care": 1}, "language": "ar",
                  "family_ties": ["2480"], "arrived": "2026-11-02"},
                 {"ref": "J-2", "ages": [40]}]
                """
            let report = try await importFile(json, format: .json, on: connection)
            #expect(report.registered == 2)
            let first = try #require(try await Cases.find("J-1", on: connection))
            #expect(first.ages == [34, 4])
            #expect(first.needs == ["trauma_care": 1])
            #expect(first.arrivedOn == CalendarDay(year: 2026, month: 11, day: 2))
        }
    }

    /// 100,000 rows through `reception case import`, as an officer would run it: a process of
    /// its own, so that its seconds of CPU (a debug build) are not spent on the threads this
    /// process shares with the in-process workers of other suites. Not a timing assertion: it
    /// prints how long they take, for the record (the target is under 10 s with a release build).
    @Test func importsAHundredThousandRows() async throws {
        try await TestDatabase.withMigratedDatabase { url in
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("bulk-\(UUID().uuidString).csv")
            defer { try? FileManager.default.removeItem(at: file) }
            try await offPool {
                var text = "ref,ages,needs,language,family_ties,preferences,arrived\n"
                for index in 0..<100_000 {
                    let needs = index % 10 == 0 ? "trauma_care" : (index % 7 == 0 ? "accessible_dwellings:1" : "")
                    text += "BULK-\(index),34;31;\(index % 18),\(needs),ar,2480,2480;2460,2026-\(String(format: "%02d", index % 9 + 1))-15\n"
                }
                try Data(text.utf8).write(to: file)
            }
            let started = ContinuousClock.now
            let run = try await Process.output(of: try TestDatabase.executable("reception"),
                                               ["case", "import", file.path, "--database-url", url])
            print("imported 100,000 rows in \(ContinuousClock.now - started) (debug build, a process of its own)")
            #expect(run.status == 0, "\(run.output)")
            let connection = try await Connection.connect(url, applicationName: "reception-tests")
            #expect(try await RegistrationTestDatabase.count("cases", on: connection) == 100_000)
            #expect(try await RegistrationTestDatabase.count("case_needs", on: connection) == 10_000 + 14_286 - 1_429)
        }
    }
}
