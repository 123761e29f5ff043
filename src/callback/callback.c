/* callback.c - checks callback URLs and delivers results to them with
 * libcurl, loaded at run time; see callback.h. */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "callback/callback.h"
#include "util/util.h"

/* The calls below go through this table, filled by cb_load(). */
static struct {
	__typeof__(curl_global_init) *global_init;
	__typeof__(curl_easy_init) *easy_init;
	__typeof__(curl_easy_setopt) *easy_setopt;
	__typeof__(curl_easy_perform) *easy_perform;
	__typeof__(curl_easy_getinfo) *easy_getinfo;
	__typeof__(curl_easy_strerror) *easy_strerror;
	__typeof__(curl_easy_cleanup) *easy_cleanup;
	__typeof__(curl_slist_append) *slist_append;
	__typeof__(curl_slist_free_all) *slist_free_all;
	__typeof__(curl_url) *url;
	__typeof__(curl_url_set) *url_set;
	__typeof__(curl_url_get) *url_get;
	__typeof__(curl_url_cleanup) *url_cleanup;
	__typeof__(curl_free) *free;
} cu;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int load_result;
static char load_error[256];

static void load(void)
{
	static const struct util_sym syms[] = {
#define SYM(field) { "curl_" #field, (void **)&cu.field }
		SYM(global_init), SYM(easy_init), SYM(easy_setopt),
		SYM(easy_perform), SYM(easy_getinfo), SYM(easy_strerror),
		SYM(easy_cleanup), SYM(slist_append), SYM(slist_free_all),
		SYM(url), SYM(url_set), SYM(url_get), SYM(url_cleanup), SYM(free),
#undef SYM
	};

	/* Never unloaded: the server keeps using it until the process ends. */
	load_result = util_dlsyms(CB_CURL_SONAME, CB_CURL_PACKAGE, syms,
				  UTIL_ARRAY_SIZE(syms), load_error, sizeof(load_error));
	/* Once, before any thread uses libcurl: it is not thread-safe. */
	if (load_result == 0 && cu.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		snprintf(load_error, sizeof(load_error), "cannot initialize libcurl");
		load_result = -ENOENT;
	}
}

int cb_load(char *why, size_t whylen)
{
	pthread_once(&once, load);
	if (load_result < 0 && why && whylen)
		snprintf(why, whylen, "%s", load_error);
	return load_result;
}

/* Set by cb_start(), for cb_check_url(): the server has one sender. */
static atomic_bool literal_private_ok;

/* The host of a literal address, as an address: 1, or 0 for a name.  curl
 * gives IPv6 in brackets; IPv4 is read as the resolver would (inet_aton
 * takes 127.1 and 0x7f000001 too). */
static int literal_address(const char *host, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (host[0] == '[') {
		char buf[INET6_ADDRSTRLEN + 2];
		size_t n = strlen(host);
		if (n < 3 || n - 2 >= sizeof(buf) || host[n - 1] != ']')
			return 0;
		memcpy(buf, host + 1, n - 2);
		buf[n - 2] = '\0';
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
		if (inet_pton(AF_INET6, buf, &in6->sin6_addr) != 1)
			return 0;
		in6->sin6_family = AF_INET6;
		return 1;
	}
	struct sockaddr_in *in = (struct sockaddr_in *)ss;
	if (inet_aton(host, &in->sin_addr) == 0)
		return 0;
	in->sin_family = AF_INET;
	return 1;
}

/*
 * Parses url (NUL-terminated, printable ASCII) with libcurl's URL API and
 * checks its parts; *host (may be NULL) gets a malloc'ed copy of the host.
 * check_literal applies the address rule to a literal address.
 */
