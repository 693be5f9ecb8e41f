/* qemu/wlog.h — the write log of a QEMU disk, and the disk a power cut leaves.
 *
 * QEMU's blklogwrites block driver records every request the guest's disk
 * completes in the dm-log-writes format of Linux (drivers/md/dm-log-writes.c):
 *
 *   sector 0      superblock: le64 magic 0x6a736677736872, le64 version 1,
 *                 le64 nr_entries, le32 sectorsize (the log sector size)
 *   sector 1...   entries, in the order the requests completed; each is one
 *                 log sector holding the header (le64 sector, le64 nr_sectors,
 *                 le64 flags, le64 data_len; then data_len bytes of private
 *                 data, a mark's text), followed by nr_sectors sectors of the
 *                 written data (none for a discard or a flush)
 *
 * Sectors count sectorsize bytes, in the log and on the disk alike. A flush
 * is an entry with WLOG_FLUSH and no sectors; QEMU splits a FUA write into
 * the write and a flush, so a log from QEMU has no WLOG_FUA (a kernel one may).
 *
 * Reader: wlog_open() checks the whole log up front (superblock, every
 * header, every data range inside the file) and fails with a sentence in
 * `why` rather than handing out a bad entry; after it, wlog_entry() and
 * wlog_read() cannot see a malformed log. Writer: makes logs for tests and
 * for the crash-state explorer's own records.
 *
 * Crash disks: a wlog_pick says which entries reach the disk (a durable
 * prefix, chosen later writes, a torn last one); wlog_pick_model() makes the
 * pick a power-loss model gives, wlog_build_disk() writes it as a qcow2
 * overlay over the disk the log started from.
 *
 * Ownership: wlog_open() returns a log the caller frees with wlog_close();
 * entries point into it. wlog_pick_model() fills a pick whose extra array the
 * caller frees with wlog_pick_free(). Functions return 0 or a negative errno;
 * those taking why/why_len also write one line (no trailing newline) there. */
#ifndef HILCTL_QEMU_WLOG_H
#define HILCTL_QEMU_WLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Entry flags, as on disk. */
#define WLOG_FLUSH (1u << 0)
#define WLOG_FUA (1u << 1)
#define WLOG_DISCARD (1u << 2)
#define WLOG_MARK (1u << 3)
#define WLOG_FLAG_MASK (WLOG_FLUSH | WLOG_FUA | WLOG_DISCARD | WLOG_MARK)

#define WLOG_MAGIC 0x6a736677736872ULL
#define WLOG_VERSION 1ULL

/* Limits the reader enforces on outside input (checked, never asserted). */
#define WLOG_MAX_SECTOR_SIZE (1u << 20)
#define WLOG_MAX_ENTRIES (1ULL << 26)

struct wlog_entry {
	uint64_t index;       /* 0-based position in the log */
	uint64_t sector;      /* first disk sector the request covers */
	uint64_t nr_sectors;  /* sectors covered; 0 for a flush */
	uint32_t flags;       /* WLOG_* */
	uint64_t data_offset; /* byte offset in the log file of the written data
	                         (nr_sectors * sector size bytes); 0 when it has
	                         none (a discard, a flush) */
	uint64_t data_len;    /* length of the private data after the header */
};

/* A write is an entry whose data lands on the disk (not a flush, mark or
 * discard; a discard is applied as zeroes by the builder). A durable point
 * is a flush or a FUA write: what completed before it is on the medium. */
static inline bool wlog_entry_is_write(const struct wlog_entry *e)
{
	return e->nr_sectors > 0 && !(e->flags & WLOG_MARK);
}
static inline bool wlog_entry_is_durable_point(const struct wlog_entry *e)
{
	return (e->flags & (WLOG_FLUSH | WLOG_FUA)) != 0;
}

struct wlog;

/* Open and check a log file. WLOG_OPEN_PARTIAL keeps the entries before the
 * first one that is cut short or malformed instead of failing (a log copied
 * while QEMU still ran); without it any such entry is an error. */
#define WLOG_OPEN_PARTIAL (1u << 0)
int wlog_open(const char *path, unsigned open_flags, struct wlog **out, char *why, size_t why_len);
/* The same over a buffer the caller keeps alive until wlog_close (fuzzing,
 * unit tests). */
