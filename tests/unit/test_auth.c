/* Unit tests for src/auth/: the keys file, the key check, token buckets and
 * the limiter's bounded table. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"
#include "test.h"

/* The hash line of a key, as `safexec key` writes it. */
static void hash_of(const char *key, char *out, size_t len)
{
	uint8_t h[AUTH_HASH_LEN];
	size_t n;

	auth_hash(key, strlen(key), h);
	n = (size_t)snprintf(out, len, "%s", AUTH_HASH_PREFIX);
	for (size_t i = 0; i < AUTH_HASH_LEN; i++)
		n += (size_t)snprintf(out + n, len - n, "%02x", h[i]);
}

static int parse(const char *text, struct auth_keys **out, char *why, size_t whylen)
{
	return auth_keys_parse(text, strlen(text), "keys", out, why, whylen);
}

TEST(auth_key_make_and_check)
{
	char key[AUTH_KEY_LEN + 1], hash[80], file[256], why[256];
	struct auth_keys *ks = NULL;

	ASSERT_EQ(auth_key_make(key, sizeof(key), hash, sizeof(hash)), 0);
	ASSERT_EQ(strlen(key), AUTH_KEY_LEN);
	ASSERT(strncmp(key, AUTH_KEY_PREFIX, 3) == 0);
	ASSERT_EQ(strlen(hash), 7 + 64);
	snprintf(file, sizeof(file), "# a comment\n\nalice %s\n", hash);
	ASSERT_EQ(parse(file, &ks, why, sizeof(why)), 0);
	ASSERT_EQ(ks->n, 1);
	ASSERT(strstr(file, key + 3) == NULL);
	ASSERT(auth_check(ks, key, strlen(key)) == &ks->keys[0]);
	ASSERT_STREQ(ks->keys[0].name, "alice");
	ASSERT_EQ(ks->keys[0].endpoints, AUTH_EP_ALL);
	/* The same length, the last byte changed; shorter; longer; empty. */
	key[AUTH_KEY_LEN - 1] = key[AUTH_KEY_LEN - 1] == '0' ? '1' : '0';
	ASSERT(auth_check(ks, key, strlen(key)) == NULL);
	ASSERT(auth_check(ks, key, strlen(key) - 1) == NULL);
	ASSERT(auth_check(ks, "", 0) == NULL);
	ASSERT(auth_check(NULL, key, strlen(key)) == NULL);
	auth_keys_free(ks);

	/* Two keys made are different. */
	char key2[AUTH_KEY_LEN + 1], hash2[80];
	ASSERT_EQ(auth_key_make(key2, sizeof(key2), hash2, sizeof(hash2)), 0);
	ASSERT(strcmp(hash, hash2) != 0);
	ASSERT_EQ(auth_key_make(key2, 10, hash2, sizeof(hash2)), -EINVAL);
}

TEST(auth_keys_options)
{
	char h1[80], h2[80], text[1024], why[256];
	struct auth_keys *ks = NULL;

	hash_of("sx_one", h1, sizeof(h1));
	hash_of("sx_two", h2, sizeof(h2));
	snprintf(text, sizeof(text),
		 "one %s endpoints=run,judge0 max_wall_time_ms=2000 max_memory_bytes=64M\r\n"
		 "  two\t%s rate_limit=5 rate_burst=10 max_concurrent_runs=2\n", h1, h2);
	ASSERT_EQ(parse(text, &ks, why, sizeof(why)), 0);
	ASSERT_EQ(ks->n, 2);
	ASSERT_EQ(ks->keys[0].endpoints, AUTH_EP_RUN | AUTH_EP_JUDGE0);
	ASSERT_EQ(ks->keys[0].max.wall_time_ms, 2000);
	ASSERT_EQ(ks->keys[0].max.memory_bytes, 64u << 20);
	ASSERT_EQ(ks->keys[0].max.cpu_time_ms, 0);
	ASSERT(!ks->keys[0].has_per_s);
	ASSERT(ks->keys[1].has_per_s && ks->keys[1].has_burst && ks->keys[1].has_concurrent);
	ASSERT_EQ(ks->keys[1].rate.per_s, 5);
	ASSERT_EQ(ks->keys[1].rate.burst, 10);
	ASSERT_EQ(ks->keys[1].rate.concurrent, 2);
	ASSERT(auth_check(ks, "sx_two", 6) == &ks->keys[1]);

	/* Narrowing: the lower of each; the server's where the key has none. */
	struct api_maxima m = { .wall_time_ms = 20000, .cpu_time_ms = 15000,
				.memory_bytes = 32u << 20 };
	auth_narrow_maxima(&ks->keys[0], &m);
	ASSERT_EQ(m.wall_time_ms, 2000);
	ASSERT_EQ(m.cpu_time_ms, 15000);
	ASSERT_EQ(m.memory_bytes, 32u << 20);
	auth_keys_free(ks);
}

