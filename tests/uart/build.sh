#!/bin/sh
# tests/uart/build.sh — build the x86-64 guest that exercises the serial
# console's libserialport path on a real UART (QEMU's 16550, /dev/ttyS1):
#   build/uart/vmlinuz     Debian's cloud kernel (linux-image-cloud-amd64)
#   build/uart/vmlinuz-usb Debian's generic kernel (linux-image-amd64): the
#                          cloud kernel has no USB, and the USB-UART test
#                          unplugs QEMU's usb-serial (an FTDI) under it
#   build/uart/initrd.img  busybox-static (amd64) + /init + uart-guest + the
#                          generic kernel's USB serial modules
#   build/uart/uart-guest  tests/uart/uart_guest.c with hilctl's console code,
#                          linked statically against libserialport.a
# Debian packages are fetched with `apt-get download` into
# ${HILCTL_CACHE:-$HOME/.cache/hilctl}/debs and reused. Nothing is rebuilt
# when the inputs did not change (build/uart/stamp). Output dir: $HILCTL_UART_OUT.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${HILCTL_UART_OUT:-$root/build/uart}
debs=${HILCTL_CACHE:-$HOME/.cache/hilctl}/debs
mkdir -p "$out" "$debs"

# The newest cached .deb of a package (amd64), downloading it if missing.
deb_of() {
	f=$(ls "$debs/$1"_*_amd64.deb 2>/dev/null | sort -V | tail -n 1)
	if [ -z "$f" ]; then
		echo "uart: downloading $1 (amd64) into $debs" >&2
		(cd "$debs" && apt-get -q -o APT::Sandbox::User=root download "$1:amd64" >&2)
		f=$(ls "$debs/$1"_*_amd64.deb | sort -V | tail -n 1)
	fi
	echo "$f"
}

# The metapackage names the current kernel ABI; without apt lists (no
# `apt-get update` yet) update them when root, else fall back to the
# newest cached cloud kernel.
kernel_abi() {
	apt-cache depends linux-image-cloud-amd64 2>/dev/null |
		sed -n 's/^ *Depends: \(linux-image-[0-9].*-cloud-amd64\)$/\1/p' | head -n 1
}
kpkg=$(kernel_abi)
if [ -z "$kpkg" ] && [ "$(id -u)" = 0 ] &&
	! ls "$debs"/linux-image-*-cloud-amd64_*_amd64.deb >/dev/null 2>&1; then
	apt-get update -q >&2 && kpkg=$(kernel_abi)
fi
if [ -z "$kpkg" ]; then
	kpkg=$(ls "$debs"/linux-image-*-cloud-amd64_*_amd64.deb 2>/dev/null | sort -V |
		tail -n 1 | sed 's|.*/\(linux-image-[^_]*\)_.*|\1|')
fi
if [ -z "$kpkg" ]; then
	echo "uart: cannot find linux-image-cloud-amd64: run apt-get update first" >&2
	exit 1
fi
kdeb=$(deb_of "$kpkg")
bdeb=$(deb_of busybox-static)
# The generic kernel of the same ABI, for its USB modules.
gpkg=$(echo "$kpkg" | sed 's/-cloud-amd64$/-amd64/')
gdeb=$(deb_of "$gpkg")

srcs="$here/uart_guest.c $root/harness/console/console.c $root/harness/console/console_serial.c
	$root/lib/cfg.c $root/lib/log.c $root/lib/timeline.c $root/lib/stop.c"
stamp=$( (cat "$here/build.sh" "$here/mkcpio.py" "$here/init" $srcs "$root"/lib/*.h "$root"/harness/*/*.h
	echo "$kdeb $bdeb $gdeb") | sha256sum | cut -d' ' -f1)
if [ -f "$out/stamp" ] && [ "$(cat "$out/stamp")" = "$stamp" ] &&
	[ -f "$out/vmlinuz" ] && [ -f "$out/vmlinuz-usb" ] && [ -f "$out/initrd.img" ]; then
	echo "uart: $out is up to date"
	exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "uart: kernel from $(basename "$kdeb")"
dpkg-deb --fsys-tarfile "$kdeb" | tar -x -C "$work" --wildcards './boot/vmlinuz-*'
cp "$work"/boot/vmlinuz-* "$out/vmlinuz.tmp"

echo "uart: USB kernel and modules from $(basename "$gdeb")"
usbmods="usb-common usbcore xhci-hcd xhci-pci usbserial ftdi_sio"
mkdir -p "$work/generic"
dpkg-deb --fsys-tarfile "$gdeb" | tar -x -C "$work/generic" --wildcards './boot/vmlinuz-*' \
	$(for m in $usbmods; do echo "*/$m.ko"; done)
cp "$work"/generic/boot/vmlinuz-* "$out/vmlinuz-usb.tmp"
modspecs=""
for m in $usbmods; do
	ko=$(find "$work/generic/lib/modules" -name "$m.ko")
	modspecs="$modspecs file:/lib/modules/usb/$m.ko=$ko:0644"
done

echo "uart: busybox from $(basename "$bdeb")"
dpkg-deb --fsys-tarfile "$bdeb" | tar -x -C "$work" ./bin/busybox

echo "uart: building uart-guest (static, libserialport.a)"
# shellcheck disable=SC2086  # $srcs is a list of paths without spaces
${CC:-gcc} -static -O2 -g0 -std=gnu11 -I"$root" -D_GNU_SOURCE -Wall -Wextra -Werror \
	-Wno-unused-parameter $(pkg-config --cflags libserialport yaml-0.1) \
	-o "$out/uart-guest" $srcs -l:libserialport.a -l:libyaml.a

# shellcheck disable=SC2086  # $modspecs: one word per module
python3 "$here/mkcpio.py" "$out/initrd.img.tmp" \
	dir:/bin dir:/dev dir:/proc dir:/sys dir:/tmp dir:/lib dir:/lib/modules \
	dir:/lib/modules/usb chr:/dev/console=5,1 \
	file:/init="$here/init":0755 \
	file:/bin/busybox="$work/bin/busybox":0755 \
	file:/bin/uart-guest="$out/uart-guest":0755 $modspecs
mv "$out/vmlinuz.tmp" "$out/vmlinuz"
mv "$out/vmlinuz-usb.tmp" "$out/vmlinuz-usb"
mv "$out/initrd.img.tmp" "$out/initrd.img"
echo "$stamp" >"$out/stamp"
echo "uart: built $out/vmlinuz, $out/vmlinuz-usb and $out/initrd.img"
