/*
 * bw_gpiod.c - the compile-time bridge between libgpiod 1.6 (v1 API) and 2.x (v2 API).
 *
 * v1's <gpiod.h> defines GPIOD_LINE_BULK_MAX_LINES; v2's does not. Everything above the
 * "#ifdef BW_GPIOD_V1" line is shared; the two halves below implement bw_gpiod.h each with
 * its own API. Settings that v1 cannot express per line are handled by requesting one bulk per
 * group of lines that share settings; kernel debounce does not exist in v1 and is reported by
 * bw_gpiod_has_kernel_debounce() so that the Swift layer debounces in software.
 */
#define _GNU_SOURCE
#include "bw_gpiod.h"

#include <errno.h>
#include <gpiod.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>

#ifdef GPIOD_LINE_BULK_MAX_LINES
#define BW_GPIOD_V1 1
#endif

int bw_wake_descriptor(void) { return eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK); }

/* gpiod_chip_open and gpiod_chip_close have the same signatures in both APIs. */
struct bw_chip {
    struct gpiod_chip *chip;
};

bw_chip *bw_chip_open(const char *path)
{
    struct gpiod_chip *chip = gpiod_chip_open(path);
    if (!chip)
        return NULL;
    bw_chip *result = calloc(1, sizeof(*result));
    if (!result) {
        gpiod_chip_close(chip);
        errno = ENOMEM;
        return NULL;
    }
    result->chip = chip;
    return result;
}

void bw_chip_close(bw_chip *chip)
{
    if (!chip)
        return;
    gpiod_chip_close(chip->chip);
    free(chip);
}

static void bw_copy(char *dst, size_t len, const char *src)
{
    if (!dst || len == 0)
        return;
    if (!src)
        src = "";
    snprintf(dst, len, "%s", src);
}

#ifdef BW_GPIOD_V1
/* ------------------------------------------------------------------------------------------ */
/* libgpiod 1.6: struct gpiod_chip, gpiod_line, bulk requests                                  */
/* ------------------------------------------------------------------------------------------ */

int bw_gpiod_api_major(void) { return 1; }
const char *bw_gpiod_version(void) { return gpiod_version_string(); }
int bw_gpiod_has_kernel_debounce(void) { return 0; }

static int bw_same_settings(const struct bw_line_settings *a, const struct bw_line_settings *b)
{
    /* Output values may differ inside one group; everything else must match. */
    return a->direction == b->direction && a->active_low == b->active_low && a->bias == b->bias &&
           a->drive == b->drive && a->edge == b->edge && a->debounce_us == b->debounce_us;
}

/* One v1 bulk request: lines that share settings. */
struct bw_group {
    struct gpiod_line_bulk bulk;
    size_t indices[GPIOD_LINE_BULK_MAX_LINES]; /* positions in request order */
    int values[GPIOD_LINE_BULK_MAX_LINES];     /* last output values, bulk order */
    struct bw_line_settings settings;
};

struct bw_request {
    struct bw_chip *chip;
    size_t num_lines;
    size_t num_groups;
    struct bw_group *groups;
    size_t *group_of;          /* request index -> group */
    size_t *position_in_group; /* request index -> position in the group's bulk */
    unsigned int *offsets;
    uint64_t *seqno;
};

int bw_chip_get_info(bw_chip *chip, char *name, size_t name_len, char *label, size_t label_len,
                     unsigned int *num_lines)
{
    bw_copy(name, name_len, gpiod_chip_name(chip->chip));
    bw_copy(label, label_len, gpiod_chip_label(chip->chip));
    if (num_lines)
        *num_lines = gpiod_chip_num_lines(chip->chip);
    return 0;
}

int bw_chip_find_line(bw_chip *chip, const char *name)
{
    struct gpiod_line *line = gpiod_chip_find_line(chip->chip, name);
    if (!line) {
        if (errno == 0)
            errno = ENOENT;
        return -1;
    }
    return (int)gpiod_line_offset(line);
}