static int parse_url(const char *url, bool check_literal, char **host,
		     char *why, size_t whylen)
{
	CURLU *u = cu.url();
	char *scheme = NULL, *h = NULL, *user = NULL, *pass = NULL;
	int r = -EINVAL;

	if (!u)
		return -ENOMEM;
	CURLUcode uc = cu.url_set(u, CURLUPART_URL, url, 0);
	if (uc != CURLUE_OK) {
		util_msg(why, whylen, "callback_url is not a URL libcurl accepts (error %d)",
			 (int)uc);
		goto out;
	}
	if (cu.url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)) {
		util_msg(why, whylen, "callback_url must be an http or https URL");
		goto out;
	}
	if (cu.url_get(u, CURLUPART_USER, &user, 0) != CURLUE_NO_USER ||
	    cu.url_get(u, CURLUPART_PASSWORD, &pass, 0) != CURLUE_NO_PASSWORD) {
		util_msg(why, whylen, "callback_url must not carry a user name or password");
		goto out;
	}
	if (cu.url_get(u, CURLUPART_HOST, &h, 0) != CURLUE_OK || !h[0]) {
		util_msg(why, whylen, "callback_url has no host");
		goto out;
	}
	struct sockaddr_storage ss;
	if (check_literal && literal_address(h, &ss) &&
	    !cb_address_allowed((struct sockaddr *)&ss, atomic_load(&literal_private_ok))) {
		util_msg(why, whylen, "callback_url's host %s is an address callbacks may not reach "
			 "(loopback, private, link-local or reserved)", h);
		goto out;
	}
	if (host) {
		*host = strdup(h);
		if (!*host) {
			r = -ENOMEM;
			goto out;
		}
	}
	r = 0;
out:
	cu.free(scheme);
	cu.free(h);
	cu.free(user);
	cu.free(pass);
	cu.url_cleanup(u);
	return r;
}

int cb_check_url(const char *url, size_t len, char *why, size_t whylen)
{
	char buf[CB_URL_MAX + 1];
	int r = cb_load(why, whylen);

	if (r < 0)
		return r;
	if (!url || len == 0)
		return util_msg(why, whylen, "callback_url is empty");
	if (len > CB_URL_MAX)
		return util_msg(why, whylen, "callback_url is longer than %d bytes", CB_URL_MAX);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)url[i];
		if (c <= ' ' || c >= 0x7f)
			return util_msg(why, whylen, "callback_url has a control character, a space "
					"or a byte above 0x7f at byte %zu (percent-encode it)", i);
	}
	/* libcurl also takes "http:/host" and "http:///host"; other parsers
	 * may read those otherwise, so only the plain form is accepted. */
	size_t pre = len > 7 && strncasecmp(url, "http://", 7) == 0 ? 7
		: len > 8 && strncasecmp(url, "https://", 8) == 0 ? 8 : 0;
	if (pre == 0 || url[pre] == '/' || url[pre] == '\\')
		return util_msg(why, whylen, "callback_url must start with http:// or https:// "
				"and a host");
	memcpy(buf, url, len);
	buf[len] = '\0';
	r = parse_url(buf, true, NULL, why, whylen);
	return r == -ENOMEM ? util_msg(why, whylen, "out of memory") : r;
}

/* ---- the sender ---- */

#define CB_THREADS 2
#define CB_BODY_MAX (64 * 1024)		/* of an answer, read and dropped */
#define CB_BACKOFF_MAX_MS (300 * 1000)

struct delivery {
	struct delivery *next;
	char *url, *host, *body;
	size_t len;
	unsigned attempts;		/* made so far */
	uint64_t not_before_ns;		/* the next attempt's time */
};

struct cb_sender {
	struct cb_config cfg;
	pthread_mutex_t lock;
	pthread_cond_t cond;		/* on CLOCK_MONOTONIC */
	struct delivery *head, *tail;	/* waiting, in order of arrival */
	size_t pending;			/* waiting or in flight */
	bool stopping, stopped;
	uint64_t deadline_ns;		/* with stopping */
	_Atomic uint64_t abort_at_ns;	/* read by transfers; UINT64_MAX = never */
	pthread_t threads[CB_THREADS];
	size_t nthreads;
	uint64_t delivered, failed, refused;
};

static void delivery_free(struct delivery *d)
{
	if (!d)
		return;
	free(d->url);
	free(d->host);
	free(d->body);
	free(d);
}

/* The state of one attempt, for libcurl's callbacks. */
struct attempt {
	struct cb_sender *s;
	bool refused;			/* a connection was not allowed */
	char refused_addr[INET6_ADDRSTRLEN];
	size_t answer_len;
	bool answer_cut;
};

