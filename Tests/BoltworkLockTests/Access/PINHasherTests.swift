import BoltworkDrivers
import BoltworkLock
import Testing

@Suite("PIN hashing")
struct PINHasherTests {
    let secretA: [UInt8] = Array(0..<32)
    let secretB: [UInt8] = Array(1...32)

    @Test("one install hashes a code the same way every time, and never to the digits")
    func deterministic() throws {
        let hasher = try PINHasher(installSecret: secretA, parameters: .testing)
        let first = try hasher.credential(for: "12345678")
        let again = try PINHasher(installSecret: secretA, parameters: .testing).credential(for: "12345678")
        #expect(first == again)
        #expect(first.length == 8)
        #expect(first.hash.count == PINHasher.hashByteCount)
        #expect(first.hash != Array("12345678".utf8))
        #expect(try hasher.credential(for: "12345679").hash != first.hash)
        #expect(try hasher.credential(for: PINEntry("12345678")) == first)
    }

    @Test("another install secret or other scrypt parameters give another hash")
    func keyedBySecret() throws {
        let a = try PINHasher(installSecret: secretA, parameters: .testing).credential(for: "123456")
        let b = try PINHasher(installSecret: secretB, parameters: .testing).credential(for: "123456")
        let costlier = PINHasher.Parameters(rounds: 32, blockSize: 1, parallelism: 1)
        let c = try PINHasher(installSecret: secretA, parameters: costlier).credential(for: "123456")
        #expect(a.hash != b.hash)
        #expect(a.hash != c.hash)
    }

    @Test("the constant-time comparison compares whole byte strings")
    func constantTime() {
        #expect(PINHasher.constantTimeEquals([1, 2, 3], [1, 2, 3]))
        #expect(!PINHasher.constantTimeEquals([1, 2, 3], [1, 2, 4]))
        #expect(!PINHasher.constantTimeEquals([9, 2, 3], [1, 2, 3]))
        #expect(!PINHasher.constantTimeEquals([1, 2, 3], [1, 2]))
        #expect(PINHasher.constantTimeEquals([], []))
    }

    @Test("codes are digits only, within the configured length, and errors never repeat them")
    func bounds() throws {
        let hasher = try PINHasher(installSecret: secretA, parameters: .testing)
        for bad in ["12345", "12345678901", "12345a", "１２３４５６", "123 456", "", "12345\u{301}6"] {
            do {
                _ = try hasher.credential(for: bad)
                Issue.record("accepted a bad code of \(bad.count) characters")
            } catch {
                #expect(error.kind == .invalidPIN)
                if !bad.isEmpty { #expect(!error.detail.contains(bad)) }
            }
        }
        #expect(throws: Never.self) { try hasher.credential(for: "123456") }
        #expect(throws: Never.self) { try hasher.credential(for: "1234567890") }

        let short = try PINHasher(
            installSecret: secretA, parameters: .testing,
            bounds: PINHasher.LengthBounds(minimum: 4, maximum: 5))
        #expect(try short.credential(for: "1234").length == 4)
        #expect(throws: AccessError.self) { try short.credential(for: "123456") }
    }

    @Test("bad parameters and short secrets are refused with an explanation")
    func parameters() {
        for parameters in [
            PINHasher.Parameters(rounds: 1000, blockSize: 8, parallelism: 1),
            PINHasher.Parameters(rounds: 16, blockSize: 0, parallelism: 1),
            PINHasher.Parameters(rounds: 1 << 24, blockSize: 8, parallelism: 1),
        ] {
            #expect(throws: AccessError.self) {
                try PINHasher(installSecret: secretA, parameters: parameters)
            }
        }
        #expect(throws: AccessError.self) { try PINHasher(installSecret: [1, 2, 3], parameters: .testing) }
        #expect(PINHasher.Parameters.standard.memoryBytes == 8 << 20)
        #expect((try? PINHasher.Parameters.standard.validate()) != nil)
    }
}