int bw_chip_get_line_info(bw_chip *chip, unsigned int offset, char *name, size_t name_len,
                          char *consumer, size_t consumer_len, int *used)
{
    struct gpiod_line *line = gpiod_chip_get_line(chip->chip, offset);
    if (!line)
        return -1;
    bw_copy(name, name_len, gpiod_line_name(line));
    bw_copy(consumer, consumer_len, gpiod_line_consumer(line));
    if (used)
        *used = gpiod_line_is_used(line) ? 1 : 0;
    return 0;
}

static int bw_v1_request_type(const struct bw_line_settings *s)
{
    if (s->direction == BW_DIRECTION_OUTPUT)
        return GPIOD_LINE_REQUEST_DIRECTION_OUTPUT;
    switch (s->edge) {
    case BW_EDGE_RISING: return GPIOD_LINE_REQUEST_EVENT_RISING_EDGE;
    case BW_EDGE_FALLING: return GPIOD_LINE_REQUEST_EVENT_FALLING_EDGE;
    case BW_EDGE_BOTH: return GPIOD_LINE_REQUEST_EVENT_BOTH_EDGES;
    default: return GPIOD_LINE_REQUEST_DIRECTION_INPUT;
    }
}

static int bw_v1_flags(const struct bw_line_settings *s)
{
    int flags = 0;
    if (s->active_low)
        flags |= GPIOD_LINE_REQUEST_FLAG_ACTIVE_LOW;
    if (s->drive == BW_DRIVE_OPEN_DRAIN)
        flags |= GPIOD_LINE_REQUEST_FLAG_OPEN_DRAIN;
    else if (s->drive == BW_DRIVE_OPEN_SOURCE)
        flags |= GPIOD_LINE_REQUEST_FLAG_OPEN_SOURCE;
    switch (s->bias) {
    case BW_BIAS_DISABLED: flags |= GPIOD_LINE_REQUEST_FLAG_BIAS_DISABLE; break;
    case BW_BIAS_PULL_UP: flags |= GPIOD_LINE_REQUEST_FLAG_BIAS_PULL_UP; break;
    case BW_BIAS_PULL_DOWN: flags |= GPIOD_LINE_REQUEST_FLAG_BIAS_PULL_DOWN; break;
    default: break;
    }
    return flags;
}

static void bw_request_free(bw_request *r)
{
    if (!r)
        return;
    free(r->groups);
    free(r->group_of);
    free(r->position_in_group);
    free(r->offsets);
    free(r->seqno);
    free(r);
}

bw_request *bw_request_lines(bw_chip *chip, const char *consumer, const unsigned int *offsets,
                             const struct bw_line_settings *settings, size_t num_lines)
{
    if (num_lines == 0 || num_lines > GPIOD_LINE_BULK_MAX_LINES) {
        errno = EINVAL;
        return NULL;
    }
    bw_request *r = calloc(1, sizeof(*r));
    if (!r) {
        errno = ENOMEM;
        return NULL;
    }
    r->chip = chip;
    r->num_lines = num_lines;
    r->groups = calloc(num_lines, sizeof(*r->groups));
    r->group_of = calloc(num_lines, sizeof(size_t));
    r->position_in_group = calloc(num_lines, sizeof(size_t));
    r->offsets = calloc(num_lines, sizeof(unsigned int));
    r->seqno = calloc(num_lines, sizeof(uint64_t));
    if (!r->groups || !r->group_of || !r->position_in_group || !r->offsets || !r->seqno) {
        bw_request_free(r);
        errno = ENOMEM;
        return NULL;
    }

    /* Group lines with identical settings into bulks; edge lines each get their own event fd
     * inside the bulk anyway, so they group like the others. */
    for (size_t i = 0; i < num_lines; i++) {
        struct gpiod_line *line = gpiod_chip_get_line(chip->chip, offsets[i]);
        if (!line) {
            int saved = errno ? errno : EINVAL;
            bw_request_free(r);
            errno = saved;
            return NULL;
        }
        r->offsets[i] = offsets[i];
        size_t g = 0;
        for (; g < r->num_groups; g++)
            if (bw_same_settings(&r->groups[g].settings, &settings[i]))
                break;
        if (g == r->num_groups) {
            gpiod_line_bulk_init(&r->groups[g].bulk);
            r->groups[g].settings = settings[i];
            r->num_groups++;
        }
        struct bw_group *group = &r->groups[g];
        unsigned int pos = gpiod_line_bulk_num_lines(&group->bulk);
        gpiod_line_bulk_add(&group->bulk, line);
        group->indices[pos] = i;
        group->values[pos] = settings[i].output_value ? 1 : 0;
        r->group_of[i] = g;
        r->position_in_group[i] = pos;
    }

    for (size_t g = 0; g < r->num_groups; g++) {
        struct bw_group *group = &r->groups[g];
        struct gpiod_line_request_config config = {
            .consumer = consumer,
            .request_type = bw_v1_request_type(&group->settings),
            .flags = bw_v1_flags(&group->settings),
        };
        if (gpiod_line_request_bulk(&group->bulk, &config, group->values) < 0) {
            int saved = errno;
            for (size_t k = 0; k < g; k++)
                gpiod_line_release_bulk(&r->groups[k].bulk);
            bw_request_free(r);
            errno = saved;
            return NULL;
        }
    }
    return r;
}

