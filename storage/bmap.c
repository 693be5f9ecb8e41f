/* storage/bmap.c — read bmap-tools' XML block map with expat, check it
 * (sizes agree, ranges ascending and inside the image, the file's own
 * checksum), and hash with nettle. See bmap.h for the formats. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <expat.h>
#include <nettle/sha1.h>
#include <nettle/sha2.h>

#include "storage/bmap.h"

#define BMAP_MAX_FILE (64u << 20) /* a bmap of a 2 TiB image is a few MiB */
#define HEX_MAX (2 * BMAP_SUM_MAX)

struct raw_range {
	uint64_t first, last;
	char hex[HEX_MAX + 1]; /* "" when the range has no checksum */
};

struct parse {
	XML_Parser xml;
	int depth;
	char path[3][32]; /* element names at depth 1..3 */
	char text[256];   /* character data of the element being read */
	size_t text_len;
	bool text_long;
	char version[16], sum_type[16], file_sum[HEX_MAX + 1];
	char image_size[32], block_size[32], blocks_count[32], mapped_count[32];
	char range_hex[HEX_MAX + 1];
	struct raw_range *ranges;
	size_t n_ranges, cap_ranges;
	char *err;
	size_t err_size;
	bool failed;
	const char *name;
};

static void fail(struct parse *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void fail(struct parse *p, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (p->failed)
		return;
	p->failed = true;
	n = snprintf(p->err, p->err_size, "%s: ", p->name);
	va_start(ap, fmt);
	if (n >= 0 && (size_t)n < p->err_size)
		vsnprintf(p->err + n, p->err_size - (size_t)n, fmt, ap);
	va_end(ap);
	if (p->xml)
		XML_StopParser(p->xml, XML_FALSE);
}

static void copy_field(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src);
}

static void XMLCALL on_start(void *data, const XML_Char *el, const XML_Char **attr)
{
	struct parse *p = data;

	p->depth++;
	if (p->depth <= 3)
		copy_field(p->path[p->depth - 1], sizeof(p->path[0]), el);
	p->text_len = 0;
	p->text_long = false;
	p->text[0] = 0;
	if (p->depth == 1) {
		if (strcmp(el, "bmap") != 0) {
			fail(p, "not a bmap file (the root element is <%s>, not <bmap>)", el);
			return;
		}
		for (int i = 0; attr[i]; i += 2)
			if (strcmp(attr[i], "version") == 0)
				copy_field(p->version, sizeof(p->version), attr[i + 1]);
	}
	if (p->depth == 3 && strcmp(p->path[1], "BlockMap") == 0 && strcmp(el, "Range") == 0) {
		p->range_hex[0] = 0;
		for (int i = 0; attr[i]; i += 2)
			if (strcmp(attr[i], "chksum") == 0 || strcmp(attr[i], "sha1") == 0) {
				if (strlen(attr[i + 1]) > HEX_MAX) {
					fail(p, "line %lu: checksum \"%.20s...\" is too long",
					     (unsigned long)XML_GetCurrentLineNumber(p->xml),
					     attr[i + 1]);
					return;
				}
				copy_field(p->range_hex, sizeof(p->range_hex), attr[i + 1]);
			}
	}
}

static void XMLCALL on_text(void *data, const XML_Char *s, int len)
{
	struct parse *p = data;

	if (p->text_len + (size_t)len >= sizeof(p->text)) {
		p->text_long = true;
		return;
	}
	memcpy(p->text + p->text_len, s, (size_t)len);
	p->text_len += (size_t)len;
	p->text[p->text_len] = 0;
}

/* The element's text without the spaces bmaptool puts around values. */
static char *trimmed(struct parse *p)
{
	char *s = p->text, *e;

	while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
		*--e = 0;
	return s;
}

static int parse_u64(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end)
		return -EINVAL;
	*out = v;
	return 0;
}

