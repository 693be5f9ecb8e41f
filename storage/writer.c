/* storage/writer.c — write an image (bmap ranges or all of it), check it
 * against the bmap as it streams, fsync, read back and compare (writer.h).
 *
 * The work is cut into spans (a bmap range, or 64 MiB of a full write); each
 * span keeps the digest of the bytes written, so the read-back compares with
 * what was written even where the bmap has no checksums. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/log.h"
#include "lib/stop.h"
#include "storage/bmap.h"
#include "storage/writer.h"

#define CHUNK (1u << 20)
#define FULL_SPAN (64ull << 20)
#define PROGRESS_NS (250 * NS_PER_MS)

struct span {
	uint64_t offset, length;
	uint64_t first_block, last_block; /* for messages; bmap spans only */
	bool has_expected;
	bool may_end_early; /* a full write's span: the image may end inside it */
	uint8_t expected[BMAP_SUM_MAX], written[BMAP_SUM_MAX];
};

struct job {
	const struct writer_opts *opts;
	struct writer_result *res;
	struct image *img;
	struct bmap bmap;
	bool have_bmap;
	struct blockdev_info info;
	int fd;
	uint8_t *buf;
	struct span *spans;
	size_t n_spans, cap_spans;
	struct bmap_hash *hash;
	uint64_t total; /* bytes to write, 0 if unknown */
	int64_t t_start, t_progress;
};

static bool exists(const char *path)
{
	return access(path, F_OK) == 0;
}

/* bmaptool's places: IMAGE.bmap, then the name without its compression
 * suffix plus .bmap. */
static bool find_bmap(const char *image, char *out, size_t size)
{
	static const char *const suffixes[] = {".gz", ".xz", ".zst", ".bz2", ".lz4"};
	size_t len = strlen(image);

	snprintf(out, size, "%s.bmap", image);
	if (exists(out))
		return true;
	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		size_t sl = strlen(suffixes[i]);
		if (len > sl && strcmp(image + len - sl, suffixes[i]) == 0) {
			snprintf(out, size, "%.*s.bmap", (int)(len - sl), image);
			if (exists(out))
				return true;
		}
	}
	out[0] = 0;
	return false;
}

static void progress(struct job *j, uint64_t done, bool last)
{
	int64_t now = clock_now_ns();
	double secs = (double)(now - j->t_start) / NS_PER_S;

	if (!j->opts->progress || (!last && now - j->t_progress < PROGRESS_NS))
		return;
	j->t_progress = now;
	if (j->total)
		fprintf(stderr, "\rflash: %3d%% %.1f of %.1f MiB, %.1f MB/s   ",
		        (int)(100.0 * (double)done / (double)j->total), (double)done / 1048576.0,
		        (double)j->total / 1048576.0, secs > 0 ? (double)done / 1e6 / secs : 0.0);
	else
		fprintf(stderr, "\rflash: %.1f MiB, %.1f MB/s   ", (double)done / 1048576.0,
		        secs > 0 ? (double)done / 1e6 / secs : 0.0);
	if (last)
		fputc('\n', stderr);
}

static struct span *add_span(struct job *j, uint64_t offset, uint64_t length)
{
	struct span *s;

	if (j->n_spans == j->cap_spans) {
		size_t cap = j->cap_spans ? 2 * j->cap_spans : 64;
		struct span *n = realloc(j->spans, cap * sizeof(*n));
		if (!n)
			return NULL;
		j->spans = n;
		j->cap_spans = cap;
	}
	s = &j->spans[j->n_spans++];
	memset(s, 0, sizeof(*s));
	s->offset = offset;
	s->length = length;
	return s;
}

static int write_all(struct job *j, const uint8_t *buf, size_t len, uint64_t offset)
{
	while (len) {
		ssize_t n = pwrite(j->fd, buf, len, (off_t)offset);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int e = n < 0 ? errno : EIO;
			hil_error("%s: write at byte %" PRIu64 " failed: %s%s", j->opts->target,
			          offset, strerror(e),
			          e == ENOSPC ? " (the image is larger than the target)" : "");
			return -e;
		}
		buf += n;
		len -= (size_t)n;
		offset += (uint64_t)n;
		j->res->bytes_written += (uint64_t)n;
	}
	return 0;
}

static int check_room(struct job *j, uint64_t end)
{
	if (j->info.is_block && end > j->info.size) {
		hil_error("%s: the image needs %" PRIu64 " bytes, the device has %" PRIu64,
		          j->opts->target, end, j->info.size);
		return -ENOSPC;
	}
	return 0;
}

/* Stream one span from the image to the same offset of the target,
 * hashing what passes. */
