import BoltworkHAL

/// The wire side of a gauge whose 16-bit registers sit at even addresses: turns transfers into
/// bytes read from, and whole words written to, the register map. Big-endian chips (MAX17048)
/// send the MSB first, little-endian ones (BQ27441) the LSB; auto-increment walks bytes, and a
/// write only lands once both bytes of a register arrived.
struct WordRegisterWire {
    let bigEndian: Bool

    /// Answers `operation`: `read` gives the word at an even register, `write` receives the
    /// whole words written (register, value) in order.
    func respond(
        to operation: I2COperation, pointer: inout UInt8, read: (UInt8) -> UInt16,
        write: ([(register: UInt8, value: UInt16)]) -> Void
    ) -> [UInt8] {
        switch operation {
        case .readByte:
            defer { pointer &+= 1 }
            return bytes(from: pointer, count: 1, read)
        case .writeByte(let register):
            pointer = register
            return []
        case .readByteData(let register):
            return bytes(from: register, count: 1, read)
        case .writeByteData(let register, let value):
            write(words(at: register, [value]))
            return []
        case .readWordData(let register):
            return bytes(from: register, count: 2, read)
        case .writeWordData(let register, let value):
            write(words(at: register, [UInt8(value & 0xFF), UInt8(value >> 8)]))
            return []
        case .readBlockData(let register, let count):
            return bytes(from: register, count: count, read)
        case .writeBlockData(let register, let data):
            write(words(at: register, data))
            return []
        case .writeRead(let data, let count):
            guard let register = data.first else { return bytes(from: pointer, count: count, read) }
            write(words(at: register, Array(data.dropFirst())))
            pointer = register
            return bytes(from: register, count: count, read)
        }
    }

    private func bytes(from start: UInt8, count: Int, _ read: (UInt8) -> UInt16) -> [UInt8] {
        var cache: [UInt8: UInt16] = [:]
        return (0..<max(0, count)).map { offset in
            let address = UInt8((Int(start) + offset) & 0xFF)
            let base = address & 0xFE
            let word = cache[base] ?? read(base)
            cache[base] = word
            let firstOnWire = bigEndian ? UInt8(word >> 8) : UInt8(word & 0xFF)
            let secondOnWire = bigEndian ? UInt8(word & 0xFF) : UInt8(word >> 8)
            return address & 1 == 0 ? firstOnWire : secondOnWire
        }
    }

    private func words(at start: UInt8, _ data: [UInt8]) -> [(register: UInt8, value: UInt16)] {
        var result: [(register: UInt8, value: UInt16)] = []
        var index = 0
        var address = Int(start)
        if address & 1 == 1 {
            index = 1
            address += 1
        }
        while index + 1 < data.count {
            let (first, second) = (UInt16(data[index]), UInt16(data[index + 1]))
            result.append((UInt8(address & 0xFF), bigEndian ? first << 8 | second : second << 8 | first))
            index += 2
            address += 2
        }
        return result
    }
}
