#include "bw_clock.h"

#include <errno.h>
#include <string.h>
#include <sys/timex.h>

int bw_clock_synchronized(void) {
    struct timex state;
    memset(&state, 0, sizeof state);
    state.modes = 0;
    int result = adjtimex(&state);
    if (result < 0) return -errno;
    return (result == TIME_ERROR || (state.status & STA_UNSYNC) != 0) ? 0 : 1;
}