static curl_socket_t open_socket(void *clientp, curlsocktype purpose, struct curl_sockaddr *a)
{
	struct attempt *at = clientp;
	bool ok = purpose == CURLSOCKTYPE_IPCXN;

	/* The address this connection is about to be opened to: whatever
	 * the name resolved to, this is the one that counts. */
	if (ok && a->family == AF_INET && a->addrlen >= sizeof(struct sockaddr_in))
		ok = cb_address_allowed(&a->addr, at->s->cfg.allow_private);
	else if (ok && a->family == AF_INET6 && a->addrlen >= sizeof(struct sockaddr_in6))
		ok = cb_address_allowed(&a->addr, at->s->cfg.allow_private);
	else
		ok = false;
	if (!ok) {
		at->refused = true;
		const void *src = a->family == AF_INET6
			? (const void *)&((const struct sockaddr_in6 *)(void *)&a->addr)->sin6_addr
			: (const void *)&((const struct sockaddr_in *)(void *)&a->addr)->sin_addr;
		if (!inet_ntop(a->family, src, at->refused_addr, sizeof(at->refused_addr)))
			snprintf(at->refused_addr, sizeof(at->refused_addr), "?");
		return CURL_SOCKET_BAD;
	}
	/* Close-on-exec: the server forks sandboxes. */
	return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

static size_t drop_answer(char *ptr, size_t size, size_t n, void *clientp)
{
	struct attempt *at = clientp;

	at->answer_len += n;
	if (at->answer_len > CB_BODY_MAX) {
		at->answer_cut = true;
		return 0;
	}
	return n;
}

/* Cuts a transfer at the end of a stop's grace period. */
static int progress(void *clientp, curl_off_t dltotal, curl_off_t dlnow,
		    curl_off_t ultotal, curl_off_t ulnow)
{
	struct attempt *at = clientp;

	return util_now_ns() >= atomic_load(&at->s->abort_at_ns);
}

enum outcome { DELIVERED, FAILED, REFUSED };

static enum outcome attempt(struct cb_sender *s, const struct delivery *d,
			    char *reason, size_t rlen)
{
	struct attempt at = { .s = s };
	char errbuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *headers = NULL, *h;
	long timeout_ms = (long)s->cfg.timeout_s * 1000;
	uint64_t abort_at = atomic_load(&s->abort_at_ns), now = util_now_ns();

	if (abort_at != UINT64_MAX) {
		if (now >= abort_at) {
			snprintf(reason, rlen, "the server stopped");
			return FAILED;
		}
		if ((abort_at - now) / 1000000 + 1 < (uint64_t)timeout_ms)
			timeout_ms = (long)((abort_at - now) / 1000000 + 1);
	}
	CURL *c = cu.easy_init();
	if (!c) {
		snprintf(reason, rlen, "out of memory");
		return FAILED;
	}
	/* "Expect:" keeps libcurl from waiting for a 100 Continue. */
	h = cu.slist_append(headers, "Content-Type: application/json");
	if (h)
		headers = h;
	h = h ? cu.slist_append(headers, "Expect:") : NULL;
	if (!h) {
		cu.slist_free_all(headers);
		cu.easy_cleanup(c);
		snprintf(reason, rlen, "out of memory");
		return FAILED;
	}
	headers = h;

	cu.easy_setopt(c, CURLOPT_URL, d->url);
	cu.easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	cu.easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	cu.easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	cu.easy_setopt(c, CURLOPT_PROXY, "");		/* nor one from the environment */
	cu.easy_setopt(c, CURLOPT_NOPROXY, "*");
	cu.easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	cu.easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
	cu.easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
	cu.easy_setopt(c, CURLOPT_USERAGENT, "safexec");
	cu.easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	cu.easy_setopt(c, CURLOPT_FORBID_REUSE, 1L);
	cu.easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, open_socket);
	cu.easy_setopt(c, CURLOPT_OPENSOCKETDATA, &at);
	cu.easy_setopt(c, CURLOPT_WRITEFUNCTION, drop_answer);
	cu.easy_setopt(c, CURLOPT_WRITEDATA, &at);
	cu.easy_setopt(c, CURLOPT_XFERINFOFUNCTION, progress);
	cu.easy_setopt(c, CURLOPT_XFERINFODATA, &at);
	cu.easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	cu.easy_setopt(c, CURLOPT_CUSTOMREQUEST, "PUT");
	cu.easy_setopt(c, CURLOPT_HTTPHEADER, headers);
	cu.easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)d->len);
	cu.easy_setopt(c, CURLOPT_POSTFIELDS, d->body);

	CURLcode rc = cu.easy_perform(c);
	long code = 0;
	cu.easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	cu.easy_cleanup(c);
	cu.slist_free_all(headers);

	if (rc != CURLE_OK && code == 0 && at.refused) {
		snprintf(reason, rlen, "address %s not allowed", at.refused_addr);
		return REFUSED;
	}
	/* An answer too long to read still answered. */
	if (code >= 200 && code <= 299 &&
	    (rc == CURLE_OK || (rc == CURLE_WRITE_ERROR && at.answer_cut)))
		return DELIVERED;
	if (code != 0)
		snprintf(reason, rlen, "HTTP %ld", code);
	else if (rc == CURLE_ABORTED_BY_CALLBACK)
		snprintf(reason, rlen, "the server stopped");
	else
		snprintf(reason, rlen, "%s", errbuf[0] ? errbuf : cu.easy_strerror(rc));
	return FAILED;
}

