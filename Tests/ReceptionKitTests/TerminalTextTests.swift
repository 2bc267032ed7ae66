import Foundation
import ReceptionKit
import Testing

/// Stored text (reasons, names, actors) reaches the officer's terminal; none of it may act on it.
@Suite("Terminal text")
struct TerminalTextTests {
    static let clearScreen = "ok\u{1B}[2J\u{1B}[H"
    static let reversed = "invoice\u{202E}fdp.exe"

    @Test(arguments: [
        ("ok\u{1B}[2J\u{1B}[H", #"ok\u{1B}[2J\u{1B}[H"#),
        ("\u{1B}]0;pwned\u{7}", #"\u{1B}]0;pwned\u{7}"#),
        ("invoice\u{202E}fdp.exe", #"invoice\u{202E}fdp.exe"#),
        ("\u{2066}isolated\u{2069}", #"\u{2066}isolated\u{2069}"#),
        ("a\tb\nc\r\nd", #"a\u{9}b\u{A}c\u{D}\u{A}d"#),
        ("nul\u{0} del\u{7F} csi\u{9B}31m", #"nul\u{0} del\u{7F} csi\u{9B}31m"#),
        ("one\u{2028}two", #"one\u{2028}two"#),
    ])
    func controlsAndBidiOverridesAreEscaped(raw: String, shown: String) {
        #expect(TerminalText.escaped(raw) == shown)
        #expect(!TerminalText.escaped(raw).unicodeScalars.contains { TerminalText.needsEscaping($0) })
    }

    @Test(arguments: ["Umeå", "Örnsköldsvik", "Anna Lind", "dwelling not ready until March; see 2026-11-02",
                      "مرحبا بكم", "\u{200F}עברית", "family 👨‍👩‍👧", #"{"reason": "say \"hi\""}"#, "e\u{301}"])
    func ordinaryTextIsUnchanged(text: String) {
        #expect(TerminalText.escaped(text) == text)
    }

    @Test func messagesMayKeepTheirLineBreaksButNeverACarriageReturn() {
        #expect(TerminalText.escaped("first\nsecond\rover", keepingLineBreaks: true) == #"first"# + "\n" + #"second\u{D}over"#)
    }

    @Test func aTableShowsCellsEscapedAndMeasuresTheEscapedText() {
        let table = TerminalTable(headers: ["CASE", "REASON"],
                                  rows: [["MIG-1", Self.clearScreen], ["MIG-2", Self.reversed], ["MIG-3", "two\nlines"]])
        let text = table.render()
        #expect(!text.unicodeScalars.contains("\u{1B}"))
        #expect(!text.unicodeScalars.contains("\u{202E}"))
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        // A line break in a cell does not start a new row.
        #expect(lines.count == 2 + 3)
        let widest = [Self.clearScreen, Self.reversed].map { TerminalText.escaped($0).count }.max() ?? 0
        #expect(lines[1] == "-----  " + String(repeating: "-", count: widest))
        #expect(lines[2] == "MIG-1  " + #"ok\u{1B}[2J\u{1B}[H"#)
        #expect(lines[3] == "MIG-2  " + #"invoice\u{202E}fdp.exe"#)
        #expect(lines[4] == "MIG-3  " + #"two\u{A}lines"#)
    }

    @Test func aTableOfOrdinaryTextIsAsBefore() {
        let text = TerminalTable(headers: ["CODE", "NAME", "QUOTA"], rows: [["2480", "Umeå", "120"], ["2460", "Vännäs", "9"]],
                                 numericColumns: [2]).render()
        #expect(text == """
            CODE  NAME    QUOTA
            ----  ------  -----
            2480  Umeå      120
            2460  Vännäs      9
            """)
    }

    static func municipality(_ code: String, _ name: String) -> IntakeReport.Municipality {
        .init(code: code, name: name, active: true, personsQuota: 10, placedPersons: 3, placedHouseholds: 1,
              proposedPersons: 0, proposedHouseholds: 0, placedChildren: 1, placedWithSpecialNeeds: 0,
              forcedPlacements: 0, dimensions: [])
    }

    @Test func theIntakeTableEscapesNamesAndAlignsOnTheEscapedText() {
        let report = IntakeReport(period: 2026, generatedAt: Date(), municipalities: [
            Self.municipality("2480", "Umeå"), Self.municipality("9999", "Evil\u{1B}]0;pwned\u{7}\u{202E}town"),
        ])
        let text = report.renderTable()
        #expect(!text.unicodeScalars.contains { TerminalText.needsEscaping($0) && $0 != "\n" })
        let shown = #"Evil\u{1B}]0;pwned\u{7}\u{202E}town"#
        #expect(text.contains("9999  " + shown + "  "))
        let header = text.split(separator: "\n").map(String.init).first { $0.hasPrefix("CODE") }
        #expect(header?.hasPrefix("CODE  MUNICIPALITY" + String(repeating: " ", count: shown.count - 12) + "   QUOTA") == true)
    }

    @Test func theIntakePageShowsABidiOverrideEscaped() {
        let report = IntakeReport(period: 2026, generatedAt: Date(), municipalities: [Self.municipality("9999", "Nord\u{202E}gnilamrdroN")])
        let html = report.renderHTML()
        #expect(!html.unicodeScalars.contains("\u{202E}"))
        #expect(html.contains(#"Nord\u{202E}gnilamrdroN"#))
    }

    /// `--json` is not escaped by us: the encoder itself writes C0 controls as `\u00XX`.
    @Test func theJSONEncoderEscapesControlCharacters() throws {
        struct Event: Encodable { let reason: String }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let json = String(decoding: try encoder.encode(Event(reason: "x\u{1B}[2J\u{7}\n")), as: UTF8.self)
        #expect(!json.unicodeScalars.contains { $0.value < 0x20 && $0 != "\n" && $0 != " " })
        #expect(json.lowercased().contains(#"x\u001b[2j\u0007\n"#))
    }
}
