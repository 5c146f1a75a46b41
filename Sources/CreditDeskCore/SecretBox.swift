import CLibCrypto

/// AES-256-GCM through libcrypto, for gateway credentials at rest. Sealed form:
/// 12-byte random nonce ‖ ciphertext ‖ 16-byte tag. The associated data binds a sealed value
/// to its row (a ciphertext copied to another connection does not open there).
package struct SecretBox: Sendable {
    package static let keyBytes = 32
    static let nonceBytes = 12
    static let tagBytes = 16

    /// Names the key, so that a rotation can tell which values still use the old one.
    package let keyID: String
    private let key: [UInt8]

    package init(key: [UInt8]) throws(DomainError) {
        guard key.count == Self.keyBytes else {
            throw DomainError(.invalidRequest, "the secret key must be 32 bytes (base64url of 32 random bytes)")
        }
        self.key = key
        keyID = String(Digest.hex(Digest.sha256(key)).prefix(16))
    }

    /// A key from its base64url text, as configured in CREDITDESK_SECRET_KEY.
    package init(encodedKey: String) throws(DomainError) {
        guard let bytes = Base64URL.decode(encodedKey.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw DomainError(.invalidRequest, "the secret key is not base64url")
        }
        try self.init(key: bytes)
    }

    package static func generateKey() -> String {
        var bytes = [UInt8](repeating: 0, count: keyBytes)
        precondition(RAND_bytes(&bytes, Int32(keyBytes)) == 1, "RAND_bytes failed")
        return Base64URL.encode(bytes)
    }

    package func seal(_ plaintext: [UInt8], associatedData: [UInt8]) -> [UInt8] {
        var nonce = [UInt8](repeating: 0, count: Self.nonceBytes)
        precondition(RAND_bytes(&nonce, Int32(Self.nonceBytes)) == 1, "RAND_bytes failed")
        guard let context = EVP_CIPHER_CTX_new() else { fatalError("EVP_CIPHER_CTX_new failed: out of memory") }
        defer { EVP_CIPHER_CTX_free(context) }
        var ciphertext = [UInt8](repeating: 0, count: plaintext.count + Self.tagBytes)
        var tag = [UInt8](repeating: 0, count: Self.tagBytes)
        var length: Int32 = 0
        var total = 0
        precondition(EVP_EncryptInit_ex(context, EVP_aes_256_gcm(), nil, key, nonce) == 1)
        if !associatedData.isEmpty {
            precondition(EVP_EncryptUpdate(context, nil, &length, associatedData, Int32(associatedData.count)) == 1)
        }
        if !plaintext.isEmpty {
            precondition(EVP_EncryptUpdate(context, &ciphertext, &length, plaintext, Int32(plaintext.count)) == 1)
            total = Int(length)
        }
        ciphertext.withUnsafeMutableBufferPointer { buffer in
            precondition(EVP_EncryptFinal_ex(context, buffer.baseAddress! + total, &length) == 1)
        }
        total += Int(length)
        precondition(EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_GCM_GET_TAG, Int32(Self.tagBytes), &tag) == 1)
        return nonce + ciphertext.prefix(total) + tag
    }

    /// The plaintext, or nil when the value was not sealed by this key for this associated data.
    package func open(_ sealed: [UInt8], associatedData: [UInt8]) -> [UInt8]? {
        guard sealed.count >= Self.nonceBytes + Self.tagBytes else { return nil }
        let nonce = Array(sealed.prefix(Self.nonceBytes))
        var tag = Array(sealed.suffix(Self.tagBytes))
        let ciphertext = Array(sealed.dropFirst(Self.nonceBytes).dropLast(Self.tagBytes))
        guard let context = EVP_CIPHER_CTX_new() else { return nil }
        defer { EVP_CIPHER_CTX_free(context) }
        var plaintext = [UInt8](repeating: 0, count: ciphertext.count + Self.tagBytes)
        var length: Int32 = 0
        var total = 0
        guard EVP_DecryptInit_ex(context, EVP_aes_256_gcm(), nil, key, nonce) == 1 else { return nil }
        if !associatedData.isEmpty {
            guard EVP_DecryptUpdate(context, nil, &length, associatedData, Int32(associatedData.count)) == 1 else { return nil }
        }
        if !ciphertext.isEmpty {
            guard EVP_DecryptUpdate(context, &plaintext, &length, ciphertext, Int32(ciphertext.count)) == 1 else { return nil }
            total = Int(length)
        }
        guard EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_GCM_SET_TAG, Int32(Self.tagBytes), &tag) == 1 else { return nil }
        let finished = plaintext.withUnsafeMutableBufferPointer { buffer in
            EVP_DecryptFinal_ex(context, buffer.baseAddress! + total, &length)
        }
        guard finished == 1 else { return nil }
        return Array(plaintext.prefix(total + Int(length)))
    }
}
