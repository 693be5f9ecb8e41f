/* harness/explore/explore_enum.c — which crash states one recorded update has, in
 * which order to boot them, and which of them are the same disk.
 *
 * Candidates: the disk at every flush boundary; at every phase change (the
 * durable state then, and the in-order crash at the marker); the first
 * write after each flush; every other in-order crash point; and per flush
 * epoch up to --reorder K seeded variants in which some of the epoch's
 * writes were lost while later ones landed, or two overlapping writes landed
 * in the other order. A volatile write cache may persist any subset of the
 * writes since the last flush, so these are disks a power cut can leave.
 *
 * A state's hash sums, over every sector it changed, a mix of the sector
 * number and the content hash of its bytes, minus the same for the base's
 * bytes there: two selections that leave byte-identical disks hash alike
 * (a rewrite of the same bytes, a write of what the base already held).
 * The sums are kept incrementally along the log, so hashing every prefix
 * costs one pass. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "harness/explore/explore.h"

#define SECTOR_BYTES 512

/* ---- hashing ---- */

static uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

uint64_t explore_sector_hash(const void *data, size_t len)
{
	const unsigned char *p = data;
	uint64_t h = 0x243f6a8885a308d3ULL ^ len;
	size_t i = 0;

	for (; i + 8 <= len; i += 8) {
		uint64_t w;
		memcpy(&w, p + i, 8);
		h = (h ^ mix64(w + i)) * 0x9e3779b97f4a7c15ULL;
		h ^= h >> 29;
	}
	for (; i < len; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	return mix64(h);
}

static uint64_t zero_sector_hash(void)
{
	static const unsigned char zero[SECTOR_BYTES];

	return explore_sector_hash(zero, sizeof(zero));
}

/* ---- sector → content hash, open addressing (key stored as sector + 1) ---- */

struct smap {
	uint64_t *key, *val;
	size_t cap, n;
};

static int smap_init(struct smap *m, size_t hint)
{
	size_t cap = 64;

	while (cap < hint * 2)
		cap *= 2;
	m->key = calloc(cap, sizeof(*m->key));
	m->val = calloc(cap, sizeof(*m->val));
	m->cap = cap;
	m->n = 0;
	return m->key && m->val ? 0 : -ENOMEM;
}

static void smap_free(struct smap *m)
{
	free(m->key);
	free(m->val);
	memset(m, 0, sizeof(*m));
}

static size_t smap_slot(const struct smap *m, uint64_t sector)
{
	size_t i = (size_t)mix64(sector) & (m->cap - 1);

	while (m->key[i] && m->key[i] != sector + 1)
		i = (i + 1) & (m->cap - 1);
	return i;
}

static bool smap_get(const struct smap *m, uint64_t sector, uint64_t *val)
{
	size_t i = smap_slot(m, sector);

	if (!m->key[i])
		return false;
	*val = m->val[i];
	return true;
}

static int smap_put(struct smap *m, uint64_t sector, uint64_t val)
{
	size_t i;

	if ((m->n + 1) * 2 > m->cap) {
		struct smap big;
		if (smap_init(&big, m->cap) < 0) {
			smap_free(&big);
			return -ENOMEM;
		}
		for (size_t j = 0; j < m->cap; j++)
			if (m->key[j])
				smap_put(&big, m->key[j] - 1, m->val[j]);
		smap_free(m);
		*m = big;
	}
	i = smap_slot(m, sector);
	if (!m->key[i]) {
		m->key[i] = sector + 1;
		m->n++;
	}
	m->val[i] = val;
	return 0;
}

static void smap_clear(struct smap *m)
{
	if (m->n) {
		memset(m->key, 0, m->cap * sizeof(*m->key));
		m->n = 0;
	}
}

/* The disk as the hashing sees it: current contents over the base. */
struct disk {
	struct smap cur, base;
	const struct xs_opts *o;
	uint64_t zero;
};

static int base_of(struct disk *d, uint64_t sector, uint64_t *out)
{
	if (smap_get(&d->base, sector, out))
		return 0;
	*out = d->o->base_hash ? d->o->base_hash(d->o->base_arg, sector)
	                       : mix64(sector ^ 0x6261736562617365ULL);
	return smap_put(&d->base, sector, *out);
}

static void contribution(uint64_t sector, uint64_t content, uint64_t out[2])
{
	out[0] = mix64(sector * 0x9e3779b97f4a7c15ULL ^ content);
	out[1] = mix64((sector + 0x632be59bd9b4e019ULL) ^ (content << 29 | content >> 35));
}

/* Apply entry e to the map m (the overlay when layered, else the disk's
 * own), keeping hash[] the sum of changes against the base. */
static int apply(struct disk *d, struct smap *m, bool layered, const struct xw_entry *e,
                 uint64_t hash[2])
{
	if (e->flags & (XW_FLUSH | XW_MARK) && !e->nr_sectors)
		return 0;
	for (uint64_t i = 0; i < e->nr_sectors; i++) {
		uint64_t s = e->sector + i, old, now, c_old[2], c_new[2];
		if (e->flags & XW_DISCARD || !e->hashes)
			now = d->zero;
		else
			now = e->hashes[i];
		if (!smap_get(m, s, &old) && !(layered && smap_get(&d->cur, s, &old)) &&
		    base_of(d, s, &old) < 0)
			return -ENOMEM;
		if (old == now)
			continue;
		contribution(s, old, c_old);
		contribution(s, now, c_new);
		hash[0] += c_new[0] - c_old[0];
		hash[1] += c_new[1] - c_old[1];
		if (smap_put(m, s, now) < 0)
			return -ENOMEM;
	}
	return 0;
}

/* ---- placing a state on the recording ---- */

void explore_state_place(const struct xw_entry *e, size_t n, const struct xw_phase *ph, size_t n_ph,
                         struct xs_state *st)
{
	uint32_t at = st->prefix;

	for (uint32_t i = 0; i < st->n_extra; i++)
		if (st->extra[i] + 1 > at)
			at = st->extra[i] + 1;
	st->at = at;
	st->epoch = 0;
	for (uint32_t i = 0; i < at && i < n; i++)
		st->epoch += !!(e[i].flags & XW_FLUSH);
	st->phase = -1;
	for (size_t i = 0; i < n_ph; i++)
		if (ph[i].at <= at)
			st->phase = (int)i;
}

const char *explore_class_name(enum xs_class c)
{
	static const char *const names[] = {"phase",  "first",   "flush", "write",
	                                    "subset", "reorder", "only"};

	return (unsigned)c < XS_CLASS_COUNT ? names[c] : "?";
}

/* ---- the candidates ---- */

struct builder {
	struct xs_list *l;
	size_t cap;
	unsigned char *have_prefix; /* prefix-only states already listed */
};

static int add(struct builder *b, enum xs_class cls, uint32_t prefix, const uint32_t *extra,
               uint32_t n_extra)
{
	struct xs_state *s;

	/* Canonical form: extras that continue the prefix in order join it. */
	while (n_extra && extra[0] == prefix) {
		prefix++;
		extra++;
		n_extra--;
	}
	if (!n_extra) {
		if (b->have_prefix[prefix])
			return 0;
		b->have_prefix[prefix] = 1;
	}
	if (b->l->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 256;
		struct xs_state *ns = realloc(b->l->s, cap * sizeof(*ns));
		if (!ns)
			return -ENOMEM;
		b->l->s = ns;
		b->cap = cap;
	}
	s = &b->l->s[b->l->n];
	memset(s, 0, sizeof(*s));
	s->cls = cls;
	s->prefix = prefix;
	s->dup_of = -1;
	if (n_extra) {
		s->extra = malloc(n_extra * sizeof(*s->extra));
		if (!s->extra)
			return -ENOMEM;
		memcpy(s->extra, extra, n_extra * sizeof(*extra));
		s->n_extra = n_extra;
	}
	b->l->n++;
	return 0;
}

static bool overlap(const struct xw_entry *a, const struct xw_entry *b)
{
	return a->sector < b->sector + b->nr_sectors && b->sector < a->sector + a->nr_sectors;
}

/* The variants of one flush epoch whose writes are ws[0..m), up to k of
 * them, in this order where they apply:
 *   small  only the epoch's small writes landed (metadata: FAT, directory,
 *          inode tables), its large ones (file data) did not: the cut a
 *          rename without fsync does not survive;
 *   newer  the newer half landed, the older half did not;
 *   swap   an older write landed after a newer one over the same sectors;
 *   then   seeded random subsets: a crash after write c with each earlier
 *          write kept with p = 1/2, at least one lost. */
enum variant { V_SMALL, V_NEWER, V_SWAP, V_RANDOM };

static uint32_t v_small(const struct xw_entry *e, const uint32_t *ws, uint32_t m, uint32_t *tmp)
{
	uint64_t big = 0;
	uint32_t n = 0;

	for (uint32_t i = 0; i < m; i++)
		if (e[ws[i]].nr_sectors > big)
			big = e[ws[i]].nr_sectors;
	for (uint32_t i = 0; i < m; i++)
		if (e[ws[i]].nr_sectors * 8 <= big && e[ws[i]].nr_sectors <= 256)
			tmp[n++] = ws[i];
	return n == m ? 0 : n; /* nothing large: not this variant */
}

static uint32_t v_swap(const struct xw_entry *e, const uint32_t *ws, uint32_t m, uint64_t *rng,
                       uint32_t *tmp)
{
	uint32_t first, n = 0;

	if (m > 4096)
		return 0;
	/* Pairs found by a seeded scan from a random start. */
	first = (uint32_t)(mix64((*rng)++) % m);
	for (uint32_t k = 0; k < m; k++) {
		uint32_t j = (first + k) % m;
		for (uint32_t i = 0; i < j; i++) {
			if (!overlap(&e[ws[i]], &e[ws[j]]))
				continue;
			for (uint32_t x = 0; x <= j; x++)
				if (x != i)
					tmp[n++] = ws[x];
			tmp[n++] = ws[i];
			return n;
		}
	}
	return 0;
}

static uint32_t v_random(const uint32_t *ws, uint32_t m, uint64_t *rng, uint32_t *tmp)
{
	uint32_t c = 1 + (uint32_t)(mix64((*rng)++) % (m - 1)), n = 0;
	uint32_t lost = (uint32_t)(mix64((*rng)++) % c);

	for (uint32_t x = 0; x < c; x++)
		if (x != lost && (mix64((*rng)++) & 1))
			tmp[n++] = ws[x];
	tmp[n++] = ws[c];
	return n;
}

static int epoch_variants(struct builder *b, const struct xw_entry *e, uint32_t start,
                          const uint32_t *ws, uint32_t m, unsigned k, uint64_t *rng, uint32_t *tmp,
                          bool at_phase)
{
	unsigned made = 0, tries = 0;

	for (enum variant v = V_SMALL; made < k && m >= 2 && tries < 4 * k + 8; tries++) {
		uint32_t n = 0;
		switch (v) {
		case V_SMALL:
			n = v_small(e, ws, m, tmp);
			break;
		case V_NEWER:
			for (uint32_t x = m / 2; x < m; x++)
				tmp[n++] = ws[x];
			break;
		case V_SWAP:
			n = v_swap(e, ws, m, rng, tmp);
			break;
		case V_RANDOM:
			n = v_random(ws, m, rng, tmp);
			break;
		}
		if (n) {
			int rc = add(b, v == V_SWAP ? XS_REORDER : XS_SUBSET, start, tmp, n);
			if (rc < 0)
				return rc;
			if (at_phase)
				b->l->s[b->l->n - 1].at_phase = true;
			made++;
		}
		if (v != V_RANDOM)
			v++;
	}
	return 0;
}

static int candidates(struct builder *b, const struct xw_entry *e, size_t n,
                      const struct xw_phase *ph, size_t n_ph, const struct xs_opts *o)
{
	uint32_t *bound = malloc((n + 2) * sizeof(*bound)), nb = 0;
	uint32_t *ws = malloc((n + 1) * sizeof(*ws)), *tmp = malloc((n + 1) * sizeof(*tmp));
	int rc = -ENOMEM;

	if (!bound || !ws || !tmp)
		goto out;
	bound[nb++] = 0;
	for (uint32_t i = 0; i < n; i++)
		if (e[i].flags & XW_FLUSH)
			bound[nb++] = i + 1;
	if (bound[nb - 1] != n)
		bound[nb++] = (uint32_t)n;
	/* Phase changes: the durable state at the marker, and the crash right there. */
	for (size_t i = 0; i < n_ph; i++) {
		uint32_t at = ph[i].at < n ? (uint32_t)ph[i].at : (uint32_t)n, dur = 0;
		if (i && !strcmp(ph[i].name, ph[i - 1].name))
			continue;
		for (uint32_t k = 0; k < nb && bound[k] <= at; k++)
			dur = bound[k];
		if ((rc = add(b, XS_PHASE, dur, NULL, 0)) < 0 ||
		    (rc = add(b, XS_PHASE, at, NULL, 0)) < 0)
			goto out;
	}
	for (uint32_t k = 0; k < nb; k++)
		if (bound[k] < n && !(e[bound[k]].flags & XW_FLUSH) &&
		    (rc = add(b, XS_FIRST, bound[k] + 1, NULL, 0)) < 0)
			goto out;
	for (uint32_t k = 0; k < nb; k++)
		if ((rc = add(b, XS_FLUSH, bound[k], NULL, 0)) < 0)
			goto out;
	for (uint32_t p = 0; p <= n; p++)
		if ((rc = add(b, XS_WRITE, p, NULL, 0)) < 0)
			goto out;
	for (uint32_t k = 0; k + 1 < nb; k++) {
		uint32_t m = 0;
		uint64_t rng = o->seed ^ mix64(0x45504f4348ULL + k);
		bool at_phase = false;
		for (uint32_t i = bound[k]; i < bound[k + 1]; i++)
			if (!(e[i].flags & (XW_FLUSH | XW_MARK)))
				ws[m++] = i;
		/* An epoch in flight at a phase change: its lossy variants
		 * rank with the phase states. */
		for (size_t i = 0; i < n_ph; i++)
			at_phase |= (!i || strcmp(ph[i].name, ph[i - 1].name)) &&
			            ph[i].at >= bound[k] && ph[i].at < bound[k + 1];
		if ((rc = epoch_variants(b, e, bound[k], ws, m, o->reorder, &rng, tmp, at_phase)) <
		    0)
			goto out;
	}
	b->l->n_epochs = nb > 1 ? nb - 1 : 1;
	rc = 0;
out:
	free(bound);
	free(ws);
	free(tmp);
	return rc;
}

/* ---- order: classes by rank, each spread over the recording ---- */

static int rank(const struct xs_state *s)
{
	if (s->at_phase)
		return XS_PHASE;
	return s->cls >= XS_WRITE ? XS_WRITE : (int)s->cls;
}

static uint32_t bit_reverse(uint32_t x, unsigned bits)
{
	uint32_t r = 0;

	for (unsigned i = 0; i < bits; i++, x >>= 1)
		r = r << 1 | (x & 1);
	return r;
}

struct sort_key {
	int rank;
	uint32_t at, spread;
	size_t index;
};

static int cmp_at(const void *pa, const void *pb)
{
	const struct sort_key *a = pa, *b = pb;

	if (a->rank != b->rank)
		return a->rank - b->rank;
	if (a->at != b->at)
		return a->at < b->at ? -1 : 1;
	return a->index < b->index ? -1 : a->index > b->index;
}

static int cmp_spread(const void *pa, const void *pb)
{
	const struct sort_key *a = pa, *b = pb;

	if (a->rank != b->rank)
		return a->rank - b->rank;
	if (a->spread != b->spread)
		return a->spread < b->spread ? -1 : 1;
	return a->index < b->index ? -1 : a->index > b->index;
}

/* Within a rank, the van der Corput order of positions along the
 * recording: any first k states of a rank are spread over all of it. */
static int order(struct xs_list *l)
{
	struct sort_key *k = calloc(l->n + 1, sizeof(*k));
	struct xs_state *sorted = malloc((l->n + 1) * sizeof(*sorted));

	if (!k || !sorted) {
		free(k);
		free(sorted);
		return -ENOMEM;
	}
	for (size_t i = 0; i < l->n; i++)
		k[i] = (struct sort_key){rank(&l->s[i]), l->s[i].at, 0, i};
	qsort(k, l->n, sizeof(*k), cmp_at);
	for (size_t i = 0, j; i < l->n; i = j) {
		unsigned bits = 0;
		for (j = i; j < l->n && k[j].rank == k[i].rank; j++)
			;
		while ((1ULL << bits) < j - i)
			bits++;
		/* Positions bit-reversed: gaps in a non-power-of-two count sort last. */
		for (size_t x = i; x < j; x++)
			k[x].spread = bit_reverse((uint32_t)(x - i), bits);
	}
	qsort(k, l->n, sizeof(*k), cmp_spread);
	for (size_t i = 0; i < l->n; i++)
		sorted[i] = l->s[k[i].index];
	free(l->s);
	l->s = sorted;
	free(k);
	return 0;
}

/* ---- hashing every state in one pass along the log ---- */

static int disk_init(struct disk *d, const struct xs_opts *o)
{
	memset(d, 0, sizeof(*d));
	d->o = o;
	d->zero = zero_sector_hash();
	return smap_init(&d->cur, 1024) < 0 || smap_init(&d->base, 1024) < 0 ? -ENOMEM : 0;
}

static void disk_free(struct disk *d)
{
	smap_free(&d->cur);
	smap_free(&d->base);
}

static int layered_hash(struct disk *d, struct smap *over, const struct xw_entry *e,
                        const struct xs_state *st, const uint64_t at_prefix[2], uint64_t out[2])
{
	out[0] = at_prefix[0];
	out[1] = at_prefix[1];
	smap_clear(over);
	for (uint32_t i = 0; i < st->n_extra; i++)
		if (apply(d, over, true, &e[st->extra[i]], out) < 0)
			return -ENOMEM;
	return 0;
}

static int cmp_prefix(const void *pa, const void *pb, void *arg)
{
	const struct xs_state *s = arg;
	size_t a = *(const size_t *)pa, b = *(const size_t *)pb;

	if (s[a].prefix != s[b].prefix)
		return s[a].prefix < s[b].prefix ? -1 : 1;
	return a < b ? -1 : a > b;
}

static int hash_all(const struct xw_entry *e, size_t n, const struct xs_opts *o, struct xs_list *l)
{
	size_t *idx = malloc((l->n + 1) * sizeof(*idx)), k = 0;
	struct disk d;
	struct smap over;
	uint64_t h[2] = {0, 0};
	int rc = disk_init(&d, o);

	if (rc == 0)
		rc = smap_init(&over, 256);
	if (rc < 0 || !idx) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < l->n; i++)
		idx[i] = i;
	qsort_r(idx, l->n, sizeof(*idx), cmp_prefix, l->s);
	for (size_t p = 0; p <= n; p++) {
		for (; k < l->n && l->s[idx[k]].prefix == p; k++) {
			struct xs_state *st = &l->s[idx[k]];
			if (!st->n_extra) {
				st->hash[0] = h[0];
				st->hash[1] = h[1];
			} else if ((rc = layered_hash(&d, &over, e, st, h, st->hash)) < 0) {
				goto out;
			}
		}
		if (p < n && (rc = apply(&d, &d.cur, false, &e[p], h)) < 0)
			goto out;
	}
	rc = 0;
out:
	free(idx);
	smap_free(&over);
	disk_free(&d);
	return rc;
}