void bw_request_release(bw_request *r)
{
    if (!r)
        return;
    for (size_t g = 0; g < r->num_groups; g++)
        gpiod_line_release_bulk(&r->groups[g].bulk);
    bw_request_free(r);
}

int bw_request_get_values(bw_request *r, int *values)
{
    int group_values[GPIOD_LINE_BULK_MAX_LINES];
    for (size_t g = 0; g < r->num_groups; g++) {
        struct bw_group *group = &r->groups[g];
        if (gpiod_line_get_value_bulk(&group->bulk, group_values) < 0)
            return -1;
        for (unsigned int k = 0; k < gpiod_line_bulk_num_lines(&group->bulk); k++)
            values[group->indices[k]] = group_values[k];
    }
    return 0;
}

int bw_request_set_values(bw_request *r, const size_t *indices, const int *values, size_t count)
{
    int touched[GPIOD_LINE_BULK_MAX_LINES] = { 0 };
    for (size_t k = 0; k < count; k++) {
        if (indices[k] >= r->num_lines) {
            errno = EINVAL;
            return -1;
        }
        size_t g = r->group_of[indices[k]];
        if (r->groups[g].settings.direction != BW_DIRECTION_OUTPUT) {
            errno = EPERM;
            return -1;
        }
        r->groups[g].values[r->position_in_group[indices[k]]] = values[k] ? 1 : 0;
        touched[g] = 1;
    }
    /* v1 sets a whole handle at once: write each touched group with its remembered values. */
    for (size_t g = 0; g < r->num_groups; g++)
        if (touched[g] && gpiod_line_set_value_bulk(&r->groups[g].bulk, r->groups[g].values) < 0)
            return -1;
    return 0;
}

int bw_request_reconfigure(bw_request *r, const struct bw_line_settings *settings)
{
    /* v1 can change direction and flags of a value-request bulk (gpiod_line_set_config_bulk),
     * but not the lines' grouping and not edge detection. */
    for (size_t g = 0; g < r->num_groups; g++) {
        struct bw_group *group = &r->groups[g];
        const struct bw_line_settings *first = &settings[group->indices[0]];
        for (unsigned int k = 0; k < gpiod_line_bulk_num_lines(&group->bulk); k++) {
            const struct bw_line_settings *s = &settings[group->indices[k]];
            if (!bw_same_settings(first, s) || s->edge != BW_EDGE_NONE ||
                group->settings.edge != BW_EDGE_NONE) {
                errno = EOPNOTSUPP;
                return -1;
            }
        }
    }
    for (size_t g = 0; g < r->num_groups; g++) {
        struct bw_group *group = &r->groups[g];
        const struct bw_line_settings *first = &settings[group->indices[0]];
        for (unsigned int k = 0; k < gpiod_line_bulk_num_lines(&group->bulk); k++)
            group->values[k] = settings[group->indices[k]].output_value ? 1 : 0;
        int direction = first->direction == BW_DIRECTION_OUTPUT ? GPIOD_LINE_REQUEST_DIRECTION_OUTPUT
                                                                : GPIOD_LINE_REQUEST_DIRECTION_INPUT;
        if (gpiod_line_set_config_bulk(&group->bulk, direction, bw_v1_flags(first), group->values) < 0)
            return -1;
        group->settings = *first;
    }
    return 0;
}

int bw_request_event_fds(bw_request *r, int *fds, size_t max)
{
    size_t count = 0;
    for (size_t i = 0; i < r->num_lines && count < max; i++) {
        struct bw_group *group = &r->groups[r->group_of[i]];
        if (group->settings.edge == BW_EDGE_NONE || group->settings.direction != BW_DIRECTION_INPUT)
            continue;
        struct gpiod_line *line = gpiod_line_bulk_get_line(&group->bulk, (unsigned int)r->position_in_group[i]);
        int fd = gpiod_line_event_get_fd(line);
        if (fd < 0)
            return -1;
        fds[count++] = fd;
    }
    return (int)count;
}

int bw_request_read_events(bw_request *r, int fd, struct bw_edge_event *events, size_t max)
{
    for (size_t i = 0; i < r->num_lines; i++) {
        struct bw_group *group = &r->groups[r->group_of[i]];
        if (group->settings.edge == BW_EDGE_NONE)
            continue;
        struct gpiod_line *line = gpiod_line_bulk_get_line(&group->bulk, (unsigned int)r->position_in_group[i]);
        if (gpiod_line_event_get_fd(line) != fd)
            continue;
        struct gpiod_line_event raw[16];
        unsigned int wanted = max < 16 ? (unsigned int)max : 16;
        int n = gpiod_line_event_read_multiple(line, raw, wanted);
        if (n < 0)
            return -1;
        for (int k = 0; k < n; k++) {
            events[k].offset = r->offsets[i];
            events[k].rising = raw[k].event_type == GPIOD_LINE_EVENT_RISING_EDGE;
            events[k].timestamp_ns = (uint64_t)raw[k].ts.tv_sec * 1000000000ull + (uint64_t)raw[k].ts.tv_nsec;
            events[k].line_seqno = ++r->seqno[i];
        }
        return n;
    }
    errno = EBADF;
    return -1;
}

int bw_describe_native_settings(const struct bw_line_settings *s, char *buf, size_t len)
{
    static const char *types[] = { "?", "as-is", "input", "output", "event-falling-edge",
                                   "event-rising-edge", "event-both-edges" };
    int type = bw_v1_request_type(s);
    int flags = bw_v1_flags(s);
    char flagtext[160] = "";
    struct { int bit; const char *name; } names[] = {
        { GPIOD_LINE_REQUEST_FLAG_ACTIVE_LOW, "active-low" },
        { GPIOD_LINE_REQUEST_FLAG_OPEN_DRAIN, "open-drain" },
        { GPIOD_LINE_REQUEST_FLAG_OPEN_SOURCE, "open-source" },
        { GPIOD_LINE_REQUEST_FLAG_BIAS_DISABLE, "bias-disable" },
        { GPIOD_LINE_REQUEST_FLAG_BIAS_PULL_UP, "bias-pull-up" },
        { GPIOD_LINE_REQUEST_FLAG_BIAS_PULL_DOWN, "bias-pull-down" },
    };
    for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
        if (flags & names[k].bit) {
            if (flagtext[0])
                strcat(flagtext, "|");
            strcat(flagtext, names[k].name);
        }
    }
    return snprintf(buf, len, "v1 request=%s flags=%s default=%d debounce=%s",
                    (type >= 1 && type <= 6) ? types[type] : "?", flagtext[0] ? flagtext : "none",
                    s->output_value ? 1 : 0, s->debounce_us ? "software" : "none");
}

