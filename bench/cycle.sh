#!/bin/bash
# bench/cycle.sh — the baseline of bench-cycle: one fault-injection cycle of
# scenarios/cut-write.yaml at one point, done by a minimal script with QEMU
# alone. Same board, same command line as fixtures/lab-qemu.yaml gives QEMU
# (minus hilctl's QMP/pidfile plumbing), same update, same cut, same markers:
#
#   fresh qcow2 overlay over disk.pristine.img (the lab's base); QEMU with the serial on a plain pipe
#   (-serial stdio); wait for the version probe, then the prompt; send
#   hilctl-update to a python3 http.server on 127.0.0.1 serving the bundles;
#   wait for "write offset=POINT"; kill QEMU (the power cut); wait the
#   scenario's off_time (300 ms); start QEMU again on the same overlay; wait
#   for the version probe; the alive round trip hilctl's oracle also makes
#   (echo hilctl-alive-$((6*7)) -> hilctl-alive-42); kill QEMU.
#
#   bench/cycle.sh POINT          run one cycle; prints when each step ended
#                                 (on1= probe1= prompt= trigger= off= probe2= judged= end=, s)
#   bench/cycle.sh --print        print QEMU's command line (one word a line)
#   bench/cycle.sh --print-base   print the overlay's base image
#
# env: REFDUT_OUT (build/refdut), VARIANT (good), CYCLE_WAIT (seconds per
# wait, default 90), CYCLE_ALIVE (1: do the alive round trip, default 1).
# Every wait has a deadline; everything started is killed on exit.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${REFDUT_OUT:-$HERE/../build/refdut}
VD=$OUT/${VARIANT:-good}
BASE=$VD/disk.pristine.img # as fixtures/lab-qemu.yaml
WAIT_S=${CYCLE_WAIT:-90}
point=${1:?usage: cycle.sh POINT | --print | --print-base}
if [ "$point" = --print-base ]; then
	echo "$BASE"
	exit 0
fi

work=$(mktemp -d /tmp/hb-cycle.XXXXXX)
qpid= spid=
cleanup() {
	[ -n "$qpid" ] && kill -KILL "$qpid" 2>/dev/null
	[ -n "$spid" ] && kill -KILL "$spid" 2>/dev/null
	wait 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

qemu_argv() {
	printf '%s\n' qemu-system-aarch64 -name qemu-01 -machine virt -accel tcg -cpu cortex-a53 \
		-m 512M -nodefaults -display none -bios "$OUT/u-boot.bin" \
		-drive "if=pflash,unit=1,format=raw,file=$VD/env.img,readonly=on" \
		-drive "if=none,id=disk0,file=$work/overlay.qcow2,format=qcow2" \
		-netdev user,id=net0 -device virtio-net-pci,netdev=net0 \
		-device virtio-blk-pci,drive=disk0 -serial stdio
}
if [ "$point" = --print ]; then
	qemu_argv
	exit 0
fi

T0=${EPOCHREALTIME/./}
die() { echo "cycle.sh: $* ($(( (${EPOCHREALTIME/./} - T0) / 1000 )) ms in)" >&2; exit 1; }

# LEFT = seconds before the wait that started at $1 (µs) times out, for
# read -t; no subshell, so waiting costs no fork per line.
left() {
	local l=$(( $1 + WAIT_S * 1000000 - ${EPOCHREALTIME/./} ))
	(( l > 0 )) || return 1
	printf -v LEFT '%d.%06d' $((l / 1000000)) $((l % 1000000))
}

power_on() {
	mapfile -t argv < <(qemu_argv)
	coproc QEMU { exec "${argv[@]}" 2>"$work/qemu.stderr"; }
	qpid=$QEMU_PID
	exec {qin}>&"${QEMU[1]}" {qout}<&"${QEMU[0]}"
}

power_off() {
	kill -KILL "$qpid"
	wait "$qpid" 2>/dev/null || true
	qpid=
	exec {qin}>&- {qout}<&-
}

# Wait for a console line matching the bash ERE $1.
wait_line() {
	local t=${EPOCHREALTIME/./} line
	while :; do
		left "$t" || die "no line matching '$1' within $WAIT_S s"
		IFS= read -r -t "$LEFT" -u "$qout" line || die "console ended or timed out waiting for '$1'"
		[[ $line =~ $1 ]] && return 0
	done
}

# Wait for the shell prompt "refdut# " (no newline after it).
wait_prompt() {
	local t=${EPOCHREALTIME/./} chunk
	while :; do
		left "$t" || die "no prompt within $WAIT_S s"
		IFS= read -r -t "$LEFT" -u "$qout" -d '#' chunk || die "console ended waiting for the prompt"
		[[ $chunk == *refdut ]] && return 0
	done
}

probe='hilctl-probe: version=[^ ]+ slot=[AB] committed=[01]'

# The update server, in the background while QEMU boots.
/usr/bin/python3 -u -m http.server --bind 127.0.0.1 --directory "$VD/bundles" 0 \
	>"$work/http.log" 2>&1 &
spid=$!

qemu-img create -q -f qcow2 -b "$BASE" -F raw "$work/overlay.qcow2"
power_on
t_on1=${EPOCHREALTIME/./}
wait_line "hilctl-probe: version=1 slot=A committed=1"
t_probe1=${EPOCHREALTIME/./}
wait_prompt
t_prompt=${EPOCHREALTIME/./}
port=
for _ in $(seq 500); do # the server printed its port long ago; 5 s at most
	port=$(sed -n 's/.* port \([0-9]*\) .*/\1/p' "$work/http.log")
	[ -n "$port" ] && break
	sleep 0.01
done
[ -n "$port" ] || die "http.server did not start: $(cat "$work/http.log")"
printf 'hilctl-update http://10.0.2.2:%s/v2\n' "$port" >&"$qin"
wait_line "hilctl-agent: write offset=${point}([^0-9]|\$)"
t_cut=${EPOCHREALTIME/./}
power_off
t_off=${EPOCHREALTIME/./}
sleep 0.3 # the scenario's off_time: 300 ms
power_on
wait_line "$probe"
t_probe2=${EPOCHREALTIME/./}
if [ "${CYCLE_ALIVE:-1}" = 1 ]; then
	echo 'echo hilctl-alive-$((6*7))' >&"$qin"
	wait_line 'hilctl-alive-42'
fi
t_judged=${EPOCHREALTIME/./}
power_off
t_end=${EPOCHREALTIME/./}
# Seconds since the start of each point (B..J of bench_cycle.py's phases).
s() { printf '%d.%06d' $((($1 - T0) / 1000000)) $((($1 - T0) % 1000000)); }
echo "on1=$(s $t_on1) probe1=$(s $t_probe1) prompt=$(s $t_prompt) trigger=$(s $t_cut)" \
	"off=$(s $t_off) probe2=$(s $t_probe2) judged=$(s $t_judged) end=$(s $t_end)"
