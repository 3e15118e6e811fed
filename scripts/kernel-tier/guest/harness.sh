# Simulated-hardware harness for the kernel-tier guest (busybox sh; sourced).
#
# kt_setup_board FILE reads a board description (see boards/boltwork.board)
# and creates gpio-sim chips through configfs and preloads i2c-stub chips.
# It writes the environment for the test program to /run/boltwork.env and a
# table of GPIO lines to /run/boltwork-gpio-lines.

KT_ENV=/run/boltwork.env
KT_LINES=/run/boltwork-gpio-lines
KT_GPIOSIM=/sys/kernel/config/gpio-sim
KT_FIRST_CHIP=
KT_GPIO_KEYS=
KT_I2C_BUS_NUM=

kt_log() { echo "kernel-tier: $*"; }
kt_fail() { echo "kernel-tier: board: $*" >&2; return 1; }

kt_export() {
    # kt_export NAME VALUE -> appended to the env file (single-quoted)
    printf "export %s='%s'\n" "$1" "$(printf '%s' "$2" | sed "s/'/'\\\\''/g")" >>"$KT_ENV"
}

kt_wait_for() {
    # kt_wait_for PATH: up to ~5 s for a device node or sysfs entry to appear
    n=0
    while [ ! -e "$1" ]; do
        n=$((n + 1))
        [ $n -le 100 ] || return 1
        usleep 50000
    done
}

kt_lower() { printf '%s' "$1" | tr 'A-Z' 'a-z'; }

# kt_gpio_chip KEY LABEL NAME...
kt_gpio_chip() {
    key=$1 label=$2
    shift 2
    [ $# -gt 0 ] || kt_fail "gpio-chip $key: no lines" || return 1
    case $key in *[!A-Za-z0-9_]*|'') kt_fail "gpio-chip: bad KEY '$key'"; return 1 ;; esac
    [ -d "$KT_GPIOSIM" ] || kt_fail "$KT_GPIOSIM missing (CONFIG_GPIO_SIM? configfs mounted?)" || return 1

    dev=$KT_GPIOSIM/$(kt_lower "$key")
    bank=$dev/gpio-bank0
    mkdir "$dev" && mkdir "$bank" || return 1
    echo $# >"$bank/num_lines" || return 1
    echo "$label" >"$bank/label" || return 1
    offset=0
    for name in "$@"; do
        if [ "$name" != - ]; then
            mkdir "$bank/line$offset" && echo "$name" >"$bank/line$offset/name" || return 1
        fi
        offset=$((offset + 1))
    done
    echo 1 >"$dev/live" || kt_fail "gpio-chip $key: could not go live" || return 1

    dev_name=$(cat "$dev/dev_name")
    chip_name=$(cat "$bank/chip_name")
    [ -n "$dev_name" ] && [ -n "$chip_name" ] || kt_fail "gpio-chip $key: no dev_name/chip_name" || return 1
    kt_wait_for "/dev/$chip_name" || kt_fail "/dev/$chip_name did not appear" || return 1
    sysfs=/sys/devices/platform/$dev_name/$chip_name
    kt_wait_for "$sysfs/sim_gpio0" || kt_fail "$sysfs/sim_gpio0 did not appear" || return 1

    up=$(echo "$key" | tr 'a-z' 'A-Z')
    kt_export "BOLTWORK_GPIOSIM_${up}_CHIP" "/dev/$chip_name"
    kt_export "BOLTWORK_GPIOSIM_${up}_CHIP_NAME" "$chip_name"
    kt_export "BOLTWORK_GPIOSIM_${up}_LABEL" "$label"
    kt_export "BOLTWORK_GPIOSIM_${up}_SYSFS" "$sysfs"
    kt_export "BOLTWORK_GPIOSIM_${up}_DEVICE" "$dev_name"
    kt_export "BOLTWORK_GPIOSIM_${up}_NUM_LINES" "$#"
    if [ -z "$KT_FIRST_CHIP" ]; then
        KT_FIRST_CHIP=$up
        kt_export BOLTWORK_GPIOSIM_CHIP "/dev/$chip_name"
        kt_export BOLTWORK_GPIOSIM_CHIP_NAME "$chip_name"
        kt_export BOLTWORK_GPIOSIM_LABEL "$label"
        kt_export BOLTWORK_GPIOSIM_SYSFS "$sysfs"
        kt_export BOLTWORK_GPIOSIM_DEVICE "$dev_name"
        kt_export BOLTWORK_GPIOSIM_NUM_LINES "$#"
    fi
    KT_GPIO_KEYS="${KT_GPIO_KEYS:+$KT_GPIO_KEYS }$up"

    offset=0
    for name in "$@"; do
        # KEY LABEL CHIP_DEV OFFSET NAME SYSFS_DIR
        echo "$up $label /dev/$chip_name $offset $name $sysfs/sim_gpio$offset" >>"$KT_LINES"
        offset=$((offset + 1))
    done
    kt_log "gpio-sim $dev_name: /dev/$chip_name label=$label lines=$#"
}