TEST(auth_keys_refused)
{
	char h[80], text[2048], why[256];
	struct auth_keys *ks = NULL;
	const char *bad[] = {
		"alice",					/* no hash */
		"alice sha256:1234",				/* short */
		"alice md5:0123",				/* not SHA-256 */
		"alice sx_0123456789abcdef0123456789abcdef01",	/* a key, not a hash */
		"alice sx_0123",				/* not a hash */
		"al/ice @",					/* a bad name */
		"alice @ endpoints=run,bogus",
		"alice @ endpoints=",
		"alice @ endpoints=run,",
		"alice @ max_wall_time_ms=0",			/* below the sandbox's minimum */
		"alice @ max_wall_time_ms=x",
		"alice @ rate_limit=-1",
		"alice @ colour=blue",
		"alice @ flag",
		"alice @\nalice @",				/* a name twice */
	};

	hash_of("sx_k", h, sizeof(h));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t n = 0;
		for (const char *p = bad[i]; *p && n + 80 < sizeof(text); p++)
			n += (size_t)snprintf(text + n, sizeof(text) - n, "%s",
					      *p == '@' ? h : (char[]){ *p, 0 });
		why[0] = '\0';
		ASSERT_EQ(parse(text, &ks, why, sizeof(why)), -EINVAL);
		ASSERT(ks == NULL);
		ASSERT(strncmp(why, "keys:", 5) == 0);
	}
	/* The same hash under two names. */
	snprintf(text, sizeof(text), "a %s\nb %s\n", h, h);
	ASSERT_EQ(parse(text, &ks, why, sizeof(why)), -EINVAL);
	ASSERT(strstr(why, "keys:2:"));
	/* A line too long. */
	char longline[AUTH_LINE_MAX + 64];
	memset(longline, 'a', sizeof(longline) - 1);
	longline[sizeof(longline) - 1] = '\0';
	ASSERT_EQ(parse(longline, &ks, why, sizeof(why)), -EINVAL);
	ASSERT(strstr(why, "too long"));
}

TEST(auth_keys_bounded)
{
	/* AUTH_KEYS_MAX keys parse; one more does not. */
	size_t per = 80, n = AUTH_KEYS_MAX + 1;
	char *text = malloc(n * per), h[80], why[256];
	size_t len = 0;
	struct auth_keys *ks = NULL;

	ASSERT(text);
	for (size_t i = 0; i < n; i++) {
		char k[32];
		snprintf(k, sizeof(k), "sx_%zu", i);
		hash_of(k, h, sizeof(h));
		len += (size_t)snprintf(text + len, n * per - len, "k%zu %s\n", i, h);
	}
	ASSERT_EQ(auth_keys_parse(text, len, "keys", &ks, why, sizeof(why)), -EINVAL);
	ASSERT(strstr(why, "more than"));
	/* Without the last line. */
	size_t cut = len - 1;
	while (cut && text[cut - 1] != '\n')
		cut--;
	ASSERT_EQ(auth_keys_parse(text, cut, "keys", &ks, why, sizeof(why)), 0);
	ASSERT_EQ(ks->n, AUTH_KEYS_MAX);
	ASSERT(auth_check(ks, "sx_999", 6) == &ks->keys[999]);
	auth_keys_free(ks);
	ASSERT_EQ(auth_keys_parse(text, AUTH_FILE_MAX + 1, "keys", &ks, why, sizeof(why)),
		  -EINVAL);
	free(text);
}

TEST(auth_presented_headers)
{
	const char *k;
	size_t n;

	ASSERT(auth_presented("Bearer abc", NULL, &k, &n));
	ASSERT_MEMEQ(k, n, "abc", 3);
	ASSERT(auth_presented("bearer  abc ", NULL, &k, &n));
	ASSERT_MEMEQ(k, n, "abc", 3);
	ASSERT(auth_presented(NULL, " tok ", &k, &n));
	ASSERT_MEMEQ(k, n, "tok", 3);
	/* Bearer first; another scheme falls back to X-Auth-Token. */
	ASSERT(auth_presented("Bearer b", "x", &k, &n));
	ASSERT_MEMEQ(k, n, "b", 1);
	ASSERT(auth_presented("Basic Zm9v", "x", &k, &n));
	ASSERT_MEMEQ(k, n, "x", 1);
	ASSERT(!auth_presented("Basic Zm9v", NULL, &k, &n));
	ASSERT(!auth_presented("Bearer", NULL, &k, &n));
	ASSERT(!auth_presented("Bearer   ", "", &k, &n));
	ASSERT(!auth_presented("Bearerabc", NULL, &k, &n));
	ASSERT(!auth_presented(NULL, NULL, &k, &n));
}

