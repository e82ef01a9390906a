// The few primitives the SASL mechanisms need, from OpenSSL's libcrypto: SHA-256/512, HMAC,
// PBKDF2 (SCRAM's Hi) and random bytes. Pointers stay in this file; callers pass arrays.

import COpenSSL

/// SCRAM's hash functions (RFC 7677, and SHA-512 as Kafka serves it).
public enum HashFunction: Sendable {
    case sha256, sha512

    public var outputSize: Int { self == .sha256 ? 32 : 64 }

    fileprivate var digest: OpaquePointer? { self == .sha256 ? EVP_sha256() : EVP_sha512() }
}

public enum Crypto {
    public static func hash(_ function: HashFunction, _ bytes: [UInt8]) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        let succeeded = bytes.withUnsafeBytes { input in
            EVP_Digest(input.baseAddress, input.count, &output, &length, function.digest, nil) == 1
        }
        precondition(succeeded, "EVP_Digest failed")
        return Array(output.prefix(Int(length)))
    }

    public static func hmac(_ function: HashFunction, key: [UInt8], _ message: [UInt8]) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        let result = key.withUnsafeBytes { keyBytes in
            message.withUnsafeBytes { messageBytes in
                HMAC(
                    function.digest, keyBytes.baseAddress, Int32(keyBytes.count),
                    messageBytes.baseAddress?.assumingMemoryBound(to: UInt8.self),
                    messageBytes.count, &output, &length)
            }
        }
        precondition(result != nil, "HMAC failed")
        return Array(output.prefix(Int(length)))
    }

    /// PBKDF2 with HMAC over `function` (SCRAM's Hi(password, salt, iterations)).
    public static func pbkdf2(_ function: HashFunction, password: [UInt8], salt: [UInt8], iterations: Int) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: function.outputSize)
        let succeeded = password.withUnsafeBytes { passwordBytes in
            salt.withUnsafeBytes { saltBytes in
                PKCS5_PBKDF2_HMAC(
                    passwordBytes.baseAddress?.assumingMemoryBound(to: CChar.self), Int32(passwordBytes.count),
                    saltBytes.baseAddress?.assumingMemoryBound(to: UInt8.self), Int32(saltBytes.count), Int32(iterations),
                    function.digest, Int32(output.count), &output) == 1
            }
        }
        precondition(succeeded, "PKCS5_PBKDF2_HMAC failed")
        return output
    }

    public static func randomBytes(_ count: Int) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: count)
        precondition(RAND_bytes(&output, Int32(count)) == 1, "RAND_bytes failed")
        return output
    }

    /// Compares in time independent of where the inputs differ (a proof or a password).
    public static func constantTimeEqual(_ left: [UInt8], _ right: [UInt8]) -> Bool {
        guard left.count == right.count else { return false }
        var difference: UInt8 = 0
        for index in left.indices { difference |= left[index] ^ right[index] }
        return difference == 0
    }
}