int wlog_open_mem(const void *buf, size_t len, unsigned open_flags, struct wlog **out, char *why,
                  size_t why_len);
void wlog_close(struct wlog *w); /* accepts NULL */

uint32_t wlog_sector_size(const struct wlog *w);
uint64_t wlog_count(const struct wlog *w);
/* Entry index, or NULL when index >= wlog_count(). */
const struct wlog_entry *wlog_entry(const struct wlog *w, uint64_t index);
/* len bytes of an entry's written data from byte offset `offset` of it;
 * -ERANGE past its end, -EINVAL for an entry without data. */
int wlog_read(const struct wlog *w, const struct wlog_entry *e, uint64_t offset, void *buf,
              size_t len);
/* The index of the last durable point (flush or FUA) before entry `end`
 * (entries [0, end)), or -1 when there is none. */
int64_t wlog_last_durable(const struct wlog *w, uint64_t end);
/* Counts over entries [0, end): writes (wlog_entry_is_write) and flushes. */
void wlog_counts(const struct wlog *w, uint64_t end, uint64_t *writes, uint64_t *flushes);

/* The end (entries [0, end)) that stops right after the log's nth write
 * (1-based, wlog_entry_is_write); 0 when the log has fewer than n writes. */
uint64_t wlog_end_after_write(const struct wlog *w, uint64_t nth);

/* Follow a log while QEMU writes it: how many writes it holds so far. Each
 * poll reads the superblock (rewritten after every entry) and the headers
 * of the entries added since the last poll, never their data, so a poll
 * costs a few small reads however long the log grows. A file still empty
 * counts 0; a malformed one is an error with a sentence in why. */
struct wlog_tail {
	int fd;
	uint32_t sector_size;
	uint64_t entries; /* entries read so far */
	uint64_t writes;  /* of them, writes */
	uint64_t pos;     /* byte offset of the next entry */
};
int wlog_tail_open(struct wlog_tail *t, const char *path, char *why, size_t why_len);
int wlog_tail_poll(struct wlog_tail *t, uint64_t *writes, char *why, size_t why_len);
void wlog_tail_close(struct wlog_tail *t); /* idempotent; a zeroed tail with fd -1 is closed */

/* Writer: a new log at path (truncated), sector_size a power of two from 32
 * (a header must fit) to WLOG_MAX_SECTOR_SIZE. The superblock is rewritten
 * after every entry, as blklogwrites does with log-super-update-interval=1. */
struct wlog_writer;
int wlog_writer_open(const char *path, uint32_t sector_size, struct wlog_writer **out);
/* One entry: data holds nr_sectors * sector_size bytes (ignored and may be
 * NULL for a discard, a flush, or nr_sectors 0). */
int wlog_writer_add(struct wlog_writer *ww, uint64_t sector, uint64_t nr_sectors, uint32_t flags,
                    const void *data);
/* A mark entry carrying text (at most sector_size - 32 bytes). */
int wlog_writer_mark(struct wlog_writer *ww, const char *text);
/* Write the superblock, close; frees ww even on error. */
int wlog_writer_close(struct wlog_writer *ww);

/* What the part of a torn write past its tear holds (docs/power-loss.md):
 * the old data (a disk that writes sector by sector in place), or erased
 * bytes, zeros or 0xFF (a flash that erased the block before programming
 * it, seen through an FTL that reads erased as zeros, or raw). */
enum wlog_fill { WLOG_FILL_OLD, WLOG_FILL_ZERO, WLOG_FILL_FF };
/* "old", "zero", "ff"; parse returns -EINVAL otherwise. */
const char *wlog_fill_name(enum wlog_fill fill);
int wlog_fill_parse(const char *name, enum wlog_fill *out);

/* What reaches the disk after a power cut. */
struct wlog_pick {
	uint64_t prefix; /* entries [0, prefix) apply whole (normally up to
	                    and including the last durable point) */
	uint64_t *extra; /* then these entries, ascending, each >= prefix */
	size_t n_extra;
	uint64_t torn_sectors; /* > 0: the last of extra applies only its first
	                          torn_sectors sectors (fewer than it has) */
	bool torn;             /* the last of extra is torn at a byte: its first
	                          torn_bytes bytes are new, the rest of its range
	                          holds torn_fill (overrides torn_sectors) */
	uint64_t torn_bytes;
	enum wlog_fill torn_fill;
};
void wlog_pick_free(struct wlog_pick *pick); /* frees extra, zeroes the pick */

