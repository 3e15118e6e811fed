/*
 * A deliberately broken GPIO backend for the real-kernel tier: preloaded (LD_PRELOAD) into the
 * test program and every process it starts (boltd, the hardware model), it inverts the
 * active-low flag of every line request libgpiod sends to the kernel, as a backend with the
 * flag the wrong way round would. The tier must fail with it: `scripts/kernel-tier/ci` runs
 * the checks once more with this library and requires the polarity-sensitive ones to fail.
 *
 * Built against the libgpiod headers the test program was built with (1.6 or 2.x):
 *   cc -shared -fPIC -O2 -o invert-active-low.so invert-active-low.c -ldl
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <gpiod.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

static void announce(void)
{
    static int done;
    if (!done) {
        done = 1;
        fprintf(stderr, "mutant: libgpiod active-low flag inverted in this process\n");
    }
}

static void *real(const char *name)
{
    void *symbol = dlsym(RTLD_NEXT, name);
    if (!symbol) {
        fprintf(stderr, "mutant: %s not found in libgpiod\n", name);
        abort();
    }
    return symbol;
}

#ifdef GPIOD_LINE_BULK_MAX_LINES /* libgpiod 1.6 (v1 API) */

int gpiod_line_request_bulk(struct gpiod_line_bulk *bulk, const struct gpiod_line_request_config *config,
                            const int *default_vals)
{
    static int (*next)(struct gpiod_line_bulk *, const struct gpiod_line_request_config *, const int *);
    if (!next)
        next = real("gpiod_line_request_bulk");
    announce();
    struct gpiod_line_request_config flipped = *config;
    flipped.flags ^= GPIOD_LINE_REQUEST_FLAG_ACTIVE_LOW;
    return next(bulk, &flipped, default_vals);
}

int gpiod_line_set_config_bulk(struct gpiod_line_bulk *bulk, int direction, int flags, const int *values)
{
    static int (*next)(struct gpiod_line_bulk *, int, int, const int *);
    if (!next)
        next = real("gpiod_line_set_config_bulk");
    announce();
    return next(bulk, direction, flags ^ GPIOD_LINE_REQUEST_FLAG_ACTIVE_LOW, values);
}

#else /* libgpiod 2.x */

void gpiod_line_settings_set_active_low(struct gpiod_line_settings *settings, bool active_low)
{
    static void (*next)(struct gpiod_line_settings *, bool);
    if (!next)
        next = real("gpiod_line_settings_set_active_low");
    announce();
    next(settings, !active_low);
}

#endif
