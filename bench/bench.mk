# bench/bench.mk — `make bench`: the benchmarks of issue 7, never tests. Each
# prints every figure with its method and merges its section into
# build/bench/results.json and build/bench/results.md (the README's table).
#
#   make bench              all of them, one after the other (~20 min on 2 cores)
#   make bench-cycle        hilctl's cycle vs. a minimal script with QEMU alone
#   make bench-latency      trigger-to-cut latency: QEMU, and the relay drivers' set()
#   make bench-qemu-stop    a QEMU cut taken apart: vCPUs paused vs. QMP's answer
#   make bench-throughput   fault-injection runs per hour at -j1 and -j2
#   make bench-footprint    controller RSS and CPU per board: 1, 8, 64 consoles, idle and fed
#   make bench-server       update server: 16, 64, 256 MiB to curl on loopback
#   make bench-boot         reference board: QEMU start to the version probe
#   make bench-snapshot     boot to the prompt vs. a start from a QEMU snapshot
#   make bench-slurm        a real Slurm: dispatch overhead per shard, requeue after a host dies
#   make bench-explore      hilctl explore: crash states per minute at -j1 and -j2
#   make bench-restore      restoring the reference image: bmap vs. full write, share of a run
#   make bench-scale        the curves: cut latency, overhead, CPU vs. 1/8/64 simulated
#                           boards; cycle time vs. a 16/64/256 MiB update
#
# Knobs (environment): BENCH_CYCLE_RUNS, BENCH_LATENCY_N, BENCH_RELAY_N,
# BENCH_THROUGHPUT_SWEEP, BENCH_THROUGHPUT_JOBS, BENCH_FOOTPRINT_BOARDS,
# BENCH_FOOTPRINT_WINDOW, BENCH_SERVER_SIZES, BENCH_SERVER_REPS, BENCH_BOOT_RUNS,
# BENCH_SNAPSHOT_RUNS, BENCH_QEMU_STOP_N, BENCH_SLURM_ROUNDS, BENCH_SLURM_REQUEUE,
# BENCH_EXPLORE_STATES, BENCH_EXPLORE_JOBS, BENCH_SCALE_BOARDS, BENCH_SCALE_RUNS,
# BENCH_SCALE_SIZES, BENCH_SCALE_PAYLOAD_REPS, BENCH_RESTORE_N, BENCH_RESTORE_RUNS; see each bench/bench_*.py for its defaults.

BENCH_OUT ?= $(BUILD)/bench
BENCH_PY := /usr/bin/python3
BENCH_ORDER := latency qemu-stop cycle throughput footprint server boot snapshot explore restore \
	scale slurm
BENCH_TARGETS := $(BENCH_ORDER:%=bench-%)

# hilctl's objects but main.o, as an archive: a bench program pulls in only
# what it uses, like a unit test links only the sources under test.
BENCH_LIB := $(BENCH_OUT)/libhilctl.a
BENCH_CUT := $(BENCH_OUT)/cut_latency
BENCH_RELAY := $(BENCH_OUT)/relay_latency
BENCH_SERVER := $(BENCH_OUT)/server_bench
BENCH_RELAY_WRAPS := $(sort $(test_gpio_WRAPS) $(test_ftdi_WRAPS))

.PHONY: bench $(BENCH_TARGETS) bench-bins

$(BENCH_LIB): $(filter-out $(OBJDIR)/harness/cli/main.o,$(OBJS))
	@mkdir -p $(dir $@)
	@rm -f $@
	$(AR) rcs $@ $^

$(BENCH_CUT): bench/cut_latency.c $(BENCH_LIB)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< $(BENCH_LIB) $(LDFLAGS) $(LDLIBS)

$(BENCH_SERVER): bench/server_bench.c $(BENCH_LIB)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< $(BENCH_LIB) $(LDFLAGS) $(LDLIBS)

$(BENCH_RELAY): bench/relay_latency.c tests/unit/fakes/gpiod_fake.c tests/unit/fakes/ftdi_fake.c \
		$(wildcard tests/unit/fakes/*.h) $(BENCH_LIB)
	$(CC) $(CPPFLAGS) $(CFLAGS) -Itests/unit -o $@ bench/relay_latency.c \
		tests/unit/fakes/gpiod_fake.c tests/unit/fakes/ftdi_fake.c $(BENCH_LIB) \
		$(addprefix -Wl$(comma)--wrap=,$(BENCH_RELAY_WRAPS)) $(LDFLAGS) $(LDLIBS) -lcmocka

bench-bins: $(BUILD)/hilctl $(BENCH_CUT) $(BENCH_RELAY) $(BENCH_SERVER)

# Benchmarks run one at a time (they would disturb each other), and one that
# fails does not stop the others; make bench fails at the end if one did.
bench: bench-bins refdut
	@rm -f $(BENCH_OUT)/results.json $(BENCH_OUT)/results.md
	@failed=; for b in $(BENCH_ORDER); do \
		$(MAKE) --no-print-directory bench-$$b BENCH_NO_DEPS=1 || failed="$$failed $$b"; done; \
	echo; echo "results: $(BENCH_OUT)/results.md, $(BENCH_OUT)/results.json"; \
	if [ -n "$$failed" ]; then echo "bench: failed:$$failed"; exit 1; fi

ifeq ($(BENCH_NO_DEPS),1)
BENCH_DEPS :=
else
BENCH_DEPS := bench-bins refdut
endif

BENCH_RUN = BENCH_OUT=$(abspath $(BENCH_OUT)) HILCTL=$(abspath $(BUILD)/hilctl) $(BENCH_PY)

bench-qemu-stop: $(BENCH_DEPS)
	$(BENCH_RUN) bench/bench_qemu_stop.py

bench-cycle: $(BENCH_DEPS)
	$(BENCH_RUN) bench/bench_cycle.py

bench-latency: $(BENCH_DEPS)
	$(BENCH_RUN) bench/bench_latency.py

bench-throughput: $(BENCH_DEPS)
	$(BENCH_RUN) bench/bench_throughput.py

bench-footprint: $(BENCH_DEPS)
	$(BENCH_RUN) bench/bench_footprint.py

bench-server: $(BENCH_DEPS)
	$(BENCH_RUN) bench/bench_server.py

bench-boot: $(BENCH_DEPS)
	$(BENCH_RUN) bench/bench_boot.py

bench-restore: $(BENCH_DEPS)
	$(BENCH_RUN) bench/bench_restore.py

bench-snapshot: $(BENCH_DEPS)
	$(BENCH_RUN) bench/bench_snapshot.py

# Needs no reference board: simulated boards on a real Slurm (as root).
bench-slurm: $(BUILD)/hilctl
	$(BENCH_RUN) bench/bench_slurm.py

bench-explore: $(BENCH_DEPS)
	$(BENCH_RUN) bench/bench_explore.py

# Needs no reference board: simulated boards (bench_scale.py --sim) and
# hilctl's own update server.
bench-scale: $(BUILD)/hilctl
	$(BENCH_RUN) bench/bench_scale.py
