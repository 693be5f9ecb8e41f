# hilctl — build, tests, benchmarks. `make help` lists the targets.

CC ?= gcc
PREFIX ?= /usr/local
DATADIR ?= $(PREFIX)/share/hilctl
BUILD ?= build
PYTEST ?= /usr/bin/python3 -m pytest
PKGS := yaml-0.1 libgpiod libftdi1 libserialport libpcre2-8 jansson libcurl libmicrohttpd \
	expat zlib liblzma libzstd nettle

# Debian packages that build, tests, the reference board and the demo need.
DEB_PACKAGES := build-essential pkg-config libyaml-dev libgpiod-dev libftdi1-dev \
	libserialport-dev libcmocka-dev libpcre2-dev libjansson-dev libcurl4-openssl-dev \
	libmicrohttpd-dev python3-pytest python3-junitparser qemu-system-arm qemu-system-x86 \
	qemu-utils u-boot-qemu u-boot-tools pdudaemon ser2net mtools dosfstools e2fsprogs \
	fdisk gcc-aarch64-linux-gnu libc6-dev-arm64-cross clang libclang-rt-14-dev cpio \
	mender-artifact \
	socat curl python3-yaml slurmctld slurmd slurm-client munge debhelper lintian perl \
	clang-format \
	libexpat1-dev zlib1g-dev liblzma-dev libzstd-dev nettle-dev bmap-tools xz-utils zstd \
	rauc squashfs-tools openssl

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
# libgpiod 2.x changed its API; power/gpio.c keeps both behind this switch.
GPIOD_MAJOR := $(firstword $(subst ., ,$(shell pkg-config --modversion libgpiod 2>/dev/null)))
HILCTL_VERSION := $(shell git describe --always --dirty 2>/dev/null || echo 0.1)

CFLAGS ?= -O2 -g
# WERROR= for a distribution's rebuild (debian/rules): warnings stay errors
# in our own builds and CI, not with another compiler's new warnings.
WERROR ?= -Werror
WARN := -Wall -Wextra $(WERROR) -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	-Wno-unused-parameter -Wformat=2 -Wno-format-nonliteral
override CFLAGS += -std=gnu11 $(WARN)
override CPPFLAGS += -I. -D_GNU_SOURCE -DHILCTL_VERSION='"$(HILCTL_VERSION)"' \
	-DHILCTL_DATADIR='"$(DATADIR)"' \
	-DGPIOD_MAJOR=$(or $(GPIOD_MAJOR),1) $(PKG_CFLAGS)
LDLIBS += $(PKG_LIBS) -lm

# Sanitizer build of the unit tests: make check-unit SAN=1
ifeq ($(SAN),1)
OBJDIR := $(BUILD)/san
override CFLAGS += -O1 -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
override LDFLAGS += -fsanitize=address,undefined
else
OBJDIR := $(BUILD)/obj
endif

