/* storage/bmap.h — bmap-tools' block map (the XML `.bmap` file that
 * `bmaptool create` writes): the image's size, its block size and the ranges
 * of blocks that hold data, each with a checksum of its bytes.
 *
 * Formats read: 2.0 (and its twin 1.4: `<ChecksumType>` sha256 or sha1,
 * `chksum=` attributes, `<BmapFileChecksum>`), 1.3 (sha1 only, `sha1=`
 * attributes, `<BmapFileSHA1>`), and 1.0-1.2 (no checksums). The file's own
 * checksum is verified as bmaptool does: the hash of the file with the
 * checksum text replaced by ASCII zeros.
 *
 * bmap_parse() fills a struct bmap the caller releases with bmap_free(); on
 * failure it writes one line into err naming what is wrong. */
#ifndef HILCTL_STORAGE_BMAP_H
#define HILCTL_STORAGE_BMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum bmap_checksum { BMAP_SUM_NONE, BMAP_SUM_SHA1, BMAP_SUM_SHA256 };

#define BMAP_SUM_MAX 32 /* bytes of the longest digest (sha256) */

struct bmap_range {
	uint64_t first, last; /* block numbers, inclusive */
	bool has_sum;
	uint8_t sum[BMAP_SUM_MAX];
};

struct bmap {
	unsigned version_major, version_minor;
	uint64_t image_size;
	uint32_t block_size;
	uint64_t blocks_count, mapped_blocks;
	enum bmap_checksum sum_type;
	size_t n_ranges;
	struct bmap_range *ranges; /* ascending, not overlapping */
};

/* Parse a bmap held in memory; name is for messages. 0 or -EINVAL (bad or
 * unsupported format) / -EBADMSG (the file's own checksum does not match). */
int bmap_parse(const char *name, const char *buf, size_t len, struct bmap *out, char *err,
               size_t err_size);
/* The same from a file (-errno of open/read as well). */
int bmap_load(const char *path, struct bmap *out, char *err, size_t err_size);
void bmap_free(struct bmap *b);

/* Bytes in the digest of a checksum type (0 for none); its name. */
size_t bmap_sum_len(enum bmap_checksum type);
const char *bmap_sum_name(enum bmap_checksum type);
/* Bytes the mapped ranges cover, the last block cut at the image's end. */
uint64_t bmap_mapped_bytes(const struct bmap *b);

/* One digest, for the writer's checks. */
struct bmap_hash;
struct bmap_hash *bmap_hash_new(enum bmap_checksum type);
void bmap_hash_update(struct bmap_hash *h, const void *data, size_t len);
/* Write the digest into out (bmap_sum_len bytes) and start over. */
void bmap_hash_final(struct bmap_hash *h, uint8_t *out);
void bmap_hash_free(struct bmap_hash *h);

#endif
