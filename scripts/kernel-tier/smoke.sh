#!/bin/sh
# Smoke check of the kernel-tier infrastructure, run INSIDE the guest:
#
#   scripts/kernel-tier/run -- scripts/kernel-tier/smoke.sh
#
# Uses only the stock command-line tools (gpiod and i2c-tools) against the
# simulated board, so it proves the kernel, gpio-sim, i2c-stub, the harness and
# the library-carrying all work before any Swift code is involved.
# Works with the libgpiod 1.6 tools (Debian bookworm) and the 2.x tools.
#
# The host tools this script needs (run copies them and their libraries):
# ('NAME?' = optional; gpiofind exists only in the 1.x tools)
# kernel-tier-tools: gpiodetect gpioinfo gpioget gpioset gpiomon gpiofind? i2cget

pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok   - $*"; }
not_ok() { fail=$((fail + 1)); echo "FAIL - $*"; }
check() {
    # check DESCRIPTION EXPECTED ACTUAL
    if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1: expected '$2', got '$3'"; fi
}

if [ -z "${BOLTWORK_KERNEL_TIER:-}" ]; then
    echo "smoke.sh runs inside the guest: scripts/kernel-tier/run -- $0" >&2
    exit 2
fi

CHIP=$BOLTWORK_GPIOSIM_MAIN_CHIP
SYSFS=$BOLTWORK_GPIOSIM_MAIN_SYSFS
AUX=$BOLTWORK_GPIOSIM_AUX_CHIP
BUS=$BOLTWORK_I2C_BUS_NUM

case $(gpiodetect --version 2>&1 | head -n1) in
    *" v1."*) V=1 ;;
    *) V=2 ;;
esac
echo "# libgpiod tools v$V, main chip $CHIP, aux chip $AUX, i2c bus $BUS"

# --- environment -------------------------------------------------------------
check "main chip label env" boltwork-sim "$BOLTWORK_GPIOSIM_MAIN_LABEL"
check "first chip is the main chip" "$CHIP" "$BOLTWORK_GPIOSIM_CHIP"
check "i2c bus env" "/dev/i2c-$BUS" "$BOLTWORK_I2C_BUS"
check "MAX17048 address env" 0x36 "$BOLTWORK_I2C_MAX17048_ADDR"
check "BQ27441 address env" 0x55 "$BOLTWORK_I2C_BQ27441_ADDR"
[ -c "$CHIP" ] && ok "$CHIP is a character device" || not_ok "$CHIP is not a character device"
[ -c "$BOLTWORK_I2C_BUS" ] && ok "$BOLTWORK_I2C_BUS is a character device" || not_ok "$BOLTWORK_I2C_BUS missing"

