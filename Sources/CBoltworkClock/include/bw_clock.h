// Boltwork's C shim over adjtimex(2), which Swift's Glibc module does not import
// (<sys/timex.h>). Read only: it never changes the clock.
#ifndef BW_CLOCK_H
#define BW_CLOCK_H

/// Asks the kernel whether a time service disciplines the clock: adjtimex(2) with no modes
/// set. Returns 1 when synchronised, 0 when not (the call returned TIME_ERROR or STA_UNSYNC is
/// set), and -errno when the call failed (EPERM under systemd's ProtectClock=yes).
int bw_clock_synchronized(void);

#endif
