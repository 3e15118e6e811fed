/// Why an access-layer operation failed. Messages never contain a code's digits.
public struct AccessError: Error, Sendable, CustomStringConvertible {
    /// What went wrong.
    public enum Kind: Sendable, Hashable {
        /// The code is not digits only, or its length is outside the configured bounds.
        case invalidPIN
        /// Another user already has this code (codes are unique across users).
        case duplicatePIN
        /// No user has this id.
        case unknownUser
        /// The acting user may not do this (not an enabled admin), or the change is not allowed.
        case notPermitted
        /// ``AccessController/initializeAdmin(name:pin:)`` ran while an admin code already exists.
        case alreadyInitialized
        /// A setting (schedule, expiry, hashing parameter) is out of range.
        case invalidSetting
        /// The slow hash could not be computed (scrypt refused the parameters or the memory).
        case hashingFailed
        /// The store failed; nothing of the operation was committed.
        case store(StoreError.Kind)
    }

    /// The kind.
    public var kind: Kind
    /// What failed and what to do about it.
    public var detail: String

    /// Creates an error.
    public init(_ kind: Kind, _ detail: String) {
        self.kind = kind
        self.detail = detail
    }

    /// Wraps a store failure.
    public init(_ error: StoreError) {
        self.init(.store(error.kind), error.detail)
    }

    /// The detail.
    public var description: String { detail }
}