# --- chips and labels ---------------------------------------------------------
detect=$(gpiodetect 2>&1)
echo "$detect" | sed 's/^/# /'
main_name=${CHIP#/dev/}
aux_name=${AUX#/dev/}
check "gpiodetect: main chip" "$main_name [boltwork-sim] (24 lines)" "$(echo "$detect" | grep "^$main_name ")"
check "gpiodetect: aux chip" "$aux_name [boltwork-aux] (4 lines)" "$(echo "$detect" | grep "^$aux_name ")"
check "gpiodetect: exactly two chips" 2 "$(echo "$detect" | grep -c .)"

# --- line names -----------------------------------------------------------------
expected="ROW0 ROW1 ROW2 ROW3 COL0 COL1 COL2 COL3 MOTOR_IN1 MOTOR_IN2 MOTOR_SLEEP"
expected="$expected BOLT_RETRACTED BOLT_EXTENDED DOOR GAUGE_ALERT BUZZER LED"
expected="$expected SPARE0 SPARE1 SPARE2 SPARE3 SPARE4 SPARE5 SPARE6"
if [ $V = 1 ]; then info=$(gpioinfo "$main_name"); else info=$(gpioinfo -c "$main_name"); fi
names=$(echo "$info" | sed -n 's/^[[:space:]]*line[[:space:]]*[0-9]*:[[:space:]]*"\([^"]*\)".*/\1/p' | tr '\n' ' ')
check "gpioinfo: main line names in offset order" "$expected" "${names% }"
if [ $V = 1 ]; then info=$(gpioinfo "$aux_name"); else info=$(gpioinfo -c "$aux_name"); fi
names=$(echo "$info" | sed -n 's/^[[:space:]]*line[[:space:]]*[0-9]*:[[:space:]]*"\([^"]*\)".*/\1/p' | tr '\n' ' ')
check "gpioinfo: aux line names" "AUX0 AUX1 AUX2 AUX3" "${names% }"

# Lookup by name: LED is offset 16 on the main chip, AUX2 offset 2 on aux.
if [ $V = 1 ]; then
    check "gpiofind LED" "$main_name 16" "$(gpiofind LED)"
    check "gpiofind AUX2" "$aux_name 2" "$(gpiofind AUX2)"
else
    check "gpioinfo LED" "$main_name 16" "$(gpioinfo LED | sed -n 's/^\(gpiochip[0-9]*\) \([0-9]*\)[[:space:]].*/\1 \2/p')"
    check "gpioinfo AUX2" "$aux_name 2" "$(gpioinfo AUX2 | sed -n 's/^\(gpiochip[0-9]*\) \([0-9]*\)[[:space:]].*/\1 \2/p')"
fi

# --- input: pull via sysfs, read with gpioget -----------------------------------
get() {  # get CHIP OFFSET -> 0/1
    if [ $V = 1 ]; then gpioget "$1" "$2"; else gpioget --numeric -c "$1" "$2"; fi
}
echo pull-up >"$SYSFS/sim_gpio0/pull"
check "ROW0 reads 1 after pull-up" 1 "$(get "$main_name" 0)"
echo pull-down >"$SYSFS/sim_gpio0/pull"
check "ROW0 reads 0 after pull-down" 0 "$(get "$main_name" 0)"
echo pull-up >"$BOLTWORK_GPIOSIM_AUX_SYSFS/sim_gpio3/pull"
check "AUX3 reads 1 after pull-up (aux chip)" 1 "$(get "$aux_name" 3)"
check "main chip offset 3 unaffected by aux pull" 0 "$(get "$main_name" 3)"

# --- output: gpioset holds the line, sysfs value reads it back -------------------
hold() {  # hold CHIP OFFSET VALUE: gpioset in the background, holding the line
    if [ $V = 1 ]; then
        gpioset --mode=signal "$1" "$2=$3" &
    else
        gpioset -c "$1" "$2=$3" &
    fi
    holder=$!
    n=0   # wait until the line is requested as an output
    while [ "$(cat "$SYSFS/sim_gpio$2/value" 2>/dev/null)" != "$3" ] && [ $n -lt 50 ]; do
        usleep 20000; n=$((n + 1))
    done
}
release() { kill "$holder" 2>/dev/null; wait "$holder" 2>/dev/null; }
hold "$main_name" 16 1
check "LED=1 via gpioset reads back 1 in sysfs value" 1 "$(cat "$SYSFS/sim_gpio16/value")"
release
hold "$main_name" 16 0
check "LED=0 via gpioset reads back 0 in sysfs value" 0 "$(cat "$SYSFS/sim_gpio16/value")"
release

# --- edge events: a pull change on a requested input is an edge -----------------
echo pull-down >"$SYSFS/sim_gpio13/pull"
evfile=/tmp/smoke-events
if [ $V = 1 ]; then
    timeout 10 gpiomon --num-events=1 --rising-edge --format='%o %e' "$main_name" 13 >"$evfile" 2>&1 &
else
    timeout 10 gpiomon -c "$main_name" --num-events=1 --edges=rising --format='%o %e' 13 >"$evfile" 2>&1 &
fi
mon=$!
usleep 300000   # let gpiomon request the line
echo pull-up >"$SYSFS/sim_gpio13/pull"
wait "$mon"
mon_rc=$?
check "gpiomon sees the rising edge on DOOR" "0:13 1" "$mon_rc:$(head -n1 "$evfile" | sed 's/rising/1/')"

# --- i2c-stub ---------------------------------------------------------------------
# The guest's /bin/sh is dash, so these are i2c-tools' binaries, not the
# busybox applets of the same name.
case $(i2cget -V 2>&1) in
    *"i2cget version"*) ok "i2cget is i2c-tools' ($(i2cget -V 2>&1))" ;;
    *) not_ok "i2cget is not i2c-tools' (busybox applet?)" ;;
esac
# MAX17048 words are stored byte-swapped so the wire carries MSB first:
# SOC 0x4B80 is stored (and shown by i2cget ... w) as 0x804b.
check "i2cget MAX17048 SOC word (stored)" 0x804b "$(i2cget -y "$BUS" 0x36 0x04 w)"
check "i2cget MAX17048 VCELL word (stored)" 0x50c3 "$(i2cget -y "$BUS" 0x36 0x02 w)"
check "i2cget MAX17048 SOC byte = MSB" 0x4b "$(i2cget -y "$BUS" 0x36 0x04 b)"
check "i2cget MAX17048 VERSION word (stored)" 0x1200 "$(i2cget -y "$BUS" 0x36 0x08 w)"
check "i2cget MAX17048 CONFIG word (stored)" 0x1c97 "$(i2cget -y "$BUS" 0x36 0x0c w)"
check "i2cget MAX17048 STATUS word (stored)" 0x0001 "$(i2cget -y "$BUS" 0x36 0x1a w)"
check "i2cget BQ27441 Voltage word" 0x0f3c "$(i2cget -y "$BUS" 0x55 0x04 w)"
check "i2cget BQ27441 Flags word" 0x0008 "$(i2cget -y "$BUS" 0x55 0x06 w)"
check "i2cget BQ27441 StateOfCharge word" 0x004c "$(i2cget -y "$BUS" 0x55 0x1c w)"
if out=$(i2cget -y "$BUS" 0x50 0x00 b 2>&1); then
    not_ok "i2cget of missing address 0x50 should fail, got '$out'"
else
    ok "i2cget of missing address 0x50 fails"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