struct hash_key {
	uint64_t h0, h1;
	size_t index;
};

static int cmp_hash(const void *pa, const void *pb)
{
	const struct hash_key *a = pa, *b = pb;

	if (a->h0 != b->h0)
		return a->h0 < b->h0 ? -1 : 1;
	if (a->h1 != b->h1)
		return a->h1 < b->h1 ? -1 : 1;
	return a->index < b->index ? -1 : a->index > b->index;
}

/* The first state of the order keeps its place; later identical ones point at it. */
static int dedupe(struct xs_list *l)
{
	struct hash_key *k = malloc((l->n + 1) * sizeof(*k));

	if (!k)
		return -ENOMEM;
	for (size_t i = 0; i < l->n; i++)
		k[i] = (struct hash_key){l->s[i].hash[0], l->s[i].hash[1], i};
	qsort(k, l->n, sizeof(*k), cmp_hash);
	l->distinct = 0;
	for (size_t i = 0, first = 0; i < l->n; i++) {
		if (i == 0 || k[i].h0 != k[first].h0 || k[i].h1 != k[first].h1) {
			first = i;
			l->s[k[i].index].dup_of = -1;
			l->distinct++;
		} else {
			l->s[k[i].index].dup_of = (long)k[first].index;
		}
	}
	free(k);
	return 0;
}

