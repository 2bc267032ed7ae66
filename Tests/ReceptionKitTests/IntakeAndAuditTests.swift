import Foundation
import Logging
import Postgres
import ReceptionKit
import Testing
import TestSupport

@Suite("Intake report and audit trail")
struct IntakeAndAuditTests {
    @Test func theIntakeReportAddsUp() async throws {
        try await TestDatabase.withMigratedDatabase { url in
            let db = try await Connection.connect(url)
            try await WorkflowFixture.seed(on: db, cases: 5)
            try await db.execute("INSERT INTO case_needs (case_id, dimension, units) SELECT id, 'trauma_care', 1 FROM cases WHERE reference = 'MIG-2026-1001'")
            try await db.execute("INSERT INTO capacity (municipality_code, period, dimension, quota) VALUES ('2480', 2026, 'trauma_care', 2)")
            let batch = try await WorkflowFixture.batch(on: db)
            let a1 = try await WorkflowFixture.propose("MIG-2026-1001", to: "2480", batch: batch, on: db)
            let a2 = try await WorkflowFixture.propose("MIG-2026-1002", to: "2480", batch: batch, on: db)
            _ = try await WorkflowFixture.propose("MIG-2026-1003", to: "2460", batch: batch, on: db)
            _ = try await Allocations.confirm(ids: [a1, a2], on: db)

            let report = try await IntakeReport.load(period: 2026, on: db)
            let umea = try #require(report.municipalities.first { $0.code == "2480" })
            #expect(umea.placedPersons == 6 && umea.placedHouseholds == 2)
            #expect(umea.placedChildren == 2)
            #expect(umea.placedWithSpecialNeeds == 1)
            #expect(umea.fillRate == 6.0 / 9.0)
            let vannas = try #require(report.municipalities.first { $0.code == "2460" })
            #expect(vannas.placedPersons == 0 && vannas.proposedPersons == 3)
            #expect(report.total.placedPersons == 6 && report.total.proposedPersons == 3)
            #expect(report.total.personsQuota == 27)
            let trauma = try #require(umea.dimensions.first { $0.dimension == "trauma_care" })
            #expect(trauma.used == 1 && trauma.free == 1)

            // A municipality that has not joined yet says when it will.
            try await db.execute("UPDATE municipalities SET joined_on = reception_today() + 40 WHERE code = '2284'")
            let later = try await IntakeReport.load(period: 2026, on: db)
            #expect(later.municipalities.first { $0.code == "2284" }?.joinsOn != nil)
            #expect(later.municipalities.first { $0.code == "2480" }?.joinsOn == nil)
            #expect(later.renderTable().contains("Örnsköldsvik (joins "))

            // The formats carry the same numbers.
            #expect(report.renderTable().contains("Umeå"))
            let csv = report.renderCSV().split(separator: "\r\n")
            #expect(csv.count == 1 + report.municipalities.count)
            #expect(csv.first { $0.hasPrefix("2026,2480,") }?.contains(",6,2,0,0,2,1,0,") == true)
            let html = report.renderHTML()
            #expect(html.hasPrefix("<!DOCTYPE html>") && html.contains("<svg") && !html.contains("http://") && !html.contains("https://"))
            #expect(html.contains("Örnsköldsvik"))
        }
    }

    @Test func hostileNamesAreEscapedInReports() async throws {
        let report = IntakeReport(period: 2026, generatedAt: Date(), municipalities: [
            .init(code: "9999", name: "<script>alert(1)</script>", active: true, personsQuota: 1, placedPersons: 0,
                  placedHouseholds: 0, proposedPersons: 0, proposedHouseholds: 0, placedChildren: 0,
                  placedWithSpecialNeeds: 0, forcedPlacements: 0, dimensions: []),
            .init(code: "9998", name: "=cmd|' /C calc'!A0, \"x\"", active: true, personsQuota: 1, placedPersons: 0,
                  placedHouseholds: 0, proposedPersons: 0, proposedHouseholds: 0, placedChildren: 0,
                  placedWithSpecialNeeds: 0, forcedPlacements: 0, dimensions: []),
        ])
        #expect(!report.renderHTML().contains("<script>"))
        #expect(report.renderCSV().contains("\"'=cmd|' /C calc'!A0, \"\"x\"\"\""))
    }

    @Test func nobodyCanChangeOrDeleteTheAuditTrail() async throws {
        try await TestDatabase.withMigratedDatabase { url in
            let db = try await Connection.connect(url)
            try await WorkflowFixture.seed(on: db, cases: 1)
            let before = try await AuditTrail.events(.init(), on: db).count
            #expect(before > 0)
            for statement: Query in ["UPDATE audit_events SET actor = 'someone else'", "DELETE FROM audit_events", "TRUNCATE audit_events"] {
                do {
                    try await db.execute(statement)
                    Issue.record("the audit trail accepted: \(statement.sql)")
                } catch let error as PostgresError {
                    #expect(error.sqlState == .insufficientPrivilege)
                }
            }
            #expect(try await AuditTrail.events(.init(), on: db).count == before)
        }
    }

