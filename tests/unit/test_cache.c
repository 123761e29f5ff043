/* Unit tests for src/cache: the compile cache's key, copies, choice of
 * results, LRU eviction and its use from several threads. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache/cache.h"
#include "test.h"

/* ---- helpers ------------------------------------------------------------ */

static char *dup_mem(const char *s, size_t len)
{
	char *p = malloc(len + 1);
	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

/* A result laid out as sbx_run() lays one out, for sbx_result_release():
 * stdout, stderr, output = both, and the files given (NULL: none
 * collected). */
static void make_result(struct sbx_result *r, enum sbx_status status, int exit_code,
			const char *out, const char *err, const struct sbx_file *files,
			size_t nfiles)
{
	memset(r, 0, sizeof(*r));
	r->status = status;
	r->exit_code = exit_code;
	r->has_exit_code = status == SBX_OK || status == SBX_RUNTIME_ERROR;
	r->signal = status == SBX_SIGNALED ? 9 : 0;
	r->out = (struct sbx_buf){ dup_mem(out, strlen(out)), strlen(out) };
	r->err = (struct sbx_buf){ dup_mem(err, strlen(err)), strlen(err) };
	size_t ol = strlen(out) + strlen(err);
	r->output.data = malloc(ol + 1);
	memcpy(r->output.data, out, strlen(out));
	memcpy(r->output.data + strlen(out), err, strlen(err) + 1);
	r->output.len = ol;
	r->wall_time_ms = 123;
	r->cpu_time_ms = 45;
	r->memory_bytes = 6789;
	snprintf(r->error, sizeof(r->error), "%s", "engine note");
	if (!files)
		return;
	size_t bytes = 0;
	for (size_t i = 0; i < nfiles; i++)
		bytes += strlen(files[i].name) + 1 + files[i].len;
	r->files = calloc(nfiles ? nfiles : 1, sizeof(*r->files));
	r->files_block = malloc(bytes ? bytes : 1);
	char *b = r->files_block;
	for (size_t i = 0; i < nfiles; i++) {
		size_t nl = strlen(files[i].name) + 1;
		r->files[i].name = memcpy(b, files[i].name, nl);
		b += nl;
		r->files[i].data = memcpy(b, files[i].data, files[i].len);
		b += files[i].len;
		r->files[i].len = files[i].len;
		r->files[i].executable = files[i].executable;
	}
	r->nfiles = nfiles;
}

static void key_of(uint8_t key[CACHE_KEY_SIZE], int n)
{
	struct cache_key_input in = { .runtime = "c", .version = "12.2.0" };
	char word[32];
	const char *words[] = { "/usr/bin/gcc", word, NULL };

	snprintf(word, sizeof(word), "n%d", n);
	in.words = words;
	cache_key(key, &in);
}

static const struct sbx_file bin_files[] = {
	{ "main.c", "int main(void){return 0;}\n", 26, false },
	{ "main", "\x7f" "ELF\0\0binary\0", 13, true },
	{ "empty", "", 0, false },
};

/* Every field of a and b equal, and none of their buffers shared. */
static int result_equal_apart(const struct sbx_result *a, const struct sbx_result *b)
{
	if (a->status != b->status || a->exit_code != b->exit_code ||
	    a->has_exit_code != b->has_exit_code || a->signal != b->signal ||
	    a->stdout_truncated != b->stdout_truncated ||
	    a->stderr_truncated != b->stderr_truncated || a->stopped != b->stopped ||
	    a->files_truncated != b->files_truncated || a->wall_time_ms != b->wall_time_ms ||
	    a->cpu_time_ms != b->cpu_time_ms || a->memory_bytes != b->memory_bytes ||
	    strcmp(a->error, b->error) != 0)
		return 0;
	const struct sbx_buf *ab[] = { &a->out, &a->err, &a->output };
	const struct sbx_buf *bb[] = { &b->out, &b->err, &b->output };
	for (int i = 0; i < 3; i++) {
		if (ab[i]->len != bb[i]->len || !ab[i]->data || !bb[i]->data ||
		    ab[i]->data == bb[i]->data ||
		    memcmp(ab[i]->data, bb[i]->data, ab[i]->len) != 0 ||
		    bb[i]->data[bb[i]->len] != '\0')
			return 0;
	}
	if (a->nfiles != b->nfiles || !a->files != !b->files ||
	    (a->files && a->files == b->files) || !a->files_block != !b->files_block ||
	    (a->files_block && a->files_block == b->files_block))
		return 0;
	for (size_t i = 0; i < a->nfiles; i++) {
		const struct sbx_file *fa = &a->files[i], *fb = &b->files[i];
		if (strcmp(fa->name, fb->name) != 0 || fa->len != fb->len ||
		    fa->executable != fb->executable || memcmp(fa->data, fb->data, fa->len) != 0)
			return 0;
		/* Inside b's own block, as sbx_result_release() expects. */
		if (fb->name < b->files_block || fb->data < b->files_block)
			return 0;
	}
	return 1;
}

/* ---- the key ------------------------------------------------------------- */

#define NVARIANTS 40

TEST(cache_key_stable_and_changes_with_every_input)
{
	const char *words[] = { "/usr/bin/gcc", "-O2", "-o", "main", "main.c", NULL };
	const char *options[] = { "-std=c11", "-Wall" };
	struct sbx_limits lim;
	struct sbx_file files[] = {
		{ "main.c", "int main(void){return 0;}\n", 26, false },
		{ "util.h", "#define X 1\n", 12, false },
	};
	sbx_limits_default(&lim);
	const struct cache_key_input base = {
		.runtime = "c", .version = "12.2.0", .words = words,
		.options = options, .noptions = 2, .limits = &lim,
		.files = files, .nfiles = 2,
	};
	uint8_t keys[NVARIANTS][CACHE_KEY_SIZE], again[CACHE_KEY_SIZE];
	int n = 0;

	cache_key(keys[n++], &base);
	cache_key(again, &base);
	ASSERT(memcmp(keys[0], again, CACHE_KEY_SIZE) == 0);
	{	/* Equal contents at other addresses: the same key. */
		struct sbx_limits lim2 = lim;
		char src[] = "int main(void){return 0;}\n";
		struct sbx_file f2[] = { { "main.c", src, 26, false }, files[1] };
		struct cache_key_input in = base;
		in.limits = &lim2;
		in.files = f2;
		cache_key(again, &in);
		ASSERT(memcmp(keys[0], again, CACHE_KEY_SIZE) == 0);
	}

	struct cache_key_input in;
#define VARIANT(change) do { in = base; change; cache_key(keys[n++], &in); } while (0)
	VARIANT(in.runtime = "cpp");
	VARIANT(in.version = "12.2.1");
	VARIANT(in.version = "");
	VARIANT(in.version = NULL);
	const char *w1[] = { "/usr/bin/gcc", "-O3", "-o", "main", "main.c", NULL };
	VARIANT(in.words = w1);
	const char *w2[] = { "/usr/bin/gcc", "-O2", "-o", "main", NULL };
	VARIANT(in.words = w2);
	const char *w3[] = { "/usr/bin/gcc", "-O2 -o", "main", "main.c", NULL };
	VARIANT(in.words = w3);
	const char *w4[] = { "/usr/bin/gcc", "-O2", "-o", "main", "main.c", "-lm", NULL };
	VARIANT(in.words = w4);
	/* A word moved to the options: the fields are told apart. */
	const char *o1[] = { "main.c", "-std=c11", "-Wall" };
	VARIANT(in.words = w2; in.options = o1; in.noptions = 3);
	const char *o2[] = { "-std=c99", "-Wall" };
	VARIANT(in.options = o2);
	VARIANT(in.noptions = 1);
	const char *o3[] = { "-Wall", "-std=c11" };
	VARIANT(in.options = o3);
	VARIANT(in.options = NULL; in.noptions = 0);
	struct sbx_limits lv[SBX_LIMIT_COUNT];
	for (int i = 0; i < SBX_LIMIT_COUNT; i++) {
		lv[i] = lim;
		sbx_limit_set(&lv[i], (enum sbx_limit_id)i,
			      sbx_limit_get(&lim, (enum sbx_limit_id)i) + 1);
		VARIANT(in.limits = &lv[i]);
	}
	struct sbx_file fv[7][2];
	for (int i = 0; i < 7; i++)
		memcpy(fv[i], files, sizeof(files));
	fv[0][0].name = "Main.c";
	fv[1][0].data = "int main(void){return 1;}\n";
	fv[2][0].executable = true;
	fv[3][0] = files[1];
	fv[3][1] = files[0];
	/* The same bytes cut elsewhere between name and contents. */
	fv[4][1].name = "util.h#";
	fv[4][1].data = "define X 1\n";
	fv[4][1].len = 11;
	fv[5][1].len = 11;
	fv[6][1].executable = true;
	for (int i = 0; i < 7; i++)
		VARIANT(in.files = fv[i]);
	VARIANT(in.nfiles = 1);
	VARIANT(in.files = NULL; in.nfiles = 0);
#undef VARIANT
	ASSERT(n <= NVARIANTS);
	for (int i = 0; i < n; i++)
		for (int j = i + 1; j < n; j++)
			if (memcmp(keys[i], keys[j], CACHE_KEY_SIZE) == 0)
				TEST_FAIL_("variants %d and %d give the same key", i, j);
}

static void hex(char *dst, const uint8_t *key)
{
	for (int i = 0; i < CACHE_KEY_SIZE; i++)
		snprintf(dst + 2 * i, 3, "%02x", key[i]);
}

TEST(cache_key_known_values)
{
	/* Pinned, so that a change of the encoding is seen (and its tag
	 * bumped); the values come from the encoding written out apart:
	 * fields as little-endian 64-bit lengths or numbers, NULL as ~0. */
	uint8_t key[CACHE_KEY_SIZE];
	char h[2 * CACHE_KEY_SIZE + 1];

	cache_key(key, &(struct cache_key_input){ 0 });
	hex(h, key);
	ASSERT_STREQ(h, "fdd98007adba75029d0cc222092cfefe450dad1f95b09cfdf705b046f6e3a2ec");

	const char *words[] = { "gcc", NULL };
	const char *options[] = { "-O2" };
	const struct sbx_limits lim = {
		.wall_ms = 1, .cpu_ms = 2, .memory_bytes = 3, .output_bytes = 4,
		.file_size_bytes = 5, .processes = 6, .open_files = 7,
	};
	const struct sbx_file f = { "a", "x", 1, true };
	cache_key(key, &(struct cache_key_input){
		.runtime = "c", .version = "1", .words = words, .options = options,
		.noptions = 1, .limits = &lim, .files = &f, .nfiles = 1 });
	hex(h, key);
	ASSERT_STREQ(h, "4a5df2d3e1cf4da43a9f3b3f3ed4ea68efb288c86c92f10af79b23652be4400f");
}

/* ---- get and put ---------------------------------------------------------- */

TEST(cache_get_after_put_gives_a_copy_of_its_own)
{
	struct cache *c = cache_new(1 << 20);
	struct sbx_result orig, want, got;
	uint8_t key[CACHE_KEY_SIZE];

	ASSERT(c != NULL);
	key_of(key, 1);
	make_result(&orig, SBX_OK, 0, "compiled\n", "warning: x\n", bin_files, 3);
	orig.stdout_truncated = true;
	make_result(&want, SBX_OK, 0, "compiled\n", "warning: x\n", bin_files, 3);
	want.stdout_truncated = true;
	cache_put(c, key, &orig);
	sbx_result_release(&orig);		/* the cache kept its own */
	memset(&orig, 0xa5, sizeof(orig));

	ASSERT(cache_get(c, key, &got));
	ASSERT(result_equal_apart(&want, &got));
	struct sbx_result got2;
	ASSERT(cache_get(c, key, &got2));
	ASSERT(result_equal_apart(&got, &got2));
	sbx_result_release(&got);
	sbx_result_release(&got);		/* released twice: harmless */
	ASSERT(result_equal_apart(&want, &got2));
	sbx_result_release(&got2);
	sbx_result_release(&want);
	cache_free(c);
}

TEST(cache_copies_compile_errors_and_results_without_files)
{
	struct cache *c = cache_new(1 << 20);
	struct sbx_result r, got;
	uint8_t key[CACHE_KEY_SIZE];

	key_of(key, 2);
	make_result(&r, SBX_RUNTIME_ERROR, 1, "", "main.c:1: error: expected ';'\n", NULL, 0);
	cache_put(c, key, &r);
	ASSERT(cache_get(c, key, &got));
	ASSERT(result_equal_apart(&r, &got));
	ASSERT(got.files == NULL && got.files_block == NULL && got.nfiles == 0);
	sbx_result_release(&got);
	sbx_result_release(&r);

	/* Files collected, none there: an empty list, not none. */
	key_of(key, 3);
	make_result(&r, SBX_OK, 0, "", "", bin_files, 0);
	cache_put(c, key, &r);
	ASSERT(cache_get(c, key, &got));
	ASSERT(result_equal_apart(&r, &got));
	ASSERT(got.files != NULL && got.nfiles == 0);
	sbx_result_release(&got);
	sbx_result_release(&r);
	cache_free(c);
}

TEST(cache_miss_leaves_out_alone)
{
	struct cache *c = cache_new(1 << 20);
	struct sbx_result out;
	uint8_t key[CACHE_KEY_SIZE];

	key_of(key, 4);
	memset(&out, 0x5a, sizeof(out));
	ASSERT(!cache_get(c, key, &out));
	unsigned char *p = (unsigned char *)&out;
	for (size_t i = 0; i < sizeof(out); i++)
		ASSERT_EQ(p[i], 0x5a);
	cache_free(c);
}

TEST(cache_stores_only_results_worth_reusing)
{
	struct cache *c = cache_new(1 << 20);
	struct sbx_result r, got;
	struct cache_stats st;
	uint8_t key[CACHE_KEY_SIZE];
	static const struct { enum sbx_status status; int exit_code; } refused[] = {
		{ SBX_SIGNALED, 0 }, { SBX_TIMEOUT, 0 }, { SBX_MEMORY_LIMIT, 0 },
		{ SBX_OUTPUT_LIMIT, 0 }, { SBX_INTERNAL_ERROR, 0 },
		{ SBX_RUNTIME_ERROR, 0 },	/* an exit of 0 is no error */
	};
	int k = 10;

	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		key_of(key, k++);
		make_result(&r, refused[i].status, refused[i].exit_code, "x", "y", bin_files, 1);
		ASSERT(!cache_result_reusable(&r));
		cache_put(c, key, &r);
		ASSERT(!cache_get(c, key, &got));
		sbx_result_release(&r);
	}
	/* A non-zero status without an exit code: not a plain exit. */
	key_of(key, k++);
	make_result(&r, SBX_RUNTIME_ERROR, 1, "x", "y", NULL, 0);
	r.has_exit_code = false;
	cache_put(c, key, &r);
	ASSERT(!cache_get(c, key, &got));
	sbx_result_release(&r);
	/* Stopped at shutdown. */
	key_of(key, k++);
	make_result(&r, SBX_RUNTIME_ERROR, 1, "x", "y", NULL, 0);
	r.stopped = true;
	cache_put(c, key, &r);
	ASSERT(!cache_get(c, key, &got));
	sbx_result_release(&r);
	/* Files cut short: a later compile may return them all. */
	key_of(key, k++);
	make_result(&r, SBX_OK, 0, "", "", bin_files, 2);
	r.files_truncated = true;
	cache_put(c, key, &r);
	ASSERT(!cache_get(c, key, &got));
	sbx_result_release(&r);

	cache_stats(c, &st);
	ASSERT_EQ(st.stored, 0);
	ASSERT_EQ(st.entries, 0);
	ASSERT_EQ(st.bytes, 0);

	key_of(key, k++);
	make_result(&r, SBX_OK, 0, "", "", bin_files, 2);
	ASSERT(cache_result_reusable(&r));
	sbx_result_release(&r);
	make_result(&r, SBX_RUNTIME_ERROR, 2, "", "error", NULL, 0);
	ASSERT(cache_result_reusable(&r));
	sbx_result_release(&r);
	cache_free(c);
}

