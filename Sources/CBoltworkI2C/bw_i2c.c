/* bw_i2c.c - see bw_i2c.h. */
#include "bw_i2c.h"

#include <errno.h>
#include <i2c/smbus.h>
#include <linux/i2c-dev.h>
#include <linux/i2c.h>
#include <sys/ioctl.h>

static int bw_ioctl_result(int rc) { return rc < 0 ? -errno : rc; }

int bw_i2c_funcs(int fd, unsigned long *funcs) { return bw_ioctl_result(ioctl(fd, I2C_FUNCS, funcs)); }

int bw_i2c_set_address(int fd, uint16_t address, int force)
{
    return bw_ioctl_result(ioctl(fd, force ? I2C_SLAVE_FORCE : I2C_SLAVE, (unsigned long)address));
}

int bw_i2c_set_timeout(int fd, unsigned long tens_of_ms) { return bw_ioctl_result(ioctl(fd, I2C_TIMEOUT, tens_of_ms)); }

int bw_i2c_read_byte(int fd) { return i2c_smbus_read_byte(fd); }
int bw_i2c_write_byte(int fd, uint8_t value) { return i2c_smbus_write_byte(fd, value); }
int bw_i2c_read_byte_data(int fd, uint8_t reg) { return i2c_smbus_read_byte_data(fd, reg); }
int bw_i2c_write_byte_data(int fd, uint8_t reg, uint8_t value) { return i2c_smbus_write_byte_data(fd, reg, value); }
int bw_i2c_read_word_data(int fd, uint8_t reg) { return i2c_smbus_read_word_data(fd, reg); }
int bw_i2c_write_word_data(int fd, uint8_t reg, uint16_t value) { return i2c_smbus_write_word_data(fd, reg, value); }

int bw_i2c_read_i2c_block_data(int fd, uint8_t reg, uint8_t len, uint8_t *out)
{
    return i2c_smbus_read_i2c_block_data(fd, reg, len, out);
}

int bw_i2c_write_i2c_block_data(int fd, uint8_t reg, uint8_t len, const uint8_t *values)
{
    return i2c_smbus_write_i2c_block_data(fd, reg, len, values);
}

int bw_i2c_write_read(int fd, uint16_t address, const uint8_t *w, size_t wlen, uint8_t *r, size_t rlen)
{
    struct i2c_msg msgs[2];
    int n = 0;
    if (wlen > 0) {
        msgs[n].addr = address;
        msgs[n].flags = 0;
        msgs[n].len = (__u16)wlen;
        msgs[n].buf = (__u8 *)w;
        n++;
    }
    if (rlen > 0) {
        msgs[n].addr = address;
        msgs[n].flags = I2C_M_RD;
        msgs[n].len = (__u16)rlen;
        msgs[n].buf = r;
        n++;
    }
    if (n == 0)
        return 0;
    struct i2c_rdwr_ioctl_data data = { .msgs = msgs, .nmsgs = (__u32)n };
    return bw_ioctl_result(ioctl(fd, I2C_RDWR, &data));
}
