/*
 * auth.c - the keys file, the check of a presented key, token buckets and
 * the limiter's bounded table of client addresses (see auth.h).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include <nettle/memops.h>
#include <nettle/sha2.h>

#include "auth/auth.h"
#include "util/util.h"

static const char *const endpoint_names[] = {
	"run", "jobs", "history", "languages", "judge0", "piston", "metrics",
};

const char *auth_endpoint_name(unsigned bit)
{
	for (size_t i = 0; i < UTIL_ARRAY_SIZE(endpoint_names); i++)
		if (bit == 1u << i)
			return endpoint_names[i];
	return "";
}

void auth_hash(const char *key, size_t len, uint8_t out[AUTH_HASH_LEN])
{
	struct sha256_ctx h;

	sha256_init(&h);
	sha256_update(&h, len, (const uint8_t *)key);
	sha256_digest(&h, AUTH_HASH_LEN, out);
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static void to_hex(const uint8_t *p, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = '\0';
}

int auth_key_make(char *key, size_t keylen, char *hash, size_t hashlen)
{
	uint8_t raw[AUTH_KEY_RANDOM], h[AUTH_HASH_LEN];
	char hex[2 * AUTH_HASH_LEN + 1];
	size_t got = 0;

	if (keylen < AUTH_KEY_LEN + 1 || hashlen < strlen(AUTH_HASH_PREFIX) + sizeof(hex))
		return -EINVAL;
	while (got < sizeof(raw)) {
		ssize_t n = getrandom(raw + got, sizeof(raw) - got, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		got += (size_t)n;
	}
	memcpy(key, AUTH_KEY_PREFIX, strlen(AUTH_KEY_PREFIX));
	to_hex(raw, sizeof(raw), key + strlen(AUTH_KEY_PREFIX));
	auth_hash(key, AUTH_KEY_LEN, h);
	to_hex(h, sizeof(h), hex);
	snprintf(hash, hashlen, "%s%s", AUTH_HASH_PREFIX, hex);
	explicit_bzero(raw, sizeof(raw));
	return 0;
}

/* --- The file --------------------------------------------------------------- */

static bool name_ok(const char *s, size_t n)
{
	if (n == 0 || n > AUTH_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

/* A made key, or most of one: sx_ and at least 32 more characters. */
static bool looks_like_key(const char *s)
{
	return strncmp(s, AUTH_KEY_PREFIX, strlen(AUTH_KEY_PREFIX)) == 0 &&
	       strlen(s) >= strlen(AUTH_KEY_PREFIX) + 32;
}

/* The words of a line, split at blanks: at most max. */
static size_t split_words(char *line, char **words, size_t max)
{
	size_t n = 0;
	char *p = line;

	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p)
			return n;
		if (n == max)
			return max + 1;
		words[n++] = p;
		while (*p && *p != ' ' && *p != '\t')
			p++;
		if (*p)
			*p++ = '\0';
	}
}

static int parse_endpoints(const char *v, unsigned *out)
{
	unsigned bits = 0;

	while (*v) {
		size_t n = strcspn(v, ","), i;

		for (i = 0; i < UTIL_ARRAY_SIZE(endpoint_names); i++)
			if (strlen(endpoint_names[i]) == n && memcmp(v, endpoint_names[i], n) == 0)
				break;
		if (n == 0 && v[0] == ',')
			return -EINVAL;
		if (i == UTIL_ARRAY_SIZE(endpoint_names))
			return -EINVAL;
		bits |= 1u << i;
		v += n;
		if (*v == ',' && *++v == '\0')
			return -EINVAL;
	}
	if (!bits)
		return -EINVAL;
	*out = bits;
	return 0;
}