TEST(auth_bucket_arithmetic)
{
	struct auth_bucket b = { 0 };
	struct auth_rate r = { .per_s = 2, .burst = 4 };
	struct auth_verdict v;
	uint64_t t = 1000000;

	/* A new bucket is full: four at once, then the fifth waits. */
	for (int i = 0; i < 4; i++) {
		memset(&v, 0, sizeof(v));
		ASSERT(auth_bucket_take(&b, &r, t, &v));
		ASSERT_EQ(v.remaining, 3 - i);
		ASSERT_EQ(v.quota, 4);
		ASSERT_EQ(v.window_s, 2);
	}
	memset(&v, 0, sizeof(v));
	ASSERT(!auth_bucket_take(&b, &r, t, &v));
	ASSERT(v.limited);
	ASSERT_EQ(v.retry_after_s, 1);		/* half a second, rounded up */
	ASSERT_EQ(v.reset_s, 2);
	/* 0.4 s: not yet a token; 0.5 s: one. */
	memset(&v, 0, sizeof(v));
	ASSERT(!auth_bucket_take(&b, &r, t + 400000, &v));
	memset(&v, 0, sizeof(v));
	ASSERT(auth_bucket_take(&b, &r, t + 500000, &v));
	ASSERT_EQ(v.remaining, 0);
	/* Long idle: full again, never more than the burst. */
	memset(&v, 0, sizeof(v));
	ASSERT(auth_bucket_take(&b, &r, t + 3600ull * 1000000, &v));
	ASSERT_EQ(v.remaining, 3);
	ASSERT_EQ(b.tokens, 3 * AUTH_TOKEN);
	/* A clock going back refills nothing and takes nothing extra. */
	memset(&v, 0, sizeof(v));
	ASSERT(auth_bucket_take(&b, &r, t, &v));
	ASSERT_EQ(v.remaining, 2);
	/* Rate 0: no limit, no headers. */
	struct auth_rate none = { 0 };
	memset(&v, 0, sizeof(v));
	ASSERT(auth_bucket_take(&b, &none, t, &v));
	ASSERT(!v.rated);
	/* Burst 0 means a burst of the rate; a large rate after years. */
	struct auth_bucket c = { 0 };
	struct auth_rate big = { .per_s = AUTH_RATE_MAX, .burst = AUTH_RATE_MAX };
	memset(&v, 0, sizeof(v));
	ASSERT(auth_bucket_take(&c, &big, 0, &v));
	ASSERT(auth_bucket_take(&c, &big, 1000000ull * 86400 * 365 * 100, &v));
	ASSERT_EQ(v.remaining, AUTH_RATE_MAX - 1);
	struct auth_bucket d = { 0 };
	struct auth_rate slow = { .per_s = 1 };
	ASSERT(auth_bucket_take(&d, &slow, 0, &v));
	memset(&v, 0, sizeof(v));
	ASSERT(!auth_bucket_take(&d, &slow, 1, &v));
	ASSERT_EQ(v.retry_after_s, 1);
}

TEST(auth_limiter_addresses_bounded)
{
	struct auth_limiter *l = NULL;
	struct auth_rate r = { .per_s = 1, .burst = 1 };
	struct auth_limiter_stats st;
	struct auth_verdict v;
	struct auth_hold hold;

	ASSERT_EQ(auth_limiter_new(&l, NULL, &r, 16), 0);
	/* Ten thousand addresses: the table stays at its size. */
	for (uint32_t i = 0; i < 10000; i++)
		ASSERT(auth_limiter_take(l, NULL, &i, sizeof(i), false, 1000, &v, &hold));
	auth_limiter_stats(l, &st);
	ASSERT_EQ(st.slots, 16);
	ASSERT(st.used <= 16);
	ASSERT(st.evictions >= 10000 - 16);
	/* One address: its second request within the second is refused. */
	uint32_t a = 77777;
	ASSERT(auth_limiter_take(l, NULL, &a, sizeof(a), false, 2000, &v, &hold));
	ASSERT(!auth_limiter_take(l, NULL, &a, sizeof(a), false, 2001, &v, &hold));
	ASSERT(v.limited && !v.concurrency);
	ASSERT(auth_limiter_take(l, NULL, &a, sizeof(a), false, 1002001, &v, &hold));
	auth_limiter_stats(l, &st);
	ASSERT_EQ(st.limited, 1);
	auth_limiter_free(l);
}

