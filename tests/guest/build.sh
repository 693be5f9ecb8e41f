#!/bin/sh
# tests/guest/build.sh — build the small test guests that the qemu power
# driver's integration tests boot: for each architecture, Debian's cloud
# kernel as it ships plus a busybox-static initramfs whose init prints
# "hilctl-guest: ready arch=<uname -m>" on the console and then keeps a shell
# on it.
#
#   tests/guest/build.sh [x86_64] [aarch64]      (default: both)
#
# Outputs build/guest/<arch>/{kernel,initrd.img}. Debian packages are
# fetched with apt-get download (no root needed) and cached under
# ${HILCTL_CACHE:-$HOME/.cache/hilctl}/debs; a guest whose inputs did not
# change is not rebuilt. arm64 packages need `dpkg --add-architecture arm64`
# and an apt-get update: done here when root, otherwise the script says so.
set -eu

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CACHE=${HILCTL_CACHE:-$HOME/.cache/hilctl}
DEBS=$CACHE/debs
OUT=${HILCTL_GUEST_OUT:-$ROOT/build/guest}
SELF=$ROOT/tests/guest/build.sh

say() { echo "guest: $*" >&2; }
die() { echo "guest: error: $*" >&2; exit 1; }

# Debian architecture for a guest architecture.
debarch() {
	case $1 in
	x86_64) echo amd64 ;;
	aarch64) echo arm64 ;;
	*) die "unknown guest architecture '$1' (x86_64, aarch64)" ;;
	esac
}

# arm64 packages are only visible to apt once the architecture is added.
ensure_arch() {
	da=$1
	[ "$da" = "$(dpkg --print-architecture)" ] && return 0
	if apt-cache show "busybox-static:$da" >/dev/null 2>&1; then
		return 0
	fi
	if [ "$(id -u)" != 0 ]; then
		die "apt knows no $da packages: run 'sudo dpkg --add-architecture $da && sudo apt-get update'"
	fi
	say "adding dpkg architecture $da"
	dpkg --add-architecture "$da"
	apt-get update -q >&2
}

# Download one package (name[:arch]) into the cache unless it is there;
# prints the .deb path. Downloads go to a private directory first so that a
# concurrent build never sees a half-written .deb.
fetch_deb() {
	pkg=$1
	ver=$(apt-cache policy "$pkg" | sed -n 's/^ *Candidate: //p')
	[ -n "$ver" ] && [ "$ver" != "(none)" ] || die "apt has no candidate for $pkg"
	name=${pkg%%:*}
	arch=${pkg#*:}
	[ "$arch" = "$pkg" ] && arch=$(dpkg --print-architecture)
	# apt-get download names files name_version_arch.deb, ':' escaped as %3a.
	file=$DEBS/${name}_$(echo "$ver" | sed 's/:/%3a/g')_$arch.deb
	if [ ! -s "$file" ]; then
		say "downloading $pkg $ver"
		tmp=$(mktemp -d "$DEBS/.dl.XXXXXX")
		# As root apt drops to _apt, which cannot write into a private cache.
		sandbox=
		[ "$(id -u)" = 0 ] && sandbox="-o APT::Sandbox::User=root"
		(cd "$tmp" && apt-get download -q $sandbox "$pkg=$ver" >&2) || {
			rm -rf "$tmp"
			die "apt-get download $pkg failed"
		}
		mv "$tmp"/*.deb "$file"
		rm -rf "$tmp"
	fi
	echo "$file"
}

# The versioned kernel package behind the linux-image-cloud-<arch> metapackage.
kernel_pkg() {
	da=$1
	dep=$(apt-cache depends "linux-image-cloud-$da:$da" 2>/dev/null |
		sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\).*/\1/p' | head -n 1)
	[ -n "$dep" ] || die "cannot resolve linux-image-cloud-$da"
	echo "${dep%%:*}:$da"
}

# Up to date: built by this very script from .debs still in the cache.
# Versions are not looked up again (apt-cache takes a second per call):
# HILCTL_GUEST_REFRESH=1 resolves them anew and rebuilds if they changed.
up_to_date() {
	dst=$1
	[ -s "$dst/kernel" ] && [ -s "$dst/initrd.img" ] && [ -f "$dst/.stamp" ] || return 1
	read -r sum kdeb bdeb <"$dst/.stamp" || return 1
	[ "$sum" = "$(cksum <"$SELF" | cut -d' ' -f1)" ] && [ -s "$kdeb" ] && [ -s "$bdeb" ]
}

build_guest() {
	arch=$1
	da=$(debarch "$arch")
	dst=$OUT/$arch
	if [ "${HILCTL_GUEST_REFRESH:-0}" != 1 ] && up_to_date "$dst"; then
		say "$arch: up to date ($dst)"
		return 0
	fi
	ensure_arch "$da"
	mkdir -p "$DEBS" "$dst"
	kdeb=$(fetch_deb "$(kernel_pkg "$da")")
	bdeb=$(fetch_deb "busybox-static:$da")
	stamp="$(cksum <"$SELF" | cut -d' ' -f1) $kdeb $bdeb"
	if [ -f "$dst/.stamp" ] && [ "$(cat "$dst/.stamp")" = "$stamp" ] && up_to_date "$dst"; then
		say "$arch: up to date ($dst)"
		return 0
	fi
	say "$arch: building in $dst"
	work=$(mktemp -d)
	trap 'rm -rf "$work"' EXIT
	mkdir -p "$work/kernel" "$work/busybox" "$work/root"
	# Only the kernel image: the modules are most of the package.
	dpkg-deb --fsys-tarfile "$kdeb" | tar -x -C "$work/kernel" --wildcards './boot/vmlinuz-*'
	dpkg-deb --fsys-tarfile "$bdeb" | tar -x -C "$work/busybox" ./bin/busybox
	# amd64 ships a bzImage as vmlinuz-*, arm64 an uncompressed Image as
	# vmlinuz-*: both are what QEMU's -kernel takes.
	kimg=$(ls "$work"/kernel/boot/vmlinuz-* | head -n 1)
	[ -s "$kimg" ] || die "no /boot/vmlinuz-* in $kdeb"
	make_initramfs "$work/busybox/bin/busybox" "$work/root" "$work/initrd.img"
	cp "$kimg" "$dst/kernel.tmp" && mv "$dst/kernel.tmp" "$dst/kernel"
	mv "$work/initrd.img" "$dst/initrd.img"
	echo "$stamp" >"$dst/.stamp"
	rm -rf "$work"
	trap - EXIT
	say "$arch: kernel $(basename "$kimg"), initrd $(du -k "$dst/initrd.img" | cut -f1) KiB"
}

# busybox plus an init. /dev/console comes from the kernel's built-in
# initramfs (Debian kernels keep the default one), so no device node is
# needed here and no root either.
make_initramfs() {
	busybox=$1 root=$2 out=$3
	mkdir -p "$root/bin" "$root/proc" "$root/sys" "$root/dev" "$root/tmp"
	cp "$busybox" "$root/bin/busybox"
	ln -s busybox "$root/bin/sh"
	cat >"$root/init" <<'INIT'
#!/bin/sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
echo "hilctl-guest: ready arch=$(uname -m)"
# A shell on the console for as long as the guest runs; job control needs a
# controlling tty, which cttyhack gives it.
while true; do
	setsid cttyhack sh
	echo "hilctl-guest: shell exited, starting another"
done
INIT
	chmod 0755 "$root/init"
	(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc --owner=0:0 --quiet) |
		gzip -9n >"$out"
}

archs=${*:-x86_64 aarch64}
for a in $archs; do
	build_guest "$a"
done
