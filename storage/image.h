/* storage/image.h — an image read as one forward stream: plain, or gzip, xz
 * or zstd compressed (told by the file's magic bytes, not its name), through
 * zlib, liblzma and libzstd.
 *
 * image_open() returns a reader the caller closes with image_close(); reads
 * are sequential, and image_skip() moves forward (a plain file seeks, a
 * compressed one decompresses and drops). Errors are a negative errno, with
 * one line in the reader's error text (image_error()). */
#ifndef HILCTL_STORAGE_IMAGE_H
#define HILCTL_STORAGE_IMAGE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum image_format { IMAGE_PLAIN, IMAGE_GZIP, IMAGE_XZ, IMAGE_ZSTD };

struct image;

int image_open(const char *path, struct image **out, char *err, size_t err_size);
/* Up to len bytes; 0 at the end of the image; -EBADMSG for corrupt data. */
ssize_t image_read(struct image *img, void *buf, size_t len);
/* Read exactly len bytes unless the image ends first; returns what it got. */
ssize_t image_read_full(struct image *img, void *buf, size_t len);
/* Move forward to offset (never back: -ESPIPE). */
int image_skip_to(struct image *img, uint64_t offset);
uint64_t image_offset(const struct image *img);
enum image_format image_format(const struct image *img);
const char *image_format_name(enum image_format f);
/* A plain image's size; 0 when it is only known at the end (compressed). */
uint64_t image_size_hint(const struct image *img);
const char *image_error(const struct image *img);
void image_close(struct image *img);

#endif