/* One OPTION=VALUE of a key's line. */
static int parse_option(struct auth_key *k, const char *opt, char *why, size_t whylen)
{
	static const struct {
		const char *name;
		size_t max_off;		/* in struct api_maxima */
		int size;		/* a size with a suffix */
		enum sbx_limit_id id;
	} maxima[] = {
		{ "max_wall_time_ms", offsetof(struct api_maxima, wall_time_ms), 0, SBX_LIMIT_WALL_MS },
		{ "max_cpu_time_ms", offsetof(struct api_maxima, cpu_time_ms), 0, SBX_LIMIT_CPU_MS },
		{ "max_memory_bytes", offsetof(struct api_maxima, memory_bytes), 1, SBX_LIMIT_MEMORY },
		{ "max_processes", offsetof(struct api_maxima, max_processes), 0,
		  SBX_LIMIT_PROCESSES },
		{ "max_output_bytes", offsetof(struct api_maxima, output_bytes), 1, SBX_LIMIT_OUTPUT },
	};
	const char *eq = strchr(opt, '=');
	size_t n = eq ? (size_t)(eq - opt) : 0;
	const char *v = eq ? eq + 1 : "";
	uint64_t x;

	if (!eq || !*v)
		return util_msg(why, whylen, "'%.64s' is not OPTION=VALUE", opt);
	if (n == 9 && memcmp(opt, "endpoints", 9) == 0) {
		if (parse_endpoints(v, &k->endpoints) < 0)
			return util_msg(why, whylen, "endpoints: '%.128s' is not a list of run, jobs, "
					"history, languages, judge0, piston, metrics", v);
		return 0;
	}
	for (size_t i = 0; i < UTIL_ARRAY_SIZE(maxima); i++) {
		const struct sbx_limit_info *li = sbx_limit_info(maxima[i].id);

		if (strlen(maxima[i].name) != n || memcmp(opt, maxima[i].name, n) != 0)
			continue;
		if ((maxima[i].size ? util_parse_size(v, li->max, &x) : util_parse_u64(v, li->max, &x)) < 0 ||
		    x < li->min)
			return util_msg(why, whylen, "%s: '%.64s' is not %s from %llu to %llu",
					maxima[i].name, v, maxima[i].size ? "a size" : "a number",
					(unsigned long long)li->min, (unsigned long long)li->max);
		*(uint64_t *)((char *)&k->max + maxima[i].max_off) = x;
		return 0;
	}
	if ((n == 10 && memcmp(opt, "rate_limit", 10) == 0) ||
	    (n == 10 && memcmp(opt, "rate_burst", 10) == 0) ||
	    (n == 19 && memcmp(opt, "max_concurrent_runs", 19) == 0)) {
		uint64_t max = n == 19 ? AUTH_CONCURRENT_MAX : AUTH_RATE_MAX;

		if (util_parse_u64(v, max, &x) < 0)
			return util_msg(why, whylen, "%.*s: '%.64s' is not a number from 0 to %llu",
					(int)n, opt, v, (unsigned long long)max);
		if (n == 19) {
			k->rate.concurrent = x;
			k->has_concurrent = true;
		} else if (opt[5] == 'l') {
			k->rate.per_s = x;
			k->has_per_s = true;
		} else {
			k->rate.burst = x;
			k->has_burst = true;
		}
		return 0;
	}
	return util_msg(why, whylen, "unknown option '%.*s' (known: endpoints, max_wall_time_ms, "
			"max_cpu_time_ms, max_memory_bytes, max_processes, max_output_bytes, "
			"rate_limit, rate_burst, max_concurrent_runs)", (int)(n > 64 ? 64 : n), opt);
}