TEST(cache_evicts_the_least_recently_used)
{
	struct cache *c = cache_new(1 << 20);
	struct sbx_result r, got;
	struct cache_stats st;
	uint8_t keys[6][CACHE_KEY_SIZE];

	for (int i = 0; i < 6; i++)
		key_of(keys[i], 100 + i);
	/* Every entry the same size: measure one. */
	make_result(&r, SBX_OK, 0, "out", "err", bin_files, 3);
	cache_put(c, keys[0], &r);
	cache_stats(c, &st);
	size_t one = st.bytes;
	ASSERT(one > 3 + 3 + 6 + 26 + 13);
	cache_free(c);

	/* Room for four, and a fifth fits the quarter. */
	c = cache_new(4 * one + one / 2);
	for (int i = 0; i < 4; i++)
		cache_put(c, keys[i], &r);
	cache_stats(c, &st);
	ASSERT_EQ(st.entries, 4);
	ASSERT_EQ(st.bytes, 4 * one);
	ASSERT_EQ(st.evicted, 0);
	/* 0 becomes the most recent: 1 is now the least. */
	ASSERT(cache_get(c, keys[0], &got));
	sbx_result_release(&got);
	cache_put(c, keys[4], &r);
	cache_stats(c, &st);
	ASSERT_EQ(st.entries, 4);
	ASSERT_EQ(st.evicted, 1);
	ASSERT_EQ(st.stored, 5);
	ASSERT(!cache_get(c, keys[1], &got));
	/* Then 2, the least recent of 2, 3, 0, 4. */
	cache_put(c, keys[5], &r);
	ASSERT(!cache_get(c, keys[2], &got));
	int want[] = { 0, 3, 4, 5 };
	for (int i = 0; i < 4; i++) {
		ASSERT(cache_get(c, keys[want[i]], &got));
		ASSERT(result_equal_apart(&r, &got));
		sbx_result_release(&got);
	}
	cache_stats(c, &st);
	ASSERT_EQ(st.evicted, 2);
	ASSERT(st.bytes <= st.max_bytes);
	sbx_result_release(&r);
	cache_free(c);
}

TEST(cache_refuses_entries_over_a_quarter)
{
	struct cache *c = cache_new(8192);
	struct sbx_result r, got;
	struct cache_stats st;
	uint8_t key[CACHE_KEY_SIZE];
	char big[2100];

	memset(big, 'e', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	key_of(key, 200);
	make_result(&r, SBX_RUNTIME_ERROR, 1, "", big, NULL, 0);	/* stderr + output */
	cache_put(c, key, &r);
	ASSERT(!cache_get(c, key, &got));
	sbx_result_release(&r);
	/* Large through its files alone. */
	struct sbx_file f = { "a.out", big, sizeof(big) - 1, true };
	make_result(&r, SBX_OK, 0, "", "", &f, 1);
	cache_put(c, key, &r);
	ASSERT(!cache_get(c, key, &got));
	sbx_result_release(&r);
	cache_stats(c, &st);
	ASSERT_EQ(st.stored, 0);
	ASSERT_EQ(st.entries, 0);

	make_result(&r, SBX_RUNTIME_ERROR, 1, "", "small", NULL, 0);
	cache_put(c, key, &r);
	ASSERT(cache_get(c, key, &got));
	sbx_result_release(&got);
	sbx_result_release(&r);
	cache_free(c);
}

TEST(cache_null_is_no_cache)
{
	struct sbx_result r, got;
	struct cache_stats st;
	uint8_t key[CACHE_KEY_SIZE];

	ASSERT(cache_new(0) == NULL);
	key_of(key, 300);
	make_result(&r, SBX_OK, 0, "", "", NULL, 0);
	cache_put(NULL, key, &r);
	ASSERT(!cache_get(NULL, key, &got));
	memset(&st, 0xff, sizeof(st));
	cache_stats(NULL, &st);
	ASSERT_EQ(st.hits, 0);
	ASSERT_EQ(st.misses, 0);
	ASSERT_EQ(st.entries, 0);
	ASSERT_EQ(st.bytes, 0);
	ASSERT_EQ(st.max_bytes, 0);
	ASSERT_EQ(st.stored, 0);
	ASSERT_EQ(st.evicted, 0);
	cache_free(NULL);
	sbx_result_release(&r);
}

TEST(cache_stats_count_hits_misses_and_stores)
{
	struct cache *c = cache_new(1 << 20);
	struct sbx_result r, got;
	struct cache_stats st;
	uint8_t a[CACHE_KEY_SIZE], b[CACHE_KEY_SIZE];

	key_of(a, 400);
	key_of(b, 401);
	make_result(&r, SBX_OK, 0, "", "", bin_files, 2);
	ASSERT(!cache_get(c, a, &got));
	cache_put(c, a, &r);
	cache_put(c, a, &r);	/* twice the same key: one entry */
	for (int i = 0; i < 3; i++) {
		ASSERT(cache_get(c, a, &got));
		sbx_result_release(&got);
	}
	ASSERT(!cache_get(c, b, &got));
	cache_stats(c, &st);
	ASSERT_EQ(st.hits, 3);
	ASSERT_EQ(st.misses, 2);
	ASSERT_EQ(st.entries, 1);
	ASSERT_EQ(st.stored, 1);
	ASSERT_EQ(st.evicted, 0);
	ASSERT_EQ(st.max_bytes, 1 << 20);
	ASSERT(st.bytes > 0 && st.bytes < 4096);
	sbx_result_release(&r);
	cache_free(c);
}

TEST(cache_holds_many_entries)
{
	/* Past the hash table's first size, each still found. */
	struct cache *c = cache_new(64 << 20);
	struct sbx_result r, got;
	struct cache_stats st;
	uint8_t key[CACHE_KEY_SIZE];

	make_result(&r, SBX_OK, 0, "", "", bin_files, 1);
	for (int i = 0; i < 1000; i++) {
		key_of(key, 1000 + i);
		cache_put(c, key, &r);
	}
	for (int i = 0; i < 1000; i++) {
		key_of(key, 1000 + i);
		ASSERT(cache_get(c, key, &got));
		sbx_result_release(&got);
	}
	cache_stats(c, &st);
	ASSERT_EQ(st.entries, 1000);
	ASSERT_EQ(st.evicted, 0);
	sbx_result_release(&r);
	cache_free(c);
}

/* ---- threads -------------------------------------------------------------- */

#define THREADS 4
#define ROUNDS 2000
#define KEYS 24

struct worker {
	struct cache *c;
	int id;
	int bad;
	int hits;
};

/* What key n's result holds: its number in stdout and a file. */
static void result_for(struct sbx_result *r, int n)
{
	char out[32], data[64];

	snprintf(out, sizeof(out), "key %d\n", n);
	snprintf(data, sizeof(data), "binary of key %d", n);
	struct sbx_file f = { "main", data, strlen(data), true };
	make_result(r, SBX_OK, 0, out, "", &f, 1);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	unsigned seed = (unsigned)w->id * 2654435761u + 1;

	for (int i = 0; i < ROUNDS; i++) {
		seed = seed * 1103515245u + 12345u;
		int n = (int)((seed >> 16) % KEYS);
		uint8_t key[CACHE_KEY_SIZE];
		struct sbx_result got, want;
		key_of(key, 5000 + n);
		result_for(&want, n);
		if (cache_get(w->c, key, &got)) {
			w->hits++;
			if (!result_equal_apart(&want, &got))
				w->bad++;
			sbx_result_release(&got);
		} else {
			cache_put(w->c, key, &want);
		}
		sbx_result_release(&want);
	}
	return NULL;
}

TEST(cache_shared_by_threads)
{
	struct sbx_result r;
	struct cache_stats st;
	uint8_t key[CACHE_KEY_SIZE];

	/* Room for about half the keys: gets race with evictions. */
	result_for(&r, 0);
	struct cache *c = cache_new(1 << 20);
	key_of(key, 0);
	cache_put(c, key, &r);
	cache_stats(c, &st);
	cache_free(c);
	sbx_result_release(&r);
	c = cache_new((size_t)st.bytes * KEYS / 2);

	pthread_t th[THREADS];
	struct worker w[THREADS];
	for (int i = 0; i < THREADS; i++) {
		w[i] = (struct worker){ .c = c, .id = i };
		ASSERT_EQ(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
	}
	int hits = 0, bad = 0;
	for (int i = 0; i < THREADS; i++) {
		pthread_join(th[i], NULL);
		hits += w[i].hits;
		bad += w[i].bad;
	}
	ASSERT_EQ(bad, 0);
	cache_stats(c, &st);
	ASSERT_EQ(st.hits + st.misses, THREADS * ROUNDS);
	ASSERT_EQ(st.hits, hits);
	ASSERT(st.hits > 0);
	ASSERT(st.evicted > 0);
	ASSERT(st.bytes <= st.max_bytes);
	ASSERT_EQ(st.entries, st.stored - st.evicted);
	cache_free(c);
}
