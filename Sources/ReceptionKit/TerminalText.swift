/// Stored text made safe to show on a terminal.
///
/// Reasons, names, actors and job messages are typed by people or read from files; printed
/// raw, an ESC sequence in a reason could rewrite the auditor's terminal (move the cursor,
/// clear lines, retitle the window), and a bidi override could make text read differently
/// from what is stored. So every such character is shown as a visible escape instead.
///
/// The escape form is Swift's: `\u{` the scalar's value in upper-case hex without leading
/// zeros `}`, e.g. `\u{1B}` for ESC, `\u{A}` for a line feed, `\u{202E}` for a right-to-left
/// override. A backslash is left as it is: a literal `\u{1B}` typed into a reason reads the
/// same as an escaped ESC, but it can hide nothing, and doubling backslashes would garble the
/// JSON text of audit details.
///
/// Escaped: C0 controls U+0000–U+001F (tab and line breaks too), DEL U+007F, C1 controls
/// U+0080–U+009F, the line and paragraph separators U+2028–U+2029, and the bidi embeddings,
/// overrides and isolates U+202A–U+202E and U+2066–U+2069. The bidi marks (U+200E, U+200F,
/// U+061C) are left alone: they are ordinary in Arabic and Persian text and override nothing.
public enum TerminalText {
    /// `text` with every character that could act on the terminal shown as `\u{…}`. Text that
    /// has none comes back unchanged. With `keepingLineBreaks`, a line feed stays a line break
    /// (for messages of several lines); a carriage return never does, as it lets later text
    /// overwrite a line.
    public static func escaped(_ text: String, keepingLineBreaks: Bool = false) -> String {
        func escapes(_ scalar: Unicode.Scalar) -> Bool {
            needsEscaping(scalar) && !(keepingLineBreaks && scalar == "\n")
        }
        guard text.unicodeScalars.contains(where: escapes) else { return text }
        var result = ""
        result.unicodeScalars.reserveCapacity(text.unicodeScalars.count + 8)
        for scalar in text.unicodeScalars {
            if escapes(scalar) {
                result += "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}"
            } else {
                result.unicodeScalars.append(scalar)
            }
        }
        return result
    }

    /// Whether a terminal could act on `scalar` rather than show it.
    public static func needsEscaping(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x00...0x1F, 0x7F...0x9F: true  // C0, DEL, C1
        case 0x2028...0x2029: true  // line and paragraph separators
        case 0x202A...0x202E, 0x2066...0x2069: true  // bidi embeddings, overrides, isolates
        default: false
        }
    }
}
