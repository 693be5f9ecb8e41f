/* storage/image.c — plain, gzip, xz and zstd images as one forward stream
 * (image.h). The decompressors run over a 256 KiB input buffer; a gzip file
 * of several members (pigz, concatenated .gz) is read to its end, as gzip -d
 * does, and so is a multi-frame zstd or a concatenated xz file. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lzma.h>
#include <zlib.h>
#include <zstd.h>

#include "storage/image.h"

#define IN_SIZE (256u << 10)

struct image {
	int fd;
	enum image_format format;
	uint64_t offset; /* of the decompressed stream */
	uint64_t size_hint;
	const char *path;
	char error[256];
	uint8_t *in; /* compressed input */
	size_t in_len, in_pos;
	bool in_eof, stream_end;
	z_stream gz;
	lzma_stream xz;
	ZSTD_DStream *zstd;
};

static int fill(struct image *img)
{
	ssize_t n;

	if (img->in_pos < img->in_len || img->in_eof)
		return 0;
	n = read(img->fd, img->in, IN_SIZE);
	if (n < 0) {
		snprintf(img->error, sizeof(img->error), "%s: read: %s", img->path,
		         strerror(errno));
		return -errno;
	}
	img->in_len = (size_t)n;
	img->in_pos = 0;
	img->in_eof = n == 0;
	return 0;
}

static int corrupt(struct image *img, const char *what, const char *detail)
{
	snprintf(img->error, sizeof(img->error),
	         "%s: corrupt %s data at %llu bytes into the image: %s", img->path, what,
	         (unsigned long long)img->offset, detail);
	return -EBADMSG;
}

static ssize_t read_gzip(struct image *img, void *buf, size_t len)
{
	for (;;) {
		int rc = fill(img), zrc;
		if (rc < 0)
			return rc;
		if (img->stream_end) {
			/* Another member follows, or the file ends. */
			if (img->in_pos == img->in_len && img->in_eof)
				return 0;
			inflateReset(&img->gz);
			img->stream_end = false;
		}
		if (img->in_pos == img->in_len && img->in_eof)
			return corrupt(img, "gzip", "the file ends inside the stream (truncated?)");
		img->gz.next_in = img->in + img->in_pos;
		img->gz.avail_in = (uInt)(img->in_len - img->in_pos);
		img->gz.next_out = buf;
		img->gz.avail_out = (uInt)(len > (1u << 30) ? (1u << 30) : len);
		zrc = inflate(&img->gz, Z_NO_FLUSH);
		img->in_pos = img->in_len - img->gz.avail_in;
		if (zrc == Z_STREAM_END)
			img->stream_end = true;
		else if (zrc != Z_OK && zrc != Z_BUF_ERROR)
			return corrupt(img, "gzip", img->gz.msg ? img->gz.msg : "inflate failed");
		if ((size_t)((uint8_t *)img->gz.next_out - (uint8_t *)buf) > 0)
			return (uint8_t *)img->gz.next_out - (uint8_t *)buf;
	}
}

static ssize_t read_xz(struct image *img, void *buf, size_t len)
{
	for (;;) {
		int rc = fill(img);
		lzma_ret xrc;
		if (rc < 0)
			return rc;
		if (img->stream_end)
			return 0;
		img->xz.next_in = img->in + img->in_pos;
		img->xz.avail_in = img->in_len - img->in_pos;
		img->xz.next_out = buf;
		img->xz.avail_out = len;
		xrc = lzma_code(&img->xz, img->in_eof ? LZMA_FINISH : LZMA_RUN);
		img->in_pos = img->in_len - img->xz.avail_in;
		if (xrc == LZMA_STREAM_END)
			img->stream_end = true;
		else if (xrc != LZMA_OK)
			return corrupt(img, "xz",
			               xrc == LZMA_BUF_ERROR ? "the file ends inside the stream "
			                                       "(truncated?)"
			                                     : "lzma_code failed");
		if (len - img->xz.avail_out > 0)
			return (ssize_t)(len - img->xz.avail_out);
	}
}

static ssize_t read_zstd(struct image *img, void *buf, size_t len)
{
	for (;;) {
		ZSTD_inBuffer in;
		ZSTD_outBuffer out = {buf, len, 0};
		size_t zrc;
		int rc = fill(img);
		if (rc < 0)
			return rc;
		if (img->in_pos == img->in_len && img->in_eof) {
			if (!img->stream_end)
				return corrupt(img, "zstd",
				               "the file ends inside a frame (truncated?)");
			return 0;
		}
		in = (ZSTD_inBuffer){img->in, img->in_len, img->in_pos};
		zrc = ZSTD_decompressStream(img->zstd, &out, &in);
		img->in_pos = in.pos;
		if (ZSTD_isError(zrc))
			return corrupt(img, "zstd", ZSTD_getErrorName(zrc));
		img->stream_end = zrc == 0; /* a frame ended; another may follow */
		if (out.pos > 0)
			return (ssize_t)out.pos;
	}
}

