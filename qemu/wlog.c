/* qemu/wlog.c — read and write dm-log-writes logs (see wlog.h): the whole log
 * is checked when it is opened, so a truncated or garbage file is one clear
 * error and never an entry that points outside the file. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "qemu/wlog.h"

#define SUPER_BYTES 28 /* le64 magic, le64 version, le64 nr_entries, le32 sectorsize */
#define ENTRY_BYTES 32 /* le64 sector, nr_sectors, flags, data_len */
#define MIN_SECTOR_SIZE 32

struct wlog {
	int fd;             /* -1 for a log in memory */
	const uint8_t *mem; /* borrowed */
	uint64_t size;      /* bytes in the file or buffer */
	uint32_t sector_size;
	uint64_t n;
	struct wlog_entry *entries;
};

struct wlog_writer {
	int fd;
	uint32_t sector_size;
	uint64_t n;
	uint64_t pos;    /* byte offset of the next entry */
	uint8_t *sector; /* one sector of scratch */
};

static uint64_t get_le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++, v >>= 8)
		p[i] = (uint8_t)v;
}

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++, v >>= 8)
		p[i] = (uint8_t)v;
}

static bool power_of_two(uint64_t v)
{
	return v && !(v & (v - 1));
}

/* Bytes [offset, offset + len) of the log; -ERANGE past its end. */
static int read_at(const struct wlog *w, uint64_t offset, void *buf, size_t len)
{
	uint8_t *out = buf;

	if (offset > w->size || len > w->size - offset)
		return -ERANGE;
	if (!w->mem) {
		while (len > 0) {
			ssize_t got = pread(w->fd, out, len, (off_t)offset);
			if (got < 0 && errno == EINTR)
				continue;
			if (got < 0)
				return -errno;
			if (got == 0)
				return -ERANGE; /* shrunk under us */
			out += got;
			offset += (uint64_t)got;
			len -= (size_t)got;
		}
		return 0;
	}
	memcpy(out, w->mem + offset, len);
	return 0;
}

