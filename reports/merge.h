/* reports/merge.h — the set of journals one report is made from: one
 * campaign directory, or shards and hosts merged (hilctl report --merge).
 *
 * Journals are grouped by campaign id. Within a campaign the shards
 * 0..count-1 must all be there; of each shard the latest complete attempt
 * counts; a shard with no complete attempt is "partial" (its finished runs
 * still count, the newest attempt's record of a key wins) and a shard with
 * no journal at all is "missing". Every run key counts once per campaign.
 *
 * The report_set owns its journals; its runs and windows point into them. */
#ifndef HILCTL_REPORTS_MERGE_H
#define HILCTL_REPORTS_MERGE_H

#include <stddef.h>

#include "reports/journal_read.h"

enum shard_status { SHARD_COMPLETE, SHARD_PARTIAL, SHARD_MISSING };

struct shard {
	const char *campaign_id;
	int index, count;
	enum shard_status status;
	const struct jfile *journal; /* the attempt that counts; NULL when missing */
	int attempts;                /* journals found for this shard */
	size_t runs;                 /* runs it contributes */
};

struct report_set {
	struct jfile **journals;
	size_t n_journals;
	const struct jrun **runs; /* counted runs: by scenario, fault point, board */
	size_t n_runs;
	const struct jwindow **windows;
	size_t n_windows;
	struct shard *shards; /* every shard of every campaign, in campaign order */
	size_t n_shards;
	size_t n_campaigns;
};

/* Load every journal a path names: a file, or a directory's journal*.jsonl.
 * 0, or -EINVAL after printing why (no journal, a bad journal). */
int report_set_load(struct report_set *rs, char *const *paths, size_t n_paths);
/* Add one parsed journal (tests); the set takes ownership. */
void report_set_add(struct report_set *rs, struct jfile *j);
/* Pick attempts, count runs, find missing shards. 0, or -EINVAL when the
 * journals contradict each other (a campaign with two shard counts). */
int report_set_finish(struct report_set *rs);
void report_set_free(struct report_set *rs);

const char *shard_status_name(enum shard_status s);

#endif
