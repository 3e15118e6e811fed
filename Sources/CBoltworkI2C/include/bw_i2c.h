/*
 * bw_i2c.h - thin wrappers over libi2c (<i2c/smbus.h>, -li2c) and the /dev/i2c-N ioctls.
 *
 * Every function returns a value >= 0 on success and a negative errno on failure, so the
 * Swift layer has one error convention for SMBus transfers and ioctls alike.
 */
#ifndef BW_I2C_H
#define BW_I2C_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Adapter functionality bits (linux/i2c.h), repeated as plain constants for Swift. */
enum {
    BW_I2C_FUNC_I2C = 0x00000001,
    BW_I2C_FUNC_SMBUS_QUICK = 0x00010000,
    BW_I2C_FUNC_SMBUS_READ_BYTE = 0x00020000,
    BW_I2C_FUNC_SMBUS_WRITE_BYTE = 0x00040000,
    BW_I2C_FUNC_SMBUS_READ_BYTE_DATA = 0x00080000,
    BW_I2C_FUNC_SMBUS_WRITE_BYTE_DATA = 0x00100000,
    BW_I2C_FUNC_SMBUS_READ_WORD_DATA = 0x00200000,
    BW_I2C_FUNC_SMBUS_WRITE_WORD_DATA = 0x00400000,
    BW_I2C_FUNC_SMBUS_READ_I2C_BLOCK = 0x04000000,
    BW_I2C_FUNC_SMBUS_WRITE_I2C_BLOCK = 0x08000000,
};

/** ioctl(I2C_FUNCS): the adapter's functionality mask. */
int bw_i2c_funcs(int fd, unsigned long *funcs);
/** ioctl(I2C_SLAVE) or, when `force` is non-zero, ioctl(I2C_SLAVE_FORCE). */
int bw_i2c_set_address(int fd, uint16_t address, int force);
/** ioctl(I2C_TIMEOUT), in units of 10 ms. */
int bw_i2c_set_timeout(int fd, unsigned long tens_of_ms);

int bw_i2c_read_byte(int fd);
int bw_i2c_write_byte(int fd, uint8_t value);
int bw_i2c_read_byte_data(int fd, uint8_t reg);
int bw_i2c_write_byte_data(int fd, uint8_t reg, uint8_t value);
int bw_i2c_read_word_data(int fd, uint8_t reg);
int bw_i2c_write_word_data(int fd, uint8_t reg, uint16_t value);
/** I2C block read of `len` (1-32) bytes starting at `reg`; returns the byte count. */
int bw_i2c_read_i2c_block_data(int fd, uint8_t reg, uint8_t len, uint8_t *out);
int bw_i2c_write_i2c_block_data(int fd, uint8_t reg, uint8_t len, const uint8_t *values);
/** ioctl(I2C_RDWR): a write of `wlen` bytes then a read of `rlen` bytes with a repeated start.
 *  Either length may be 0 (a plain write or a plain read). */
int bw_i2c_write_read(int fd, uint16_t address, const uint8_t *w, size_t wlen, uint8_t *r, size_t rlen);

#ifdef __cplusplus
}
#endif
#endif
