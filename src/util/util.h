/*
 * util.h - small helpers every part may use: number and size parsing, and
 * cleanup attributes.
 */
#ifndef SAFEXEC_UTIL_H
#define SAFEXEC_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "util/banned.h"

/* Parses a decimal integer with no sign, no spaces and no trailing bytes
 * into *out, refusing values above max.  Returns 0 or -EINVAL / -ERANGE. */
int util_parse_u64(const char *s, uint64_t max, uint64_t *out);

/* The same for len bytes that need not be NUL-terminated. */
int util_parse_u64n(const char *s, size_t len, uint64_t max, uint64_t *out);

/* Parses a size: digits with an optional K, M or G suffix (powers of 1024,
 * either case, an optional trailing "B" or "iB").  Same contract as above. */
int util_parse_size(const char *s, uint64_t max, uint64_t *out);

/* Formats bytes as "128 MiB", "1.5 GiB", "512 B" into buf.  Returns buf. */
char *util_format_size(uint64_t bytes, char *buf, size_t len);

/* Reads fd to its end, at most max bytes, into a malloc'ed buffer with a
 * NUL after its len bytes.  Returns 0, -EFBIG or another negative errno. */
int util_read_fd(int fd, size_t max, char **out, size_t *len);
/* The same for a regular file (-EISDIR for anything else). */
int util_read_file(const char *path, size_t max, char **out, size_t *len);

/* Formats a message into why (if any) and returns -EINVAL, so that a
 * checker can `return util_msg(why, len, "...")`. */
__attribute__((format(printf, 3, 4)))
int util_msg(char *why, size_t whylen, const char *fmt, ...);

#define UTIL_KV_LINE_MAX 4096

/*
 * Parses `key = value` lines (len bytes, need not be NUL-terminated):
 * blank lines and lines starting with '#' are skipped, blanks around the
 * key and the value are dropped, a value may be wrapped in double quotes.
 * Calls set(ctx, key, value, ...) for each; its error (a negative errno with
 * a message) stops the parse.  Messages are "ORIGIN:LINE: ...".  Returns 0
 * or a negative errno.
 */
int util_kv_parse(const char *text, size_t len, const char *origin,
		  int (*set)(void *ctx, const char *key, const char *value,
			     char *why, size_t whylen),
		  void *ctx, char *why, size_t whylen);

/* A symbol to look up in a library loaded at run time, and where to put it. */
struct util_sym {
	const char *name;
	void **slot;
};

/* Loads soname (RTLD_NOW | RTLD_LOCAL, never unloaded) and fills every
 * slot.  Returns 0, or -ENOENT with a message naming the library, the
 * missing symbol or, when the library is missing, the Debian package to
 * install.  For libraries only the server uses (see src/http/mhd.h), so
 * that `safexec run` does not pay for loading them. */
int util_dlsyms(const char *soname, const char *package, const struct util_sym *syms,
		size_t n, char *why, size_t whylen);

/*
 * Whether the len bytes at name make a plain file name, the one rule for
 * the names of a request's files and of the files a run returns: 1 to max
 * bytes of [A-Za-z0-9._+-], not starting with '.' or '-'.  So no '/', no
 * NUL, no "..", no byte a shell, a terminal or a browser would read as
 * anything but the name, and no option to a command a glob hands it to.
 * Async-signal-safe (the sandbox's init calls it) and independent of the
 * locale.
 */
bool util_plain_name_ok(const char *name, size_t len, size_t max);

/* Monotonic clock in nanoseconds. */
uint64_t util_now_ns(void);

static inline void util_freep(void *p) { free(*(void **)p); }
static inline void util_closep(int *fd)
{
	if (*fd >= 0)
		close(*fd);
}
#define _cleanup_free_ __attribute__((cleanup(util_freep)))
#define _cleanup_close_ __attribute__((cleanup(util_closep)))

#define UTIL_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif
