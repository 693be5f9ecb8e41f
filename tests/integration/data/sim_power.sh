#!/bin/sh
# sim_power.sh — the power switch of sim_lab.py's boards, for the command
# power driver (and pdudaemon's localcmdline PDU):
#   sim_power.sh DIR BOARD on|off    switch (the lab sees it within a few ms)
#   sim_power.sh DIR BOARD status    prints "power BOARD: on|off"
# Every switch is appended to DIR/history with its time.
set -eu
dir=$1 board=$2 action=$3
case "$action" in
on | off)
	echo "$action" > "$dir/$board.power.tmp"
	mv "$dir/$board.power.tmp" "$dir/$board.power"
	echo "$(date +%s.%N) $board $action" >> "$dir/history"
	;;
status)
	echo "power $board: $(cat "$dir/$board.power" 2>/dev/null || echo off)"
	;;
*)
	echo "usage: $0 DIR BOARD on|off|status" >&2
	exit 64
	;;
esac