static int fail(char *why, size_t why_len, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(char *why, size_t why_len, int rc, const char *fmt, ...)
{
	va_list ap;

	if (why && why_len) {
		va_start(ap, fmt);
		vsnprintf(why, why_len, fmt, ap);
		va_end(ap);
	}
	return rc;
}

static int check_super(struct wlog *w, uint64_t *nr_entries, char *why, size_t why_len)
{
	uint8_t super[SUPER_BYTES];
	uint64_t magic, version;

	if (w->size == 0) { /* blklogwrites has written nothing yet */
		w->sector_size = 512;
		*nr_entries = 0;
		return 0;
	}
	if (read_at(w, 0, super, sizeof(super)) < 0)
		return fail(why, why_len, -EINVAL,
		            "%" PRIu64 " bytes: too short for a superblock (not a write log?)",
		            w->size);
	magic = get_le64(super);
	version = get_le64(super + 8);
	*nr_entries = get_le64(super + 16);
	w->sector_size = get_le32(super + 24);
	if (magic != WLOG_MAGIC)
		return fail(why, why_len, -EINVAL,
		            "bad magic 0x%" PRIx64 " (a dm-log-writes log has 0x%llx)", magic,
		            WLOG_MAGIC);
	if (version != WLOG_VERSION)
		return fail(why, why_len, -EINVAL, "log version %" PRIu64 " (only %llu is known)",
		            version, WLOG_VERSION);
	if (!power_of_two(w->sector_size) || w->sector_size < MIN_SECTOR_SIZE ||
	    w->sector_size > WLOG_MAX_SECTOR_SIZE)
		return fail(why, why_len, -EINVAL,
		            "sector size %" PRIu32 " (a power of two from %d to %u)",
		            w->sector_size, MIN_SECTOR_SIZE, WLOG_MAX_SECTOR_SIZE);
	if (*nr_entries > WLOG_MAX_ENTRIES)
		return fail(why, why_len, -EINVAL, "%" PRIu64 " entries (more than %llu)",
		            *nr_entries, WLOG_MAX_ENTRIES);
	return 0;
}

/* Check entry i at byte *pos and move *pos past it. */
static int check_entry(struct wlog *w, uint64_t i, uint64_t *pos, char *why, size_t why_len)
{
	struct wlog_entry *e = &w->entries[i];
	uint64_t ss = w->sector_size, data_bytes = 0;
	uint8_t head[ENTRY_BYTES];
	uint64_t flags;

	if (*pos > w->size || w->size - *pos < ss)
		return fail(why, why_len, -ERANGE,
		            "entry %" PRIu64 " at byte %" PRIu64 ": the log ends before its header "
		            "(cut short?)",
		            i, *pos);
	if (read_at(w, *pos, head, sizeof(head)) < 0)
		return fail(why, why_len, -EIO, "entry %" PRIu64 ": cannot read its header", i);
	e->index = i;
	e->sector = get_le64(head);
	e->nr_sectors = get_le64(head + 8);
	flags = get_le64(head + 16);
	e->data_len = get_le64(head + 24);
	e->data_offset = 0;
	if (flags & ~(uint64_t)WLOG_FLAG_MASK)
		return fail(why, why_len, -EINVAL,
		            "entry %" PRIu64 " at byte %" PRIu64 ": unknown flags 0x%" PRIx64, i,
		            *pos, flags);
	e->flags = (uint32_t)flags;
	if (e->data_len > ss - ENTRY_BYTES)
		return fail(why, why_len, -EINVAL,
		            "entry %" PRIu64 ": %" PRIu64 " bytes of private data do not fit its "
		            "header sector",
		            i, e->data_len);
	if (e->nr_sectors > UINT64_MAX / ss || e->sector > UINT64_MAX / ss - e->nr_sectors)
		return fail(why, why_len, -EINVAL,
		            "entry %" PRIu64 ": sectors %" PRIu64 "+%" PRIu64 " overflow", i,
		            e->sector, e->nr_sectors);
	*pos += ss;
	if (!(e->flags & WLOG_DISCARD) && !(e->flags & WLOG_MARK))
		data_bytes = e->nr_sectors * ss;
	if (data_bytes > w->size - *pos)
		return fail(why, why_len, -ERANGE,
		            "entry %" PRIu64 ": its %" PRIu64 " bytes of data run past the end of "
		            "the log at byte %" PRIu64 " (cut short?)",
		            i, data_bytes, w->size);
	if (data_bytes)
		e->data_offset = *pos;
	*pos += data_bytes;
	return 0;
}

static int load(struct wlog *w, unsigned open_flags, char *why, size_t why_len)
{
	uint64_t nr_entries = 0, pos;
	int rc = check_super(w, &nr_entries, why, why_len);

	if (rc < 0)
		return rc;
	pos = w->sector_size;
	/* Every entry takes a sector at least: a count beyond that is garbage
	 * (or a log cut short), and must not size an allocation. */
	if (nr_entries > w->size / w->sector_size) {
		if (!(open_flags & WLOG_OPEN_PARTIAL))
			return fail(why, why_len, -ERANGE,
			            "the superblock counts %" PRIu64 " entries, more than the "
			            "%" PRIu64 " bytes of the log can hold (cut short?)",
			            nr_entries, w->size);
		nr_entries = w->size / w->sector_size;
	}
	w->entries = calloc(nr_entries ? nr_entries : 1, sizeof(*w->entries));
	if (!w->entries)
		return fail(why, why_len, -ENOMEM, "out of memory for %" PRIu64 " entries",
		            nr_entries);
	for (uint64_t i = 0; i < nr_entries; i++) {
		rc = check_entry(w, i, &pos, why, why_len);
		if (rc < 0 && (open_flags & WLOG_OPEN_PARTIAL)) {
			w->n = i;
			return 0;
		}
		if (rc < 0)
			return rc;
	}
	w->n = nr_entries;
	return 0;
}

int wlog_open(const char *path, unsigned open_flags, struct wlog **out, char *why, size_t why_len)
{
	struct wlog *w = calloc(1, sizeof(*w));
	struct stat st;
	char inner[256] = "";
	int rc;

	*out = NULL;
	if (!w)
		return fail(why, why_len, -ENOMEM, "%s: out of memory", path);
	w->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (w->fd < 0) {
		rc = -errno;
		free(w);
		return fail(why, why_len, rc, "%s: %s", path, strerror(-rc));
	}
	if (fstat(w->fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		rc = fail(why, why_len, -EINVAL, "%s: not a regular file", path);
		wlog_close(w);
		return rc;
	}
	w->size = (uint64_t)st.st_size;
	rc = load(w, open_flags, inner, sizeof(inner));
	if (rc < 0) {
		wlog_close(w);
		return fail(why, why_len, rc, "%s: %s", path, inner);
	}
	*out = w;
	return 0;
}

int wlog_open_mem(const void *buf, size_t len, unsigned open_flags, struct wlog **out, char *why,
                  size_t why_len)
{
	struct wlog *w = calloc(1, sizeof(*w));
	int rc;

	*out = NULL;
	if (!w)
		return fail(why, why_len, -ENOMEM, "out of memory");
	w->fd = -1;
	w->mem = buf ? buf : (const uint8_t *)"";
	w->size = buf ? len : 0;
	rc = load(w, open_flags, why, why_len);
	if (rc < 0) {
		wlog_close(w);
		return rc;
	}
	*out = w;
	return 0;
}

void wlog_close(struct wlog *w)
{
	if (!w)
		return;
	if (w->fd >= 0)
		close(w->fd);
	free(w->entries);
	free(w);
}

uint32_t wlog_sector_size(const struct wlog *w)
{
	return w->sector_size;
}

uint64_t wlog_count(const struct wlog *w)
{
	return w->n;
}

const struct wlog_entry *wlog_entry(const struct wlog *w, uint64_t index)
{
	return index < w->n ? &w->entries[index] : NULL;
}

int wlog_read(const struct wlog *w, const struct wlog_entry *e, uint64_t offset, void *buf,
              size_t len)
{
	uint64_t bytes;

	if (!e->data_offset)
		return -EINVAL;
	bytes = e->nr_sectors * w->sector_size;
	if (offset > bytes || len > bytes - offset)
		return -ERANGE;
	return read_at(w, e->data_offset + offset, buf, len);
}

int64_t wlog_last_durable(const struct wlog *w, uint64_t end)
{
	if (end > w->n)
		end = w->n;
	for (uint64_t i = end; i > 0; i--)
		if (wlog_entry_is_durable_point(&w->entries[i - 1]))
			return (int64_t)(i - 1);
	return -1;
}

void wlog_counts(const struct wlog *w, uint64_t end, uint64_t *writes, uint64_t *flushes)
{
	uint64_t nw = 0, nf = 0;

	if (end > w->n)
		end = w->n;
	for (uint64_t i = 0; i < end; i++) {
		nw += wlog_entry_is_write(&w->entries[i]);
		nf += (w->entries[i].flags & WLOG_FLUSH) != 0;
	}
	if (writes)
		*writes = nw;
	if (flushes)
		*flushes = nf;
}

uint64_t wlog_end_after_write(const struct wlog *w, uint64_t nth)
{
	for (uint64_t i = 0, seen = 0; i < w->n && nth > 0; i++)
		if (wlog_entry_is_write(&w->entries[i]) && ++seen == nth)
			return i + 1;
	return 0;
}

/* ---- following a log QEMU writes ---- */

int wlog_tail_open(struct wlog_tail *t, const char *path, char *why, size_t why_len)
{
	*t = (struct wlog_tail){.fd = open(path, O_RDONLY | O_CLOEXEC)};
	if (t->fd < 0)
		return fail(why, why_len, -errno, "%s: %s", path, strerror(errno));
	return 0;
}

int wlog_tail_poll(struct wlog_tail *t, uint64_t *writes, char *why, size_t why_len)
{
	uint8_t super[SUPER_BYTES], head[ENTRY_BYTES];
	uint64_t nr_entries;
	ssize_t n = pread(t->fd, super, sizeof(super), 0);

	if (n < 0)
		return fail(why, why_len, -errno, "cannot read the log: %s", strerror(errno));
	if (n < (ssize_t)sizeof(super)) { /* nothing written yet */
		*writes = t->writes;
		return 0;
	}
	if (get_le64(super) != WLOG_MAGIC)
		return fail(why, why_len, -EINVAL, "not a write log (bad magic)");
	if (!t->sector_size) {
		t->sector_size = get_le32(super + 24);
		if (!power_of_two(t->sector_size) || t->sector_size < MIN_SECTOR_SIZE ||
		    t->sector_size > WLOG_MAX_SECTOR_SIZE)
			return fail(why, why_len, -EINVAL, "sector size %" PRIu32, t->sector_size);
		t->pos = t->sector_size;
	}
	nr_entries = get_le64(super + 16);
	for (; t->entries < nr_entries; t->entries++) {
		struct wlog_entry e = {0};
		n = pread(t->fd, head, sizeof(head), (off_t)t->pos);
		if (n != (ssize_t)sizeof(head))
			return fail(why, why_len, -ERANGE,
			            "entry %" PRIu64 " at byte %" PRIu64 ": header missing though "
			            "the superblock counts it",
			            t->entries, t->pos);
		e.nr_sectors = get_le64(head + 8);
		e.flags = (uint32_t)get_le64(head + 16);
		if (e.nr_sectors > (UINT64_MAX - t->pos) / t->sector_size - 1)
			return fail(why, why_len, -EINVAL, "entry %" PRIu64 ": %" PRIu64 " sectors",
			            t->entries, e.nr_sectors);
		t->pos += t->sector_size;
		if (!(e.flags & (WLOG_DISCARD | WLOG_MARK)))
			t->pos += e.nr_sectors * t->sector_size;
		t->writes += wlog_entry_is_write(&e);
	}
	*writes = t->writes;
	return 0;
}

void wlog_tail_close(struct wlog_tail *t)
{
	if (t->fd >= 0)
		close(t->fd);
	t->fd = -1;
}

/* ---- writer ---- */

static int write_all_at(int fd, const void *buf, size_t len, uint64_t offset)
{
	const uint8_t *p = buf;

	while (len > 0) {
		ssize_t put = pwrite(fd, p, len, (off_t)offset);
		if (put < 0 && errno == EINTR)
			continue;
		if (put < 0)
			return -errno;
		p += put;
		offset += (uint64_t)put;
		len -= (size_t)put;
	}
	return 0;
}

static int write_super(struct wlog_writer *ww)
{
	memset(ww->sector, 0, ww->sector_size);
	put_le64(ww->sector, WLOG_MAGIC);
	put_le64(ww->sector + 8, WLOG_VERSION);
	put_le64(ww->sector + 16, ww->n);
	put_le32(ww->sector + 24, ww->sector_size);
	return write_all_at(ww->fd, ww->sector, ww->sector_size, 0);
}

int wlog_writer_open(const char *path, uint32_t sector_size, struct wlog_writer **out)
{
	struct wlog_writer *ww;
	int rc;

	*out = NULL;
	if (!power_of_two(sector_size) || sector_size < MIN_SECTOR_SIZE ||
	    sector_size > WLOG_MAX_SECTOR_SIZE)
		return -EINVAL;
	ww = calloc(1, sizeof(*ww));
	if (!ww)
		return -ENOMEM;
	ww->sector = malloc(sector_size);
	ww->sector_size = sector_size;
	ww->pos = sector_size;
	ww->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (!ww->sector || ww->fd < 0) {
		rc = ww->sector ? -errno : -ENOMEM;
		if (ww->fd >= 0)
			close(ww->fd);
		free(ww->sector);
		free(ww);
		return rc;
	}
	rc = write_super(ww);
	if (rc < 0) {
		close(ww->fd);
		free(ww->sector);
		free(ww);
		return rc;
	}
	*out = ww;
	return 0;
}

static int add_entry(struct wlog_writer *ww, uint64_t sector, uint64_t nr_sectors, uint32_t flags,
                     const void *data, const char *text)
{
	uint64_t data_bytes = 0;
	size_t text_len = text ? strlen(text) : 0;
	int rc;

	if (flags & ~WLOG_FLAG_MASK || text_len > ww->sector_size - ENTRY_BYTES)
		return -EINVAL;
	if (!(flags & (WLOG_DISCARD | WLOG_MARK))) {
		if (nr_sectors > UINT64_MAX / ww->sector_size)
			return -EINVAL;
		data_bytes = nr_sectors * ww->sector_size;
		if (data_bytes && !data)
			return -EINVAL;
	}
	memset(ww->sector, 0, ww->sector_size);
	put_le64(ww->sector, sector);
	put_le64(ww->sector + 8, nr_sectors);
	put_le64(ww->sector + 16, flags);
	put_le64(ww->sector + 24, text_len);
	if (text_len)
		memcpy(ww->sector + ENTRY_BYTES, text, text_len);
	rc = write_all_at(ww->fd, ww->sector, ww->sector_size, ww->pos);
	if (rc == 0 && data_bytes)
		rc = write_all_at(ww->fd, data, data_bytes, ww->pos + ww->sector_size);
	if (rc < 0)
		return rc;
	ww->pos += ww->sector_size + data_bytes;
	ww->n++;
	return write_super(ww);
}

int wlog_writer_add(struct wlog_writer *ww, uint64_t sector, uint64_t nr_sectors, uint32_t flags,
                    const void *data)
{
	return add_entry(ww, sector, nr_sectors, flags, data, NULL);
}

int wlog_writer_mark(struct wlog_writer *ww, const char *text)
{
	return add_entry(ww, 0, 0, WLOG_MARK, NULL, text);
}

int wlog_writer_close(struct wlog_writer *ww)
{
	int rc;

	if (!ww)
		return 0;
	rc = write_super(ww);
	if (close(ww->fd) < 0 && rc == 0)
		rc = -errno;
	free(ww->sector);
	free(ww);
	return rc;
}
