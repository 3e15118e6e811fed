import BoltworkHAL
import CBoltworkI2C

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// The funnel for the I2C backend: every open, ioctl and libi2c transfer goes through one value
/// of this type. Calls return a negative errno on failure, like libi2c itself. Tests substitute
/// a recording fake.
protocol I2CSystem: Sendable {
    /// Names in `directory` starting with `prefix`, sorted.
    func listDevices(in directory: String, prefix: String) -> [String]
    /// Group and mode of a device node.
    func ownership(of path: String) -> DeviceOwnership?
    /// Opens `path` read-write; returns the descriptor or a negative errno.
    func open(_ path: String) -> Int32
    func close(_ descriptor: Int32)
    /// `I2C_FUNCS`; the mask or a negative errno.
    func functionality(_ descriptor: Int32) -> Result<UInt64, SystemError>
    /// `I2C_SLAVE` / `I2C_SLAVE_FORCE`; 0 or a negative errno.
    func setAddress(_ descriptor: Int32, _ address: UInt8, force: Bool) -> Int32
    /// One transfer with the selected device; the bytes read or a negative errno.
    func transfer(_ descriptor: Int32, _ operation: I2COperation, address: UInt8) -> Result<
        [UInt8], SystemError
    >
}

/// The real funnel: open(2), the C shim's ioctls and libi2c.
struct LiveI2CSystem: I2CSystem {
    func listDevices(in directory: String, prefix: String) -> [String] {
        PosixDirectory.list(directory, prefix: prefix)
    }

    func ownership(of path: String) -> DeviceOwnership? {
        PosixDirectory.ownership(of: path)
    }

    func open(_ path: String) -> Int32 {
        let fd = Glibc.open(path, O_RDWR | O_CLOEXEC)
        return fd >= 0 ? fd : -errno
    }

    func close(_ descriptor: Int32) {
        _ = Glibc.close(descriptor)
    }

    func functionality(_ descriptor: Int32) -> Result<UInt64, SystemError> {
        var mask: UInt = 0
        let rc = bw_i2c_funcs(descriptor, &mask)
        return rc < 0 ? .failure(SystemError(errno: -rc)) : .success(UInt64(mask))
    }

    func setAddress(_ descriptor: Int32, _ address: UInt8, force: Bool) -> Int32 {
        bw_i2c_set_address(descriptor, UInt16(address), force ? 1 : 0)
    }

    func transfer(_ fd: Int32, _ operation: I2COperation, address: UInt8) -> Result<[UInt8], SystemError> {
        func check(_ rc: Int32, _ bytes: @autoclosure () -> [UInt8]) -> Result<[UInt8], SystemError> {
            rc < 0 ? .failure(SystemError(errno: -rc)) : .success(bytes())
        }
        switch operation {
        case .readByte:
            let rc = bw_i2c_read_byte(fd)
            return check(rc, [UInt8(truncatingIfNeeded: rc)])
        case .writeByte(let value):
            return check(bw_i2c_write_byte(fd, value), [])
        case .readByteData(let register):
            let rc = bw_i2c_read_byte_data(fd, register)
            return check(rc, [UInt8(truncatingIfNeeded: rc)])
        case .writeByteData(let register, let value):
            return check(bw_i2c_write_byte_data(fd, register, value), [])
        case .readWordData(let register):
            let rc = bw_i2c_read_word_data(fd, register)
            return check(rc, [UInt8(truncatingIfNeeded: rc), UInt8(truncatingIfNeeded: rc >> 8)])
        case .writeWordData(let register, let value):
            return check(bw_i2c_write_word_data(fd, register, value), [])
        case .readBlockData(let register, let count):
            var buffer = [UInt8](repeating: 0, count: 32)
            let rc = bw_i2c_read_i2c_block_data(fd, register, UInt8(count), &buffer)
            return check(rc, Array(buffer.prefix(Int(max(rc, 0)))))
        case .writeBlockData(let register, let bytes):
            return check(bw_i2c_write_i2c_block_data(fd, register, UInt8(bytes.count), bytes), [])
        case .writeRead(let bytes, let count):
            var buffer = [UInt8](repeating: 0, count: count)
            let rc = bw_i2c_write_read(fd, UInt16(address), bytes, bytes.count, &buffer, count)
            return check(rc, buffer)
        }
    }
}
