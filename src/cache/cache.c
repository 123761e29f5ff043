/*
 * cache.c - the compile cache: entries in a hash table by key and in a list
 * from the most to the least recently used.  One mutex guards both; the
 * copies a get hands out are made outside it, the entry held by a count of
 * references so that an eviction meanwhile does not free it under the copy.
 */
#include <nettle/sha2.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "cache/cache.h"
#include "util/util.h"

_Static_assert(CACHE_KEY_SIZE == SHA256_DIGEST_SIZE, "the key is a SHA-256");

/* ---- the key ------------------------------------------------------------- */

/* Bumped whenever the encoding below changes. */
#define KEY_TAG "safexec compile cache key 1"
/* A NULL string's length: no real one is that long. */
#define KEY_NULL UINT64_MAX

static void put_u64(struct sha256_ctx *h, uint64_t v)
{
	uint8_t b[8];

	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	sha256_update(h, sizeof(b), b);
}

static void put_bytes(struct sha256_ctx *h, const void *p, size_t len)
{
	put_u64(h, len);
	if (len)
		sha256_update(h, len, p);
}

static void put_str(struct sha256_ctx *h, const char *s)
{
	if (!s)
		put_u64(h, KEY_NULL);
	else
		put_bytes(h, s, strlen(s));
}

/* Every field of struct sbx_limits has an id (sbx_limit_get()): a field
 * added without one would be left out of the key, hence this check. */
_Static_assert(sizeof(struct sbx_limits) == 5 * sizeof(uint64_t) + 2 * sizeof(uint32_t) &&
	       SBX_LIMIT_COUNT == 7, "a limit the key does not know of");

void cache_key(uint8_t key[CACHE_KEY_SIZE], const struct cache_key_input *in)
{
	struct sha256_ctx h;
	size_t n = 0;

	sha256_init(&h);
	put_str(&h, KEY_TAG);
	put_str(&h, in->runtime);
	put_str(&h, in->version);

	while (in->words && in->words[n])
		n++;
	put_u64(&h, n);
	for (size_t i = 0; i < n; i++)
		put_str(&h, in->words[i]);

	put_u64(&h, in->options ? in->noptions : 0);
	for (size_t i = 0; in->options && i < in->noptions; i++)
		put_str(&h, in->options[i]);

	put_u64(&h, in->limits ? SBX_LIMIT_COUNT : 0);
	for (int i = 0; in->limits && i < SBX_LIMIT_COUNT; i++)
		put_u64(&h, sbx_limit_get(in->limits, (enum sbx_limit_id)i));

	put_u64(&h, in->files ? in->nfiles : 0);
	for (size_t i = 0; in->files && i < in->nfiles; i++) {
		const struct sbx_file *f = &in->files[i];
		uint8_t x = f->executable ? 1 : 0;
		put_str(&h, f->name);
		sha256_update(&h, 1, &x);
		put_bytes(&h, f->data, f->len);
	}
	sha256_digest(&h, CACHE_KEY_SIZE, key);
}

/* ---- copies of results --------------------------------------------------- */

struct entry {
	struct entry *prev, *next;	/* most recently used first */
	struct entry *hnext;		/* the bucket's chain */
	uint8_t key[CACHE_KEY_SIZE];
	size_t bytes;			/* counted against max_bytes */
	unsigned refs;			/* the cache's while held, and each
					   get copying it; under the lock */
	struct sbx_result res;		/* never changed once stored */
};

static size_t add_sat(size_t a, size_t b)
{
	return a > SIZE_MAX - b ? SIZE_MAX : a + b;
}

/* What the files' names and contents take in one block. */
static size_t files_bytes(const struct sbx_result *res)
{
	size_t n = 0;

	for (size_t i = 0; i < res->nfiles; i++)
		n = add_sat(n, add_sat(strlen(res->files[i].name) + 1, res->files[i].len));
	return n;
}

/* An entry's size: its buffers (each with its NUL), its files, names and
 * contents, and the entry itself. */
static size_t entry_bytes(const struct sbx_result *res)
{
	size_t n = sizeof(struct entry);

	n = add_sat(n, res->out.len + 1);
	n = add_sat(n, res->err.len + 1);
	n = add_sat(n, res->output.len + 1);
	if (res->nfiles > SIZE_MAX / sizeof(struct sbx_file))
		return SIZE_MAX;
	n = add_sat(n, res->nfiles * sizeof(struct sbx_file));
	return add_sat(n, files_bytes(res));
}

