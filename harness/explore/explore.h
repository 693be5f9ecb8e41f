/* harness/explore/explore.h — the crash-state explorer: from one recorded update
 * (its write log and the phase markers seen on the console), the disks a
 * power cut could have left, most informative first, each booted through
 * the oracle (docs/explore.md).
 *
 * A crash state is a selection of log entries applied to the base image:
 * every entry of a prefix [0, prefix) in log order, then the extra entries
 * in the order given (all at or past the prefix). Its text form, used on
 * the command line (--only) and in the journal:
 *
 *     1234            the first 1234 entries (a crash after entry 1233)
 *     1200+1203,1201  the first 1200, then entry 1203, then entry 1201
 *     1200+1202-1206  ranges count up
 *
 * The enumeration (explore_enumerate) is a pure function of the entries,
 * the phase marks and the options: the same recording and seed give the
 * same states in the same order. Objects returned here are owned by the
 * caller and freed with the matching _free function. */
#ifndef HILCTL_EXPLORE_H
#define HILCTL_EXPLORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Entry flags, as dm-log-writes writes them. */
#define XW_FLUSH 0x1u
#define XW_FUA 0x2u
#define XW_DISCARD 0x4u
#define XW_MARK 0x8u

/* One log entry as the enumeration sees it. A write's content is given as
 * one 64-bit hash per sector (hashes[0..nr_sectors)); NULL for flushes and
 * marks, and for discards (their sectors read as zeroes: hash of a zero
 * sector). */
struct xw_entry {
	uint64_t sector, nr_sectors;
	unsigned flags;
	const uint64_t *hashes;
};

/* A console phase marker and how many log entries existed when it was seen. */
struct xw_phase {
	uint64_t at;    /* entries logged when the marker was read */
	double t_s;     /* seconds since the recording started */
	char name[48];  /* the phase probe's (?<phase>) group, or "boot" */
	char line[160]; /* the marker line */
};

/* Why a state is in the list; also its rank in the order (lower first). */
enum xs_class {
	XS_PHASE,   /* at a phase change: the durable state, and the ordered crash at the marker */
	XS_FIRST,   /* the first write after a flush */
	XS_FLUSH,   /* every flush boundary (and the empty and the whole log) */
	XS_WRITE,   /* every other ordered crash point (a prefix) */
	XS_SUBSET,  /* some of one epoch's writes lost, later ones kept (small writes only, the
	               newer half, seeded random subsets) */
	XS_REORDER, /* two overlapping writes of one epoch applied in the other order */
	XS_ONLY,    /* given with --only and not in the enumeration */
	XS_CLASS_COUNT
};

struct xs_state {
	uint32_t prefix;
	uint32_t *extra; /* owned */
	uint32_t n_extra;
	uint32_t
	    at; /* the crash point: entries up to here were issued (prefix, or last extra + 1) */
	uint32_t epoch; /* flushes before the crash point */
	enum xs_class cls;
	int phase; /* index into the phase marks in force at the crash point, -1 none */
	uint64_t hash[2];
	long dup_of;   /* index of an earlier identical state in the order, -1 if distinct */
	bool at_phase; /* a variant of the epoch in flight at a phase change: ranks as XS_PHASE */
};

struct xs_opts {
	uint64_t seed;
	unsigned reorder; /* lossy variants per epoch (--reorder K), see explore_enum.c */
	/* --phase: keep only the states whose crash point lies in a flush
	 * epoch in flight at a marker of one of these phases (NULL-terminated;
	 * NULL: every state). */
	const char *const *phases;
	/* Content hash of a base-image sector, or NULL (then a write of the
	 * base's own bytes counts as a change). */
	uint64_t (*base_hash)(void *arg, uint64_t sector);
	void *base_arg;
};

struct xs_list {
	struct xs_state *s;
	size_t n;
	size_t distinct;  /* states with dup_of == -1 */
	size_t n_flushes; /* flush entries in the log */
	size_t n_writes;  /* write entries (discards included) */
	size_t n_epochs;
};

/* Enumerate, order and hash. 0 or -ENOMEM. Phases must be sorted by at. */
int explore_enumerate(const struct xw_entry *e, size_t n, const struct xw_phase *ph, size_t n_ph,
                      const struct xs_opts *o, struct xs_list *out);
void explore_list_free(struct xs_list *l);

/* The hash of one state (as explore_enumerate computes it), for a state
 * given on the command line. 0, -EINVAL (a bad selection) or -ENOMEM. */
int explore_state_hash(const struct xw_entry *e, size_t n, const struct xs_opts *o,
                       struct xs_state *st);
/* Fill at/epoch/phase of a state from its selection. */
void explore_state_place(const struct xw_entry *e, size_t n, const struct xw_phase *ph, size_t n_ph,
                         struct xs_state *st);

/* Selection text. format: 0 or -ENOSPC. parse: 0, or -EINVAL with a
 * message in why (entries past n, a repeated index, an extra before the
 * prefix, not a number). */
int explore_sel_format(const struct xs_state *st, char *buf, size_t size);
int explore_sel_parse(const char *text, uint64_t n, struct xs_state *st, char *why,
                      size_t why_size);

const char *explore_class_name(enum xs_class c);
/* 64-bit content hash of one sector's bytes. */
uint64_t explore_sector_hash(const void *data, size_t len);

#endif
