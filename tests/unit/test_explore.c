/* tests/unit/test_explore.c — the crash-state enumeration on crafted logs:
 * every flush boundary listed, the order (phase changes, first writes after
 * flushes, flush boundaries, the rest spread over the log), dedupe of
 * byte-identical disks, seeded subsets and reorderings, and the selection
 * text. No QEMU: entries carry per-sector content hashes directly. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness/explore/explore.h"

#define MAXS 64

/* A crafted log: "w S N C" writes N sectors at S with content C (sector i
 * gets C + i), "f" a flush, "d S N" a discard. */
struct log {
	struct xw_entry e[256];
	uint64_t h[256][MAXS];
	size_t n;
};

static void w(struct log *l, uint64_t sector, uint64_t count, uint64_t content)
{
	assert_true(count <= MAXS && l->n < 256);
	for (uint64_t i = 0; i < count; i++)
		l->h[l->n][i] = content + i;
	l->e[l->n] = (struct xw_entry){sector, count, 0, l->h[l->n]};
	l->n++;
}

static void f(struct log *l)
{
	l->e[l->n++] = (struct xw_entry){0, 0, XW_FLUSH, NULL};
}

static const struct xs_state *find_prefix(const struct xs_list *sl, uint32_t prefix)
{
	for (size_t i = 0; i < sl->n; i++)
		if (sl->s[i].prefix == prefix && !sl->s[i].n_extra)
			return &sl->s[i];
	return NULL;
}

static size_t pos_prefix(const struct xs_list *sl, uint32_t prefix)
{
	return (size_t)(find_prefix(sl, prefix) - sl->s);
}

/* w0 w1 F w3 w4 F w6 : 7 entries, flushes at 2 and 5 */
static void small_log(struct log *l)
{
	memset(l, 0, sizeof(*l));
	w(l, 0, 8, 100);  /* 0 */
	w(l, 8, 8, 200);  /* 1 */
	f(l);             /* 2 */
	w(l, 16, 8, 300); /* 3 */
	w(l, 8, 8, 400);  /* 4: over entry 1 */
	f(l);             /* 5 */
	w(l, 0, 8, 100);  /* 6: the same bytes as entry 0 */
}

static void test_every_flush_boundary_is_listed(void **state)
{
	struct log l;
	struct xs_list sl;
	struct xs_opts o = {.seed = 1, .reorder = 2};

	small_log(&l);
	assert_int_equal(explore_enumerate(l.e, l.n, NULL, 0, &o, &sl), 0);
	assert_int_equal(sl.n_flushes, 2);
	assert_int_equal(sl.n_writes, 5);
	assert_int_equal(sl.n_epochs, 3);
	/* empty, after each flush, the whole log */
	assert_non_null(find_prefix(&sl, 0));
	assert_non_null(find_prefix(&sl, 3));
	assert_non_null(find_prefix(&sl, 6));
	assert_non_null(find_prefix(&sl, 7));
	assert_int_equal(find_prefix(&sl, 3)->cls, XS_FLUSH);
	assert_int_equal(find_prefix(&sl, 3)->epoch, 1);
	assert_int_equal(find_prefix(&sl, 6)->epoch, 2);
	/* every in-order crash point is there once */
	for (uint32_t p = 0; p <= 7; p++) {
		size_t count = 0;
		for (size_t i = 0; i < sl.n; i++)
			count += sl.s[i].prefix == p && !sl.s[i].n_extra;
		assert_int_equal(count, 1);
	}
	explore_list_free(&sl);
}

static void test_rewrite_of_same_bytes_is_a_duplicate(void **state)
{
	struct log l;
	struct xs_list sl;
	struct xs_opts o = {.seed = 1};

	small_log(&l);
	assert_int_equal(explore_enumerate(l.e, l.n, NULL, 0, &o, &sl), 0);
	/* entry 6 writes what entry 0 wrote there: prefix 7 is the disk of prefix 6 */
	const struct xs_state *p6 = find_prefix(&sl, 6), *p7 = find_prefix(&sl, 7);
	assert_memory_equal(p6->hash, p7->hash, sizeof(p6->hash));
	assert_true((p7->dup_of == -1) != (p6->dup_of == -1));
	/* the flush entries change nothing: prefix 2 = prefix 3 */
	assert_memory_equal(find_prefix(&sl, 2)->hash, find_prefix(&sl, 3)->hash, 16);
	/* and different disks differ */
	assert_memory_not_equal(find_prefix(&sl, 1)->hash, find_prefix(&sl, 2)->hash, 16);
	size_t distinct = 0;
	for (size_t i = 0; i < sl.n; i++)
		distinct += sl.s[i].dup_of == -1;
	assert_int_equal(distinct, sl.distinct);
	for (size_t i = 0; i < sl.n; i++)
		if (sl.s[i].dup_of >= 0) {
			/* the kept one comes first in the order */
			assert_true((size_t)sl.s[i].dup_of < i);
			assert_memory_equal(sl.s[sl.s[i].dup_of].hash, sl.s[i].hash, 16);
		}
	assert_int_equal(find_prefix(&sl, 0)->hash[0], 0); /* the base itself */
	explore_list_free(&sl);
}

static uint64_t base_is_content_7(void *arg, uint64_t sector)
{
	(void)arg;
	return sector == 40 ? 7 : 1000000 + sector;
}

static void test_write_of_the_base_bytes_is_the_base(void **state)
{
	struct log l;
	struct xs_list sl;
	struct xs_opts o = {.seed = 1, .base_hash = base_is_content_7};

	memset(&l, 0, sizeof(l));
	w(&l, 40, 1, 7); /* the base's own bytes */
	f(&l);
	assert_int_equal(explore_enumerate(l.e, l.n, NULL, 0, &o, &sl), 0);
	assert_memory_equal(find_prefix(&sl, 0)->hash, find_prefix(&sl, 1)->hash, 16);
	assert_int_equal(sl.distinct, 1);
	explore_list_free(&sl);
}

static void test_order_phase_first_flush_then_rest(void **state)
{
	struct log l;
	struct xs_list sl;
	struct xs_opts o = {.seed = 3, .reorder = 2};
	struct xw_phase ph[3] = {
	    {.at = 1, .name = "download"},
	    {.at = 1, .name = "download"}, /* the same phase again: no new boundary */
	    {.at = 4, .name = "flip"},
	};

	small_log(&l);
	assert_int_equal(explore_enumerate(l.e, l.n, ph, 3, &o, &sl), 0);
	/* phase changes: download at 1 (durable 0, crash 1), flip at 4 (durable 3, crash 4),
	 * with the lossy variants of the epochs in flight then */
	assert_int_equal(sl.s[0].cls == XS_PHASE || sl.s[0].at_phase, 1);
	size_t n_rank0 = 0, n_phase = 0, n_variant = 0;
	while (n_rank0 < sl.n && (sl.s[n_rank0].cls == XS_PHASE || sl.s[n_rank0].at_phase)) {
		n_phase += sl.s[n_rank0].cls == XS_PHASE;
		n_variant += sl.s[n_rank0].at_phase;
		n_rank0++;
	}
	assert_int_equal(n_phase, 4);
	assert_true(n_variant >= 2);
	for (size_t i = n_rank0; i < sl.n; i++)
		assert_false(sl.s[i].cls == XS_PHASE || sl.s[i].at_phase);
	assert_true(pos_prefix(&sl, 0) < n_rank0 && pos_prefix(&sl, 1) < n_rank0);
	assert_true(pos_prefix(&sl, 3) < n_rank0 && pos_prefix(&sl, 4) < n_rank0);
	/* "the newer half landed" of the flip's epoch (entries 3, 4): 3+4 */
	bool newer = false;
	for (size_t i = 0; i < n_rank0; i++)
		newer |= sl.s[i].prefix == 3 && sl.s[i].n_extra == 1 && sl.s[i].extra[0] == 4;
	assert_true(newer);
	/* first writes after a flush next (prefix 1 already listed as a phase) */
	assert_int_equal(find_prefix(&sl, 7)->cls, XS_FIRST);
	assert_true(pos_prefix(&sl, 7) < pos_prefix(&sl, 6));
	/* then the remaining flush boundaries, then the rest */
	assert_int_equal(find_prefix(&sl, 6)->cls, XS_FLUSH);
	for (size_t i = 1; i < sl.n; i++) {
		int r0 = sl.s[i - 1].at_phase          ? 0
		         : sl.s[i - 1].cls >= XS_WRITE ? XS_WRITE
		                                       : (int)sl.s[i - 1].cls;
		int r1 = sl.s[i].at_phase          ? 0
		         : sl.s[i].cls >= XS_WRITE ? XS_WRITE
		                                   : (int)sl.s[i].cls;
		assert_true(r0 <= r1);
	}
	/* the phase of a state is the last marker at or before its crash point */
	assert_int_equal(find_prefix(&sl, 0)->phase, -1);
	assert_string_equal(ph[find_prefix(&sl, 2)->phase].name, "download");
	assert_string_equal(ph[find_prefix(&sl, 5)->phase].name, "flip");
	explore_list_free(&sl);
}

/* --phase flip: only the states of the flush epoch in flight at the flip
 * marker (entries 3..5 of the small log), dedupe and order as usual. */
static void test_phase_keeps_the_epoch_in_flight_at_its_marker(void **state)
{
	struct log l;
	struct xs_list all, sl;
	const char *const flip[] = {"flip", NULL}, *const both[] = {"flip", "download", NULL};
	struct xs_opts o = {.seed = 3, .reorder = 2, .phases = flip};
	struct xw_phase ph[2] = {{.at = 1, .name = "download"}, {.at = 4, .name = "flip"}};
	size_t in_epoch1 = 0;

	small_log(&l);
	assert_int_equal(
	    explore_enumerate(l.e, l.n, ph, 2, &(struct xs_opts){.seed = 3, .reorder = 2}, &all),
	    0);
	assert_int_equal(explore_enumerate(l.e, l.n, ph, 2, &o, &sl), 0);
	for (size_t i = 0; i < all.n; i++)
		in_epoch1 += all.s[i].epoch == 1;
	assert_int_equal(sl.n, in_epoch1);
	assert_true(sl.n >= 4 && sl.n < all.n);
	for (size_t i = 0; i < sl.n; i++)
		assert_int_equal(sl.s[i].epoch, 1);
	/* the durable state at the flip (3), every crash point up to the flush
	 * (4, 5), and the epoch's lossy variant (3+4) */
	assert_non_null(find_prefix(&sl, 3));
	assert_non_null(find_prefix(&sl, 4));
	assert_non_null(find_prefix(&sl, 5));
	assert_null(find_prefix(&sl, 2));
	assert_null(find_prefix(&sl, 6));
	assert_true(sl.s[0].cls == XS_PHASE || sl.s[0].at_phase);
	assert_int_equal(sl.distinct <= sl.n && sl.distinct >= 3, 1);
	explore_list_free(&sl);
	/* two phases: both epochs */
	o.phases = both;
	assert_int_equal(explore_enumerate(l.e, l.n, ph, 2, &o, &sl), 0);
	for (size_t i = 0; i < sl.n; i++)
		assert_true(sl.s[i].epoch == 0 || sl.s[i].epoch == 1);
	assert_non_null(find_prefix(&sl, 1));
	assert_non_null(find_prefix(&sl, 4));
	explore_list_free(&sl);
	explore_list_free(&all);
}

static void test_rest_is_spread_over_the_log(void **state)
{
	struct log l;
	struct xs_list sl;
	struct xs_opts o = {.seed = 1};

	memset(&l, 0, sizeof(l));
	for (int i = 0; i < 64; i++)
		w(&l, (uint64_t)i * 8, 8, 1000 + (uint64_t)i * 16);
	f(&l);
	assert_int_equal(explore_enumerate(l.e, l.n, NULL, 0, &o, &sl), 0);
	/* one epoch: first write, flush boundaries 0 and 65, then 63 more */
	size_t i = 0;
	while (sl.s[i].cls != XS_WRITE)
		i++;
	/* the first four of the rest cover all four quarters of the log */
	int quarter[4] = {0};
	for (size_t k = i; k < i + 4; k++)
		quarter[sl.s[k].at * 4 / 66]++;
	assert_int_equal(quarter[0] + quarter[1] + quarter[2] + quarter[3], 4);
	assert_true(quarter[0] == 1 && quarter[1] == 1 && quarter[2] == 1 && quarter[3] == 1);
	explore_list_free(&sl);
}

static bool same_lists(const struct xs_list *a, const struct xs_list *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++) {
		if (a->s[i].prefix != b->s[i].prefix || a->s[i].n_extra != b->s[i].n_extra ||
		    (a->s[i].n_extra &&
		     memcmp(a->s[i].extra, b->s[i].extra, a->s[i].n_extra * sizeof(uint32_t))))
			return false;
	}
	return true;
}

static void test_subsets_are_seeded_and_bounded(void **state)
{
	struct log l;
	struct xs_list a, b, c, none;
	struct xs_opts o = {.seed = 11, .reorder = 4};

	memset(&l, 0, sizeof(l));
	for (int i = 0; i < 20; i++)
		w(&l, (uint64_t)(i % 7) * 8, 8, 5000 + (uint64_t)i * 64);
	f(&l);
	for (int i = 0; i < 10; i++)
		w(&l, 200 + (uint64_t)i * 8, 8, 9000 + (uint64_t)i * 64);
	f(&l);
	assert_int_equal(explore_enumerate(l.e, l.n, NULL, 0, &o, &a), 0);
	assert_int_equal(explore_enumerate(l.e, l.n, NULL, 0, &o, &b), 0);
	assert_true(same_lists(&a, &b));
	o.seed = 12;
	assert_int_equal(explore_enumerate(l.e, l.n, NULL, 0, &o, &c), 0);
	assert_false(same_lists(&a, &c));
	o.reorder = 0;
	assert_int_equal(explore_enumerate(l.e, l.n, NULL, 0, &o, &none), 0);
	/* K per epoch with writes: 2 epochs × 4 (a state may fold into a prefix) */
	size_t extra = 0, subsets = 0, reorders = 0;
	for (size_t i = 0; i < a.n; i++) {
		extra += a.s[i].cls >= XS_SUBSET;
		subsets += a.s[i].cls == XS_SUBSET;
		reorders += a.s[i].cls == XS_REORDER;
	}
	assert_true(extra <= 8 && extra >= 6);
	assert_true(subsets >= 1);
	assert_true(reorders >= 1); /* epoch 0 rewrites sectors */
	assert_int_equal(a.n - extra, none.n);
	for (size_t i = 0; i < a.n; i++) {
		const struct xs_state *s = &a.s[i];
		if (s->cls < XS_SUBSET)
			continue;
		/* a subset stays inside one epoch, past its flush, and loses something */
		assert_true(s->n_extra >= 1);
		assert_true(s->prefix == 0 || s->prefix == 21 || s->prefix > 0);
		for (uint32_t k = 0; k < s->n_extra; k++) {
			assert_true(s->extra[k] >= s->prefix);
			assert_false(l.e[s->extra[k]].flags & XW_FLUSH);
			assert_true((s->extra[k] < 20) == (s->prefix < 20));
		}
		if (s->cls == XS_REORDER) {
			/* the last one applied overlaps an earlier-applied newer write */
			uint32_t last = s->extra[s->n_extra - 1];
			bool later_newer = false;
			for (uint32_t k = 0; k + 1 < s->n_extra; k++)
				later_newer |= s->extra[k] > last &&
				               l.e[s->extra[k]].sector == l.e[last].sector;
			assert_true(later_newer);
		}
	}
	explore_list_free(&a);
	explore_list_free(&b);
	explore_list_free(&c);
	explore_list_free(&none);
}

static void test_small_writes_variant_loses_the_data(void **state)
{
	struct log l;
	struct xs_list sl;
	struct xs_opts o = {.seed = 1, .reorder = 1};

	/* a rename without fsync: file data (large) then FAT and directory
	 * (small) in one epoch, the flush only after all of them */
	memset(&l, 0, sizeof(l));
	f(&l);
	w(&l, 1000, 64, 10); /* 1: data */
	w(&l, 2000, 64, 20); /* 2: data */
	w(&l, 8, 1, 30);     /* 3: FAT */
	w(&l, 16, 2, 40);    /* 4: directory */
	f(&l);
	assert_int_equal(explore_enumerate(l.e, l.n, NULL, 0, &o, &sl), 0);
	bool found = false;
	for (size_t i = 0; i < sl.n; i++)
		found |= sl.s[i].cls == XS_SUBSET && sl.s[i].prefix == 1 && sl.s[i].n_extra == 2 &&
		         sl.s[i].extra[0] == 3 && sl.s[i].extra[1] == 4;
	assert_true(found);
	explore_list_free(&sl);
}

static void test_state_hash_matches_the_enumeration(void **state)
{
	struct log l;
	struct xs_list sl;
	struct xs_opts o = {.seed = 5, .reorder = 3};
	char text[256], why[200];

	small_log(&l);
	assert_int_equal(explore_enumerate(l.e, l.n, NULL, 0, &o, &sl), 0);
	for (size_t i = 0; i < sl.n; i++) {
		struct xs_state st;
		assert_int_equal(explore_sel_format(&sl.s[i], text, sizeof(text)), 0);
		assert_int_equal(explore_sel_parse(text, l.n, &st, why, sizeof(why)), 0);
		assert_int_equal(explore_state_hash(l.e, l.n, &o, &st), 0);
		assert_memory_equal(st.hash, sl.s[i].hash, sizeof(st.hash));
		free(st.extra);
	}
	explore_list_free(&sl);
}

static void test_reordered_overlap_differs_from_in_order(void **state)
{
	struct log l;
	struct xs_opts o = {.seed = 1};
	struct xs_state in_order, swapped;
	char why[100];

	small_log(&l);
	/* entries 3 and 4 after the first flush; 4 overwrites sector 8.. of entry 1 */
	assert_int_equal(explore_sel_parse("3+3,4", l.n, &in_order, why, sizeof(why)), 0);
	assert_int_equal(explore_sel_parse("3+4,3", l.n, &swapped, why, sizeof(why)), 0);
	assert_int_equal(explore_state_hash(l.e, l.n, &o, &in_order), 0);
	assert_int_equal(explore_state_hash(l.e, l.n, &o, &swapped), 0);
	/* disjoint writes: order does not matter */
	assert_memory_equal(in_order.hash, swapped.hash, 16);
	free(in_order.extra);
	free(swapped.extra);
	/* overlapping ones: it does */
	w(&l, 16, 8, 777); /* 7: over entry 3 */
	assert_int_equal(explore_sel_parse("3+3,7", l.n, &in_order, why, sizeof(why)), 0);
	assert_int_equal(explore_sel_parse("3+7,3", l.n, &swapped, why, sizeof(why)), 0);
	assert_int_equal(explore_state_hash(l.e, l.n, &o, &in_order), 0);
	assert_int_equal(explore_state_hash(l.e, l.n, &o, &swapped), 0);
	assert_memory_not_equal(in_order.hash, swapped.hash, 16);
	free(in_order.extra);
	free(swapped.extra);
}

static void test_selection_text_round_trips(void **state)
{
	struct xs_state st;
	char text[64], why[200];

	assert_int_equal(explore_sel_parse("1234", 2000, &st, why, sizeof(why)), 0);
	assert_int_equal(st.prefix, 1234);
	assert_int_equal(st.n_extra, 0);
	assert_int_equal(explore_sel_format(&st, text, sizeof(text)), 0);
	assert_string_equal(text, "1234");
	assert_int_equal(explore_sel_parse("1200+1203,1201,1205-1208", 2000, &st, why, sizeof(why)),
	                 0);
	assert_int_equal(st.n_extra, 6);
	assert_int_equal(st.extra[0], 1203);
	assert_int_equal(st.extra[1], 1201);
	assert_int_equal(st.extra[5], 1208);
	assert_int_equal(explore_sel_format(&st, text, sizeof(text)), 0);
	assert_string_equal(text, "1200+1203,1201,1205-1208");
	/* two in a row stay a list */
	free(st.extra);
	assert_int_equal(explore_sel_parse("0+4,5", 10, &st, why, sizeof(why)), 0);
	assert_int_equal(explore_sel_format(&st, text, sizeof(text)), 0);
	assert_string_equal(text, "0+4,5");
	assert_int_equal(explore_sel_format(&st, text, 3), -ENOSPC);
	free(st.extra);
}

static void test_bad_selections_are_refused_with_a_reason(void **state)
{
	static const struct {
		const char *text, *why;
	} bad[] = {
	    {"", "PREFIX"},
	    {"x", "PREFIX"},
	    {"-3", "PREFIX"},
	    {"20", "past the log"},
	    {"5+", "entry numbers"},
	    {"5+3", "inside the prefix"},
	    {"5+6,6", "twice"},
	    {"5+6-7,7", "twice"},
	    {"5+12", "past the log"},
	    {"5+8-6", "B >= A"},
	    {"5+6;7", "unexpected character"},
	    {"5 +6", "PREFIX"},
	    {"99999999999999999999", "PREFIX"},
	};
	char why[200];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct xs_state st;
		why[0] = '\0';
		assert_int_equal(explore_sel_parse(bad[i].text, 10, &st, why, sizeof(why)),
		                 -EINVAL);
		if (!strstr(why, bad[i].why))
			fail_msg("\"%s\": \"%s\" does not say \"%s\"", bad[i].text, why,
			         bad[i].why);
		assert_null(st.extra);
	}
}

static void test_empty_log_has_one_state(void **state)
{
	struct xs_list sl;
	struct xs_opts o = {.seed = 1, .reorder = 4};

	assert_int_equal(explore_enumerate(NULL, 0, NULL, 0, &o, &sl), 0);
	assert_int_equal(sl.n, 1);
	assert_int_equal(sl.distinct, 1);
	assert_int_equal(sl.s[0].prefix, 0);
	explore_list_free(&sl);
}

static void test_sector_hash_sees_every_byte(void **state)
{
	unsigned char a[512] = {0}, b[512] = {0};

	assert_int_equal(explore_sector_hash(a, 512), explore_sector_hash(b, 512));
	for (int i = 0; i < 512; i += 37) {
		b[i] = 1;
		assert_int_not_equal(explore_sector_hash(a, 512), explore_sector_hash(b, 512));
		b[i] = 0;
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_every_flush_boundary_is_listed),
	    cmocka_unit_test(test_rewrite_of_same_bytes_is_a_duplicate),
	    cmocka_unit_test(test_write_of_the_base_bytes_is_the_base),
	    cmocka_unit_test(test_order_phase_first_flush_then_rest),
	    cmocka_unit_test(test_phase_keeps_the_epoch_in_flight_at_its_marker),
	    cmocka_unit_test(test_rest_is_spread_over_the_log),
	    cmocka_unit_test(test_subsets_are_seeded_and_bounded),
	    cmocka_unit_test(test_small_writes_variant_loses_the_data),
	    cmocka_unit_test(test_state_hash_matches_the_enumeration),
	    cmocka_unit_test(test_reordered_overlap_differs_from_in_order),
	    cmocka_unit_test(test_selection_text_round_trips),
	    cmocka_unit_test(test_bad_selections_are_refused_with_a_reason),
	    cmocka_unit_test(test_empty_log_has_one_state),
	    cmocka_unit_test(test_sector_hash_sees_every_byte),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
