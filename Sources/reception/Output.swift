import Foundation
import ReceptionKit

/// JSON for scripts: stable key order, ISO dates, one document on stdout.
///
/// Not escaped like the text output, and need not be: the encoder writes every C0 control
/// (ESC included) as `\u001b` and the like, so no control byte reaches a terminal that shows
/// the JSON. DEL, C1 controls and bidi overrides pass through as the UTF-8 text they are: a
/// script reads them as stored.
enum JSONOutput {
    static func print<T: Encodable>(_ value: T) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        let data = try encoder.encode(value)
        FileHandle.standardOutput.write(data)
        FileHandle.standardOutput.write(Data("\n".utf8))
    }
}
