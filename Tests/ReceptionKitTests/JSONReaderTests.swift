import ReceptionKit
import Testing

@Suite("JSON reader")
struct JSONReaderTests {
    func parse(_ text: String) throws(JSONReader.SyntaxError) -> JSONTree { try JSONReader.parse(Array(text.utf8)) }

    @Test func readsEveryKindOfValue() throws {
        let tree = try parse(#" [ {"a": 1, "b": -2.5, "c": true, "d": false, "e": null, "f": "x\"\\\/\n\t\u00e5\ud83d\ude00", "g": [], "h": {}}, 1e2, 0 ] "#)
        #expect(tree == .array([
            .object(["a": .integer(1), "b": .number(-2.5), "c": .bool(true), "d": .bool(false), "e": .null,
                     "f": .string("x\"\\/\n\tå😀"), "g": .array([]), "h": .object([:])]),
            .integer(100), .integer(0),
        ]))
    }

    @Test func readsUTF8AndAByteOrderMark() throws {
        #expect(try JSONReader.parse([0xEF, 0xBB, 0xBF] + Array(#"["Umeå"]"#.utf8)) == .array([.string("Umeå")]))
    }

    @Test(arguments: [
        ("[1,\n2,,3]", 2, 3, "unexpected character"),
        ("[{\"a\" 1}]", 1, 7, "expected : after a key"),
        ("[\"never closed", 1, 2, "a string is never closed"),
        ("[01]", 1, 2, "a number with a leading zero"),
        ("[1] x", 1, 5, "unexpected text after the JSON value"),
        ("", 1, 1, "unexpected end of the file"),
        ("[\"tab\there\"]", 1, 6, "a control character (such as a line break) inside a string"),
        ("[\"å\", tru]", 1, 7, "unexpected character"),
    ])
    func reportsSyntaxErrorsWithLineAndColumn(text: String, line: Int, column: Int, reason: String) {
        do {
            _ = try parse(text)
            Issue.record("parsed invalid JSON")
        } catch {
            #expect(error.description == "\(reason) at line \(line), column \(column)")
        }
    }
}
