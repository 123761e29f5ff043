/*
 * auth.h - API keys and rate limits: the keys file (hashed keys, never the
 * keys themselves), the check of a key a request presents, and the token
 * buckets that bound the requests and the concurrent runs of each key or
 * client address.  Knows nothing of HTTP: src/http/guard.c asks it about a
 * request's headers and address and answers 401, 403 or 429.
 *
 * A key is AUTH_KEY_PREFIX and 64 hexadecimal digits, 256 random bits
 * (auth_key_make()).  The file holds the SHA-256 of each key: a fast hash
 * is enough because the keys are random, not chosen by people; nothing
 * short of 2^256 guesses finds a key from its hash, so the slow, salted
 * KDFs that protect passwords would add only a cost per request.
 *
 * Every size is bounded (the file, a line, the keys, a name, a presented
 * key), and so is the table of client addresses: a fixed number of slots,
 * the longest idle one reused, so that many addresses cannot take memory.
 *
 * Threads: a key table is read-only once loaded.  A limiter takes its own
 * lock; the counters of a key are atomics.
 */
#ifndef SAFEXEC_AUTH_H
#define SAFEXEC_AUTH_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/api.h"

#define AUTH_FILE_MAX (256u << 10)	/* bytes of a keys file */
#define AUTH_LINE_MAX 1024		/* bytes of one of its lines */
#define AUTH_KEYS_MAX 1000		/* keys in a file: the /metrics labels */
#define AUTH_NAME_MAX 64		/* bytes of a key's name */
#define AUTH_PRESENTED_MAX 256		/* bytes of a key a request presents */
#define AUTH_KEY_PREFIX "sx_"
#define AUTH_KEY_RANDOM 32		/* random bytes of a made key */
#define AUTH_KEY_LEN (3 + 2 * AUTH_KEY_RANDOM) /* prefix and hex digits */
#define AUTH_HASH_LEN 32		/* SHA-256 */
#define AUTH_HASH_PREFIX "sha256:"
#define AUTH_RATE_MAX 1000000		/* requests per second, a burst */
#define AUTH_CONCURRENT_MAX 65536
#define AUTH_SLOTS_MIN 16		/* client addresses the limiter tracks */
#define AUTH_SLOTS_MAX (1u << 20)

/* The endpoints a key may be limited to (endpoints=NAME,... in the file). */
enum auth_endpoint {
	AUTH_EP_RUN = 1u << 0,		/* POST /run, POST /api/v1/execute */
	AUTH_EP_JOBS = 1u << 1,		/* POST /api/v1/jobs, GET /api/v1/jobs/{token} */
	AUTH_EP_HISTORY = 1u << 2,	/* GET /api/v1/executions[/{id}] */
	AUTH_EP_LANGUAGES = 1u << 3,	/* GET /api/v1/languages */
	AUTH_EP_JUDGE0 = 1u << 4,	/* Judge0's paths */
	AUTH_EP_PISTON = 1u << 5,	/* Piston's paths */
	AUTH_EP_METRICS = 1u << 6,	/* GET /metrics */
	AUTH_EP_ALL = (1u << 7) - 1,
};

/* "run", "jobs", ...: the name of one endpoint bit. */
const char *auth_endpoint_name(unsigned bit);

/* How fast a key or an address may send requests: a token bucket of burst
 * tokens refilled at per_s a second (0: no limit), and the most runs it may
 * have at once (0: no limit). */
struct auth_rate {
	uint64_t per_s;
	uint64_t burst;			/* 0: per_s */
	uint64_t concurrent;
};

struct auth_key {
	char name[AUTH_NAME_MAX + 1];	/* [A-Za-z0-9._-], unique in the file */
	uint8_t hash[AUTH_HASH_LEN];
	unsigned endpoints;		/* enum auth_endpoint bits */
	struct api_maxima max;		/* 0 = the server's */
	/* Its own rate, each field where the file gives it (has_*), else
	 * the server's settings. */
	struct auth_rate rate;
	bool has_per_s, has_burst, has_concurrent;
	/* For /metrics. */
	atomic_ullong requests, refused, limited;
};

struct auth_keys {
	struct auth_key *keys;
	size_t n;
};

/*
 * Parses a keys file's text (len bytes, need not be NUL-terminated): one key
 * per line, `NAME sha256:HEX [OPTION=VALUE]...`, the options being
 * endpoints=NAME,NAME... and the maxima max_wall_time_ms, max_cpu_time_ms,
 * max_memory_bytes (a size), max_processes, max_output_bytes (a size) and
 * rate_limit, rate_burst, max_concurrent_runs; blank lines and lines
 * starting with '#' are skipped.  A line holding what looks like a key
 * rather than its hash is refused: the file must not hold keys.  Returns 0
 * with *out (free with auth_keys_free()), or -EINVAL / -ENOMEM with a
 * message "ORIGIN:LINE: ..." in why.
 */
int auth_keys_parse(const char *text, size_t len, const char *origin, struct auth_keys **out,
		    char *why, size_t whylen);
/* Reads and parses a file of at most AUTH_FILE_MAX bytes. */
int auth_keys_load(const char *path, struct auth_keys **out, char *why, size_t whylen);
void auth_keys_free(struct auth_keys *k);

/* The key a request presents: the value of `Authorization: Bearer KEY` (the
 * scheme in any case) or else of `X-Auth-Token: KEY` (Judge0's); either may
 * be NULL.  Returns true with *key and *len pointing into one of them, or
 * false when neither holds one. */
bool auth_presented(const char *authorization, const char *x_auth_token, const char **key,
		    size_t *len);

/* The entry of keys whose hash is the SHA-256 of the len bytes at key, or
 * NULL.  Every entry is compared, each in constant time, whichever
 * matches, so that the time taken tells nothing of the hashes. */
struct auth_key *auth_check(const struct auth_keys *keys, const char *key, size_t len);

/* SHA-256 of len bytes. */
void auth_hash(const char *key, size_t len, uint8_t out[AUTH_HASH_LEN]);

/* Makes a new key: AUTH_KEY_LEN characters and a NUL into key (size at
 * least AUTH_KEY_LEN + 1) and "sha256:HEX" into hash (size at least 72).
 * Returns 0 or a negative errno (no randomness). */
int auth_key_make(char *key, size_t keylen, char *hash, size_t hashlen);

/* The key's maxima applied to the server's: each the lower where the key
 * sets one. */
void auth_narrow_maxima(const struct auth_key *key, struct api_maxima *m);

/* --- Token buckets ------------------------------------------------------ */

#define AUTH_TOKEN 1000000ull		/* one request, in millionths */

struct auth_bucket {
	uint64_t tokens;		/* millionths of a request */
	uint64_t last_us;		/* when tokens was last brought up to date */
	uint32_t running;		/* runs in flight */
	bool used;
};

/* What a bucket says of a request, for the answer's headers. */
struct auth_verdict {
	bool limited;			/* 429 */
	bool concurrency;		/* ... because of the concurrent runs */
	bool rated;			/* a rate applies: send the headers */
	uint64_t quota;			/* the burst */
	uint64_t window_s;		/* seconds to refill a whole burst */
	uint64_t remaining;		/* whole requests left now */
	uint64_t reset_s;		/* seconds until the bucket is full */
	uint64_t retry_after_s;		/* with limited: seconds to wait */
};

/* Brings b up to now_us and takes one request from it: returns true, or
 * false (the bucket unchanged) with v->retry_after_s set.  A new bucket
 * (b->used false) starts full.  per_s 0: always true. */
bool auth_bucket_take(struct auth_bucket *b, const struct auth_rate *rate, uint64_t now_us,
		      struct auth_verdict *v);

/* --- The limiter ------------------------------------------------------------ */

struct auth_limiter;

/* A limiter for keys (may be NULL: addresses only) with the server's rate
 * for keys and addresses alike, tracking at most slots addresses (rounded
 * up to a multiple of the set size).  Returns 0 or -ENOMEM. */
int auth_limiter_new(struct auth_limiter **out, struct auth_keys *keys,
		     const struct auth_rate *rate, size_t slots);
void auth_limiter_free(struct auth_limiter *l);

/* A hold on a concurrent run, given back with auth_limiter_release(). */
struct auth_hold {
	size_t slot;			/* 0: none */
};

/*
 * Counts a request of key (NULL: of the address, addr_len bytes of
 * addr) at now_us: its rate, and with run, a concurrent run (held in *hold
 * when it is let through).  Returns false when it is to be refused (429),
 * with *v saying why and when to retry.
 */
bool auth_limiter_take(struct auth_limiter *l, struct auth_key *key, const void *addr,
		       size_t addr_len, bool run, uint64_t now_us, struct auth_verdict *v,
		       struct auth_hold *hold);
void auth_limiter_release(struct auth_limiter *l, struct auth_hold *hold);

struct auth_limiter_stats {
	uint64_t slots;			/* addresses it can track */
	uint64_t used;			/* addresses it tracks now */
	uint64_t evictions;		/* addresses forgotten for others */
	uint64_t limited;		/* 429s to addresses */
};
void auth_limiter_stats(struct auth_limiter *l, struct auth_limiter_stats *s);

#endif