/* A user-given host, safe on one log line. */
static void log_failure(const struct delivery *d, const char *reason)
{
	char host[256];
	size_t i = 0;

	for (; d->host[i] && i + 1 < sizeof(host); i++) {
		unsigned char c = (unsigned char)d->host[i];
		host[i] = c > ' ' && c < 0x7f ? (char)c : '?';
	}
	host[i] = '\0';
	fprintf(stderr, "safexec: callback to %s failed: %s\n", host, reason);
}

static uint64_t backoff_ns(const struct cb_sender *s, unsigned attempts)
{
	uint64_t ms = s->cfg.backoff_ms;

	for (unsigned i = 1; i < attempts && ms < CB_BACKOFF_MAX_MS; i++)
		ms *= 2;
	if (ms > CB_BACKOFF_MAX_MS)
		ms = CB_BACKOFF_MAX_MS;
	return ms * 1000000ull;
}

/* Takes the first delivery due now (any, while stopping); with the lock. */
static struct delivery *take_due(struct cb_sender *s, uint64_t now, uint64_t *next_ns)
{
	struct delivery *prev = NULL;

	*next_ns = UINT64_MAX;
	for (struct delivery *d = s->head; d; prev = d, d = d->next) {
		if (s->stopping || d->not_before_ns <= now) {
			if (prev)
				prev->next = d->next;
			else
				s->head = d->next;
			if (s->tail == d)
				s->tail = prev;
			d->next = NULL;
			return d;
		}
		if (d->not_before_ns < *next_ns)
			*next_ns = d->not_before_ns;
	}
	return NULL;
}

static void append(struct cb_sender *s, struct delivery *d)
{
	d->next = NULL;
	if (s->tail)
		s->tail->next = d;
	else
		s->head = d;
	s->tail = d;
}