SRCS := $(wildcard lib/*.c harness/*/*.c power/*.c storage/*.c qemu/*.c reports/*.c)
LIB_SRCS := $(filter-out harness/cli/main.c,$(SRCS))
OBJS := $(SRCS:%.c=$(OBJDIR)/%.o)
HDRS := $(wildcard lib/*.h harness/*/*.h power/*.h storage/*.h qemu/*.h reports/*.h)

.PHONY: all check check-unit check-san check-integration deps install clean bench help format \
	format-check fuzz fuzz-smoke demo qualify soak check-slow

all: $(BUILD)/hilctl

# Without -lcurl: power/curl_dl.c opens libcurl when the pdudaemon driver
# first needs it (its dependencies cost every hilctl ~2.7 MiB of RSS).
$(BUILD)/hilctl: $(OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(filter-out -lcurl,$(LDLIBS))

$(OBJDIR)/%.o: %.c $(HDRS)
	@mkdir -p $(dir $@)
	@echo "  CC $<"
	@$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

# ---- unit tests (cmocka). Each tests/unit/test_X.mk adds its test:
#   UNIT_TESTS += test_X
#   test_X_SRCS := harness/x.c lib/log.c      (sources under test)
#   test_X_WRAPS := gpiod_chip_open ...            (library calls faked at the link seam)
UNIT_TESTS :=
include $(wildcard tests/unit/*.mk)
comma := ,

define unit_rule
$(OBJDIR)/tests/$(1): tests/unit/$(1).c $$($(1)_SRCS) $$(wildcard tests/unit/fakes/*.h) $$(HDRS)
	@mkdir -p $$(dir $$@)
	@echo "  CC $$@"
	@$$(CC) $$(CPPFLAGS) $$(CFLAGS) -Itests/unit -o $$@ tests/unit/$(1).c $$($(1)_SRCS) \
		$$(addprefix -Wl$$(comma)--wrap=,$$($(1)_WRAPS)) $$(LDFLAGS) $$(LDLIBS) -lcmocka
endef
$(foreach t,$(UNIT_TESTS),$(eval $(call unit_rule,$(t))))

UNIT_BINS := $(UNIT_TESTS:%=$(OBJDIR)/tests/%)

check-unit: $(UNIT_BINS)
	@fail=0; for t in $(UNIT_BINS); do \
		echo "== $$t"; CMOCKA_MESSAGE_OUTPUT=stdout $$t || fail=1; done; \
	test $$fail = 0 && echo "unit tests: all passed"

check-san:
	$(MAKE) SAN=1 check-unit

check-integration: $(BUILD)/hilctl
	HILCTL=$(abspath $(BUILD)/hilctl) $(PYTEST) -q tests/integration -m "not slow" $(PYTEST_ARGS)

# Tests that mostly wait out a real deadline (minutes of wall time, little
# CPU): run by hand and in release checks, not in every CI run.
check-slow: $(BUILD)/hilctl
	HILCTL=$(abspath $(BUILD)/hilctl) $(PYTEST) -q tests/integration -m slow $(PYTEST_ARGS)

# A long campaign on simulated boards with the harness watched from /proc
# (hangs, leaked processes and fds, RSS): not part of check, which runs
# the same test with 32 runs.
SOAK_RUNS ?= 500
soak: $(BUILD)/hilctl
	SOAK_RUNS=$(SOAK_RUNS) HILCTL=$(abspath $(BUILD)/hilctl) $(PYTEST) -q -s tests/integration/test_soak.py

# The README's test command: everything, installing what is missing first.
check: deps-if-missing
	$(MAKE) format-check
	$(MAKE) all
	$(MAKE) check-unit
	$(MAKE) check-san
	$(MAKE) fuzz-smoke
	$(MAKE) check-integration

deps:
	sh fixtures/refdut/deps.sh $(DEB_PACKAGES)

# Installs when a package is missing, when arm64 is not an architecture yet,
# or when apt cannot see the arm64 packages the board build downloads (the
# architecture added but its lists never fetched).
deps-if-missing:
	@missing=$$(dpkg-query -W -f='$${db:Status-Abbrev} $${Package}\n' $(DEB_PACKAGES) 2>&1 | \
		grep -v '^ii ' | wc -l); \
	dpkg --print-foreign-architectures | grep -qx arm64 || missing=1; \
	apt-cache show busybox-static:arm64 >/dev/null 2>&1 || missing=1; \
	if [ "$$missing" != 0 ]; then \
		echo "installing missing Debian packages"; \
		if [ "$$(id -u)" = 0 ]; then $(MAKE) deps; \
		else sudo $(MAKE) deps; fi; fi

# The README's main command: the qualification campaign on the QEMU lab.
DEMO_OUT ?= $(BUILD)/qualify
DEMO_ARGS ?= -j2
demo: deps-if-missing
	$(MAKE) all
	$(MAKE) refdut
	rm -rf $(DEMO_OUT)
	$(BUILD)/hilctl --lab fixtures/lab-qemu.yaml qualify $(DEMO_ARGS) --out $(DEMO_OUT); \
		rc=$$?; $(BUILD)/hilctl report $(DEMO_OUT) >/dev/null 2>&1; \
		echo "journal and reports: $(DEMO_OUT)/"; exit $$rc

# The binary, the man page, the shipped scenarios and qualification suite
# (qualify finds them there when run outside a checkout), the example lab
# files and the docs.
install: $(BUILD)/hilctl
	install -D -m 0755 $(BUILD)/hilctl $(DESTDIR)$(PREFIX)/bin/hilctl
	install -D -m 0644 docs/hilctl.1 $(DESTDIR)$(PREFIX)/share/man/man1/hilctl.1
	install -D -m 0644 docs/hilctl-lab.5 $(DESTDIR)$(PREFIX)/share/man/man5/hilctl-lab.5
	install -D -m 0644 docs/hilctl-scenario.5 $(DESTDIR)$(PREFIX)/share/man/man5/hilctl-scenario.5
	install -d $(DESTDIR)$(DATADIR)/scenarios $(DESTDIR)$(DATADIR)/examples
	install -m 0644 scenarios/*.yaml scenarios/qualify.suite $(DESTDIR)$(DATADIR)/scenarios/
	install -d $(DESTDIR)$(DATADIR)/scenarios/rauc
	install -m 0644 scenarios/rauc/*.yaml $(DESTDIR)$(DATADIR)/scenarios/rauc/
	install -d $(DESTDIR)$(DATADIR)/scenarios/mender
	install -m 0644 scenarios/mender/*.yaml $(DESTDIR)$(DATADIR)/scenarios/mender/
	install -m 0644 fixtures/lab-*.yaml $(DESTDIR)$(DATADIR)/examples/
	install -d $(DESTDIR)$(PREFIX)/share/doc/hilctl
	install -m 0644 README.md HACKING.md docs/*.md $(DESTDIR)$(PREFIX)/share/doc/hilctl/
	install -D -m 0644 dist/sysusers.d/hilctl.conf $(DESTDIR)$(PREFIX)/lib/sysusers.d/hilctl.conf
	install -D -m 0644 dist/tmpfiles.d/hilctl.conf $(DESTDIR)$(PREFIX)/lib/tmpfiles.d/hilctl.conf
	@# On this host (no DESTDIR, as root): the group and the lock directory now,
	@# not at the next boot. Members: usermod -aG hilctl USER.
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ]; then \
		getent group hilctl >/dev/null || groupadd --system hilctl; \
		systemd-tmpfiles --create $(PREFIX)/lib/tmpfiles.d/hilctl.conf 2>/dev/null || \
		{ mkdir -p /run/lock/hilctl && chgrp hilctl /run/lock/hilctl && \
		  chmod 2775 /run/lock/hilctl; }; \
		echo "board locks: /run/lock/hilctl, group hilctl (usermod -aG hilctl USER)"; fi

format:
	clang-format -i $(SRCS) $(HDRS) $(wildcard tests/unit/*.c)

format-check:
	clang-format --dry-run -Werror $(SRCS) $(HDRS) $(wildcard tests/unit/*.c)

clean:
	rm -rf $(BUILD)/obj $(BUILD)/san $(BUILD)/hilctl

help:
	@echo "make               build build/hilctl"
	@echo "make check         install missing packages, unit tests (plain and ASan+UBSan), integration tests"
	@echo "make check-unit    cmocka unit tests only (SAN=1 for sanitizers)"
	@echo "make install       PREFIX=/usr/local DESTDIR= (also group hilctl and its lock dir: docs/shared-lab.md)"
	@echo "make bench         benchmarks (never part of check)"
	@echo "make check-slow    integration tests that wait out real deadlines (about 7 min)"
	@echo "make soak          500 runs on simulated boards: hangs, leaks, RSS (SOAK_RUNS=)"
	@echo "make fuzz          every fuzz target for FUZZ_SECONDS (clang, libFuzzer, ASan+UBSan)"
	@echo "make refdut        build the reference board"
	@echo "make raucdut       build the RAUC board (fixtures/raucdut)"
	@echo "make qualify-rauc  every RAUC scenario on that board (about 15 min)"
	@echo "make menderdut     build the Mender board (make qualify-mender: its suite, by hand)"

-include fixtures/refdut/refdut.mk
-include fixtures/raucdut/raucdut.mk
-include fixtures/menderdut/menderdut.mk
-include bench/bench.mk
-include tests/fuzz/fuzz.mk
-include reports/reports.mk
