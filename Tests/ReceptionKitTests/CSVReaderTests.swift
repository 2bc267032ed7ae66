import ReceptionKit
import Testing

@Suite("CSV reader")
struct CSVReaderTests {
    func read(_ text: String) -> CSVReader.Document { CSVReader.read(Array(text.utf8)) }

    @Test func readsQuotedFieldsDoubledQuotesAndCRLF() {
        let document = read("a,b,c\r\n\"x, y\",\"say \"\"hi\"\"\",\r\n")
        #expect(document.problems.isEmpty)
        #expect(document.records.map(\.fields) == [["a", "b", "c"], ["x, y", "say \"hi\"", ""]])
        #expect(document.records.map(\.line) == [1, 2])
    }

    @Test func skipsAByteOrderMarkAndBlankLines() {
        let document = CSVReader.read([0xEF, 0xBB, 0xBF] + Array("ref,ages\n\nA,1\n\n".utf8))
        #expect(document.records.map(\.fields) == [["ref", "ages"], ["A", "1"]])
        #expect(document.records.map(\.line) == [1, 3])
    }

    @Test func countsPhysicalLinesAcrossLineBreaksInsideQuotes() {
        let document = read("ref,note\nA,\"one\ntwo\r\nthree\"\nB,x\n")
        #expect(document.records.map(\.fields) == [["ref", "note"], ["A", "one\ntwo\r\nthree"], ["B", "x"]])
        #expect(document.records.map(\.line) == [1, 2, 5])
    }

    @Test func lastRecordWithoutALineBreak() {
        #expect(read("a\nb").records.map(\.fields) == [["a"], ["b"]])
    }

    @Test func reportsAStrayQuoteAndKeepsReading() {
        let document = read("a,b\n4\"0,x\nc,d\n")
        #expect(document.problems.map(\.line) == [2])
        #expect(document.problems.first?.column == 1)
        #expect(document.records.map(\.fields) == [["a", "b"], ["c", "d"]])
    }

    @Test func reportsTextAfterAClosingQuote() {
        let document = read("a,b\n\"x\"y,z\nc,d\n")
        #expect(document.problems.map(\.line) == [2])
        #expect(document.records.count == 2)
    }

    @Test func reportsAQuoteThatIsNeverClosedAtTheLineItOpens() {
        let document = read("a,b\nc,d\ne,\"never\nclosed\n")
        #expect(document.problems.count == 1)
        #expect(document.problems.first?.line == 3)
        #expect(document.problems.first?.column == 2)
        #expect(document.records.count == 2)
    }

    @Test func reportsInvalidUTF8() {
        let document = CSVReader.read(Array("a,b\nx,".utf8) + [0xFF, 0x0A])
        #expect(document.problems.map(\.line) == [2])
        #expect(document.problems.first?.column == 2)
    }
}