ssize_t image_read(struct image *img, void *buf, size_t len)
{
	ssize_t n;

	if (len == 0)
		return 0;
	switch (img->format) {
	case IMAGE_GZIP:
		n = read_gzip(img, buf, len);
		break;
	case IMAGE_XZ:
		n = read_xz(img, buf, len);
		break;
	case IMAGE_ZSTD:
		n = read_zstd(img, buf, len);
		break;
	default:
		n = read(img->fd, buf, len);
		if (n < 0) {
			n = -errno;
			snprintf(img->error, sizeof(img->error), "%s: read: %s", img->path,
			         strerror(errno));
		}
	}
	if (n > 0)
		img->offset += (uint64_t)n;
	return n;
}

ssize_t image_read_full(struct image *img, void *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = image_read(img, (uint8_t *)buf + got, len - got);
		if (n < 0)
			return n;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

int image_skip_to(struct image *img, uint64_t offset)
{
	static uint8_t sink[64 << 10];

	if (offset < img->offset)
		return -ESPIPE;
	if (img->format == IMAGE_PLAIN) {
		if (lseek(img->fd, (off_t)offset, SEEK_SET) < 0)
			return -errno;
		img->offset = offset;
		return 0;
	}
	while (img->offset < offset) {
		uint64_t left = offset - img->offset;
		ssize_t n =
		    image_read(img, sink, left < sizeof(sink) ? (size_t)left : sizeof(sink));
		if (n < 0)
			return (int)n;
		if (n == 0) {
			snprintf(img->error, sizeof(img->error),
			         "%s: the image ends at %llu bytes, before %llu", img->path,
			         (unsigned long long)img->offset, (unsigned long long)offset);
			return -EBADMSG;
		}
	}
	return 0;
}

static enum image_format sniff(const uint8_t *m, size_t n)
{
	static const uint8_t xz_magic[6] = {0xFD, '7', 'z', 'X', 'Z', 0x00};

	if (n >= 2 && m[0] == 0x1F && m[1] == 0x8B)
		return IMAGE_GZIP;
	if (n >= 6 && memcmp(m, xz_magic, 6) == 0)
		return IMAGE_XZ;
	if (n >= 4 && m[0] == 0x28 && m[1] == 0xB5 && m[2] == 0x2F && m[3] == 0xFD)
		return IMAGE_ZSTD;
	return IMAGE_PLAIN;
}

static int start_decoder(struct image *img)
{
	switch (img->format) {
	case IMAGE_GZIP:
		/* 15 + 16: a gzip header, not zlib's. */
		return inflateInit2(&img->gz, 15 + 16) == Z_OK ? 0 : -ENOMEM;
	case IMAGE_XZ:
		img->xz = (lzma_stream)LZMA_STREAM_INIT;
		return lzma_stream_decoder(&img->xz, UINT64_MAX, LZMA_CONCATENATED) == LZMA_OK
		           ? 0
		           : -ENOMEM;
	case IMAGE_ZSTD:
		img->zstd = ZSTD_createDStream();
		return img->zstd && !ZSTD_isError(ZSTD_initDStream(img->zstd)) ? 0 : -ENOMEM;
	default:
		return 0;
	}
}

int image_open(const char *path, struct image **out, char *err, size_t err_size)
{
	struct image *img = calloc(1, sizeof(*img));
	uint8_t magic[8];
	ssize_t n;
	struct stat st;
	int rc;

	*out = NULL;
	if (!img)
		return -ENOMEM;
	img->path = path;
	img->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (img->fd < 0 || fstat(img->fd, &st) < 0) {
		rc = -errno;
		snprintf(err, err_size, "image %s: %s", path, strerror(errno));
		goto fail;
	}
	if (S_ISDIR(st.st_mode)) {
		rc = -EISDIR;
		snprintf(err, err_size, "image %s: is a directory", path);
		goto fail;
	}
	n = pread(img->fd, magic, sizeof(magic), 0);
	if (n < 0) {
		rc = -errno;
		snprintf(err, err_size, "image %s: read: %s", path, strerror(errno));
		goto fail;
	}
	img->format = sniff(magic, (size_t)n);
	if (img->format == IMAGE_PLAIN) {
		img->size_hint = S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;
	} else {
		img->in = malloc(IN_SIZE);
		if (!img->in) {
			rc = -ENOMEM;
			goto fail;
		}
	}
	rc = start_decoder(img);
	if (rc < 0) {
		snprintf(err, err_size, "image %s: cannot start the %s decoder", path,
		         image_format_name(img->format));
		goto fail;
	}
	*out = img;
	return 0;
fail:
	image_close(img);
	return rc;
}

uint64_t image_offset(const struct image *img)
{
	return img->offset;
}

enum image_format image_format(const struct image *img)
{
	return img->format;
}

const char *image_format_name(enum image_format f)
{
	static const char *const names[] = {"plain", "gzip", "xz", "zstd"};

	return names[f];
}

uint64_t image_size_hint(const struct image *img)
{
	return img->size_hint;
}

const char *image_error(const struct image *img)
{
	return img->error[0] ? img->error : "unknown error";
}

void image_close(struct image *img)
{
	if (!img)
		return;
	if (img->format == IMAGE_GZIP)
		inflateEnd(&img->gz);
	else if (img->format == IMAGE_XZ)
		lzma_end(&img->xz);
	else if (img->format == IMAGE_ZSTD)
		ZSTD_freeDStream(img->zstd);
	if (img->fd >= 0)
		close(img->fd);
	free(img->in);
	free(img);
}
