UNIT_TESTS += test_campaign_deadline
test_campaign_deadline_SRCS := harness/campaign/campaign_deadline.c harness/run/scenario.c harness/run/expect.c lib/cfg.c \
	lib/verdict.c lib/log.c
