#!/bin/sh
# cmd_relay.sh — a stand-in relay board for the command power driver's
# integration tests. It keeps each channel's state in a file and appends
# every action, with a timestamp, to a history file:
#
#   cmd_relay.sh DIR CHANNEL on|off       switch; prints "relay CHANNEL: on"
#   cmd_relay.sh DIR CHANNEL status       prints "relay CHANNEL: on|off|unknown"
#   cmd_relay.sh DIR CHANNEL get          exit 0 on, 1 off, 2 never switched
#
# Faults, chosen by files in DIR: "fail" makes every action fail the way a
# missing USB relay does; "hang" makes it hang in a child (whose pid goes to DIR/hung.pid).
set -eu
dir=$1 channel=$2 action=$3
state="$dir/relay-$channel"

if [ -e "$dir/fail" ]; then
	echo "usbrelay: no relay board found on the USB bus" >&2
	exit 1
fi
if [ -e "$dir/hang" ]; then
	echo "opening relay board"
	sleep 60 &
	echo $! > "$dir/hung.pid"
	wait
fi
case "$action" in
on | off)
	echo "$action" > "$state"
	echo "$(date +%s.%N) $channel $action" >> "$dir/history"
	echo "relay $channel: $action"
	;;
status)
	echo "relay $channel: $(cat "$state" 2>/dev/null || echo unknown)"
	;;
get)
	case "$(cat "$state" 2>/dev/null || true)" in
	on) exit 0 ;;
	off) exit 1 ;;
	*) echo "relay $channel was never switched" >&2; exit 2 ;;
	esac
	;;
*)
	echo "usage: $0 DIR CHANNEL on|off|status|get" >&2
	exit 64
	;;
esac
