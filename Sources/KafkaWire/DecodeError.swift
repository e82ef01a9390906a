// Typed failures of the wire decoder and encoder: a client's bytes never trap the broker,
// they end in one of these, naming what was wrong and where.

/// Why bytes could not be decoded. `offset` is where in the buffer the bad value started.
public enum DecodeError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The buffer ended before the value did.
    case truncated(offset: Int, needed: Int, remaining: Int)
    /// A length or count field is negative (and not the -1 of null) or larger than the rest
    /// of the buffer could hold.
    case invalidLength(offset: Int, length: Int)
    /// A varint ran past its maximum number of bytes.
    case varintTooLong(offset: Int)
    /// Null where the version does not allow null.
    case unexpectedNull(offset: Int, field: String)
    /// A value that is well-formed on the wire but not allowed (bad enum, bad magic, ...).
    case invalidValue(offset: Int, reason: String)
    /// The message does not exist at this version.
    case unsupportedVersion(message: String, version: Int16)

    public var description: String {
        switch self {
        case .truncated(let offset, let needed, let remaining):
            return "truncated at byte \(offset): needed \(needed) bytes, \(remaining) remain"
        case .invalidLength(let offset, let length):
            return "invalid length \(length) at byte \(offset)"
        case .varintTooLong(let offset):
            return "varint too long at byte \(offset)"
        case .unexpectedNull(let offset, let field):
            return "null \(field) at byte \(offset) where the version does not allow null"
        case .invalidValue(let offset, let reason):
            return "invalid value at byte \(offset): \(reason)"
        case .unsupportedVersion(let message, let version):
            return "\(message) has no version \(version)"
        }
    }
}

/// Why a value could not be encoded at the requested version.
public enum EncodeError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A field holds a non-default value that this version cannot carry (Kafka's
    /// UnsupportedVersionException), so encoding would silently lose it.
    case fieldNotInVersion(message: String, field: String, version: Int16)
    /// Null in a version where the field is not nullable.
    case nullNotAllowed(message: String, field: String, version: Int16)
    /// A string or array too long for its length prefix.
    case tooLong(field: String, count: Int)
    /// The message does not exist at this version.
    case unsupportedVersion(message: String, version: Int16)

    public var description: String {
        switch self {
        case .fieldNotInVersion(let message, let field, let version):
            return "\(message).\(field) has a value that version \(version) cannot carry"
        case .nullNotAllowed(let message, let field, let version):
            return "\(message).\(field) cannot be null in version \(version)"
        case .tooLong(let field, let count):
            return "\(field) is too long (\(count))"
        case .unsupportedVersion(let message, let version):
            return "\(message) has no version \(version)"
        }
    }
}