static int copy_span(struct job *j, struct span *s)
{
	uint64_t done = 0;
	int rc;

	rc = image_skip_to(j->img, s->offset);
	if (rc < 0) {
		hil_error("%s", image_error(j->img));
		return rc;
	}
	while (done < s->length) {
		size_t want = s->length - done < CHUNK ? (size_t)(s->length - done) : CHUNK;
		ssize_t n;

		if (stop_requested()) {
			hil_error("%s: stopped after %" PRIu64 " bytes: the target holds a partial "
			          "image",
			          j->opts->target, j->res->bytes_written);
			return -EINTR;
		}
		n = image_read_full(j->img, j->buf, want);
		if (n < 0) {
			hil_error("%s", image_error(j->img));
			return (int)n;
		}
		if (n == 0)
			break;
		rc = check_room(j, s->offset + done + (uint64_t)n);
		if (rc < 0)
			return rc;
		bmap_hash_update(j->hash, j->buf, (size_t)n);
		rc = write_all(j, j->buf, (size_t)n, s->offset + done);
		if (rc < 0)
			return rc;
		done += (uint64_t)n;
		progress(j, j->res->bytes_written, false);
		if ((size_t)n < want)
			break;
	}
	if (!s->may_end_early && done < s->length) {
		hil_error("%s: the image ends at byte %" PRIu64 ", inside blocks %" PRIu64
		          "-%" PRIu64
		          " that the bmap maps (truncated image, or not this bmap's image)",
		          j->opts->image, s->offset + done, s->first_block, s->last_block);
		return -EBADMSG;
	}
	s->length = done;
	bmap_hash_final(j->hash, s->written);
	if (s->has_expected &&
	    memcmp(s->expected, s->written, bmap_sum_len(j->bmap.sum_type)) != 0) {
		hil_error("%s: blocks %" PRIu64 "-%" PRIu64
		          " do not match their %s checksum in %s: "
		          "the image is corrupt or is not the one the bmap was made from (%s now "
		          "holds a partial image)",
		          j->opts->image, s->first_block, s->last_block,
		          bmap_sum_name(j->bmap.sum_type), j->res->bmap_path, j->opts->target);
		return -EBADMSG;
	}
	return 0;
}

static int write_bmap(struct job *j)
{
	const struct bmap *b = &j->bmap;
	int rc;

	rc = check_room(j, b->image_size);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < b->n_ranges; i++) {
		const struct bmap_range *r = &b->ranges[i];
		uint64_t start = r->first * b->block_size, end = (r->last + 1) * b->block_size;
		struct span *s;

		if (end > b->image_size)
			end = b->image_size;
		s = add_span(j, start, end - start);
		if (!s)
			return -ENOMEM;
		s->first_block = r->first;
		s->last_block = r->last;
		s->has_expected = r->has_sum;
		memcpy(s->expected, r->sum, sizeof(s->expected));
		rc = copy_span(j, s);
		if (rc < 0)
			return rc;
	}
	/* An image file gets the image's size, as bmaptool copy does. */
	if (!j->info.is_block && (uint64_t)lseek(j->fd, 0, SEEK_END) < b->image_size &&
	    ftruncate(j->fd, (off_t)b->image_size) < 0) {
		hil_error("%s: cannot extend to %" PRIu64 " bytes: %s", j->opts->target,
		          b->image_size, strerror(errno));
		return -errno;
	}
	j->res->image_size = b->image_size;
	return 0;
}

static int write_full(struct job *j)
{
	uint64_t offset = 0;

	for (;;) {
		struct span *s = add_span(j, offset, FULL_SPAN);
		int rc;

		if (!s)
			return -ENOMEM;
		s->may_end_early = true;
		rc = copy_span(j, s);
		if (rc < 0)
			return rc;
		offset += s->length;
		if (s->length < FULL_SPAN) {
			if (s->length == 0)
				j->n_spans--;
			break;
		}
	}
	j->res->image_size = offset;
	return 0;
}