#else
/* ------------------------------------------------------------------------------------------ */
/* libgpiod 2.x: settings, line config, request config, line request                          */
/* ------------------------------------------------------------------------------------------ */

int bw_gpiod_api_major(void) { return 2; }
const char *bw_gpiod_version(void) { return gpiod_api_version(); }
int bw_gpiod_has_kernel_debounce(void) { return 1; }

struct bw_request {
    struct gpiod_line_request *request;
    struct gpiod_edge_event_buffer *buffer;
    size_t num_lines;
    unsigned int *offsets;
    int has_edges;
};

int bw_chip_get_info(bw_chip *chip, char *name, size_t name_len, char *label, size_t label_len,
                     unsigned int *num_lines)
{
    struct gpiod_chip_info *info = gpiod_chip_get_info(chip->chip);
    if (!info)
        return -1;
    bw_copy(name, name_len, gpiod_chip_info_get_name(info));
    bw_copy(label, label_len, gpiod_chip_info_get_label(info));
    if (num_lines)
        *num_lines = (unsigned int)gpiod_chip_info_get_num_lines(info);
    gpiod_chip_info_free(info);
    return 0;
}

int bw_chip_find_line(bw_chip *chip, const char *name)
{
    return gpiod_chip_get_line_offset_from_name(chip->chip, name);
}

int bw_chip_get_line_info(bw_chip *chip, unsigned int offset, char *name, size_t name_len,
                          char *consumer, size_t consumer_len, int *used)
{
    struct gpiod_line_info *info = gpiod_chip_get_line_info(chip->chip, offset);
    if (!info)
        return -1;
    bw_copy(name, name_len, gpiod_line_info_get_name(info));
    bw_copy(consumer, consumer_len, gpiod_line_info_get_consumer(info));
    if (used)
        *used = gpiod_line_info_is_used(info) ? 1 : 0;
    gpiod_line_info_free(info);
    return 0;
}

/* Builds native settings; returns NULL with errno set when libgpiod refuses a value. */
static struct gpiod_line_settings *bw_v2_settings(const struct bw_line_settings *s)
{
    struct gpiod_line_settings *native = gpiod_line_settings_new();
    if (!native)
        return NULL;
    static const enum gpiod_line_bias biases[] = { GPIOD_LINE_BIAS_AS_IS, GPIOD_LINE_BIAS_DISABLED,
                                                   GPIOD_LINE_BIAS_PULL_UP, GPIOD_LINE_BIAS_PULL_DOWN };
    static const enum gpiod_line_drive drives[] = { GPIOD_LINE_DRIVE_PUSH_PULL, GPIOD_LINE_DRIVE_OPEN_DRAIN,
                                                    GPIOD_LINE_DRIVE_OPEN_SOURCE };
    static const enum gpiod_line_edge edges[] = { GPIOD_LINE_EDGE_NONE, GPIOD_LINE_EDGE_RISING,
                                                  GPIOD_LINE_EDGE_FALLING, GPIOD_LINE_EDGE_BOTH };
    if (s->bias < 0 || s->bias > 3 || s->drive < 0 || s->drive > 2 || s->edge < 0 || s->edge > 3) {
        gpiod_line_settings_free(native);
        errno = EINVAL;
        return NULL;
    }
    int rc = 0;
    rc |= gpiod_line_settings_set_direction(native, s->direction == BW_DIRECTION_OUTPUT
                                                        ? GPIOD_LINE_DIRECTION_OUTPUT
                                                        : GPIOD_LINE_DIRECTION_INPUT);
    rc |= gpiod_line_settings_set_bias(native, biases[s->bias]);
    if (s->direction == BW_DIRECTION_OUTPUT) {
        rc |= gpiod_line_settings_set_drive(native, drives[s->drive]);
        rc |= gpiod_line_settings_set_output_value(native, s->output_value ? GPIOD_LINE_VALUE_ACTIVE
                                                                           : GPIOD_LINE_VALUE_INACTIVE);
    } else {
        rc |= gpiod_line_settings_set_edge_detection(native, edges[s->edge]);
        if (s->edge != BW_EDGE_NONE && s->debounce_us)
            gpiod_line_settings_set_debounce_period_us(native, (unsigned long)s->debounce_us);
    }
    gpiod_line_settings_set_active_low(native, s->active_low ? true : false);
    if (rc != 0) {
        int saved = errno ? errno : EINVAL;
        gpiod_line_settings_free(native);
        errno = saved;
        return NULL;
    }
    return native;
}

