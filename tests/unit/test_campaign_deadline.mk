UNIT_TESTS += test_campaign_deadline
test_campaign_deadline_SRCS := harness/campaign_deadline.c harness/scenario.c harness/cfg.c \
	harness/verdict.c harness/log.c
