# Fuzz targets (libFuzzer, clang, ASan+UBSan). Not part of make check.
#   make fuzz FUZZ_SECONDS=600        run every target for that long
#   make build/fuzz/fuzz_lab          build one
FUZZ_CC ?= clang
FUZZ_SECONDS ?= 60
FUZZ_FLAGS := -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -I. \
	-D_GNU_SOURCE -DHILCTL_VERSION='"fuzz"' -DGPIOD_MAJOR=$(or $(GPIOD_MAJOR),1) $(PKG_CFLAGS)

FUZZ_COMMON := lib/cfg.c lib/log.c
fuzz_lab_SRCS := tests/fuzz/fuzz_lab.c tests/fuzz/fuzz_file.c harness/lab/lab.c harness/lab/probes.c \
	harness/lab/restore.c $(wildcard storage/*.c) lib/verdict.c harness/console/console.c power/power.c \
	$(wildcard harness/console/console_*.c) $(wildcard power/*.c) \
	lib/timeline.c lib/waitset.c lib/stop.c lib/num.c harness/run/expect.c harness/server/server.c harness/server/server_fault.c lib/clock.h $(filter-out qemu/cmd_%.c,$(wildcard qemu/*.c))
fuzz_expect_SRCS := tests/fuzz/fuzz_expect.c harness/run/expect.c
fuzz_server_SRCS := tests/fuzz/fuzz_server.c harness/server/server.c harness/server/server_fault.c \
	lib/timeline.c

fuzz_wlog_SRCS := tests/fuzz/fuzz_wlog.c qemu/wlog.c qemu/crashdisk.c qemu/proc.c
fuzz_scenario_SRCS := tests/fuzz/fuzz_scenario.c tests/fuzz/fuzz_file.c harness/run/scenario.c harness/run/expect.c lib/num.c lib/verdict.c
fuzz_qmp_SRCS := tests/fuzz/fuzz_qmp.c qemu/qmp.c lib/waitset.c lib/timeline.c
fuzz_journal_SRCS := tests/fuzz/fuzz_journal.c $(filter-out harness/cli/cmd_report.c,$(wildcard reports/*.c)) \
	lib/verdict.c lib/timeline.c lib/text.c

fuzz_bmap_SRCS := tests/fuzz/fuzz_bmap.c storage/bmap.c

FUZZ_TARGETS := fuzz_lab fuzz_expect fuzz_server fuzz_wlog fuzz_scenario fuzz_qmp fuzz_journal \
	fuzz_bmap

define fuzz_rule
build/fuzz/$(1): $$($(1)_SRCS) $$(FUZZ_COMMON) $$(wildcard */*.h)
	@mkdir -p $$(dir $$@)
	$$(FUZZ_CC) $$(FUZZ_FLAGS) -o $$@ $$(filter %.c,$$^) $$(PKG_LIBS) -lm
endef
$(foreach t,$(FUZZ_TARGETS),$(eval $(call fuzz_rule,$(t))))

fuzz: $(FUZZ_TARGETS:%=build/fuzz/%)
	@for t in $(FUZZ_TARGETS); do \
		mkdir -p build/fuzz/corpus-$$t; \
		echo "== $$t for $(FUZZ_SECONDS) s"; \
		build/fuzz/$$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
			build/fuzz/corpus-$$t tests/fuzz/corpus/$${t#fuzz_} 2>&1 | \
			grep -E 'stat::number_of_executed_units|ERROR|SUMMARY|Done' ; done

# In make check: every target builds, and replays its checked-in corpus once
# (every input that ever crashed or mattered) with ASan+UBSan: a
# deterministic regression check, unlike a timed run.
fuzz-smoke: $(FUZZ_TARGETS:%=build/fuzz/%)
	@for t in $(FUZZ_TARGETS); do \
		c=tests/fuzz/corpus/$${t#fuzz_}; [ -d $$c ] || c=; \
		build/fuzz/$$t -runs=0 $$c >build/fuzz/$$t.smoke.log 2>&1 || \
			{ cat build/fuzz/$$t.smoke.log; echo "fuzz-smoke: $$t failed"; exit 1; }; \
	done; echo "fuzz targets: built, corpora replayed clean"