static int verify(struct job *j)
{
	int64_t t0 = clock_now_ns();

	/* What the device holds, not what the page cache remembers. */
	posix_fadvise(j->fd, 0, 0, POSIX_FADV_DONTNEED);
	if (j->info.is_block)
		ioctl(j->fd, BLKFLSBUF, 0);
	for (size_t i = 0; i < j->n_spans; i++) {
		struct span *s = &j->spans[i];
		uint8_t got[BMAP_SUM_MAX];

		for (uint64_t done = 0; done < s->length;) {
			size_t want = s->length - done < CHUNK ? (size_t)(s->length - done) : CHUNK;
			ssize_t n = pread(j->fd, j->buf, want, (off_t)(s->offset + done));

			if (stop_requested())
				return -EINTR;
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				hil_error("%s: reading back byte %" PRIu64 " failed: %s",
				          j->opts->target, s->offset + done,
				          n < 0 ? strerror(errno) : "unexpected end");
				return n < 0 ? -errno : -EIO;
			}
			bmap_hash_update(j->hash, j->buf, (size_t)n);
			done += (uint64_t)n;
			j->res->bytes_verified += (uint64_t)n;
		}
		bmap_hash_final(j->hash, got);
		if (memcmp(got, s->written,
		           bmap_sum_len(j->have_bmap ? j->bmap.sum_type : BMAP_SUM_SHA256)) != 0) {
			hil_error(
			    "%s: verify failed: bytes %" PRIu64 "-%" PRIu64
			    " read back differ from what was written (a failing card or reader?)",
			    j->opts->target, s->offset, s->offset + s->length - 1);
			return -EIO;
		}
	}
	j->res->verify_seconds = (double)(clock_now_ns() - t0) / NS_PER_S;
	return 0;
}

static int open_target(struct job *j)
{
	char why[1024];
	int rc =
	    blockdev_check_target(j->opts->target, &j->opts->expect, &j->info, why, sizeof(why));

	if (rc < 0) {
		hil_error("%s", why);
		return rc;
	}
	if (j->info.is_block)
		j->fd = open(j->opts->target, O_RDWR | O_EXCL | O_CLOEXEC);
	else
		j->fd = open(j->opts->target, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (j->fd < 0) {
		rc = -errno;
		hil_error("%s: cannot open for writing: %s%s", j->opts->target, strerror(errno),
		          errno == EBUSY ? " (in use: mounted, or held by another program)" : "");
		return rc == -EBUSY ? -EPERM : rc;
	}
	return 0;
}

static int load_bmap(struct job *j)
{
	char err[1024];
	int rc;

	if (j->opts->no_bmap)
		return 0;
	if (j->opts->bmap)
		snprintf(j->res->bmap_path, sizeof(j->res->bmap_path), "%s", j->opts->bmap);
	else if (!find_bmap(j->opts->image, j->res->bmap_path, sizeof(j->res->bmap_path)))
		return 0;
	rc = bmap_load(j->res->bmap_path, &j->bmap, err, sizeof(err));
	if (rc < 0) {
		hil_error("bmap %s", err);
		return rc == -EBADMSG ? -EBADMSG : -EINVAL;
	}
	j->have_bmap = true;
	j->total = bmap_mapped_bytes(&j->bmap);
	return 0;
}

int writer_flash(const struct writer_opts *opts, struct writer_result *res)
{
	struct job j = {.opts = opts, .res = res, .fd = -1};
	char err[1024];
	int rc;

	memset(res, 0, sizeof(*res));
	rc = load_bmap(&j);
	if (rc < 0)
		return rc;
	rc = image_open(opts->image, &j.img, err, sizeof(err));
	if (rc < 0) {
		hil_error("%s", err);
		goto out;
	}
	res->format = image_format(j.img);
	if (!j.have_bmap)
		j.total = image_size_hint(j.img);
	rc = open_target(&j);
	if (rc < 0)
		goto out;
	/* A plain image's size is known: refuse a small device before the
	 * first write rather than at its end. */
	if (!j.have_bmap && (rc = check_room(&j, image_size_hint(j.img))) < 0)
		goto out;
	j.buf = malloc(CHUNK);
	j.hash = bmap_hash_new(j.have_bmap ? j.bmap.sum_type : BMAP_SUM_SHA256);
	if (!j.buf || !j.hash) {
		rc = -ENOMEM;
		goto out;
	}
	j.t_start = j.t_progress = clock_now_ns();
	rc = j.have_bmap ? write_bmap(&j) : write_full(&j);
	if (rc == 0 && fsync(j.fd) < 0) {
		rc = -errno;
		hil_error("%s: fsync: %s", opts->target, strerror(errno));
	}
	res->write_seconds = (double)(clock_now_ns() - j.t_start) / NS_PER_S;
	progress(&j, res->bytes_written, true);
	if (rc == 0 && opts->verify)
		rc = verify(&j);
out:
	if (j.fd >= 0)
		close(j.fd);
	image_close(j.img);
	bmap_free(&j.bmap);
	bmap_hash_free(j.hash);
	free(j.buf);
	free(j.spans);
	return rc;
}

double writer_mb_per_s(const struct writer_result *res)
{
	return res->write_seconds > 0 ? (double)res->bytes_written / 1e6 / res->write_seconds : 0;
}
