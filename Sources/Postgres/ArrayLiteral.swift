/// PostgreSQL's one-dimensional array text format: `{a,"b c",NULL,"say \"hi\""}`.
enum ArrayLiteral {
    static func format(_ items: [String]) -> String {
        var text = "{"
        for (position, item) in items.enumerated() {
            if position > 0 { text += "," }
            text += "\""
            for character in item {
                if character == "\"" || character == "\\" { text += "\\" }
                text.append(character)
            }
            text += "\""
        }
        return text + "}"
    }

    /// The elements of a one-dimensional array literal (nil entries are SQL NULLs), or nil when
    /// the text is not such a literal.
    static func parse(_ text: String) -> [String?]? {
        var bytes = Array(text.utf8)[...]
        // An array with explicit bounds starts with "[1:3]=".
        if bytes.first == UInt8(ascii: "[") {
            guard let equals = bytes.firstIndex(of: UInt8(ascii: "=")) else { return nil }
            bytes = bytes[(equals + 1)...]
        }
        guard bytes.first == UInt8(ascii: "{"), bytes.last == UInt8(ascii: "}") else { return nil }
        bytes = bytes.dropFirst().dropLast()
        if bytes.isEmpty { return [] }
        var items: [String?] = []
        var index = bytes.startIndex
        while true {
            var item: [UInt8] = []
            var quoted = false
            if index < bytes.endIndex, bytes[index] == UInt8(ascii: "\"") {
                quoted = true
                index += 1
                while true {
                    guard index < bytes.endIndex else { return nil }
                    let byte = bytes[index]
                    if byte == UInt8(ascii: "\\") {
                        guard index + 1 < bytes.endIndex else { return nil }
                        item.append(bytes[index + 1])
                        index += 2
                    } else if byte == UInt8(ascii: "\"") {
                        index += 1
                        break
                    } else {
                        item.append(byte)
                        index += 1
                    }
                }
            } else {
                while index < bytes.endIndex, bytes[index] != UInt8(ascii: ",") {
                    // Nested arrays are not supported: Reception uses one dimension only.
                    if bytes[index] == UInt8(ascii: "{") { return nil }
                    if bytes[index] == UInt8(ascii: "\\"), index + 1 < bytes.endIndex { index += 1 }
                    item.append(bytes[index])
                    index += 1
                }
            }
            let string = String(decoding: item, as: UTF8.self)
            items.append(!quoted && string == "NULL" ? nil : string)
            if index == bytes.endIndex { break }
            guard bytes[index] == UInt8(ascii: ",") else { return nil }
            index += 1
        }
        return items
    }
}