/* ---- --phase: the epochs in flight at some markers ---- */

static bool named(const char *const *names, const char *name)
{
	for (size_t i = 0; names[i]; i++)
		if (!strcmp(names[i], name))
			return true;
	return false;
}

/* Keep the states whose epoch (flushes before the crash point) is that of
 * a marker of one of the phases (flushes before the marker was read). */
static int keep_phases(const struct xw_entry *e, size_t n, const struct xw_phase *ph, size_t n_ph,
                       const char *const *names, struct xs_list *l)
{
	unsigned char *want = calloc(n + 2, 1);
	size_t kept = 0;

	if (!want)
		return -ENOMEM;
	for (size_t k = 0; k < n_ph; k++) {
		uint32_t epoch = 0;
		if (!named(names, ph[k].name))
			continue;
		for (uint64_t i = 0; i < ph[k].at && i < n; i++)
			epoch += !!(e[i].flags & XW_FLUSH);
		want[epoch] = 1;
	}
	for (size_t i = 0; i < l->n; i++) {
		if (l->s[i].epoch <= n + 1 && want[l->s[i].epoch])
			l->s[kept++] = l->s[i];
		else
			free(l->s[i].extra);
	}
	l->n = kept;
	free(want);
	return 0;
}

int explore_enumerate(const struct xw_entry *e, size_t n, const struct xw_phase *ph, size_t n_ph,
                      const struct xs_opts *o, struct xs_list *out)
{
	struct builder b = {.l = out};
	int rc;

	memset(out, 0, sizeof(*out));
	if (n >= UINT32_MAX - 1)
		return -E2BIG;
	b.have_prefix = calloc(n + 1, 1);
	if (!b.have_prefix)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if (e[i].flags & XW_FLUSH)
			out->n_flushes++;
		else if (!(e[i].flags & XW_MARK))
			out->n_writes++;
	}
	rc = candidates(&b, e, n, ph, n_ph, o);
	free(b.have_prefix);
	for (size_t i = 0; rc == 0 && i < out->n; i++)
		explore_state_place(e, n, ph, n_ph, &out->s[i]);
	if (rc == 0 && o->phases)
		rc = keep_phases(e, n, ph, n_ph, o->phases, out);
	if (rc == 0)
		rc = order(out);
	if (rc == 0)
		rc = hash_all(e, n, o, out);
	if (rc == 0)
		rc = dedupe(out);
	if (rc < 0)
		explore_list_free(out);
	return rc;
}

void explore_list_free(struct xs_list *l)
{
	for (size_t i = 0; l->s && i < l->n; i++)
		free(l->s[i].extra);
	free(l->s);
	memset(l, 0, sizeof(*l));
}

int explore_state_hash(const struct xw_entry *e, size_t n, const struct xs_opts *o,
                       struct xs_state *st)
{
	struct xs_list one = {.s = st, .n = 1};

	if (st->prefix > n)
		return -EINVAL;
	for (uint32_t i = 0; i < st->n_extra; i++)
		if (st->extra[i] >= n || st->extra[i] < st->prefix)
			return -EINVAL;
	return hash_all(e, n, o, &one);
}