static struct gpiod_line_config *bw_v2_line_config(const unsigned int *offsets,
                                                   const struct bw_line_settings *settings, size_t n)
{
    struct gpiod_line_config *config = gpiod_line_config_new();
    if (!config)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        struct gpiod_line_settings *native = bw_v2_settings(&settings[i]);
        if (!native || gpiod_line_config_add_line_settings(config, &offsets[i], 1, native) < 0) {
            int saved = errno;
            gpiod_line_settings_free(native);
            gpiod_line_config_free(config);
            errno = saved;
            return NULL;
        }
        gpiod_line_settings_free(native);
    }
    return config;
}

bw_request *bw_request_lines(bw_chip *chip, const char *consumer, const unsigned int *offsets,
                             const struct bw_line_settings *settings, size_t num_lines)
{
    if (num_lines == 0) {
        errno = EINVAL;
        return NULL;
    }
    bw_request *r = calloc(1, sizeof(*r));
    if (!r) {
        errno = ENOMEM;
        return NULL;
    }
    r->num_lines = num_lines;
    r->offsets = calloc(num_lines, sizeof(unsigned int));
    if (!r->offsets) {
        free(r);
        errno = ENOMEM;
        return NULL;
    }
    memcpy(r->offsets, offsets, num_lines * sizeof(unsigned int));
    for (size_t i = 0; i < num_lines; i++)
        if (settings[i].direction == BW_DIRECTION_INPUT && settings[i].edge != BW_EDGE_NONE)
            r->has_edges = 1;

    struct gpiod_line_config *line_config = bw_v2_line_config(offsets, settings, num_lines);
    struct gpiod_request_config *request_config = gpiod_request_config_new();
    if (!line_config || !request_config) {
        int saved = errno ? errno : ENOMEM;
        gpiod_line_config_free(line_config);
        gpiod_request_config_free(request_config);
        free(r->offsets);
        free(r);
        errno = saved;
        return NULL;
    }
    gpiod_request_config_set_consumer(request_config, consumer);
    r->request = gpiod_chip_request_lines(chip->chip, request_config, line_config);
    int saved = errno;
    gpiod_line_config_free(line_config);
    gpiod_request_config_free(request_config);
    if (!r->request) {
        free(r->offsets);
        free(r);
        errno = saved;
        return NULL;
    }
    if (r->has_edges) {
        r->buffer = gpiod_edge_event_buffer_new(64);
        if (!r->buffer) {
            gpiod_line_request_release(r->request);
            free(r->offsets);
            free(r);
            errno = ENOMEM;
            return NULL;
        }
    }
    return r;
}

void bw_request_release(bw_request *r)
{
    if (!r)
        return;
    gpiod_line_request_release(r->request);
    gpiod_edge_event_buffer_free(r->buffer);
    free(r->offsets);
    free(r);
}

int bw_request_get_values(bw_request *r, int *values)
{
    enum gpiod_line_value native[64];
    if (r->num_lines > 64) {
        errno = EINVAL;
        return -1;
    }
    if (gpiod_line_request_get_values_subset(r->request, r->num_lines, r->offsets, native) < 0)
        return -1;
    for (size_t i = 0; i < r->num_lines; i++)
        values[i] = native[i] == GPIOD_LINE_VALUE_ACTIVE ? 1 : 0;
    return 0;
}