static void add_range(struct parse *p, const char *text)
{
	const char *dash = strchr(text, '-');
	char first[32], last[32];
	struct raw_range *r;

	if (p->n_ranges == p->cap_ranges) {
		size_t cap = p->cap_ranges ? 2 * p->cap_ranges : 64;
		struct raw_range *n = realloc(p->ranges, cap * sizeof(*n));
		if (!n) {
			fail(p, "out of memory");
			return;
		}
		p->ranges = n;
		p->cap_ranges = cap;
	}
	r = &p->ranges[p->n_ranges];
	/* "X-Y", "X - Y" or (older formats) "X". */
	snprintf(first, sizeof(first), "%.*s", dash ? (int)(dash - text) : (int)strlen(text), text);
	snprintf(last, sizeof(last), "%s", dash ? dash + 1 : text);
	p->text_len = 0;
	copy_field(p->text, sizeof(p->text), first);
	if (parse_u64(trimmed(p), &r->first) < 0)
		goto bad;
	copy_field(p->text, sizeof(p->text), last);
	if (parse_u64(trimmed(p), &r->last) < 0 || r->last < r->first)
		goto bad;
	copy_field(r->hex, sizeof(r->hex), p->range_hex);
	p->n_ranges++;
	return;
bad:
	fail(p, "line %lu: bad range \"%s\" (give FIRST-LAST block numbers, FIRST <= LAST)",
	     (unsigned long)XML_GetCurrentLineNumber(p->xml), text);
}

static void XMLCALL on_end(void *data, const XML_Char *el)
{
	struct parse *p = data;
	char *text;

	if (p->failed) {
		p->depth--;
		return;
	}
	if (p->text_long && (p->depth == 2 || p->depth == 3))
		fail(p, "line %lu: the value of <%s> is too long",
		     (unsigned long)XML_GetCurrentLineNumber(p->xml), el);
	text = trimmed(p);
	if (p->depth == 2) {
		static const struct {
			const char *tag;
			size_t off, size;
		} fields[] = {
#define F(tag, field) {tag, offsetof(struct parse, field), sizeof(((struct parse *)0)->field)}
		    F("ImageSize", image_size),     F("BlockSize", block_size),
		    F("BlocksCount", blocks_count), F("MappedBlocksCount", mapped_count),
		    F("ChecksumType", sum_type),    F("BmapFileChecksum", file_sum),
		    F("BmapFileSHA1", file_sum),
#undef F
		};
		for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
			if (strcmp(el, fields[i].tag) == 0) {
				if (strlen(text) >= fields[i].size)
					fail(p, "<%s> \"%s\" is too long", el, text);
				else
					copy_field((char *)p + fields[i].off, fields[i].size, text);
			}
	} else if (p->depth == 3 && strcmp(p->path[1], "BlockMap") == 0 &&
	           strcmp(el, "Range") == 0) {
		add_range(p, text);
	}
	p->text_len = 0;
	p->text[0] = 0;
	p->depth--;
}

static int hex_to_bytes(const char *hex, uint8_t *out, size_t len)
{
	if (strlen(hex) != 2 * len)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		unsigned v;
		if (sscanf(hex + 2 * i, "%2x", &v) != 1 ||
		    !strchr("0123456789abcdefABCDEF", hex[2 * i]) ||
		    !strchr("0123456789abcdefABCDEF", hex[2 * i + 1]))
			return -EINVAL;
		out[i] = (uint8_t)v;
	}
	return 0;
}

size_t bmap_sum_len(enum bmap_checksum type)
{
	return type == BMAP_SUM_SHA256 ? SHA256_DIGEST_SIZE
	       : type == BMAP_SUM_SHA1 ? SHA1_DIGEST_SIZE
	                               : 0;
}

const char *bmap_sum_name(enum bmap_checksum type)
{
	return type == BMAP_SUM_SHA256 ? "sha256" : type == BMAP_SUM_SHA1 ? "sha1" : "none";
}

/* bmaptool's rule: hash the file with its own checksum text replaced by
 * zeros (the first place that text occurs). */
static int check_file_sum(struct parse *p, const char *buf, size_t len, enum bmap_checksum type)
{
	size_t n = bmap_sum_len(type), hex_len = 2 * n;
	uint8_t want[BMAP_SUM_MAX], got[BMAP_SUM_MAX];
	const char *at = memmem(buf, len, p->file_sum, strlen(p->file_sum));
	struct bmap_hash *h;
	char zeros[HEX_MAX];

	if (hex_to_bytes(p->file_sum, want, n) < 0 || !at) {
		fail(p, "the file's checksum \"%s\" is not a %s digest", p->file_sum,
		     bmap_sum_name(type));
		return -EINVAL;
	}
	h = bmap_hash_new(type);
	if (!h) {
		fail(p, "out of memory");
		return -ENOMEM;
	}
	memset(zeros, '0', sizeof(zeros));
	bmap_hash_update(h, buf, (size_t)(at - buf));
	bmap_hash_update(h, zeros, hex_len);
	bmap_hash_update(h, at + hex_len, len - (size_t)(at - buf) - hex_len);
	bmap_hash_final(h, got);
	bmap_hash_free(h);
	if (memcmp(want, got, n) != 0) {
		fail(p,
		     "the bmap file's own %s checksum does not match its contents (edited or "
		     "truncated? make it again with bmaptool create)",
		     bmap_sum_name(type));
		return -EBADMSG;
	}
	return 0;
}

static int parse_header(struct parse *p, struct bmap *b)
{
	uint64_t v;

	if (sscanf(p->version, "%u.%u", &b->version_major, &b->version_minor) != 2) {
		fail(p, "<bmap version=\"%s\">: not a MAJOR.MINOR version", p->version);
		return -EINVAL;
	}
	if (b->version_major > 2) {
		fail(p, "bmap format %s is newer than the 2.x this hilctl reads", p->version);
		return -EINVAL;
	}
	if (parse_u64(p->image_size, &b->image_size) < 0 || parse_u64(p->block_size, &v) < 0 ||
	    v == 0 || v > (1u << 30) || parse_u64(p->blocks_count, &b->blocks_count) < 0) {
		fail(p,
		     "needs <ImageSize>, <BlockSize> and <BlocksCount> as numbers (got \"%s\", "
		     "\"%s\", \"%s\")",
		     p->image_size, p->block_size, p->blocks_count);
		return -EINVAL;
	}
	b->block_size = (uint32_t)v;
	/* Far beyond any card; keeps block arithmetic clear of overflow. */
	if (b->image_size > (1ull << 60)) {
		fail(p, "<ImageSize> %llu bytes is not a plausible image",
		     (unsigned long long)b->image_size);
		return -EINVAL;
	}
	if (b->blocks_count != (b->image_size + v - 1) / v) {
		fail(p, "inconsistent: %llu bytes are not %llu blocks of %u bytes",
		     (unsigned long long)b->image_size, (unsigned long long)b->blocks_count,
		     b->block_size);
		return -EINVAL;
	}
	if (p->mapped_count[0] && parse_u64(p->mapped_count, &b->mapped_blocks) < 0) {
		fail(p, "<MappedBlocksCount> \"%s\" is not a number", p->mapped_count);
		return -EINVAL;
	}
	if (b->version_major >= 2 || (b->version_major == 1 && b->version_minor == 4)) {
		if (strcmp(p->sum_type, "sha256") == 0)
			b->sum_type = BMAP_SUM_SHA256;
		else if (strcmp(p->sum_type, "sha1") == 0)
			b->sum_type = BMAP_SUM_SHA1;
		else {
			fail(p, "<ChecksumType> \"%s\" is not sha256 or sha1", p->sum_type);
			return -EINVAL;
		}
	} else if (b->version_major == 1 && b->version_minor == 3) {
		b->sum_type = BMAP_SUM_SHA1;
	} else {
		b->sum_type = BMAP_SUM_NONE;
	}
	return 0;
}

static int convert_ranges(struct parse *p, struct bmap *b)
{
	size_t n = bmap_sum_len(b->sum_type);
	uint64_t mapped = 0;

	b->ranges = calloc(p->n_ranges ? p->n_ranges : 1, sizeof(*b->ranges));
	if (!b->ranges) {
		fail(p, "out of memory");
		return -ENOMEM;
	}
	for (size_t i = 0; i < p->n_ranges; i++) {
		const struct raw_range *r = &p->ranges[i];
		struct bmap_range *o = &b->ranges[i];

		if (r->last >= b->blocks_count || (i && r->first <= b->ranges[i - 1].last)) {
			fail(p, "range %llu-%llu is %s", (unsigned long long)r->first,
			     (unsigned long long)r->last,
			     r->last >= b->blocks_count ? "past the image's end"
			                                : "not after the range before it");
			return -EINVAL;
		}
		o->first = r->first;
		o->last = r->last;
		if (r->hex[0]) {
			if (!n || hex_to_bytes(r->hex, o->sum, n) < 0) {
				fail(p, "range %llu-%llu: checksum \"%s\" is not a %s digest",
				     (unsigned long long)r->first, (unsigned long long)r->last,
				     r->hex, bmap_sum_name(b->sum_type));
				return -EINVAL;
			}
			o->has_sum = true;
		}
		mapped += r->last - r->first + 1;
	}
	b->n_ranges = p->n_ranges;
	if (p->mapped_count[0] && mapped != b->mapped_blocks) {
		fail(p, "<MappedBlocksCount> says %llu blocks, the ranges hold %llu",
		     (unsigned long long)b->mapped_blocks, (unsigned long long)mapped);
		return -EINVAL;
	}
	b->mapped_blocks = mapped;
	return 0;
}