static bool copy_buf(struct sbx_buf *dst, const struct sbx_buf *src)
{
	*dst = (struct sbx_buf){ 0 };
	if (!src->data)
		return true;
	if (!(dst->data = malloc(src->len + 1)))
		return false;
	memcpy(dst->data, src->data, src->len);
	dst->data[src->len] = '\0';
	dst->len = src->len;
	return true;
}

/* *dst becomes a copy of *src with buffers of its own, laid out as
 * sbx_run() lays them (the files in files, their names and contents in
 * files_block), so that sbx_result_release() frees it whole.  False when
 * out of memory, *dst then untouched. */
static bool copy_result(struct sbx_result *dst, const struct sbx_result *src)
{
	struct sbx_result r = *src;

	r.out = r.err = r.output = (struct sbx_buf){ 0 };
	r.files = NULL;
	r.files_block = NULL;
	r.nfiles = 0;
	if (!copy_buf(&r.out, &src->out) || !copy_buf(&r.err, &src->err) ||
	    !copy_buf(&r.output, &src->output))
		goto fail;
	if (src->files) {
		size_t bytes = files_bytes(src);
		if (bytes == SIZE_MAX)
			goto fail;
		r.files = calloc(src->nfiles ? src->nfiles : 1, sizeof(*r.files));
		r.files_block = malloc(bytes ? bytes : 1);
		if (!r.files || !r.files_block)
			goto fail;
		char *b = r.files_block;
		for (size_t i = 0; i < src->nfiles; i++) {
			const struct sbx_file *f = &src->files[i];
			size_t nl = strlen(f->name) + 1;
			r.files[i].name = memcpy(b, f->name, nl);
			b += nl;
			r.files[i].data = f->len ? memcpy(b, f->data, f->len) : b;
			b += f->len;
			r.files[i].len = f->len;
			r.files[i].executable = f->executable;
		}
		r.nfiles = src->nfiles;
	}
	*dst = r;
	return true;
fail:
	sbx_result_release(&r);
	return false;
}

bool cache_result_reusable(const struct sbx_result *res)
{
	if (res->files_truncated)
		return false;
	switch (res->status) {
	case SBX_OK:
		return true;
	case SBX_RUNTIME_ERROR:
		/* The compiler's own verdict on the source; a run stopped at
		 * shutdown ends as SBX_SIGNALED, but check all the same. */
		return res->has_exit_code && res->exit_code != 0 && !res->stopped;
	case SBX_SIGNALED:
	case SBX_TIMEOUT:
	case SBX_MEMORY_LIMIT:
	case SBX_OUTPUT_LIMIT:
	case SBX_INTERNAL_ERROR:
		break;
	}
	return false;
}

static void entry_free(struct entry *e)
{
	if (e) {
		sbx_result_release(&e->res);
		free(e);
	}
}

/* ---- the cache ----------------------------------------------------------- */

#define MIN_BUCKETS 64

struct cache {
	pthread_mutex_t lock;
	size_t max_bytes, bytes;
	struct entry *head, *tail;
	struct entry **buckets;		/* nbuckets, a power of two */
	size_t nbuckets, n;
	uint64_t hits, misses, stored, evicted;
};

/* The key is a hash already: its first bytes pick the bucket. */
static size_t bucket_of(const struct cache *c, const uint8_t *key)
{
	uint64_t v;

	memcpy(&v, key, sizeof(v));
	return (size_t)(v & (c->nbuckets - 1));
}

static struct entry *find(const struct cache *c, const uint8_t *key)
{
	for (struct entry *e = c->buckets[bucket_of(c, key)]; e; e = e->hnext)
		if (memcmp(e->key, key, CACHE_KEY_SIZE) == 0)
			return e;
	return NULL;
}

static void list_unlink(struct cache *c, struct entry *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		c->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		c->tail = e->prev;
	e->prev = e->next = NULL;
}

static void list_push_front(struct cache *c, struct entry *e)
{
	e->prev = NULL;
	e->next = c->head;
	if (c->head)
		c->head->prev = e;
	else
		c->tail = e;
	c->head = e;
}

static void hash_remove(struct cache *c, struct entry *e)
{
	for (struct entry **p = &c->buckets[bucket_of(c, e->key)]; *p; p = &(*p)->hnext) {
		if (*p == e) {
			*p = e->hnext;
			e->hnext = NULL;
			return;
		}
	}
}

static void hash_insert(struct cache *c, struct entry *e)
{
	size_t b = bucket_of(c, e->key);

	e->hnext = c->buckets[b];
	c->buckets[b] = e;
}