int bw_request_set_values(bw_request *r, const size_t *indices, const int *values, size_t count)
{
    unsigned int offsets[64];
    enum gpiod_line_value native[64];
    if (count > 64) {
        errno = EINVAL;
        return -1;
    }
    for (size_t k = 0; k < count; k++) {
        if (indices[k] >= r->num_lines) {
            errno = EINVAL;
            return -1;
        }
        offsets[k] = r->offsets[indices[k]];
        native[k] = values[k] ? GPIOD_LINE_VALUE_ACTIVE : GPIOD_LINE_VALUE_INACTIVE;
    }
    return gpiod_line_request_set_values_subset(r->request, count, offsets, native);
}

int bw_request_reconfigure(bw_request *r, const struct bw_line_settings *settings)
{
    struct gpiod_line_config *config = bw_v2_line_config(r->offsets, settings, r->num_lines);
    if (!config)
        return -1;
    int rc = gpiod_line_request_reconfigure_lines(r->request, config);
    int saved = errno;
    gpiod_line_config_free(config);
    errno = saved;
    return rc;
}

int bw_request_event_fds(bw_request *r, int *fds, size_t max)
{
    if (!r->has_edges || max == 0)
        return 0;
    int fd = gpiod_line_request_get_fd(r->request);
    if (fd < 0)
        return -1;
    fds[0] = fd;
    return 1;
}

int bw_request_read_events(bw_request *r, int fd, struct bw_edge_event *events, size_t max)
{
    if (!r->has_edges || fd != gpiod_line_request_get_fd(r->request)) {
        errno = EBADF;
        return -1;
    }
    size_t capacity = gpiod_edge_event_buffer_get_capacity(r->buffer);
    int n = gpiod_line_request_read_edge_events(r->request, r->buffer, max < capacity ? max : capacity);
    if (n < 0)
        return -1;
    for (int k = 0; k < n; k++) {
        struct gpiod_edge_event *event = gpiod_edge_event_buffer_get_event(r->buffer, (unsigned long)k);
        events[k].offset = gpiod_edge_event_get_line_offset(event);
        events[k].rising = gpiod_edge_event_get_event_type(event) == GPIOD_EDGE_EVENT_RISING_EDGE;
        events[k].timestamp_ns = gpiod_edge_event_get_timestamp_ns(event);
        events[k].line_seqno = gpiod_edge_event_get_line_seqno(event);
    }
    return n;
}

int bw_describe_native_settings(const struct bw_line_settings *s, char *buf, size_t len)
{
    struct gpiod_line_settings *native = bw_v2_settings(s);
    if (!native)
        return -1;
    static const char *biases[] = { "?", "as-is", "unknown", "disabled", "pull-up", "pull-down" };
    static const char *drives[] = { "?", "push-pull", "open-drain", "open-source" };
    static const char *edges[] = { "?", "none", "rising", "falling", "both" };
    int direction = gpiod_line_settings_get_direction(native);
    int bias = gpiod_line_settings_get_bias(native);
    int drive = gpiod_line_settings_get_drive(native);
    int edge = gpiod_line_settings_get_edge_detection(native);
    int rc = snprintf(buf, len,
                      "v2 direction=%s edge=%s bias=%s drive=%s active-low=%d debounce-us=%lu output=%s",
                      direction == GPIOD_LINE_DIRECTION_OUTPUT ? "output" : "input",
                      (edge >= 1 && edge <= 4) ? edges[edge] : "?", (bias >= 1 && bias <= 5) ? biases[bias] : "?",
                      (drive >= 1 && drive <= 3) ? drives[drive] : "?",
                      gpiod_line_settings_get_active_low(native) ? 1 : 0,
                      gpiod_line_settings_get_debounce_period_us(native),
                      gpiod_line_settings_get_output_value(native) == GPIOD_LINE_VALUE_ACTIVE ? "active"
                                                                                               : "inactive");
    gpiod_line_settings_free(native);
    return rc;
}

#endif