    /// What every rule reads — the time zone, a fixed "today", what batches count — changes
    /// only by the schema owner, and each change is in the trail with its old and new value,
    /// for auditors too.
    @Test func aChangedSettingIsInTheTrail() async throws {
        try await TestDatabase.withMigratedDatabase { url in
            try await TestLogins.with(database: url) { logins in
                let admin = try await Connection.connect(url)
                try await BatchCounting.set(.persons, on: admin)
                try await ReceptionClock.setTimeZone("Europe/Helsinki", on: admin)
                try await ReceptionClock.setTimeZone("Europe/Helsinki", on: admin)  // no change, no event
                let changes = try await admin.query("""
                    SELECT details ->> 'setting' AS setting, details ->> 'from' AS was, details ->> 'to' AS now
                    FROM audit_events WHERE action = 'settings.changed' AND details ->> 'setting' <> 'fixed_today' ORDER BY id
                    """).map { row in
                        [try row.decode("setting", as: String.self), try row.decode("was", as: String.self), try row.decode("now", as: String.self)]
                    }
                #expect(changes == [["counts", "households", "persons"], ["time_zone", "Europe/Stockholm", "Europe/Helsinki"]])
                let auditor = try await logins.connect(.auditor)
                let seen = try await AuditTrail.events(.init(), on: auditor).filter { $0.action == "settings.changed" && !$0.details.contains("fixed_today") }
                #expect(seen.count == 2, "\(seen.map(\.details))")
                #expect(seen.contains { $0.details.contains("\"persons\"") && $0.details.contains("\"counts\"") }, "\(seen.map(\.details))")
                let owner = try await TestDatabase.sessionUser(on: admin)
                #expect(seen.allSatisfy { $0.actor == owner })
            }
        }
    }

    /// A setting the view does not know (here a column added to the settings, as a later
    /// release might, holding something an auditor must not read) reaches auditors by name
    /// only; its values stay in the whole trail.
    @Test func aSettingNotYetAllowedShowsAuditorsItsNameOnly() async throws {
        try await TestDatabase.withMigratedDatabase { url in
            try await TestLogins.with(database: url) { logins in
                let admin = try await Connection.connect(url)
                try await admin.executeScript("""
                    ALTER TABLE reception_settings ADD COLUMN contact_note text;
                    UPDATE reception_settings SET contact_note = 'secret-contact-4411';
                    """)
                try await BatchCounting.set(.persons, on: admin)
                let whole = try await admin.query("SELECT details::text AS d FROM audit_events WHERE action = 'settings.changed' AND details ->> 'setting' = 'contact_note'")
                #expect(whole.count == 1)
                let values = try whole.first.map { try $0.decode("d", as: String.self) } ?? ""
                #expect(values.contains("secret-contact-4411"))
                let auditor = try await logins.connect(.auditor)
                let seen = try await AuditTrail.events(.init(), on: auditor).filter { $0.action == "settings.changed" }
                let note = seen.filter { $0.details.contains("contact_note") }
                #expect(note.count == 1, "\(seen.map(\.details))")
                #expect(!seen.contains { $0.details.contains("secret-contact-4411") }, "\(seen.map(\.details))")
                #expect(seen.contains { $0.details.contains("\"persons\"") }, "a known setting is still shown whole: \(seen.map(\.details))")
            }
        }
    }

    @Test func theTrailFiltersByCaseMunicipalityAndDate() async throws {
        try await TestDatabase.withMigratedDatabase { url in
            let db = try await Connection.connect(url)
            try await WorkflowFixture.seed(on: db, cases: 2)
            _ = try await Allocations.override(caseReference: "MIG-2026-1002", to: "2460", period: 2026, reason: "ties", force: false, on: db)
            let forCase = try await AuditTrail.events(.init(caseReference: "MIG-2026-1002"), on: db)
            #expect(forCase.map(\.action) == ["case.registered", "allocation.overridden"])
            let forMunicipality = try await AuditTrail.events(.init(municipality: "2460"), on: db)
            #expect(forMunicipality.contains { $0.action == "allocation.overridden" })
            #expect(forMunicipality.allSatisfy { $0.municipalityCode == "2460" })
            let future = try await AuditTrail.events(.init(since: CalendarDay(year: 2099, month: 1, day: 1)), on: db)
            #expect(future.isEmpty)
            await #expect(throws: ReceptionError.self) { try await AuditTrail.events(.init(caseReference: "NOPE"), on: db) }
        }
    }
}