static int parse_line(struct auth_keys *ks, char *line, char *why, size_t whylen)
{
	char *w[16];
	size_t n = split_words(line, w, UTIL_ARRAY_SIZE(w));
	struct auth_key *k = &ks->keys[ks->n];
	const size_t plen = strlen(AUTH_HASH_PREFIX);
	int r;

	if (n > UTIL_ARRAY_SIZE(w))
		return util_msg(why, whylen, "too many options");
	if (n < 2)
		return util_msg(why, whylen, "expected NAME %sHEX [OPTION=VALUE]...",
				AUTH_HASH_PREFIX);
	if (looks_like_key(w[0]) || looks_like_key(w[1]))
		return util_msg(why, whylen, "this looks like a key, not its hash: the file must hold "
				"only hashes (`safexec key NAME` prints the line to write)");
	if (!name_ok(w[0], strlen(w[0])))
		return util_msg(why, whylen, "the name must be 1 to %d of A-Z a-z 0-9 . _ -",
				AUTH_NAME_MAX);
	for (size_t i = 0; i < ks->n; i++)
		if (strcmp(ks->keys[i].name, w[0]) == 0)
			return util_msg(why, whylen, "the name '%s' is used twice", w[0]);
	if (strncmp(w[1], AUTH_HASH_PREFIX, plen) != 0 || strlen(w[1]) != plen + 2 * AUTH_HASH_LEN)
		return util_msg(why, whylen, "the hash must be %s and %d hexadecimal digits",
				AUTH_HASH_PREFIX, 2 * AUTH_HASH_LEN);
	memset(k, 0, sizeof(*k));
	snprintf(k->name, sizeof(k->name), "%s", w[0]);
	for (size_t i = 0; i < AUTH_HASH_LEN; i++) {
		int hi = hex_value(w[1][plen + 2 * i]), lo = hex_value(w[1][plen + 2 * i + 1]);

		if (hi < 0 || lo < 0)
			return util_msg(why, whylen, "the hash must be %s and %d hexadecimal digits",
					AUTH_HASH_PREFIX, 2 * AUTH_HASH_LEN);
		k->hash[i] = (uint8_t)(hi << 4 | lo);
	}
	k->endpoints = AUTH_EP_ALL;
	for (size_t i = 2; i < n; i++)
		if ((r = parse_option(k, w[i], why, whylen)) < 0)
			return r;
	for (size_t i = 0; i < ks->n; i++)
		if (memeql_sec(ks->keys[i].hash, k->hash, AUTH_HASH_LEN))
			return util_msg(why, whylen, "the same hash as the key '%s'", ks->keys[i].name);
	ks->n++;
	return 0;
}

int auth_keys_parse(const char *text, size_t len, const char *origin, struct auth_keys **out,
		    char *why, size_t whylen)
{
	struct auth_keys *ks;
	unsigned lineno = 0;
	char msg[384];
	int r = 0;

	*out = NULL;
	if (len > AUTH_FILE_MAX)
		return util_msg(why, whylen, "%s: larger than %u bytes", origin, AUTH_FILE_MAX);
	if (!(ks = calloc(1, sizeof(*ks))) ||
	    !(ks->keys = calloc(AUTH_KEYS_MAX, sizeof(*ks->keys)))) {
		free(ks);
		util_msg(why, whylen, "%s: out of memory", origin);
		return -ENOMEM;
	}
	for (size_t pos = 0; pos < len;) {
		const char *p = text + pos, *nl = memchr(p, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - p) : len - pos, a = 0;
		char line[AUTH_LINE_MAX + 1];

		pos += n + 1;
		lineno++;
		if (n && p[n - 1] == '\r')
			n--;
		while (a < n && (p[a] == ' ' || p[a] == '\t'))
			a++;
		if (a == n || p[a] == '#')
			continue;
		if (n > AUTH_LINE_MAX || memchr(p, '\0', n)) {
			r = util_msg(why, whylen, "%s:%u: %s", origin, lineno,
				     n > AUTH_LINE_MAX ? "line too long" : "a NUL byte");
			goto fail;
		}
		if (ks->n == AUTH_KEYS_MAX) {
			r = util_msg(why, whylen, "%s:%u: more than %d keys", origin, lineno,
				     AUTH_KEYS_MAX);
			goto fail;
		}
		memcpy(line, p, n);
		line[n] = '\0';
		for (size_t i = 0; i < n; i++)
			if ((unsigned char)line[i] < 0x20 && line[i] != '\t') {
				r = util_msg(why, whylen, "%s:%u: a control character", origin,
					     lineno);
				goto fail;
			}
		if ((r = parse_line(ks, line, msg, sizeof(msg))) < 0) {
			util_msg(why, whylen, "%s:%u: %s", origin, lineno, msg);
			goto fail;
		}
		explicit_bzero(line, sizeof(line));
	}
	*out = ks;
	return 0;
fail:
	auth_keys_free(ks);
	return r;
}