static void *worker(void *arg)
{
	struct cb_sender *s = arg;
	char reason[CURL_ERROR_SIZE + 64];

	pthread_mutex_lock(&s->lock);
	for (;;) {
		uint64_t now = util_now_ns(), next_ns;
		if (s->stopping && now >= s->deadline_ns)
			break;
		struct delivery *d = take_due(s, now, &next_ns);
		if (!d) {
			if (s->stopping)
				break;	/* nothing left; what is in flight is its thread's */
			if (next_ns == UINT64_MAX) {
				pthread_cond_wait(&s->cond, &s->lock);
			} else {
				struct timespec ts = {
					.tv_sec = (time_t)(next_ns / 1000000000ull),
					.tv_nsec = (long)(next_ns % 1000000000ull),
				};
				pthread_cond_timedwait(&s->cond, &s->lock, &ts);
			}
			continue;
		}
		pthread_mutex_unlock(&s->lock);
		enum outcome o = attempt(s, d, reason, sizeof(reason));
		d->attempts++;
		pthread_mutex_lock(&s->lock);

		if (o == FAILED && d->attempts <= s->cfg.retries &&
		    !(s->stopping && util_now_ns() >= s->deadline_ns)) {
			d->not_before_ns = util_now_ns() + backoff_ns(s, d->attempts);
			append(s, d);
			pthread_cond_broadcast(&s->cond);
			continue;
		}
		s->pending--;
		if (o == DELIVERED) {
			s->delivered++;
		} else if (o == REFUSED) {
			s->refused++;
			log_failure(d, reason);
		} else {
			s->failed++;
			if (d->attempts > 1) {
				size_t n = strlen(reason);
				snprintf(reason + n, sizeof(reason) - n, " (%u attempts)", d->attempts);
			}
			log_failure(d, reason);
		}
		delivery_free(d);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

int cb_start(struct cb_sender **out, const struct cb_config *cfg, char *why, size_t whylen)
{
	int r = cb_load(why, whylen);

	*out = NULL;
	if (r < 0)
		return r;
	struct cb_sender *s = calloc(1, sizeof(*s));
	if (!s) {
		util_msg(why, whylen, "out of memory");
		return -ENOMEM;
	}
	s->cfg = *cfg;
	if (!s->cfg.timeout_s)
		s->cfg.timeout_s = 10;
	if (!s->cfg.queue_max)
		s->cfg.queue_max = 1024;
	if (!s->cfg.backoff_ms)
		s->cfg.backoff_ms = 1000;
	atomic_store(&s->abort_at_ns, UINT64_MAX);

	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->cond, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&s->lock, NULL);

	for (; s->nthreads < CB_THREADS; s->nthreads++) {
		r = pthread_create(&s->threads[s->nthreads], NULL, worker, s);
		if (r != 0) {
			cb_free(s);
			util_msg(why, whylen, "cannot start a callback thread: %s", strerror(r));
			return -r;
		}
	}
	atomic_store(&literal_private_ok, cfg->allow_private);
	*out = s;
	return 0;
}

int cb_send(struct cb_sender *s, const char *url, const char *body, size_t len)
{
	struct delivery *d = calloc(1, sizeof(*d));
	char why[256];
	int r;

	if (!d)
		return -ENOMEM;
	r = parse_url(url, false, &d->host, why, sizeof(why));
	if (r < 0)
		goto fail;
	r = -ENOMEM;
	d->url = strdup(url);
	d->body = malloc(len + 1);
	if (!d->url || !d->body)
		goto fail;
	if (len)
		memcpy(d->body, body, len);
	d->body[len] = '\0';
	d->len = len;

	pthread_mutex_lock(&s->lock);
	if (s->stopping)
		r = -ESHUTDOWN;
	else if (s->pending >= s->cfg.queue_max)
		r = -EAGAIN;
	else
		r = 0;
	if (r == 0) {
		d->not_before_ns = 0;
		append(s, d);
		s->pending++;
		pthread_cond_signal(&s->cond);
	}
	pthread_mutex_unlock(&s->lock);
	if (r == 0)
		return 0;
fail:
	delivery_free(d);
	return r;
}

void cb_stats(struct cb_sender *s, struct cb_stats *out)
{
	pthread_mutex_lock(&s->lock);
	*out = (struct cb_stats){
		.delivered = s->delivered,
		.failed = s->failed,
		.refused = s->refused,
		.queued = s->pending,
	};
	pthread_mutex_unlock(&s->lock);
}

void cb_stop(struct cb_sender *s, unsigned grace_s)
{
	pthread_mutex_lock(&s->lock);
	if (s->stopped) {
		pthread_mutex_unlock(&s->lock);
		return;
	}
	s->stopped = true;
	s->stopping = true;
	s->deadline_ns = util_now_ns() + (uint64_t)grace_s * 1000000000ull;
	atomic_store(&s->abort_at_ns, s->deadline_ns);
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);

	for (size_t i = 0; i < s->nthreads; i++)
		pthread_join(s->threads[i], NULL);
	s->nthreads = 0;

	/* What the grace period left. */
	size_t left = 0;
	pthread_mutex_lock(&s->lock);
	while (s->head) {
		struct delivery *d = s->head;
		s->head = d->next;
		delivery_free(d);
		left++;
	}
	s->tail = NULL;
	s->failed += left;
	s->pending -= left;
	pthread_mutex_unlock(&s->lock);
	if (left)
		fprintf(stderr, "safexec: %zu callbacks not delivered: the server stopped\n", left);
}

void cb_free(struct cb_sender *s)
{
	if (!s)
		return;
	cb_stop(s, 0);
	atomic_store(&literal_private_ok, false);
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->lock);
	free(s);
}
