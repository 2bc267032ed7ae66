/// A refusal of the reception domain, worded for the officer at the terminal. Messages name
/// cases by the reference the officer typed, municipalities by code: never ages, needs or
/// family details.
public enum ReceptionError: Error, Sendable, CustomStringConvertible, Equatable {
    /// Something named does not exist (a case reference, a municipality code, an id).
    case notFound(String)
    /// The request contradicts the current state (confirming a rejected proposal, ...).
    case refused(String)
    /// The input is malformed.
    case invalid(String)

    public var description: String {
        switch self {
        case .notFound(let message), .refused(let message), .invalid(let message): message
        }
    }
}