int bmap_parse(const char *name, const char *buf, size_t len, struct bmap *out, char *err,
               size_t err_size)
{
	struct parse p = {.err = err, .err_size = err_size, .name = name};
	int rc = -EINVAL;

	memset(out, 0, sizeof(*out));
	if (err_size)
		err[0] = 0;
	p.xml = XML_ParserCreate(NULL);
	if (!p.xml)
		return -ENOMEM;
	XML_SetUserData(p.xml, &p);
	XML_SetElementHandler(p.xml, on_start, on_end);
	XML_SetCharacterDataHandler(p.xml, on_text);
	if (len > INT32_MAX) {
		fail(&p, "too large for a bmap file");
	} else if (XML_Parse(p.xml, buf, (int)len, XML_TRUE) == XML_STATUS_ERROR && !p.failed) {
		fail(&p, "line %lu: not well-formed XML: %s",
		     (unsigned long)XML_GetCurrentLineNumber(p.xml),
		     XML_ErrorString(XML_GetErrorCode(p.xml)));
	}
	XML_ParserFree(p.xml);
	p.xml = NULL;
	if (p.failed)
		goto out;
	if (!p.version[0]) {
		fail(&p, "not a bmap file (no <bmap version=...>)");
		goto out;
	}
	rc = parse_header(&p, out);
	if (rc == 0 && out->sum_type != BMAP_SUM_NONE && p.file_sum[0])
		rc = check_file_sum(&p, buf, len, out->sum_type);
	if (rc == 0)
		rc = convert_ranges(&p, out);
out:
	free(p.ranges);
	if (rc < 0)
		bmap_free(out);
	return rc;
}

int bmap_load(const char *path, struct bmap *out, char *err, size_t err_size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	char *buf;
	size_t got = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	if (fd < 0 || fstat(fd, &st) < 0) {
		rc = -errno;
		snprintf(err, err_size, "%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return rc;
	}
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > BMAP_MAX_FILE) {
		snprintf(err, err_size, "%s: not a bmap file (%s)", path,
		         S_ISREG(st.st_mode) ? "larger than 64 MiB" : "not a regular file");
		close(fd);
		return -EINVAL;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
		if (n <= 0) {
			rc = n < 0 ? -errno : -EIO;
			snprintf(err, err_size, "%s: read: %s", path, strerror(-rc));
			free(buf);
			close(fd);
			return rc;
		}
		got += (size_t)n;
	}
	close(fd);
	rc = bmap_parse(path, buf, got, out, err, err_size);
	free(buf);
	return rc;
}

void bmap_free(struct bmap *b)
{
	if (!b)
		return;
	free(b->ranges);
	b->ranges = NULL;
	b->n_ranges = 0;
}

uint64_t bmap_mapped_bytes(const struct bmap *b)
{
	uint64_t total = 0;

	for (size_t i = 0; i < b->n_ranges; i++) {
		uint64_t start = b->ranges[i].first * b->block_size;
		uint64_t end = (b->ranges[i].last + 1) * b->block_size;
		if (end > b->image_size)
			end = b->image_size;
		total += end - start;
	}
	return total;
}

/* ---- hashing (nettle) */

struct bmap_hash {
	enum bmap_checksum type;
	union {
		struct sha1_ctx sha1;
		struct sha256_ctx sha256;
	} u;
};

struct bmap_hash *bmap_hash_new(enum bmap_checksum type)
{
	struct bmap_hash *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->type = type == BMAP_SUM_SHA1 ? BMAP_SUM_SHA1 : BMAP_SUM_SHA256;
	if (h->type == BMAP_SUM_SHA1)
		sha1_init(&h->u.sha1);
	else
		sha256_init(&h->u.sha256);
	return h;
}

void bmap_hash_update(struct bmap_hash *h, const void *data, size_t len)
{
	if (h->type == BMAP_SUM_SHA1)
		sha1_update(&h->u.sha1, len, data);
	else
		sha256_update(&h->u.sha256, len, data);
}

void bmap_hash_final(struct bmap_hash *h, uint8_t *out)
{
	/* nettle's digest functions reset the context for the next use. */
	if (h->type == BMAP_SUM_SHA1)
		sha1_digest(&h->u.sha1, SHA1_DIGEST_SIZE, out);
	else
		sha256_digest(&h->u.sha256, SHA256_DIGEST_SIZE, out);
}

void bmap_hash_free(struct bmap_hash *h)
{
	free(h);
}
