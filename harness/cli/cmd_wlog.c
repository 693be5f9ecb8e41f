/* harness/cli/cmd_wlog.c — hilctl wlog: look into a write log (blklogwrites,
 * dm-log-writes format) and rebuild the disk a power cut left from it, so
 * that any crash disk of a run can be made again and booted by hand. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/cli/cli.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/num.h"
#include "qemu/wlog.h"

#define BUILD_TIMEOUT_NS (600 * NS_PER_S)

static const char wlog_help[] =
    "usage: hilctl wlog show LOG [--entries]\n"
    "       hilctl wlog build LOG --base IMAGE [--base-format raw|qcow2] --out DISK.qcow2\n"
    "                         [--model strict|torn|none|all] [--seed N] [--end K]\n"
    "                         [--tear BYTES] [--tear-fill old|zero|ff]\n\n"
    "show: the log's sector size, entries, writes, flushes and data; --entries lists\n"
    "      every entry (index, flags, first sector, sectors).\n"
    "build: the disk a power cut after the first K entries (default: all) leaves under\n"
    "      the model (default strict), as a qcow2 overlay over IMAGE (the disk the log\n"
    "      started from). The timeline's power_loss events give the seed of each cut.\n"
    "      Prints what was kept and dropped. --tear and --tear-fill: the torn model's\n"
    "      power_loss.tear and tear_fill (default: whole sectors, old data).\n"
    "      See docs/power-loss.md.\n";

static void flags_text(uint32_t flags, char *out, size_t size)
{
	snprintf(out, size, "%s%s%s%s", flags & WLOG_FLUSH ? "F" : "-",
	         flags & WLOG_FUA ? "U" : "-", flags & WLOG_DISCARD ? "D" : "-",
	         flags & WLOG_MARK ? "M" : "-");
}

static int show(const struct wlog *w, bool entries)
{
	uint64_t n = wlog_count(w), writes, flushes, bytes = 0;
	char fl[8];

	wlog_counts(w, n, &writes, &flushes);
	for (uint64_t i = 0; i < n; i++) {
		const struct wlog_entry *e = wlog_entry(w, i);
		if (e->data_offset)
			bytes += e->nr_sectors * wlog_sector_size(w);
	}
	printf("sector_size %" PRIu32 "\nentries %" PRIu64 "\nwrites %" PRIu64 "\nflushes %" PRIu64
	       "\ndata_bytes %" PRIu64 "\nlast_flush %" PRId64 "\n",
	       wlog_sector_size(w), n, writes, flushes, bytes, wlog_last_durable(w, n));
	for (uint64_t i = 0; entries && i < n; i++) {
		const struct wlog_entry *e = wlog_entry(w, i);
		flags_text(e->flags, fl, sizeof(fl));
		printf("%" PRIu64 " %s %" PRIu64 " %" PRIu64 "\n", i, fl, e->sector, e->nr_sectors);
	}
	return EXIT_OK;
}

struct build_opts {
	const char *base, *base_format, *out, *model, *fill;
	unsigned long long seed, end, tear;
	bool have_end;
};

static int build(const struct wlog *w, const struct build_opts *o)
{
	enum wlog_model model;
	enum wlog_fill fill = WLOG_FILL_OLD;
	struct wlog_pick pick;
	struct wlog_pick_stats st;
	uint64_t end = o->have_end ? o->end : wlog_count(w);
	char why[512] = "";
	int rc;

	if (wlog_model_parse(o->model, &model) < 0 || model == WLOG_MODEL_QUIT) {
		hil_error("--model %s: one of strict, torn, none, all", o->model);
		return EXIT_USAGE;
	}
	if ((o->fill && wlog_fill_parse(o->fill, &fill) < 0) ||
	    (o->tear &&
	     (o->tear < WLOG_TEAR_MIN || o->tear > (1u << 20) || (o->tear & (o->tear - 1))))) {
		hil_error("--tear-fill is one of old, zero, ff; --tear a power of two from %u to "
		          "1048576",
		          WLOG_TEAR_MIN);
		return EXIT_USAGE;
	}
	if (end > wlog_count(w)) {
		hil_error("--end %llu: the log has %" PRIu64 " entries", o->end, wlog_count(w));
		return EXIT_USAGE;
	}
	rc = wlog_pick_model_tear(w, end, model, o->seed, (uint32_t)o->tear, fill, &pick);
	if (rc == 0)
		rc = wlog_build_disk(w, &pick, o->base, o->base_format, o->out, NULL,
		                     clock_now_ns() + BUILD_TIMEOUT_NS, why, sizeof(why));
	if (rc < 0) {
		hil_error("cannot build %s: %s", o->out, why[0] ? why : strerror(-rc));
		wlog_pick_free(&pick);
		return rc == -ENOENT ? EXIT_USAGE : EXIT_INFRA;
	}
	wlog_pick_stats(w, end, &pick, &st);
	printf("disk %s\nentries %" PRIu64 "\nlast_flush %" PRId64 "\ndurable_writes %" PRIu64
	       "\npending %" PRIu64 "\nkept %" PRIu64 "\ndropped %" PRIu64 "\ntorn %" PRId64
	       " %" PRIu64 "\n",
	       o->out, end, st.last_durable, st.durable_writes, st.pending, st.kept, st.dropped,
	       st.torn_index, st.torn_sectors);
	if (st.torn_index >= 0 && !st.torn_sectors)
		printf("torn_bytes %" PRIu64 " %" PRIu64 " %s\n", st.torn_bytes, st.torn_len,
		       wlog_fill_name(st.torn_fill));
	wlog_pick_free(&pick);
	return EXIT_OK;
}

int cmd_wlog(struct cli *cli)
{
	static const struct option opts[] = {
	    CLI_COMMON_LONGOPTS,
	    {"entries", no_argument, NULL, 'e'},
	    {"base", required_argument, NULL, 'b'},
	    {"base-format", required_argument, NULL, 'f'},
	    {"out", required_argument, NULL, 'o'},
	    {"model", required_argument, NULL, 'm'},
	    {"seed", required_argument, NULL, 's'},
	    {"end", required_argument, NULL, 'n'},
	    {"tear", required_argument, NULL, 't'},
	    {"tear-fill", required_argument, NULL, 'F'},
	    {NULL, 0, NULL, 0},
	};
	struct build_opts o = {.base_format = "raw", .model = "strict"};
	bool entries = false;
	struct wlog *w;
	char why[512];
	int c, rc;

	while ((c = getopt_long(cli->argc, cli->argv, "h", opts, NULL)) != -1) {
		int common = cli_common_opt(cli, c, wlog_help);
		if (common == -1)
			return EXIT_OK;
		if (common == -2)
			return EXIT_USAGE;
		if (common == 1)
			continue;
		switch (c) {
		case 'e':
			entries = true;
			break;
		case 'b':
			o.base = optarg;
			break;
		case 'f':
			o.base_format = optarg;
			break;
		case 'o':
			o.out = optarg;
			break;
		case 'm':
			o.model = optarg;
			break;
		case 'F':
			o.fill = optarg;
			break;
		case 't':
			if (num_opt_ull("--tear", optarg, 1u << 20, &o.tear) < 0)
				return EXIT_USAGE;
			break;
		case 's':
		case 'n': {
			unsigned long long v;
			if (num_opt_ull(c == 's' ? "--seed" : "--end", optarg, ULLONG_MAX, &v) < 0)
				return EXIT_USAGE;
			if (c == 's')
				o.seed = v;
			else {
				o.end = v;
				o.have_end = true;
			}
			break;
		}
		default:
			fputs(wlog_help, stderr);
			return EXIT_USAGE;
		}
	}
	if (cli->argc - optind != 2 ||
	    (strcmp(cli->argv[optind], "show") && strcmp(cli->argv[optind], "build"))) {
		fputs(wlog_help, stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(cli->argv[optind], "build") && (!o.base || !o.out)) {
		hil_error("wlog build needs --base IMAGE and --out DISK.qcow2");
		return EXIT_USAGE;
	}
	rc = wlog_open(cli->argv[optind + 1], 0, &w, why, sizeof(why));
	if (rc < 0) {
		hil_error("%s", why);
		return rc == -ENOENT ? EXIT_USAGE : EXIT_INFRA;
	}
	rc = !strcmp(cli->argv[optind], "show") ? show(w, entries) : build(w, &o);
	wlog_close(w);
	return rc;
}
