# reports/reports.mk — render the HTML report of a demo campaign with Debian's
# headless Chromium, to look at it (not part of make check):
#   make report-screenshot
# writes build/report-screenshot.png (1440x900, the first screen),
# build/report-screenshot-1366.png (1366x768), build/report-screenshot-full.png
# (1440 wide, the first 4000 px), build/report-screenshot-pass.png (a
# campaign where every run passed) and build/report-screenshot-infra.png (4
# shards, one missing: exit 3). Needs: apt-get install chromium.
CHROMIUM ?= chromium
REPORT_DEMO := $(BUILD)/report-demo
# No network, no profile, no GPU: a file:// page that fetches nothing.
CHROMIUM_FLAGS := --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
	--disable-background-networking --disable-component-update --disable-sync \
	--hide-scrollbars

define report_shot
	profile=$$(mktemp -d) && timeout 120 $(CHROMIUM) $(CHROMIUM_FLAGS) \
		--user-data-dir=$$profile --window-size=$(2) \
		--screenshot=$(abspath $(BUILD))/$(3) file://$(abspath $(1))/report.html \
		>/dev/null 2>$(BUILD)/chromium.log; rc=$$?; rm -rf $$profile; \
		test $$rc = 0 || { cat $(BUILD)/chromium.log; exit $$rc; }; echo "  $(BUILD)/$(3)"
endef

.PHONY: report-demo report-screenshot

report-demo: $(BUILD)/hilctl
	rm -rf $(REPORT_DEMO) $(REPORT_DEMO)-pass $(REPORT_DEMO)-shards
	python3 tests/integration/data/journal_fixtures.py demo $(REPORT_DEMO)
	python3 tests/integration/data/journal_fixtures.py pass $(REPORT_DEMO)-pass
	python3 tests/integration/data/journal_fixtures.py shards $(REPORT_DEMO)-shards
	SOURCE_DATE_EPOCH=1795656000 $(BUILD)/hilctl report $(REPORT_DEMO); test $$? = 1
	SOURCE_DATE_EPOCH=1795656000 $(BUILD)/hilctl report $(REPORT_DEMO)-pass
	SOURCE_DATE_EPOCH=1795656000 $(BUILD)/hilctl report $(REPORT_DEMO)-shards; test $$? = 3

report-screenshot: report-demo
	$(call report_shot,$(REPORT_DEMO),1440$(comma)900,report-screenshot.png)
	$(call report_shot,$(REPORT_DEMO),1366$(comma)768,report-screenshot-1366.png)
	$(call report_shot,$(REPORT_DEMO),1440$(comma)4000,report-screenshot-full.png)
	$(call report_shot,$(REPORT_DEMO)-pass,1440$(comma)900,report-screenshot-pass.png)
	$(call report_shot,$(REPORT_DEMO)-shards,1366$(comma)768,report-screenshot-infra.png)