int auth_keys_load(const char *path, struct auth_keys **out, char *why, size_t whylen)
{
	char *buf = NULL;
	size_t len;
	int r = util_read_file(path, AUTH_FILE_MAX, &buf, &len);

	*out = NULL;
	if (r < 0) {
		util_msg(why, whylen, "%s: %s", path,
			 r == -EFBIG ? "larger than 256 KiB" :
			 r == -EISDIR ? "not a regular file" : strerror(-r));
		return r;
	}
	r = auth_keys_parse(buf, len, path, out, why, whylen);
	free(buf);
	if (r == 0 && (*out)->n == 0) {
		auth_keys_free(*out);
		*out = NULL;
		return util_msg(why, whylen, "%s: no key (an empty keys_file turns keys off)", path);
	}
	return r;
}

void auth_keys_free(struct auth_keys *k)
{
	if (!k)
		return;
	free(k->keys);
	free(k);
}

/* --- A request's key -------------------------------------------------------- */

static const char *trim(const char *s, size_t *len)
{
	size_t n = strlen(s);

	while (n && (*s == ' ' || *s == '\t')) {
		s++;
		n--;
	}
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	*len = n;
	return s;
}

bool auth_presented(const char *authorization, const char *x_auth_token, const char **key,
		    size_t *len)
{
	size_t n;
	const char *s;

	if (authorization) {
		s = trim(authorization, &n);
		if (n > 7 && strncasecmp(s, "Bearer", 6) == 0 && (s[6] == ' ' || s[6] == '\t')) {
			s += 7;
			n -= 7;
			while (n && (*s == ' ' || *s == '\t')) {
				s++;
				n--;
			}
			if (n) {
				*key = s;
				*len = n;
				return true;
			}
		}
	}
	if (x_auth_token) {
		s = trim(x_auth_token, &n);
		if (n) {
			*key = s;
			*len = n;
			return true;
		}
	}
	return false;
}

struct auth_key *auth_check(const struct auth_keys *keys, const char *key, size_t len)
{
	uint8_t h[AUTH_HASH_LEN];
	struct auth_key *found = NULL;

	if (!keys || len == 0 || len > AUTH_PRESENTED_MAX)
		return NULL;
	auth_hash(key, len, h);
	for (size_t i = 0; i < keys->n; i++) {
		/* No early exit: every hash is compared whichever matches. */
		int same = memeql_sec(keys->keys[i].hash, h, AUTH_HASH_LEN);
		if (same && !found)
			found = &keys->keys[i];
	}
	return found;
}

void auth_narrow_maxima(const struct auth_key *key, struct api_maxima *m)
{
#define NARROW(f) do {								\
		if (key->max.f && (!m->f || key->max.f < m->f))		\
			m->f = key->max.f;					\
	} while (0)
	NARROW(wall_time_ms);
	NARROW(cpu_time_ms);
	NARROW(memory_bytes);
	NARROW(max_processes);
	NARROW(output_bytes);
#undef NARROW
}

/* --- Token buckets ---------------------------------------------------------- */

static uint64_t div_up(uint64_t a, uint64_t b)
{
	return a / b + (a % b != 0);
}

bool auth_bucket_take(struct auth_bucket *b, const struct auth_rate *rate, uint64_t now_us,
		      struct auth_verdict *v)
{
	uint64_t per_s = rate->per_s, burst = rate->burst ? rate->burst : rate->per_s;
	uint64_t full, elapsed;

	if (!per_s)
		return true;
	full = burst * AUTH_TOKEN;
	if (!b->used) {
		b->used = true;
		b->tokens = full;
		b->last_us = now_us;
	}
	/* A clock that went back refills nothing.  Refilling takes
	 * elapsed_us * per_s millionths; past full / per_s microseconds the
	 * bucket is full, which also keeps the product from overflowing. */
	elapsed = now_us > b->last_us ? now_us - b->last_us : 0;
	if (elapsed >= full / per_s)
		b->tokens = full;
	else if (b->tokens + elapsed * per_s > full)
		b->tokens = full;
	else
		b->tokens += elapsed * per_s;
	b->last_us = now_us > b->last_us ? now_us : b->last_us;

	v->rated = true;
	v->quota = burst;
	v->window_s = div_up(burst, per_s);
	if (b->tokens < AUTH_TOKEN) {
		v->limited = true;
		v->remaining = 0;
		/* Microseconds until one whole token, then whole seconds. */
		v->retry_after_s = div_up(div_up(AUTH_TOKEN - b->tokens, per_s), 1000000);
		v->reset_s = div_up(div_up(full - b->tokens, per_s), 1000000);
		return false;
	}
	b->tokens -= AUTH_TOKEN;
	v->remaining = b->tokens / AUTH_TOKEN;
	v->reset_s = div_up(div_up(full - b->tokens, per_s), 1000000);
	return true;
}

/* --- The limiter ------------------------------------------------------------ */

/* Addresses sit in sets of AUTH_WAYS slots, the set picked by a keyed hash
 * (a random seed: no client can aim its addresses at one set).  A new
 * address takes a free slot of its set, or the one idle longest: never one
 * with runs in flight, whose count must stay until they end. */
#define AUTH_WAYS 8
#define AUTH_ADDR_MAX 16

struct addr_slot {
	struct auth_bucket b;
	uint8_t addr[AUTH_ADDR_MAX];
	uint8_t addr_len;
};

struct auth_limiter {
	pthread_mutex_t lock;
	struct auth_keys *keys;
	struct auth_bucket *key_buckets;	/* keys->n */
	struct auth_rate rate;
	struct addr_slot *slots;
	size_t nsets;
	uint64_t seed;
	uint64_t used, evictions, limited;
};

int auth_limiter_new(struct auth_limiter **out, struct auth_keys *keys,
		     const struct auth_rate *rate, size_t slots)
{
	struct auth_limiter *l = calloc(1, sizeof(*l));
	size_t nkeys = keys ? keys->n : 0;

	*out = NULL;
	if (!l)
		return -ENOMEM;
	if (slots < AUTH_SLOTS_MIN)
		slots = AUTH_SLOTS_MIN;
	if (slots > AUTH_SLOTS_MAX)
		slots = AUTH_SLOTS_MAX;
	l->nsets = div_up(slots, AUTH_WAYS);
	l->keys = keys;
	l->rate = *rate;
	l->slots = calloc(l->nsets * AUTH_WAYS, sizeof(*l->slots));
	l->key_buckets = calloc(nkeys ? nkeys : 1, sizeof(*l->key_buckets));
	if (!l->slots || !l->key_buckets || getrandom(&l->seed, sizeof(l->seed), 0) < 0) {
		free(l->slots);
		free(l->key_buckets);
		free(l);
		return -ENOMEM;
	}
	pthread_mutex_init(&l->lock, NULL);
	*out = l;
	return 0;
}

void auth_limiter_free(struct auth_limiter *l)
{
	if (!l)
		return;
	pthread_mutex_destroy(&l->lock);
	free(l->slots);
	free(l->key_buckets);
	free(l);
}

static uint64_t addr_hash(uint64_t seed, const uint8_t *p, size_t n)
{
	/* FNV-1a from a random basis, then a final mix. */
	uint64_t h = 0xcbf29ce484222325ull ^ seed;

	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	return h;
}

/* The slot of an address, found or made; NULL when every slot of its set
 * has runs in flight. */
static struct addr_slot *find_slot(struct auth_limiter *l, const uint8_t *addr, size_t n)
{
	struct addr_slot *set = &l->slots[(addr_hash(l->seed, addr, n) % l->nsets) * AUTH_WAYS];
	struct addr_slot *victim = NULL;

	for (size_t i = 0; i < AUTH_WAYS; i++) {
		struct addr_slot *s = &set[i];

		if (s->b.used && s->addr_len == n && memcmp(s->addr, addr, n) == 0)
			return s;
	}
	for (size_t i = 0; i < AUTH_WAYS; i++) {
		struct addr_slot *s = &set[i];

		if (!s->b.used) {
			victim = s;
			break;
		}
		if (!s->b.running && (!victim || s->b.last_us < victim->b.last_us))
			victim = s;
	}
	if (!victim)
		return NULL;
	if (victim->b.used)
		l->evictions++;
	else
		l->used++;
	memset(victim, 0, sizeof(*victim));
	memcpy(victim->addr, addr, n);
	victim->addr_len = (uint8_t)n;
	return victim;
}