/* Doubles the table once it holds more entries than buckets; without the
 * memory the chains just grow longer. */
static void hash_grow(struct cache *c)
{
	if (c->n <= c->nbuckets || c->nbuckets > SIZE_MAX / 2 / sizeof(*c->buckets))
		return;
	struct entry **old = c->buckets;
	size_t nold = c->nbuckets;
	struct entry **nb = calloc(nold * 2, sizeof(*nb));
	if (!nb)
		return;
	c->buckets = nb;
	c->nbuckets = nold * 2;
	for (size_t i = 0; i < nold; i++) {
		for (struct entry *e = old[i], *next; e; e = next) {
			next = e->hnext;
			hash_insert(c, e);
		}
	}
	free(old);
}

struct cache *cache_new(size_t max_bytes)
{
	struct cache *c;

	if (!max_bytes || !(c = calloc(1, sizeof(*c))))
		return NULL;
	c->nbuckets = MIN_BUCKETS;
	if (!(c->buckets = calloc(c->nbuckets, sizeof(*c->buckets))) ||
	    pthread_mutex_init(&c->lock, NULL) != 0) {
		free(c->buckets);
		free(c);
		return NULL;
	}
	c->max_bytes = max_bytes;
	return c;
}

void cache_free(struct cache *c)
{
	if (!c)
		return;
	for (struct entry *e = c->head, *next; e; e = next) {
		next = e->next;
		entry_free(e);
	}
	free(c->buckets);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

/* Drops one reference; the last one frees the entry, after the lock. */
static bool unref(struct entry *e)
{
	return --e->refs == 0;
}

bool cache_get(struct cache *c, const uint8_t key[CACHE_KEY_SIZE], struct sbx_result *out)
{
	struct entry *e;
	bool ok, last;

	if (!c)
		return false;
	pthread_mutex_lock(&c->lock);
	if (!(e = find(c, key))) {
		c->misses++;
		pthread_mutex_unlock(&c->lock);
		return false;
	}
	list_unlink(c, e);
	list_push_front(c, e);
	e->refs++;
	pthread_mutex_unlock(&c->lock);

	/* The entry's result never changes and our reference keeps it. */
	ok = copy_result(out, &e->res);

	pthread_mutex_lock(&c->lock);
	if (ok)
		c->hits++;
	else
		c->misses++;
	last = unref(e);
	pthread_mutex_unlock(&c->lock);
	if (last)
		entry_free(e);
	return ok;
}

void cache_put(struct cache *c, const uint8_t key[CACHE_KEY_SIZE], const struct sbx_result *res)
{
	struct entry *e, *victims = NULL;
	size_t bytes;

	if (!c || !cache_result_reusable(res))
		return;
	bytes = entry_bytes(res);
	if (bytes > c->max_bytes / 4)
		return;
	/* The copy is made before the lock: other workers need not wait. */
	if (!(e = calloc(1, sizeof(*e))))
		return;
	if (!copy_result(&e->res, res)) {
		free(e);
		return;
	}
	memcpy(e->key, key, CACHE_KEY_SIZE);
	e->bytes = bytes;
	e->refs = 1;

	pthread_mutex_lock(&c->lock);
	struct entry *had = find(c, key);
	if (had) {
		/* Another worker compiled the same at the same time. */
		list_unlink(c, had);
		list_push_front(c, had);
		pthread_mutex_unlock(&c->lock);
		entry_free(e);
		return;
	}
	while (c->tail && c->bytes + bytes > c->max_bytes) {
		struct entry *old = c->tail;
		list_unlink(c, old);
		hash_remove(c, old);
		c->bytes -= old->bytes;
		c->n--;
		c->evicted++;
		if (unref(old)) {
			old->next = victims;
			victims = old;
		}
	}
	list_push_front(c, e);
	hash_insert(c, e);
	c->bytes += bytes;
	c->n++;
	c->stored++;
	hash_grow(c);
	pthread_mutex_unlock(&c->lock);

	while (victims) {
		struct entry *next = victims->next;
		entry_free(victims);
		victims = next;
	}
}

void cache_stats(struct cache *c, struct cache_stats *st)
{
	*st = (struct cache_stats){ 0 };
	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	st->hits = c->hits;
	st->misses = c->misses;
	st->entries = c->n;
	st->bytes = c->bytes;
	st->max_bytes = c->max_bytes;
	st->stored = c->stored;
	st->evicted = c->evicted;
	pthread_mutex_unlock(&c->lock);
}