kt_i2c_bus() {
    # Number of the i2c-stub adapter ("SMBus stub driver").
    if [ -z "$KT_I2C_BUS_NUM" ]; then
        for d in /sys/bus/i2c/devices/i2c-*; do
            [ -e "$d/name" ] || continue
            if [ "$(cat "$d/name")" = "SMBus stub driver" ]; then
                KT_I2C_BUS_NUM=${d##*/i2c-}
                break
            fi
        done
        [ -n "$KT_I2C_BUS_NUM" ] || kt_fail "no i2c-stub adapter (is i2c_stub.chip_addr on the kernel command line?)" || return 1
        kt_wait_for "/dev/i2c-$KT_I2C_BUS_NUM" || kt_fail "/dev/i2c-$KT_I2C_BUS_NUM did not appear" || return 1
        kt_export BOLTWORK_I2C_BUS "/dev/i2c-$KT_I2C_BUS_NUM"
        kt_export BOLTWORK_I2C_BUS_NUM "$KT_I2C_BUS_NUM"
    fi
}

kt_i2c_chip() {
    # kt_i2c_chip ADDR NAME; the address itself comes from the kernel command
    # line (the host reads the same board file).
    kt_i2c_bus || return 1
    found=
    for arg in $(cat /proc/cmdline); do
        case $arg in i2c_stub.chip_addr=*) ;; *) continue ;; esac
        for a in $(echo "${arg#*=}" | tr ',' ' '); do
            [ "$(($a))" = "$(($1))" ] && found=1
        done
    done
    [ -n "$found" ] || kt_fail "i2c-chip $1 is not in i2c_stub.chip_addr on the kernel command line" || return 1
    up=$(echo "$2" | tr 'a-z-' 'A-Z_')
    kt_export "BOLTWORK_I2C_${up}_ADDR" "$(printf '0x%02x' $(($1)))"
    kt_log "i2c-stub /dev/i2c-$KT_I2C_BUS_NUM: $2 at $(printf '0x%02x' $(($1)))"
}

# kt_i2c_set ADDR REG VALUE MODE(b|w): write and read back.
kt_i2c_set() {
    kt_i2c_bus || return 1
    want=$(printf "0x%0$([ "$4" = w ] && echo 4 || echo 2)x" $(($3)))
    busybox i2cset -y "$KT_I2C_BUS_NUM" "$1" "$2" "$want" "$4" || kt_fail "i2cset $1 $2 $want $4 failed" || return 1
    got=$(busybox i2cget -y "$KT_I2C_BUS_NUM" "$1" "$2" "$4") || kt_fail "i2cget $1 $2 $4 failed" || return 1
    [ "$(($got))" = "$(($want))" ] || kt_fail "i2c $1 reg $2: wrote $want, read back $got" || return 1
}

kt_i2c_word() {
    # kt_i2c_word ADDR REG VALUE be|le
    v=$(($3))
    [ $v -ge 0 ] && [ $v -le 65535 ] || kt_fail "i2c-word: value $3 out of range" || return 1
    case $4 in
        le) stored=$v ;;
        be) stored=$(( ((v & 0xff) << 8) | ((v >> 8) & 0xff) )) ;;
        *) kt_fail "i2c-word: byte order must be be or le, got '$4'"; return 1 ;;
    esac
    kt_i2c_set "$1" "$2" "$stored" w
}

kt_setup_board() {
    : >"$KT_ENV"
    : >"$KT_LINES"
    kt_export BOLTWORK_KERNEL_TIER 1
    kt_export BOLTWORK_ENV_FILE "$KT_ENV"
    kt_export BOLTWORK_GPIOSIM_LINES_FILE "$KT_LINES"
    lineno=0
    # plain `read` (no -r) joins lines ending in a backslash
    while read line; do
        lineno=$((lineno + 1))
        line=${line%%#*}
        set -f
        set -- $line
        set +f
        [ $# -gt 0 ] || continue
        directive=$1
        shift
        case $directive in
            gpio-chip) [ $# -ge 3 ] || { kt_fail "line $lineno: gpio-chip KEY LABEL NAME..."; return 1; }
                       kt_gpio_chip "$@" || return 1 ;;
            i2c-chip)  [ $# -eq 2 ] || { kt_fail "line $lineno: i2c-chip ADDR NAME"; return 1; }
                       kt_i2c_chip "$@" || return 1 ;;
            i2c-word)  [ $# -eq 4 ] || { kt_fail "line $lineno: i2c-word ADDR REG VALUE be|le"; return 1; }
                       kt_i2c_word "$@" || return 1 ;;
            i2c-byte)  [ $# -eq 3 ] || { kt_fail "line $lineno: i2c-byte ADDR REG VALUE"; return 1; }
                       kt_i2c_set "$1" "$2" "$3" b || return 1 ;;
            *) kt_fail "line $lineno: unknown directive '$directive'"; return 1 ;;
        esac
    done <"$1"
    kt_export BOLTWORK_GPIOSIM_KEYS "$KT_GPIO_KEYS"
}

# Helpers for guest-side shell tests (source /kt/harness.sh):
# kt_line_field NAME FIELD -> field of NAME's row in the lines table
# (fields: 1 KEY, 2 LABEL, 3 CHIP_DEV, 4 OFFSET, 5 NAME, 6 SYSFS_DIR)
kt_line_field() {
    awk -v n="$1" -v f="$2" '$5 == n { print $f; found = 1; exit } END { exit !found }' "$KT_LINES"
}
