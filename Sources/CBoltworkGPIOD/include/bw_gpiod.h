/*
 * bw_gpiod.h - one small C interface over libgpiod 1.6 (v1 API) and 2.x (v2 API).
 *
 * The choice between the two APIs is made at compile time in bw_gpiod.c: v1's <gpiod.h>
 * defines GPIOD_LINE_BULK_MAX_LINES, v2's does not. Swift code calls only the functions
 * declared here, so callers cannot tell which libgpiod is underneath.
 *
 * Conventions: functions returning a pointer return NULL and set errno on failure; functions
 * returning int return -1 and set errno on failure. Values are logical (active-low applied).
 */
#ifndef BW_GPIOD_H
#define BW_GPIOD_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum bw_direction { BW_DIRECTION_INPUT = 0, BW_DIRECTION_OUTPUT = 1 };
enum bw_bias { BW_BIAS_AS_IS = 0, BW_BIAS_DISABLED = 1, BW_BIAS_PULL_UP = 2, BW_BIAS_PULL_DOWN = 3 };
enum bw_drive { BW_DRIVE_PUSH_PULL = 0, BW_DRIVE_OPEN_DRAIN = 1, BW_DRIVE_OPEN_SOURCE = 2 };
enum bw_edge { BW_EDGE_NONE = 0, BW_EDGE_RISING = 1, BW_EDGE_FALLING = 2, BW_EDGE_BOTH = 3 };

/** Settings of one line, as the Swift layer describes them. */
struct bw_line_settings {
    int direction;      /**< enum bw_direction */
    int active_low;     /**< 0 or 1 */
    int bias;           /**< enum bw_bias */
    int drive;          /**< enum bw_drive */
    int edge;           /**< enum bw_edge */
    int output_value;   /**< initial logical output value, 0 or 1 */
    uint64_t debounce_us; /**< kernel debounce (v2 only; v1 callers debounce in software) */
};

/** One edge event. */
struct bw_edge_event {
    unsigned int offset;   /**< line offset on the chip */
    int rising;            /**< 1: inactive -> active, 0: active -> inactive */
    uint64_t timestamp_ns; /**< CLOCK_MONOTONIC (Linux >= 5.7) */
    uint64_t line_seqno;   /**< per-line sequence number (v1: counted by the shim) */
};

/** 1 for libgpiod 1.x, 2 for libgpiod 2.x. */
int bw_gpiod_api_major(void);
/** The library's own version string ("1.6.3", "2.1.3"). */
const char *bw_gpiod_version(void);
/** 1 when the kernel can debounce through this API (v2), 0 when callers must do it (v1). */
int bw_gpiod_has_kernel_debounce(void);

typedef struct bw_chip bw_chip;
typedef struct bw_request bw_request;

/** Opens a GPIO character device such as /dev/gpiochip0. */
bw_chip *bw_chip_open(const char *path);
/** Closes a chip. Under v1 this also releases every line still requested through it. */
void bw_chip_close(bw_chip *chip);
/** Copies the chip's kernel name and label and reports its number of lines. */
int bw_chip_get_info(bw_chip *chip, char *name, size_t name_len, char *label, size_t label_len,
                     unsigned int *num_lines);
/** Returns the offset of the line called `name` on this chip, or -1 with errno ENOENT. */
int bw_chip_find_line(bw_chip *chip, const char *name);
/** Copies a line's name and consumer (empty when none) and whether it is in use. */
int bw_chip_get_line_info(bw_chip *chip, unsigned int offset, char *name, size_t name_len,
                          char *consumer, size_t consumer_len, int *used);

/** Requests `num_lines` lines with per-line settings. */
bw_request *bw_request_lines(bw_chip *chip, const char *consumer, const unsigned int *offsets,
                             const struct bw_line_settings *settings, size_t num_lines);
/** Releases the lines. */
void bw_request_release(bw_request *request);
/** Reads every requested line's logical value, in request order. */
int bw_request_get_values(bw_request *request, int *values);
/** Sets the logical values of the lines at `indices` (positions in request order). */
int bw_request_set_values(bw_request *request, const size_t *indices, const int *values, size_t count);
/** Changes the settings of every requested line (one entry per line, request order). */
int bw_request_reconfigure(bw_request *request, const struct bw_line_settings *settings);
/** Copies up to `max` file descriptors that become readable when edge events are pending. */
int bw_request_event_fds(bw_request *request, int *fds, size_t max);
/** Reads up to `max` pending events from `fd` (one returned by bw_request_event_fds). Blocks
 *  when nothing is pending: poll the descriptor first. Returns the number of events read. */
int bw_request_read_events(bw_request *request, int fd, struct bw_edge_event *events, size_t max);

/** Creates a non-blocking, close-on-exec eventfd used to wake a thread blocked in poll(2). */
int bw_wake_descriptor(void);

/** Translates `settings` into the native libgpiod representation and describes what the
 *  library holds afterwards, e.g. "v1 request=event-both-edges flags=active-low|bias-pull-up"
 *  or "v2 direction=input edge=both bias=pull-up drive=push-pull active-low=1 debounce-us=5000
 *  output=inactive". Used by tests to check the translation against the real library. */
int bw_describe_native_settings(const struct bw_line_settings *settings, char *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif
