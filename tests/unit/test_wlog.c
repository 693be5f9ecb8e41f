/* tests/unit/test_wlog.c — the write log reader and writer on crafted logs
 * (entries, flags, marks, empty, truncated and garbage logs), the picks of
 * the power-loss models (durable prefix, seeded subsets, torn writes, tears
 * below a sector with old or erased bytes past the tear), and crash disks
 * built with qemu-img/qemu-io and read back. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <zlib.h>

#include "lib/clock.h"
#include "qemu/wlog.h"

#define SS 512

static char dir[64];

static int make_dir(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/test_wlog-XXXXXX");
	assert_non_null(mkdtemp(dir));
	return 0;
}

static int remove_dir(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

static char *path_in(const char *name)
{
	static char path[128];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return path;
}

static void fill(uint8_t *buf, size_t len, uint8_t v)
{
	memset(buf, v, len);
}

/* w0 w1 FLUSH w3(FUA) w4 mark w6 discard7 w8 : a small log. */
static void write_sample(const char *path)
{
	struct wlog_writer *ww;
	uint8_t data[4 * SS];

	assert_int_equal(wlog_writer_open(path, SS, &ww), 0);
	fill(data, sizeof(data), 0xa0);
	assert_int_equal(wlog_writer_add(ww, 0, 2, 0, data), 0);
	fill(data, sizeof(data), 0xa1);
	assert_int_equal(wlog_writer_add(ww, 8, 1, 0, data), 0);
	assert_int_equal(wlog_writer_add(ww, 0, 0, WLOG_FLUSH, NULL), 0);
	fill(data, sizeof(data), 0xa3);
	assert_int_equal(wlog_writer_add(ww, 16, 1, WLOG_FUA, data), 0);
	fill(data, sizeof(data), 0xa4);
	assert_int_equal(wlog_writer_add(ww, 1, 3, 0, data), 0);
	assert_int_equal(wlog_writer_mark(ww, "bootfiles"), 0);
	fill(data, sizeof(data), 0xa6);
	assert_int_equal(wlog_writer_add(ww, 32, 4, 0, data), 0);
	assert_int_equal(wlog_writer_add(ww, 40, 2, WLOG_DISCARD, NULL), 0);
	fill(data, sizeof(data), 0xa8);
	assert_int_equal(wlog_writer_add(ww, 8, 1, 0, data), 0);
	assert_int_equal(wlog_writer_close(ww), 0);
}

static void *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long n;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static void test_wlog_entries_and_flags_read_back(void **state)
{
	struct wlog *w;
	char why[256];
	uint8_t buf[SS];
	const struct wlog_entry *e;
	uint64_t writes, flushes;

	write_sample(path_in("a.log"));
	assert_int_equal(wlog_open(path_in("a.log"), 0, &w, why, sizeof(why)), 0);
	assert_int_equal(wlog_sector_size(w), SS);
	assert_int_equal(wlog_count(w), 9);
	e = wlog_entry(w, 0);
	assert_int_equal(e->sector, 0);
	assert_int_equal(e->nr_sectors, 2);
	assert_int_equal(e->flags, 0);
	assert_int_equal(e->data_offset, 2 * SS); /* superblock, header */
	e = wlog_entry(w, 2);
	assert_int_equal(e->flags, WLOG_FLUSH);
	assert_int_equal(e->data_offset, 0);
	assert_true(wlog_entry_is_durable_point(e));
	assert_false(wlog_entry_is_write(e));
	e = wlog_entry(w, 3);
	assert_int_equal(e->flags, WLOG_FUA);
	assert_int_equal(wlog_read(w, e, 0, buf, SS), 0);
	assert_int_equal(buf[0], 0xa3);
	assert_int_equal(buf[SS - 1], 0xa3);
	assert_int_equal(wlog_read(w, e, 1, buf, SS), -ERANGE);
	e = wlog_entry(w, 5);
	assert_int_equal(e->flags, WLOG_MARK);
	assert_int_equal(e->data_len, strlen("bootfiles"));
	assert_int_equal(wlog_read(w, e, 0, buf, 1), -EINVAL);
	e = wlog_entry(w, 7);
	assert_int_equal(e->flags, WLOG_DISCARD);
	assert_int_equal(e->data_offset, 0);
	assert_true(wlog_entry_is_write(e));
	e = wlog_entry(w, 8);
	assert_int_equal(wlog_read(w, e, 0, buf, SS), 0);
	assert_int_equal(buf[7], 0xa8);
	assert_null(wlog_entry(w, 9));
	assert_int_equal(wlog_last_durable(w, 9), 3);
	assert_int_equal(wlog_last_durable(w, 3), 2);
	assert_int_equal(wlog_last_durable(w, 2), -1);
	wlog_counts(w, 9, &writes, &flushes);
	assert_int_equal(writes, 7); /* 0 1 3 4 6 7 8 */
	assert_int_equal(flushes, 1);
	wlog_close(w);
}

static void test_wlog_end_after_write_counts_writes_only(void **state)
{
	struct wlog *w;

	write_sample(path_in("a.log"));
	assert_int_equal(wlog_open(path_in("a.log"), 0, &w, NULL, 0), 0);
	/* writes are entries 0 1 3 4 6 7 8: the flush (2) and mark (5) are not */
	assert_int_equal(wlog_end_after_write(w, 1), 1);
	assert_int_equal(wlog_end_after_write(w, 2), 2);
	assert_int_equal(wlog_end_after_write(w, 3), 4);
	assert_int_equal(wlog_end_after_write(w, 5), 7);
	assert_int_equal(wlog_end_after_write(w, 7), 9);
	assert_int_equal(wlog_end_after_write(w, 8), 0);
	assert_int_equal(wlog_end_after_write(w, 0), 0);
	wlog_close(w);
}

/* The tail counts what a whole read counts, while the log grows. */
static void test_wlog_tail_follows_a_growing_log(void **state)
{
	struct wlog_writer *ww;
	struct wlog_tail t;
	uint8_t data[4 * SS];
	uint64_t writes = 99;
	char why[256];
	FILE *f = fopen(path_in("grow.log"), "w");

	assert_non_null(f);
	fclose(f);
	assert_int_equal(wlog_tail_open(&t, path_in("grow.log"), why, sizeof(why)), 0);
	assert_int_equal(wlog_tail_poll(&t, &writes, why, sizeof(why)), 0);
	assert_int_equal(writes, 0); /* QEMU has written nothing yet */
	assert_int_equal(wlog_writer_open(path_in("grow.log"), SS, &ww), 0);
	fill(data, sizeof(data), 0xb0);
	assert_int_equal(wlog_writer_add(ww, 0, 2, 0, data), 0);
	assert_int_equal(wlog_writer_add(ww, 0, 0, WLOG_FLUSH, NULL), 0);
	assert_int_equal(wlog_tail_poll(&t, &writes, why, sizeof(why)), 0);
	assert_int_equal(writes, 1);
	assert_int_equal(wlog_writer_mark(ww, "x"), 0);
	assert_int_equal(wlog_writer_add(ww, 9, 4, 0, data), 0);
	assert_int_equal(wlog_writer_add(ww, 40, 2, WLOG_DISCARD, NULL), 0);
	assert_int_equal(wlog_writer_add(ww, 3, 1, 0, data), 0);
	assert_int_equal(wlog_tail_poll(&t, &writes, why, sizeof(why)), 0);
	assert_int_equal(writes, 4);
	assert_int_equal(wlog_tail_poll(&t, &writes, why, sizeof(why)), 0);
	assert_int_equal(writes, 4); /* nothing new: the same count */
	assert_int_equal(wlog_writer_close(ww), 0);
	wlog_tail_close(&t);
	wlog_tail_close(&t);

	write_sample(path_in("a.log"));
	assert_int_equal(wlog_tail_open(&t, path_in("a.log"), why, sizeof(why)), 0);
	assert_int_equal(wlog_tail_poll(&t, &writes, why, sizeof(why)), 0);
	assert_int_equal(writes, 7); /* as wlog_counts says of the same log */
	wlog_tail_close(&t);

	f = fopen(path_in("junk.log"), "w");
	assert_non_null(f);
	fputs("this is no write log, but it is long enough to hold a superblock", f);
	fclose(f);
	assert_int_equal(wlog_tail_open(&t, path_in("junk.log"), why, sizeof(why)), 0);
	assert_int_equal(wlog_tail_poll(&t, &writes, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "bad magic"));
	wlog_tail_close(&t);
	assert_int_equal(wlog_tail_open(&t, path_in("missing.log"), why, sizeof(why)), -ENOENT);
	assert_non_null(strstr(why, "missing.log"));
}

static void test_wlog_empty_file_is_an_empty_log(void **state)
{
	struct wlog *w;
	FILE *f = fopen(path_in("empty.log"), "w");

	assert_non_null(f);
	fclose(f);
	assert_int_equal(wlog_open(path_in("empty.log"), 0, &w, NULL, 0), 0);
	assert_int_equal(wlog_count(w), 0);
	assert_int_equal(wlog_last_durable(w, 10), -1);
	wlog_close(w);
}

static void test_wlog_truncated_log_is_an_error_or_its_whole_entries(void **state)
{
	size_t len;
	uint8_t *buf;
	struct wlog *w;
	char why[256] = "";

	write_sample(path_in("t.log"));
	buf = slurp(path_in("t.log"), &len);
	/* Cut in the middle of entry 6's data (the 4-sector write). */
	size_t cut = len - (SS + SS) - (SS + 2 * SS);
	assert_int_equal(wlog_open_mem(buf, cut, 0, &w, why, sizeof(why)), -ERANGE);
	assert_null(w);
	assert_non_null(strstr(why, "cut short"));
	assert_int_equal(wlog_open_mem(buf, cut, WLOG_OPEN_PARTIAL, &w, why, sizeof(why)), 0);
	assert_int_equal(wlog_count(w), 6);
	wlog_close(w);
	/* Every prefix of the file opens or fails cleanly. */
	for (size_t n = 0; n <= len; n += 97) {
		if (wlog_open_mem(buf, n, 0, &w, why, sizeof(why)) == 0)
			wlog_close(w);
		assert_int_equal(
		    wlog_open_mem(buf, n, WLOG_OPEN_PARTIAL, &w, why, sizeof(why)) <= 0, 1);
		wlog_close(w);
	}
	free(buf);
}

static void test_wlog_garbage_is_refused_with_a_reason(void **state)
{
	size_t len;
	uint8_t *buf, *copy;
	struct wlog *w;
	char why[256];

	write_sample(path_in("g.log"));
	buf = slurp(path_in("g.log"), &len);
	copy = malloc(len);
	assert_non_null(copy);

	memcpy(copy, buf, len);
	copy[0] ^= 0xff;
	assert_int_equal(wlog_open_mem(copy, len, 0, &w, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "magic"));

	memcpy(copy, buf, len);
	copy[8] = 2; /* version */
	assert_int_equal(wlog_open_mem(copy, len, 0, &w, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "version"));

	memcpy(copy, buf, len);
	copy[24] = 0x01; /* sector size 513 */
	copy[25] = 0x02;
	assert_int_equal(wlog_open_mem(copy, len, 0, &w, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "sector size"));

	memcpy(copy, buf, len);
	memset(copy + 16, 0xff, 8); /* nr_entries */
	assert_int_equal(wlog_open_mem(copy, len, 0, &w, why, sizeof(why)), -EINVAL);

	memcpy(copy, buf, len);
	copy[16] = 200; /* more entries than the file holds */
	assert_int_equal(wlog_open_mem(copy, len, 0, &w, why, sizeof(why)), -ERANGE);

	memcpy(copy, buf, len);
	copy[SS + 16] = 0x30; /* entry 0: unknown flags */
	assert_int_equal(wlog_open_mem(copy, len, 0, &w, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "entry 0"));

	memcpy(copy, buf, len);
	memset(copy + SS + 8, 0xff, 8); /* entry 0: nr_sectors huge */
	assert_true(wlog_open_mem(copy, len, 0, &w, why, sizeof(why)) < 0);

	memcpy(copy, buf, len);
	memset(copy + SS, 0xff, 8); /* entry 0: sector + nr_sectors overflows */
	assert_int_equal(wlog_open_mem(copy, len, 0, &w, why, sizeof(why)), -EINVAL);

	memcpy(copy, buf, len);
	copy[SS + 24] = 0xff; /* entry 0: data_len beyond its header sector */
	copy[SS + 25] = 0x01;
	assert_int_equal(wlog_open_mem(copy, len, 0, &w, why, sizeof(why)), -EINVAL);

	assert_int_equal(wlog_open_mem(buf, 10, 0, &w, why, sizeof(why)), -EINVAL);
	assert_int_equal(wlog_open(path_in("nosuch.log"), 0, &w, why, sizeof(why)), -ENOENT);
	assert_non_null(strstr(why, "nosuch.log"));
	free(copy);
	free(buf);
}

static void test_wlog_writer_refuses_bad_input(void **state)
{
	struct wlog_writer *ww;
	char text[SS];

	assert_int_equal(wlog_writer_open(path_in("x.log"), 500, &ww), -EINVAL);
	assert_int_equal(wlog_writer_open(path_in("x.log"), 16, &ww), -EINVAL);
	assert_int_equal(wlog_writer_open(path_in("x.log"), SS, &ww), 0);
	assert_int_equal(wlog_writer_add(ww, 0, 1, 0, NULL), -EINVAL);
	assert_int_equal(wlog_writer_add(ww, 0, 1, 0x100, "x"), -EINVAL);
	memset(text, 'm', sizeof(text) - 1);
	text[sizeof(text) - 1] = '\0';
	assert_int_equal(wlog_writer_mark(ww, text), -EINVAL);
	assert_int_equal(wlog_writer_close(ww), 0);
}

static void test_wlog_models_keep_the_durable_prefix(void **state)
{
	struct wlog *w;
	struct wlog_pick pick;
	struct wlog_pick_stats st;

	write_sample(path_in("m.log"));
	assert_int_equal(wlog_open(path_in("m.log"), 0, &w, NULL, 0), 0);
	/* Cut after all 9: the last durable point is the FUA write 3. */
	assert_int_equal(wlog_pick_model(w, 9, WLOG_MODEL_NONE, 1, &pick), 0);
	assert_int_equal(pick.prefix, 4);
	assert_int_equal(pick.n_extra, 0);
	wlog_pick_stats(w, 9, &pick, &st);
	assert_int_equal(st.last_durable, 3);
	assert_int_equal(st.durable_writes, 3);
	assert_int_equal(st.pending, 4); /* 4 6 7 8 */
	assert_int_equal(st.kept, 0);
	assert_int_equal(st.dropped, 4);
	wlog_pick_free(&pick);

	assert_int_equal(wlog_pick_model(w, 9, WLOG_MODEL_ALL, 1, &pick), 0);
	assert_int_equal(pick.n_extra, 4);
	assert_int_equal(pick.extra[0], 4);
	assert_int_equal(pick.extra[1], 6);
	assert_int_equal(pick.extra[2], 7);
	assert_int_equal(pick.extra[3], 8);
	assert_int_equal(pick.torn_sectors, 0);
	wlog_pick_free(&pick);

	/* Cut after entry 2 (the flush itself): nothing pending. */
	assert_int_equal(wlog_pick_model(w, 3, WLOG_MODEL_STRICT, 7, &pick), 0);
	assert_int_equal(pick.prefix, 3);
	assert_int_equal(pick.n_extra, 0);
	wlog_pick_free(&pick);
	/* Cut before any durable point: all writes are pending. */
	assert_int_equal(wlog_pick_model(w, 2, WLOG_MODEL_ALL, 7, &pick), 0);
	assert_int_equal(pick.prefix, 0);
	assert_int_equal(pick.n_extra, 2);
	wlog_pick_free(&pick);
	assert_int_equal(wlog_pick_model(w, 9, WLOG_MODEL_QUIT, 7, &pick), -EINVAL);
	wlog_close(w);
}

static void test_wlog_strict_subset_depends_on_the_seed_only(void **state)
{
	struct wlog_writer *ww;
	struct wlog *w;
	struct wlog_pick a, b;
	uint8_t data[8 * SS];
	bool differ = false;
	size_t sizes[2] = {0, 0};

	memset(data, 0x5a, sizeof(data));
	assert_int_equal(wlog_writer_open(path_in("s.log"), SS, &ww), 0);
	assert_int_equal(wlog_writer_add(ww, 0, 1, 0, data), 0);
	assert_int_equal(wlog_writer_add(ww, 0, 0, WLOG_FLUSH, NULL), 0);
	for (int i = 0; i < 64; i++)
		assert_int_equal(wlog_writer_add(ww, (uint64_t)i * 8, 8, 0, data), 0);
	assert_int_equal(wlog_writer_close(ww), 0);
	assert_int_equal(wlog_open(path_in("s.log"), 0, &w, NULL, 0), 0);

	for (uint64_t seed = 1; seed < 40; seed++) {
		assert_int_equal(wlog_pick_model(w, 66, WLOG_MODEL_STRICT, seed, &a), 0);
		assert_int_equal(wlog_pick_model(w, 66, WLOG_MODEL_STRICT, seed, &b), 0);
		assert_int_equal(a.prefix, 2);
		assert_int_equal(a.n_extra, b.n_extra);
		assert_memory_equal(a.extra, b.extra, a.n_extra * sizeof(*a.extra));
		/* A subset: some kept, some dropped (64 fair coins). */
		assert_true(a.n_extra > 0 && a.n_extra < 64);
		for (size_t i = 1; i < a.n_extra; i++)
			assert_true(a.extra[i] > a.extra[i - 1]);
		wlog_pick_free(&b);
		/* torn keeps the same subset and tears its last write. */
		assert_int_equal(wlog_pick_model(w, 66, WLOG_MODEL_TORN, seed, &b), 0);
		assert_int_equal(a.n_extra, b.n_extra);
		assert_memory_equal(a.extra, b.extra, a.n_extra * sizeof(*a.extra));
		assert_true(b.torn_sectors >= 1 && b.torn_sectors < 8);
		if (seed == 1)
			sizes[0] = a.n_extra;
		else if (a.n_extra != sizes[0])
			differ = true;
		sizes[1] = a.n_extra;
		wlog_pick_free(&a);
		wlog_pick_free(&b);
	}
	assert_true(differ); /* seeds matter */
	(void)sizes;
	wlog_close(w);
}

static void test_wlog_model_names(void **state)
{
	enum wlog_model m;

	assert_int_equal(wlog_model_parse("strict", &m), 0);
	assert_int_equal(m, WLOG_MODEL_STRICT);
	assert_int_equal(wlog_model_parse("torn", &m), 0);
	assert_int_equal(m, WLOG_MODEL_TORN);
	assert_int_equal(wlog_model_parse("quit", &m), 0);
	assert_int_equal(m, WLOG_MODEL_QUIT);
	assert_int_equal(wlog_model_parse("maybe", &m), -EINVAL);
	assert_string_equal(wlog_model_name(WLOG_MODEL_NONE), "none");
}

/* A single-copy environment block as U-Boot's env export -c writes it:
 * le32 CRC32 of the rest, then NUL-separated variables, zero padding. All
 * its variables sit in its first sector. */
#define ENV_SECTORS 8
#define ENV_BYTES (ENV_SECTORS * SS)

static void env_block(uint8_t *blk, const char *vars, size_t vars_len)
{
	uint32_t crc;

	assert_true(4 + vars_len <= SS);
	memset(blk, 0, ENV_BYTES);
	memcpy(blk + 4, vars, vars_len);
	crc = (uint32_t)crc32(0L, blk + 4, ENV_BYTES - 4);
	blk[0] = (uint8_t)crc;
	blk[1] = (uint8_t)(crc >> 8);
	blk[2] = (uint8_t)(crc >> 16);
	blk[3] = (uint8_t)(crc >> 24);
}

static bool env_crc_good(const uint8_t *blk)
{
	uint32_t crc = (uint32_t)crc32(0L, blk + 4, ENV_BYTES - 4);

	return blk[0] == (uint8_t)crc && blk[1] == (uint8_t)(crc >> 8) &&
	       blk[2] == (uint8_t)(crc >> 16) && blk[3] == (uint8_t)(crc >> 24);
}

/* The log of one rewrite of the block (no flush after it: a cut may tear
 * it), and the block before it. */
static struct wlog *env_rewrite_log(const char *name, uint8_t *old)
{
#define BOOTCMD                                                                                    \
	"bootcmd=pci enum; virtio scan; if load virtio 0:1 ${scriptaddr} boot.scr; then source "   \
	"${scriptaddr}; fi; echo no boot.scr\0bootargs=console=ttyAMA0 quiet root=/dev/vda2 "      \
	"rootwait "                                                                                \
	"panic=5\0bootdelay=0\0bootlimit=3\0"
	/* About 230 bytes of variables, the changed ones last: still the
	 * first sector. */
	static const char old_vars[] = BOOTCMD "bootcount=0\0slot=A\0upgrade_available=0\0";
	static const char new_vars[] = BOOTCMD "bootcount=0\0slot=B\0upgrade_available=1\0";
	struct wlog_writer *ww;
	struct wlog *w;
	uint8_t blk[ENV_BYTES];

	env_block(old, old_vars, sizeof(old_vars));
	env_block(blk, new_vars, sizeof(new_vars));
	assert_int_equal(wlog_writer_open(path_in(name), SS, &ww), 0);
	assert_int_equal(wlog_writer_add(ww, 0, ENV_SECTORS, 0, blk), 0);
	assert_int_equal(wlog_writer_close(ww), 0);
	assert_int_equal(wlog_open(path_in(name), 0, &w, NULL, 0), 0);
	return w;
}

/* Over seeds 0..N-1 of the torn model with these options: how many cuts
 * leave the block with a bad CRC (and that every pick applies). */
static int bad_crcs(struct wlog *w, const uint8_t *old, uint32_t tear, enum wlog_fill fill)
{
	int bad = 0;

	for (uint64_t seed = 0; seed < 1000; seed++) {
		struct wlog_pick pick;
		uint8_t blk[ENV_BYTES];
		memcpy(blk, old, sizeof(blk));
		assert_int_equal(
		    wlog_pick_model_tear(w, 1, WLOG_MODEL_TORN, seed, tear, fill, &pick), 0);
		assert_int_equal(wlog_pick_apply(w, &pick, 0, blk, sizeof(blk)), 0);
		bad += !env_crc_good(blk);
		wlog_pick_free(&pick);
	}
	return bad;
}

static void test_wlog_single_copy_crc_block_breaks_only_under_a_flash_tear(void **state)
{
	uint8_t old[ENV_BYTES];
	struct wlog *w = env_rewrite_log("env.log", old);

	assert_true(env_crc_good(old));
	/* Torn at whole sectors, the old data past the tear: the first
	 * sector (CRC and every variable) is whole, the rest was zero padding
	 * before and after. No cut can break the CRC: the classic brick
	 * cannot happen under the old model. */
	assert_int_equal(bad_crcs(w, old, 0, WLOG_FILL_OLD), 0);
	assert_int_equal(bad_crcs(w, old, SS, WLOG_FILL_OLD), 0);
	/* Torn at 16 bytes (a shorn write, Zheng et al. FAST 2013): the first
	 * sector itself can end half new, half old. */
	assert_true(bad_crcs(w, old, 16, WLOG_FILL_OLD) > 0);
	/* Whole sectors, but a flash that erased the block first: 0xFF past
	 * the tear, or zeros (nothing programmed yet is one of the states). */
	assert_true(bad_crcs(w, old, SS, WLOG_FILL_FF) > 0);
	assert_true(bad_crcs(w, old, SS, WLOG_FILL_ZERO) > 0);
	wlog_close(w);
}

static void test_wlog_tear_at_a_sector_with_old_data_replays_the_old_torn_model(void **state)
{
	struct wlog *w;
	uint8_t old[ENV_BYTES];
	bool at_zero = false;

	w = env_rewrite_log("env2.log", old);
	for (uint64_t seed = 0; seed < 200; seed++) {
		struct wlog_pick a, b;
		assert_int_equal(wlog_pick_model(w, 1, WLOG_MODEL_TORN, seed, &a), 0);
		assert_int_equal(
		    wlog_pick_model_tear(w, 1, WLOG_MODEL_TORN, seed, SS, WLOG_FILL_OLD, &b), 0);
		assert_int_equal(a.n_extra, b.n_extra);
		assert_int_equal(a.torn_sectors, b.torn_sectors);
		assert_false(b.torn);
		wlog_pick_free(&b);
		/* Below a sector the tear falls at a multiple of 16 bytes,
		 * inside the write; with erased bytes it may keep nothing. */
		assert_int_equal(
		    wlog_pick_model_tear(w, 1, WLOG_MODEL_TORN, seed, 16, WLOG_FILL_ZERO, &b), 0);
		assert_int_equal(a.n_extra, b.n_extra);
		if (b.n_extra) {
			assert_true(b.torn);
			assert_int_equal(b.torn_bytes % 16, 0);
			assert_true(b.torn_bytes < ENV_BYTES);
			at_zero |= b.torn_bytes == 0;
		}
		wlog_pick_free(&a);
		wlog_pick_free(&b);
	}
	(void)at_zero; /* 1 in 256 per kept write: not asserted */
	struct wlog_pick p;
	assert_int_equal(wlog_pick_model_tear(w, 1, WLOG_MODEL_TORN, 1, 24, WLOG_FILL_OLD, &p),
	                 -EINVAL);
	assert_int_equal(wlog_pick_model_tear(w, 1, WLOG_MODEL_TORN, 1, 8, WLOG_FILL_OLD, &p),
	                 -EINVAL);
	assert_int_equal(wlog_pick_model_tear(w, 1, WLOG_MODEL_TORN, 1, 16, (enum wlog_fill)7, &p),
	                 -EINVAL);
	assert_string_equal(wlog_fill_name(WLOG_FILL_FF), "ff");
	enum wlog_fill f;
	assert_int_equal(wlog_fill_parse("zero", &f), 0);
	assert_int_equal(f, WLOG_FILL_ZERO);
	assert_int_equal(wlog_fill_parse("erased", &f), -EINVAL);
	wlog_close(w);
}

/* The disk a pick leaves, read back with qemu-io into a raw file. */
static void read_disk(const char *qcow2, const char *raw)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "qemu-img convert -O raw %s %s", qcow2, raw);
	assert_int_equal(system(cmd), 0);
}

static void test_wlog_build_disk_applies_the_pick(void **state)
{
	struct wlog *w;
	struct wlog_pick pick = {0};
	char why[512] = "", base[128], out[128];
	uint8_t *disk, expect[64 * SS];
	size_t len;
	FILE *f;

	write_sample(path_in("b.log"));
	snprintf(base, sizeof(base), "%s", path_in("base.raw"));
	f = fopen(base, "wb");
	assert_non_null(f);
	memset(expect, 0x11, sizeof(expect));
	assert_int_equal(fwrite(expect, 1, sizeof(expect), f), sizeof(expect));
	fclose(f);
	assert_int_equal(wlog_open(path_in("b.log"), 0, &w, NULL, 0), 0);

	/* Durable prefix (0..3), then entry 6 torn after 2 of its 4 sectors
	 * and entry 7 (discard) dropped, 4 and 8 dropped. */
	uint64_t extra[] = {6};
	pick.prefix = 4;
	pick.extra = extra;
	pick.n_extra = 1;
	pick.torn_sectors = 2;
	snprintf(out, sizeof(out), "%s", path_in("crash.qcow2"));
	assert_int_equal(wlog_build_disk(w, &pick, base, "raw", out, NULL,
	                                 clock_now_ns() + 30 * NS_PER_S, why, sizeof(why)),
	                 0);
	read_disk(out, path_in("crash.raw"));
	disk = slurp(path_in("crash.raw"), &len);
	assert_int_equal(len, sizeof(expect));
	memset(expect, 0xa0, 2 * SS);           /* entry 0: sectors 0-1 */
	memset(expect + 8 * SS, 0xa1, SS);      /* entry 1: sector 8 (8 dropped) */
	memset(expect + 16 * SS, 0xa3, SS);     /* entry 3 */
	memset(expect + 32 * SS, 0xa6, 2 * SS); /* entry 6 torn after 2 sectors */
	for (size_t s = 0; s < 64; s++)
		assert_memory_equal(disk + s * SS, expect + s * SS, SS);
	free(disk);
	/* Bad input: an entry the log does not have. */
	extra[0] = 99;
	assert_int_equal(wlog_build_disk(w, &pick, base, "raw", out, NULL,
	                                 clock_now_ns() + 30 * NS_PER_S, why, sizeof(why)),
	                 -EINVAL);
	assert_non_null(strstr(why, "entry 99"));
	/* A missing base is named. */
	assert_true(wlog_build_disk(w, &pick, path_in("nosuch.raw"), "raw", out, NULL,
	                            clock_now_ns() + 30 * NS_PER_S, why, sizeof(why)) < 0);
	assert_non_null(strstr(why, "nosuch.raw"));
	wlog_close(w);
}

/* A write torn inside a sector, 0xFF past the tear: the built disk holds
 * what wlog_pick_apply() says, byte for byte (qemu-io writes at byte
 * offsets and with a pattern). */
static void test_wlog_build_disk_tears_below_a_sector(void **state)
{
	struct wlog *w;
	struct wlog_pick pick = {0};
	char why[512] = "", base[128], out[128];
	uint8_t *disk, expect[64 * SS];
	size_t len;
	FILE *f;

	write_sample(path_in("t.log"));
	snprintf(base, sizeof(base), "%s", path_in("tbase.raw"));
	f = fopen(base, "wb");
	assert_non_null(f);
	memset(expect, 0x11, sizeof(expect));
	assert_int_equal(fwrite(expect, 1, sizeof(expect), f), sizeof(expect));
	fclose(f);
	assert_int_equal(wlog_open(path_in("t.log"), 0, &w, NULL, 0), 0);
	/* Entry 6 (4 sectors of 0xa6 at sector 32) torn after 1040 bytes. */
	uint64_t extra[] = {4, 6};
	pick.prefix = 4;
	pick.extra = extra;
	pick.n_extra = 2;
	pick.torn = true;
	pick.torn_bytes = 1040;
	pick.torn_fill = WLOG_FILL_FF;
	snprintf(out, sizeof(out), "%s", path_in("tcrash.qcow2"));
	assert_int_equal(wlog_build_disk(w, &pick, base, "raw", out, NULL,
	                                 clock_now_ns() + 30 * NS_PER_S, why, sizeof(why)),
	                 0);
	read_disk(out, path_in("tcrash.raw"));
	disk = slurp(path_in("tcrash.raw"), &len);
	assert_int_equal(len, sizeof(expect));
	assert_int_equal(wlog_pick_apply(w, &pick, 0, expect, sizeof(expect)), 0);
	assert_int_equal(expect[32 * SS + 1039], 0xa6);
	assert_int_equal(expect[32 * SS + 1040], 0xff);
	assert_int_equal(expect[36 * SS - 1], 0xff);
	assert_int_equal(expect[36 * SS], 0x11);
	assert_int_equal(expect[1 * SS], 0xa4); /* entry 4 kept whole */
	assert_memory_equal(disk, expect, sizeof(expect));
	free(disk);
	wlog_close(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_wlog_entries_and_flags_read_back),
	    cmocka_unit_test(test_wlog_end_after_write_counts_writes_only),
	    cmocka_unit_test(test_wlog_tail_follows_a_growing_log),
	    cmocka_unit_test(test_wlog_empty_file_is_an_empty_log),
	    cmocka_unit_test(test_wlog_truncated_log_is_an_error_or_its_whole_entries),
	    cmocka_unit_test(test_wlog_garbage_is_refused_with_a_reason),
	    cmocka_unit_test(test_wlog_writer_refuses_bad_input),
	    cmocka_unit_test(test_wlog_models_keep_the_durable_prefix),
	    cmocka_unit_test(test_wlog_strict_subset_depends_on_the_seed_only),
	    cmocka_unit_test(test_wlog_model_names),
	    cmocka_unit_test(test_wlog_build_disk_applies_the_pick),
	    cmocka_unit_test(test_wlog_single_copy_crc_block_breaks_only_under_a_flash_tear),
	    cmocka_unit_test(test_wlog_tear_at_a_sector_with_old_data_replays_the_old_torn_model),
	    cmocka_unit_test(test_wlog_build_disk_tears_below_a_sector),
	};

	return cmocka_run_group_tests(tests, make_dir, remove_dir);
}