TEST(auth_limiter_concurrent_runs)
{
	struct auth_limiter *l = NULL;
	struct auth_rate r = { .concurrent = 2 };
	struct auth_verdict v;
	struct auth_hold h1, h2, h3, h4;
	uint32_t a = 1, b = 2;

	ASSERT_EQ(auth_limiter_new(&l, NULL, &r, 16), 0);
	ASSERT(auth_limiter_take(l, NULL, &a, 4, true, 10, &v, &h1));
	ASSERT(auth_limiter_take(l, NULL, &a, 4, true, 10, &v, &h2));
	ASSERT(!auth_limiter_take(l, NULL, &a, 4, true, 10, &v, &h3));
	ASSERT(v.limited && v.concurrency);
	ASSERT_EQ(v.retry_after_s, 1);
	/* Not a run: no limit.  Another address: its own count. */
	ASSERT(auth_limiter_take(l, NULL, &a, 4, false, 10, &v, &h3));
	ASSERT_EQ(h3.slot, 0);
	ASSERT(auth_limiter_take(l, NULL, &b, 4, true, 10, &v, &h4));
	/* Addresses with runs in flight are never forgotten for others. */
	for (uint32_t i = 100; i < 5000; i++) {
		struct auth_hold h;
		if (auth_limiter_take(l, NULL, &i, 4, true, 20 + i, &v, &h))
			auth_limiter_release(l, &h);
	}
	ASSERT(!auth_limiter_take(l, NULL, &a, 4, true, 10000, &v, &h3));
	auth_limiter_release(l, &h1);
	ASSERT_EQ(h1.slot, 0);
	ASSERT(auth_limiter_take(l, NULL, &a, 4, true, 10000, &v, &h3));
	auth_limiter_release(l, &h2);
	auth_limiter_release(l, &h3);
	auth_limiter_release(l, &h4);
	auth_limiter_release(l, &h4);	/* twice: nothing */
	auth_limiter_free(l);
}

TEST(auth_limiter_keys)
{
	char h[80], text[512], why[256];
	struct auth_keys *ks = NULL;
	struct auth_limiter *l = NULL;
	struct auth_rate r = { .per_s = 100 };
	struct auth_verdict v;
	struct auth_hold hold;

	hash_of("sx_a", h, sizeof(h));
	snprintf(text, sizeof(text), "a %s rate_limit=1\n", h);
	hash_of("sx_b", h, sizeof(h));
	snprintf(text + strlen(text), sizeof(text) - strlen(text), "b %s\n", h);
	ASSERT_EQ(parse(text, &ks, why, sizeof(why)), 0);
	ASSERT_EQ(auth_limiter_new(&l, ks, &r, 16), 0);
	/* a's own rate of one a second (burst 1); b the server's 100. */
	ASSERT(auth_limiter_take(l, &ks->keys[0], NULL, 0, false, 5, &v, &hold));
	ASSERT(!auth_limiter_take(l, &ks->keys[0], NULL, 0, false, 6, &v, &hold));
	ASSERT_EQ(v.quota, 1);
	for (int i = 0; i < 100; i++)
		ASSERT(auth_limiter_take(l, &ks->keys[1], NULL, 0, false, 5, &v, &hold));
	ASSERT_EQ(v.quota, 100);
	ASSERT(!auth_limiter_take(l, &ks->keys[1], NULL, 0, false, 5, &v, &hold));
	auth_limiter_free(l);
	auth_keys_free(ks);
}

TEST(auth_error_codes)
{
	ASSERT_STREQ(api_error_name(API_E_UNAUTHORIZED), "unauthorized");
	ASSERT_EQ(api_error_http_status(API_E_UNAUTHORIZED), 401);
	ASSERT_STREQ(api_error_name(API_E_FORBIDDEN), "forbidden");
	ASSERT_EQ(api_error_http_status(API_E_FORBIDDEN), 403);
	ASSERT_STREQ(api_error_name(API_E_RATE_LIMITED), "rate_limited");
	ASSERT_EQ(api_error_http_status(API_E_RATE_LIMITED), 429);
	ASSERT_STREQ(auth_endpoint_name(AUTH_EP_METRICS), "metrics");
	ASSERT_STREQ(auth_endpoint_name(3), "");
}
