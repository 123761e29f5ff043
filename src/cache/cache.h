/*
 * cache.h - the compile cache: a compile stage's result kept in memory and
 * given again to a compile of the same thing, so that a judge running one
 * submission against many tests, or many students sending the same starter
 * code, compiles once.
 *
 * Usage:
 *	struct cache *c = cache_new(64 << 20);	   NULL: no cache (0 bytes)
 *	uint8_t key[CACHE_KEY_SIZE];
 *	cache_key(key, &(struct cache_key_input){ ... });
 *	if (!cache_get(c, key, &res.compile)) {
 *		sbx_run(host, &req, &res.compile);
 *		cache_put(c, key, &res.compile);
 *	}
 *	... sbx_result_release(&res.compile);
 *	cache_free(c);
 *
 * Every call takes a NULL cache as "no cache": get misses, put stores
 * nothing, stats are zeros.
 *
 * Thread-safe: one cache is shared by all worker threads.  Two workers
 * compiling the same key at once both miss and both compile; the second
 * put finds the entry there and keeps it.  That costs a compile, never a
 * wrong result.
 */
#ifndef SAFEXEC_CACHE_H
#define SAFEXEC_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sandbox/sandbox.h"

#define CACHE_KEY_SIZE 32	/* SHA-256 */

/* What makes two compiles the same.  All pointers are borrowed. */
struct cache_key_input {
	const char *runtime;		/* the runtime's name */
	const char *version;		/* its version text ("12.2.0") */
	const char *const *words;	/* the compile command, NULL-terminated */
	const char *const *options;	/* the request's compile options */
	size_t noptions;
	const struct sbx_limits *limits; /* the compile stage's */
	const struct sbx_file *files;	/* in the order given */
	size_t nfiles;
};

/* The SHA-256 of an unambiguous encoding of every field of *in (each
 * length-prefixed, under a version tag): inputs that differ in any field,
 * or in the order of the words, options or files, give different keys. A
 * NULL string differs from "", a NULL words or limits is as none given. */
void cache_key(uint8_t key[CACHE_KEY_SIZE], const struct cache_key_input *in);

/* A cache holding at most max_bytes (the results' buffers, names and file
 * contents, and the cache's own bookkeeping per entry).  0, or no memory:
 * NULL, which every call takes as no cache. */
struct cache *cache_new(size_t max_bytes);
/* With no other call on c in progress. */
void cache_free(struct cache *c);

/* On a hit, fills *out with a copy of the stored result that is out's own
 * (released with sbx_result_release()), makes the entry the most recently
 * used one and returns true.  On a miss returns false and leaves *out as it
 * was. */
bool cache_get(struct cache *c, const uint8_t key[CACHE_KEY_SIZE], struct sbx_result *out);

/* Stores a copy of *res when it is worth reusing: SBX_OK, or a plain
 * non-zero exit (the compiler's error, which the same source gives again).
 * Never a timeout, memory or output limit, signal or internal error (those
 * may depend on the load of the host), nor a result whose files were
 * truncated.  An entry larger than a quarter of max_bytes is not stored;
 * the least recently used entries make room for a new one.  *res stays
 * the caller's. */
void cache_put(struct cache *c, const uint8_t key[CACHE_KEY_SIZE], const struct sbx_result *res);

/* Whether cache_put() would store res (its size aside). */
bool cache_result_reusable(const struct sbx_result *res);

struct cache_stats {
	uint64_t hits, misses;	/* cache_get()s */
	uint64_t entries;	/* held now */
	uint64_t bytes;		/* held now, counted as for max_bytes */
	uint64_t max_bytes;
	uint64_t stored;	/* entries ever stored */
	uint64_t evicted;	/* entries dropped to make room */
};

void cache_stats(struct cache *c, struct cache_stats *st);

#endif