static struct auth_rate key_rate(const struct auth_limiter *l, const struct auth_key *k)
{
	struct auth_rate r = l->rate;

	if (k->has_per_s) {
		r.per_s = k->rate.per_s;
		/* A key's own rate without its own burst: a burst of its rate. */
		if (!k->has_burst)
			r.burst = 0;
	}
	if (k->has_burst)
		r.burst = k->rate.burst;
	if (k->has_concurrent)
		r.concurrent = k->rate.concurrent;
	return r;
}

bool auth_limiter_take(struct auth_limiter *l, struct auth_key *key, const void *addr,
		       size_t addr_len, bool run, uint64_t now_us, struct auth_verdict *v,
		       struct auth_hold *hold)
{
	struct auth_rate rate = key ? key_rate(l, key) : l->rate;
	struct auth_bucket *b;
	struct addr_slot *s = NULL;
	size_t slot;
	bool ok = true;

	memset(v, 0, sizeof(*v));
	hold->slot = 0;
	if (!rate.per_s && !(run && rate.concurrent))
		return true;
	if (!key && addr_len > AUTH_ADDR_MAX)
		addr_len = AUTH_ADDR_MAX;
	pthread_mutex_lock(&l->lock);
	if (key) {
		size_t i = (size_t)(key - l->keys->keys);
		b = &l->key_buckets[i];
		slot = 1 + i;
	} else {
		s = find_slot(l, addr, addr_len);
		if (!s) {
			/* Every address of the set has runs in flight. */
			v->limited = v->concurrency = true;
			v->retry_after_s = 1;
			l->limited++;
			pthread_mutex_unlock(&l->lock);
			return false;
		}
		b = &s->b;
		slot = 1 + (l->keys ? l->keys->n : 0) + (size_t)(s - l->slots);
	}
	if (!b->used) {
		b->used = true;
		b->last_us = now_us;
		b->tokens = (rate.burst ? rate.burst : rate.per_s) * AUTH_TOKEN;
	}
	if (run && rate.concurrent && b->running >= rate.concurrent) {
		/* Checked first: a refused run takes no token. */
		struct auth_bucket probe = *b;
		auth_bucket_take(&probe, &rate, now_us, v);
		v->limited = v->concurrency = true;
		v->remaining = probe.tokens / AUTH_TOKEN;
		v->retry_after_s = 1;
		ok = false;
	} else if (!auth_bucket_take(b, &rate, now_us, v)) {
		ok = false;
	} else if (!rate.per_s) {
		b->last_us = now_us;	/* for the choice of a slot to reuse */
	}
	if (ok && run && rate.concurrent) {
		b->running++;
		hold->slot = slot;
	}
	if (!ok && !key)
		l->limited++;
	pthread_mutex_unlock(&l->lock);
	return ok;
}

void auth_limiter_release(struct auth_limiter *l, struct auth_hold *hold)
{
	size_t nkeys;
	struct auth_bucket *b;

	if (!l || !hold->slot)
		return;
	nkeys = l->keys ? l->keys->n : 0;
	pthread_mutex_lock(&l->lock);
	b = hold->slot <= nkeys ? &l->key_buckets[hold->slot - 1]
				: &l->slots[hold->slot - 1 - nkeys].b;
	if (b->running)
		b->running--;
	pthread_mutex_unlock(&l->lock);
	hold->slot = 0;
}

void auth_limiter_stats(struct auth_limiter *l, struct auth_limiter_stats *s)
{
	memset(s, 0, sizeof(*s));
	if (!l)
		return;
	pthread_mutex_lock(&l->lock);
	s->slots = l->nsets * AUTH_WAYS;
	s->used = l->used;
	s->evictions = l->evictions;
	s->limited = l->limited;
	pthread_mutex_unlock(&l->lock);
}
