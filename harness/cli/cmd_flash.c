/* harness/cli/cmd_flash.c — hilctl flash: write an image to a card, a block
 * device or an image file with storage/writer.c, the way a lab uses
 * `bmaptool copy`, after the target's safety checks. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness/cli/cli.h"
#include "lib/cfg.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/num.h"
#include "storage/blockdev.h"
#include "storage/writer.h"

static const char flash_help[] =
    "usage: hilctl flash IMAGE --to DEV|FILE [--bmap FILE | --no-bmap] [--expect-size N]\n"
    "                    [--expect-id BY-ID-NAME] [--no-verify] [--wait DURATION]\n\n"
    "Write IMAGE (plain, .gz, .xz or .zst, told by its content) to a block device\n"
    "or an image file. With a bmap (bmaptool create's XML; found as IMAGE.bmap or\n"
    "IMAGE without .gz/.xz/.zst plus .bmap when --bmap is not given) only the mapped\n"
    "ranges are written, each checked against its checksum; then fsync, and every\n"
    "written range is read back from the device and compared.\n\n"
    "Refused, with the device and the reason: a device that is mounted (or one of\n"
    "its partitions), used as swap or held by device-mapper, the lab host's own\n"
    "root or boot disk, a size other than --expect-size, an identity other than\n"
    "--expect-id, and a device the kernel reports busy.\n\n"
    "  --to DEV|FILE         the target; a missing FILE is created\n"
    "  --bmap FILE           the block map to use\n"
    "  --no-bmap             write every byte of the image\n"
    "  --expect-size N       the target must have exactly N bytes (K, M, G, T: x1024)\n"
    "  --expect-id NAME      the target must be /dev/disk/by-id/NAME (or the link NAME\n"
    "                        when it starts with /), or have serial number NAME\n"
    "  --no-verify           skip the read-back\n"
    "  --wait DURATION       first wait up to DURATION (500ms, 10s, 1m) for DEV to\n"
    "                        appear as a block device (after a mux switched the card\n"
    "                        to the host); 3 when it does not\n\n"
    "Prints the bytes written and the rate on stdout. Exit codes: 0 written (and\n"
    "verified), 2 refused target or bad image/bmap/usage, 3 the device failed or\n"
    "the read-back differed (or interrupted). See docs/storage.md.\n";

static int flash_exit(int rc)
{
	switch (rc) {
	case 0:
		return EXIT_OK;
	case -EPERM:
	case -EINVAL:
	case -ENOENT:
	case -EBADMSG:
	case -EISDIR:
	case -ENOSPC:
		return EXIT_USAGE;
	default:
		return EXIT_INFRA;
	}
}

int cmd_flash(struct cli *cli)
{
	static const struct option opts[] = {
	    CLI_COMMON_LONGOPTS,
	    {"to", required_argument, NULL, 't'},
	    {"bmap", required_argument, NULL, 'b'},
	    {"no-bmap", no_argument, NULL, 'B'},
	    {"expect-size", required_argument, NULL, 's'},
	    {"expect-id", required_argument, NULL, 'i'},
	    {"no-verify", no_argument, NULL, 'V'},
	    {"wait", required_argument, NULL, 'w'},
	    {NULL, 0, NULL, 0},
	};
	struct writer_opts w = {.verify = true};
	struct writer_result res;
	int64_t wait_ns = -1;
	int c, rc;

	while ((c = getopt_long(cli->argc, cli->argv, "h", opts, NULL)) != -1) {
		rc = cli_common_opt(cli, c, flash_help);
		if (rc == -1)
			return EXIT_OK;
		if (rc == -2)
			return EXIT_USAGE;
		if (rc == 1)
			continue;
		switch (c) {
		case 't':
			w.target = optarg;
			break;
		case 'b':
			w.bmap = optarg;
			break;
		case 'B':
			w.no_bmap = true;
			break;
		case 's':
			if (num_parse_size(optarg, &w.expect.size) < 0 || w.expect.size == 0) {
				hil_error(
				    "--expect-size %s: give a size in bytes, or with K, M, G, T",
				    optarg);
				return EXIT_USAGE;
			}
			break;
		case 'i':
			w.expect.id = optarg;
			break;
		case 'V':
			w.verify = false;
			break;
		case 'w':
			if (cfg_parse_duration(optarg, &wait_ns) < 0 || wait_ns < 0) {
				hil_error("--wait %s: give a duration like 500ms, 10s or 1m",
				          optarg);
				return EXIT_USAGE;
			}
			break;
		default:
			fputs(flash_help, stderr);
			return EXIT_USAGE;
		}
	}
	if (optind + 1 != cli->argc || !w.target) {
		hil_error("flash needs one IMAGE and --to DEV|FILE");
		fputs(flash_help, stderr);
		return EXIT_USAGE;
	}
	if (w.bmap && w.no_bmap) {
		hil_error("--bmap and --no-bmap exclude each other");
		return EXIT_USAGE;
	}
	w.image = cli->argv[optind];
	if (wait_ns >= 0) {
		rc = blockdev_wait(w.target, clock_now_ns() + wait_ns);
		if (rc < 0) {
			hil_error("%s: %s within %.1f s (is the card switched to the host, and "
			          "is this its name?)",
			          w.target,
			          rc == -EINTR ? "stopped before it appeared" : "did not appear",
			          (double)wait_ns / NS_PER_S);
			return EXIT_INFRA;
		}
	}
	w.progress = isatty(STDERR_FILENO);
	rc = writer_flash(&w, &res);
	if (rc < 0)
		return flash_exit(rc);
	printf("flashed %s (%s%s%s) to %s\n", w.image, image_format_name(res.format),
	       res.bmap_path[0] ? ", bmap " : ", no bmap", res.bmap_path, w.target);
	printf("written %" PRIu64 " of %" PRIu64 " bytes in %.2f s (%.1f MB/s)\n",
	       res.bytes_written, res.image_size, res.write_seconds, writer_mb_per_s(&res));
	if (w.verify)
		printf("verified %" PRIu64 " bytes in %.2f s\n", res.bytes_verified,
		       res.verify_seconds);
	else
		printf("not verified (--no-verify)\n");
	return EXIT_OK;
}