enum wlog_model {
	WLOG_MODEL_QUIT,   /* no log: what QEMU had written stays (not a pick) */
	WLOG_MODEL_NONE,   /* none of the writes after the last durable point */
	WLOG_MODEL_ALL,    /* all of them */
	WLOG_MODEL_STRICT, /* a seeded random subset of them (the default) */
	WLOG_MODEL_TORN,   /* that subset, its last write torn (at a sector, or
	                      finer: wlog_pick_model_tear) */
};
/* "quit", "none", "all", "strict", "torn"; parse returns -EINVAL otherwise. */
const char *wlog_model_name(enum wlog_model model);
int wlog_model_parse(const char *name, enum wlog_model *out);

/* What a power cut after entries [0, end) leaves under model (not QUIT),
 * with the random choices drawn from seed alone: the same log, end, model
 * and seed give the same pick on every host. */
int wlog_pick_model(const struct wlog *w, uint64_t end, enum wlog_model model, uint64_t seed,
                    struct wlog_pick *out);

/* The torn model's options: the tear falls at a multiple of tear_bytes (a
 * power of two from WLOG_TEAR_MIN to the log's sector size or more; 0: the
 * log's sector size), and the rest of the torn write holds fill. With fill
 * OLD the tear keeps 1..units-1 units of the write (a one-unit write cannot
 * tear); with an erased fill 0..units-1 (erased, nothing programmed yet, is a
 * state too). tear_bytes 0 (or the sector size) and OLD draw exactly what
 * wlog_pick_model() draws. Other models ignore both. */
#define WLOG_TEAR_MIN 16u
int wlog_pick_model_tear(const struct wlog *w, uint64_t end, enum wlog_model model, uint64_t seed,
                         uint32_t tear_bytes, enum wlog_fill fill, struct wlog_pick *out);

/* The k-th extra entry of a pick as it lands: its first *new_len bytes are
 * its data, bytes [*new_len, *len) hold *fill (OLD: left as they were). */
void wlog_pick_extent(const struct wlog *w, const struct wlog_pick *pick, size_t k,
                      uint64_t *new_len, uint64_t *len, enum wlog_fill *fill);

/* Apply a pick to the bytes [disk_off, disk_off + len) of a disk held in
 * buf (the base's bytes on entry): what the built disk holds there. For
 * tests and small checks; wlog_build_disk() makes whole disks. */
int wlog_pick_apply(const struct wlog *w, const struct wlog_pick *pick, uint64_t disk_off,
                    void *buf, size_t len);

/* What a pick kept and dropped, for the run's timeline. */
struct wlog_pick_stats {
	int64_t last_durable;    /* index of the last durable point kept, -1 none */
	uint64_t durable_writes; /* writes in the prefix */
	uint64_t pending;        /* writes after the last durable point (before end) */
	uint64_t kept;           /* of those, kept (the torn one included) */
	uint64_t dropped;        /* of those, dropped */
	int64_t torn_index;      /* the torn write, -1 none */
	uint64_t torn_sectors;   /* its whole sectors kept (torn at a sector) */
	uint64_t torn_bytes;     /* its bytes kept, of torn_len; the rest holds torn_fill */
	uint64_t torn_len;
	enum wlog_fill torn_fill;
};
void wlog_pick_stats(const struct wlog *w, uint64_t end, const struct wlog_pick *pick,
                     struct wlog_pick_stats *out);

/* Build the disk a pick leaves: a new qcow2 at out_path backed by base
 * (base_format "raw" or "qcow2"; the disk the log started from), holding the
 * pick's writes in log order (discards as zeroes). qemu_img names qemu-img
 * (its qemu-io beside it is used for the writes; NULL: both from PATH).
 * Made under a temporary name and renamed, so out_path is whole or absent.
 * Bounded by deadline_ns (CLOCK_MONOTONIC). */
int wlog_build_disk(const struct wlog *w, const struct wlog_pick *pick, const char *base,
                    const char *base_format, const char *out_path, const char *qemu_img,
                    int64_t deadline_ns, char *why, size_t why_len);

#endif
