/* Unit tests: the callback address rule, callback_url checks, and real
 * deliveries to a small HTTP server on 127.0.0.1. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "test.h"
#include "callback/callback.h"
#include "util/util.h"

/* ---- the address rule ---- */

static bool allowed(const char *addr, bool allow_private)
{
	struct sockaddr_in in = { .sin_family = AF_INET, .sin_port = htons(80) };
	struct sockaddr_in6 in6 = { .sin6_family = AF_INET6, .sin6_port = htons(80) };

	if (inet_pton(AF_INET, addr, &in.sin_addr) == 1)
		return cb_address_allowed((struct sockaddr *)&in, allow_private);
	if (inet_pton(AF_INET6, addr, &in6.sin6_addr) == 1)
		return cb_address_allowed((struct sockaddr *)&in6, allow_private);
	fprintf(stderr, "  bad test address %s\n", addr);
	abort();
}

static const char *const refused_addrs[] = {
	/* IPv4 */
	"0.0.0.0", "0.1.2.3", "0.255.255.255",			/* this network */
	"127.0.0.1", "127.0.0.53", "127.255.255.254",		/* loopback */
	"10.0.0.1", "10.255.255.255",				/* private */
	"172.16.0.1", "172.20.1.1", "172.31.255.255",
	"192.168.0.1", "192.168.255.255",
	"169.254.169.254", "169.254.0.1", "169.254.255.255",	/* link-local, metadata */
	"100.64.0.1", "100.100.100.200", "100.127.255.255",	/* CGNAT */
	"224.0.0.1", "239.255.255.250",				/* multicast */
	"240.0.0.1", "250.1.2.3", "255.255.255.255",		/* reserved, broadcast */
	"192.0.0.170", "198.18.0.1", "198.19.255.255",		/* special use */
	/* IPv6 */
	"::", "::1",						/* unspecified, loopback */
	"::ffff:127.0.0.1", "::ffff:10.1.2.3", "::ffff:169.254.169.254",	/* mapped */
	"::ffff:192.168.1.1", "::ffff:0.0.0.0", "::ffff:100.64.0.1",
	"::ffff:224.0.0.1", "::ffff:255.255.255.255",
	"::127.0.0.1", "::10.0.0.1", "::169.254.169.254", "::8.8.8.8",	/* compatible */
	"::ffff:0:127.0.0.1", "::ffff:0:10.0.0.1",		/* translated */
	"64:ff9b::127.0.0.1", "64:ff9b::10.0.0.1", "64:ff9b::169.254.169.254",	/* NAT64 */
	"64:ff9b::192.168.0.1", "64:ff9b::7f00:1",
	"64:ff9b:1::1", "64:ff9b:1:2::8.8.8.8",			/* local-use NAT64 */
	"2002:7f00:1::", "2002:7f00:0001:1234::1", "2002:a00:1::1",	/* 6to4 */
	"2002:a9fe:a9fe::1", "2002:c0a8:101::1", "2002:0:0::1",
	"fc00::1", "fd00::1", "fdff:ffff::1",			/* unique local */
	"fd00:ec2::254",					/* cloud metadata */
	"fe80::1", "fe80::1ff:fe23:4567:890a", "febf::1",	/* link-local */
	"fec0::1",						/* site-local */
	"ff02::1", "ff05::2", "ff0e::1",			/* multicast */
	"100::1", "2001::1", "2001:0:4136:e378:8000:63bf:3fff:fdd2",	/* discard, Teredo */
	"2001:db8::1",						/* documentation */
};

static const char *const allowed_addrs[] = {
	"1.1.1.1", "8.8.8.8", "93.184.216.34", "9.255.255.255", "11.0.0.1",
	"100.63.255.255", "100.128.0.0", "126.255.255.255", "128.0.0.1",
	"169.253.255.255", "169.255.0.1", "172.15.255.255", "172.32.0.1",
	"192.167.255.255", "192.169.0.1", "198.17.255.255", "198.20.0.1",
	"223.255.255.255",
	"2606:4700:4700::1111", "2001:4860:4860::8888", "2a00:1450:4001::1",
	"::ffff:8.8.8.8", "::ffff:1.1.1.1", "64:ff9b::8.8.8.8", "64:ff9b::101:101",
	"2002:808:808::1", "2002:5db8:d822::1", "fbff::1", "fe00::1", "2003::1",
	"2001:1::1",
};

TEST(callback_address_refused)
{
	for (size_t i = 0; i < UTIL_ARRAY_SIZE(refused_addrs); i++)
		if (allowed(refused_addrs[i], false))
			TEST_FAIL_("%s is allowed", refused_addrs[i]);
}

TEST(callback_address_allowed)
{
	for (size_t i = 0; i < UTIL_ARRAY_SIZE(allowed_addrs); i++)
		if (!allowed(allowed_addrs[i], false))
			TEST_FAIL_("%s is refused", allowed_addrs[i]);
}

TEST(callback_address_allow_private)
{
	for (size_t i = 0; i < UTIL_ARRAY_SIZE(refused_addrs); i++)
		if (!allowed(refused_addrs[i], true))
			TEST_FAIL_("%s is refused with allow_private", refused_addrs[i]);
}

TEST(callback_address_other_families)
{
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	struct sockaddr_storage none = { .ss_family = AF_UNSPEC };

	ASSERT(!cb_address_allowed(NULL, false));
	ASSERT(!cb_address_allowed(NULL, true));
	ASSERT(!cb_address_allowed((struct sockaddr *)&un, false));
	ASSERT(!cb_address_allowed((struct sockaddr *)&un, true));
	ASSERT(!cb_address_allowed((struct sockaddr *)&none, true));
}

/* ---- callback_url ---- */

static void need_curl(void)
{
	char why[256];
	if (cb_load(why, sizeof(why)) < 0)
		test_skip("callback", why);
}

static int check(const char *url)
{
	char why[256] = "";
	int r = cb_check_url(url, strlen(url), why, sizeof(why));
	if (r < 0 && !why[0])
		return -1000;	/* an error must say why */
	return r;
}

TEST(callback_check_url_good)
{
	static const char *const good[] = {
		"http://example.com/cb",
		"https://example.com:8443/jobs/done?token=abc&x=1",
		"http://example.com",
		"HTTPS://Example.COM/Path",
		"http://8.8.8.8/",
		"http://8.8.8.8:8080/x",
		"http://[2001:4860:4860::8888]/",
		"https://[2606:4700:4700::1111]:443/a",
		"http://localhost:8080/",	/* a name: judged when connecting */
		"http://example.com/a%20b#frag",
		"http://xn--bcher-kva.example/",
	};
	need_curl();
	for (size_t i = 0; i < UTIL_ARRAY_SIZE(good); i++)
		if (check(good[i]) != 0)
			TEST_FAIL_("%s refused", good[i]);

	/* Exactly CB_URL_MAX bytes. */
	char url[CB_URL_MAX + 2];
	snprintf(url, sizeof(url), "http://example.com/");
	size_t n = strlen(url);
	memset(url + n, 'a', CB_URL_MAX - n);
	url[CB_URL_MAX] = '\0';
	ASSERT_EQ(check(url), 0);
}

TEST(callback_check_url_bad)
{
	static const char *const bad[] = {
		"",
		"example.com/cb",			/* no scheme */
		"//example.com/cb",
		"ftp://example.com/x",
		"file:///etc/passwd",
		"gopher://example.com/",
		"dict://example.com:11211/",
		"ldap://example.com/",
		"javascript:alert(1)",
		"http:///path",				/* no host */
		"http:///example.com/",
		"http:/example.com/",
		"http:example.com/",
		"http:\\\\example.com/",
		"http://\\example.com/",
		"http://",
		"http://:80/",
		"http://user@example.com/",		/* userinfo */
		"http://user:pw@example.com/",
		"http://:pw@example.com/",
		"https://a@8.8.8.8/",
		"http://exa mple.com/",			/* space */
		"http://example.com/ x",
		" http://example.com/",
		"http://example.com/\n",		/* control characters */
		"http://example.com/\r\nX-Evil: 1",
		"http://example.com/\t",
		"http://example.com/\x7f",
		"http://ex\x01ample.com/",
		"http://\xc3\xa9xample.com/",		/* not ASCII */
		"http://example.com:99999/",		/* port */
		"http://example.com:-1/",
		"http://127.0.0.1/",			/* literal addresses */
		"http://127.0.0.1:8080/cb",
		"http://127.1/",
		"http://2130706433/",
		"http://0x7f.0.0.1/",
		"http://0177.0.0.1/",
		"http://0.0.0.0/",
		"http://0/",
		"http://10.0.0.1/",
		"http://192.168.1.1/",
		"http://172.16.0.1/",
		"http://100.64.0.1/",
		"http://169.254.169.254/latest/meta-data/",
		"http://224.0.0.1/",
		"http://255.255.255.255/",
		"http://[::1]/",
		"http://[::]/",
		"http://[::ffff:127.0.0.1]/",
		"http://[::ffff:7f00:1]/",
		"http://[64:ff9b::a9fe:a9fe]/",
		"http://[2002:7f00:1::1]/",
		"http://[fd00:ec2::254]/",
		"http://[fe80::1]/",
		"http://[fe80::1%25eth0]/",
		"http://[fc00::1]:8080/",
	};
	need_curl();
	for (size_t i = 0; i < UTIL_ARRAY_SIZE(bad); i++)
		if (check(bad[i]) != -EINVAL)
			TEST_FAIL_("\"%s\" not refused with a message", bad[i]);

	/* Too long, and a NUL inside the given length. */
	char url[CB_URL_MAX + 2];
	snprintf(url, sizeof(url), "http://example.com/");
	size_t n = strlen(url);
	memset(url + n, 'a', CB_URL_MAX + 1 - n);
	url[CB_URL_MAX + 1] = '\0';
	ASSERT_EQ(check(url), -EINVAL);
	ASSERT_EQ(cb_check_url("http://example.com/\0x", 21, NULL, 0), -EINVAL);
	ASSERT_EQ(cb_check_url(NULL, 0, NULL, 0), -EINVAL);
	/* Only len bytes are read. */
	ASSERT_EQ(cb_check_url("http://example.com/ junk", 19, NULL, 0), 0);

	char why[256];
	ASSERT_EQ(cb_check_url("http://u:p@example.com/", 23, why, sizeof(why)), -EINVAL);
	ASSERT(strstr(why, "user") != NULL);
	ASSERT_EQ(cb_check_url("http://127.0.0.1/", 17, why, sizeof(why)), -EINVAL);
	ASSERT(strstr(why, "127.0.0.1") != NULL);
}

TEST(callback_check_url_literal_with_allow_private)
{
	struct cb_config cfg = { .allow_private = true };
	struct cb_sender *s;
	char why[256];

	need_curl();
	ASSERT_EQ(check("http://127.0.0.1:8080/"), -EINVAL);
	ASSERT_EQ(cb_start(&s, &cfg, why, sizeof(why)), 0);
	ASSERT_EQ(check("http://127.0.0.1:8080/"), 0);
	ASSERT_EQ(check("http://[::1]/"), 0);
	ASSERT_EQ(check("http://169.254.169.254/"), 0);
	ASSERT_EQ(check("ftp://127.0.0.1/"), -EINVAL);	/* the rest still holds */
	ASSERT_EQ(check("http://a:b@127.0.0.1/"), -EINVAL);
	cb_free(s);
	ASSERT_EQ(check("http://127.0.0.1:8080/"), -EINVAL);
}

/* ---- a tiny HTTP server ---- */

struct server {
	int fd, port;
	int status;		/* answered */
	char location[128];	/* a Location header, if any */
	unsigned delay_ms;	/* before answering */
	size_t answer_len;	/* body bytes of the answer */
	atomic_int accepts, requests;
	atomic_bool stop;
	pthread_t thread;
	/* The first request. */
	char head[8192];
	char body[8192];
	size_t body_len;
};

/* The value of header name in a request head, or "". */
static void header(const char *head, const char *name, char *out, size_t outlen)
{
	size_t n = strlen(name);
	out[0] = '\0';
	for (const char *p = strstr(head, "\r\n"); p; p = strstr(p + 2, "\r\n")) {
		if (strncasecmp(p + 2, name, n) == 0 && p[2 + n] == ':') {
			const char *v = p + 3 + n, *e;
			while (*v == ' ')
				v++;
			e = strstr(v, "\r\n");
			size_t len = e ? (size_t)(e - v) : strlen(v);
			if (len >= outlen)
				len = outlen - 1;
			memcpy(out, v, len);
			out[len] = '\0';
			return;
		}
	}
}

static void serve_one(struct server *sv, int c)
{
	char buf[16384], val[64];
	size_t got = 0;
	char *end = NULL;

	while (got < sizeof(buf) - 1) {
		ssize_t r = read(c, buf + got, sizeof(buf) - 1 - got);
		if (r <= 0)
			return;
		got += (size_t)r;
		buf[got] = '\0';
		if ((end = strstr(buf, "\r\n\r\n")))
			break;
	}
	if (!end)
		return;
	size_t head_len = (size_t)(end - buf) + 4;
	uint64_t want = 0;
	header(buf, "Content-Length", val, sizeof(val));
	if (val[0] && util_parse_u64(val, sizeof(buf), &want) < 0)
		return;
	while (got - head_len < want && got < sizeof(buf) - 1) {
		ssize_t r = read(c, buf + got, sizeof(buf) - 1 - got);
		if (r <= 0)
			return;
		got += (size_t)r;
	}
	if (atomic_load(&sv->requests) == 0) {
		size_t hl = head_len < sizeof(sv->head) ? head_len : sizeof(sv->head) - 1;
		memcpy(sv->head, buf, hl);
		sv->head[hl] = '\0';
		sv->body_len = got - head_len < sizeof(sv->body) ? got - head_len : sizeof(sv->body);
		memcpy(sv->body, buf + head_len, sv->body_len);
	}
	atomic_fetch_add(&sv->requests, 1);
	if (sv->delay_ms)
		usleep(sv->delay_ms * 1000);

	char ans[512];
	int n = snprintf(ans, sizeof(ans),
			 "HTTP/1.1 %d X\r\nContent-Length: %zu\r\nConnection: close\r\n%s%s%s\r\n",
			 sv->status, sv->answer_len, sv->location[0] ? "Location: " : "",
			 sv->location, sv->location[0] ? "\r\n" : "");
	/* send() with MSG_NOSIGNAL: a client that stops reading (as the
	 * sender does past its answer limit) must not raise SIGPIPE here. */
	if (send(c, ans, (size_t)n, MSG_NOSIGNAL) != n)
		return;
	char chunk[4096];
	memset(chunk, 'x', sizeof(chunk));
	for (size_t left = sv->answer_len; left > 0;) {
		size_t k = left < sizeof(chunk) ? left : sizeof(chunk);
		ssize_t w = send(c, chunk, k, MSG_NOSIGNAL);
		if (w <= 0)
			return;
		left -= (size_t)w;
	}
}

static void *server_main(void *arg)
{
	struct server *sv = arg;

	while (!atomic_load(&sv->stop)) {
		struct pollfd p = { .fd = sv->fd, .events = POLLIN };
		if (poll(&p, 1, 20) <= 0)
			continue;
		int c = accept4(sv->fd, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0)
			continue;
		atomic_fetch_add(&sv->accepts, 1);
		serve_one(sv, c);
		close(c);
	}
	return NULL;
}

static void server_start(struct server *sv, int status)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);

	sv->status = status;
	sv->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (sv->fd < 0 || bind(sv->fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(sv->fd, 16) < 0 || getsockname(sv->fd, (struct sockaddr *)&a, &alen) < 0)
		test_skip("callback", "cannot listen on 127.0.0.1");
	sv->port = ntohs(a.sin_port);
	if (pthread_create(&sv->thread, NULL, server_main, sv) != 0)
		test_skip("callback", "cannot start a thread");
}

static void server_stop(struct server *sv)
{
	atomic_store(&sv->stop, true);
	pthread_join(sv->thread, NULL);
	close(sv->fd);
}

/* Waits until nothing is queued (at most 10 s). */
static void settle(struct cb_sender *s, struct cb_stats *st)
{
	for (int i = 0; i < 1000; i++) {
		cb_stats(s, st);
		if (st->queued == 0)
			return;
		usleep(10 * 1000);
	}
}

static struct cb_sender *sender(bool allow_private, unsigned retries)
{
	struct cb_config cfg = {
		.allow_private = allow_private, .timeout_s = 5, .retries = retries,
		.backoff_ms = 10,
	};
	struct cb_sender *s = NULL;
	char why[256];

	need_curl();
	if (cb_start(&s, &cfg, why, sizeof(why)) < 0)
		test_skip("callback", why);
	return s;
}

/* Sends stderr to a file, to read the log lines back. */
static FILE *capture_stderr(void)
{
	FILE *f = tmpfile();
	if (!f || dup2(fileno(f), 2) < 0)
		test_skip("callback", "cannot capture stderr");
	return f;
}

static void read_captured(FILE *f, char *buf, size_t len)
{
	fflush(stderr);
	rewind(f);
	size_t n = fread(buf, 1, len - 1, f);
	buf[n] = '\0';
}

static const char body[] = "{\"id\":\"tok\",\"status\":\"ok\",\"stdout\":\"secret-output\\n\"}";

TEST(callback_delivers_a_put)
{
	struct server sv = { 0 };
	struct cb_stats st;
	char url[128], val[128];

	server_start(&sv, 200);
	struct cb_sender *s = sender(true, 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/done?token=abc", sv.port);
	ASSERT_EQ(cb_send(s, url, body, strlen(body)), 0);
	settle(s, &st);
	ASSERT_EQ(st.delivered, 1);
	ASSERT_EQ(st.failed, 0);
	ASSERT_EQ(st.refused, 0);
	ASSERT_EQ(st.queued, 0);
	ASSERT_EQ(atomic_load(&sv.requests), 1);
	ASSERT(strncmp(sv.head, "PUT /done?token=abc HTTP/1.1\r\n", 30) == 0);
	ASSERT_MEMEQ(sv.body, sv.body_len, body, strlen(body));
	header(sv.head, "Content-Type", val, sizeof(val));
	ASSERT_STREQ(val, "application/json");
	header(sv.head, "User-Agent", val, sizeof(val));
	ASSERT_STREQ(val, "safexec");
	header(sv.head, "Expect", val, sizeof(val));
	ASSERT_STREQ(val, "");
	cb_free(s);
	server_stop(&sv);
}

TEST(callback_any_2xx_delivers)
{
	struct server sv = { 0 };
	struct cb_stats st;
	char url[128];

	server_start(&sv, 204);
	struct cb_sender *s = sender(true, 3);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", sv.port);
	ASSERT_EQ(cb_send(s, url, "", 0), 0);
	settle(s, &st);
	ASSERT_EQ(st.delivered, 1);
	ASSERT_EQ(atomic_load(&sv.requests), 1);
	ASSERT_EQ(sv.body_len, 0);
	cb_free(s);
	server_stop(&sv);
}

TEST(callback_long_answer_is_cut_and_still_delivers)
{
	struct server sv = { .answer_len = 1 << 20 };
	struct cb_stats st;
	char url[128];

	server_start(&sv, 200);
	struct cb_sender *s = sender(true, 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", sv.port);
	ASSERT_EQ(cb_send(s, url, body, strlen(body)), 0);
	settle(s, &st);
	ASSERT_EQ(st.delivered, 1);
	ASSERT_EQ(st.failed, 0);
	cb_free(s);
	server_stop(&sv);
}

TEST(callback_500_is_retried)
{
	struct server sv = { 0 };
	struct cb_stats st;
	char url[128], log[4096];

	server_start(&sv, 500);
	FILE *err = capture_stderr();
	struct cb_sender *s = sender(true, 3);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/secret-path?token=secret-token", sv.port);
	uint64_t t0 = util_now_ns();
	ASSERT_EQ(cb_send(s, url, body, strlen(body)), 0);
	settle(s, &st);
	uint64_t ms = (util_now_ns() - t0) / 1000000;
	ASSERT_EQ(st.delivered, 0);
	ASSERT_EQ(st.failed, 1);
	ASSERT_EQ(st.refused, 0);
	ASSERT_EQ(atomic_load(&sv.requests), 4);	/* 1 + 3 retries */
	ASSERT(ms >= 10 + 20 + 40);			/* backoff 10 ms, doubled */
	read_captured(err, log, sizeof(log));
	ASSERT_STREQ(log, "safexec: callback to 127.0.0.1 failed: HTTP 500 (4 attempts)\n");
	cb_free(s);
	server_stop(&sv);
}

TEST(callback_no_retries)
{
	struct server sv = { 0 };
	struct cb_stats st;
	char url[128];

	server_start(&sv, 503);
	struct cb_sender *s = sender(true, 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", sv.port);
	ASSERT_EQ(cb_send(s, url, body, strlen(body)), 0);
	settle(s, &st);
	ASSERT_EQ(st.failed, 1);
	ASSERT_EQ(atomic_load(&sv.requests), 1);
	cb_free(s);
	server_stop(&sv);
}

TEST(callback_private_address_refused_before_connecting)
{
	struct server sv = { 0 };
	struct cb_stats st;
	char url[128], log[4096];

	server_start(&sv, 200);
	FILE *err = capture_stderr();
	struct cb_sender *s = sender(false, 3);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/x", sv.port);
	ASSERT_EQ(cb_send(s, url, body, strlen(body)), 0);
	settle(s, &st);
	usleep(50 * 1000);
	ASSERT_EQ(st.refused, 1);
	ASSERT_EQ(st.delivered, 0);
	ASSERT_EQ(st.failed, 0);
	ASSERT_EQ(atomic_load(&sv.accepts), 0);		/* never connected, never retried */
	read_captured(err, log, sizeof(log));
	ASSERT_STREQ(log, "safexec: callback to 127.0.0.1 failed: address 127.0.0.1 not allowed\n");
	cb_free(s);
	server_stop(&sv);
}

TEST(callback_name_of_loopback_refused_when_connecting)
{
	struct server sv = { 0 };
	struct cb_stats st;
	char url[128];

	server_start(&sv, 200);
	struct cb_sender *s = sender(false, 2);
	snprintf(url, sizeof(url), "http://localhost:%d/x", sv.port);
	ASSERT_EQ(cb_check_url(url, strlen(url), NULL, 0), 0);	/* a name passes the check */
	ASSERT_EQ(cb_send(s, url, body, strlen(body)), 0);
	settle(s, &st);
	usleep(50 * 1000);
	ASSERT_EQ(st.refused, 1);
	ASSERT_EQ(st.delivered, 0);
	ASSERT_EQ(atomic_load(&sv.accepts), 0);
	cb_free(s);
	server_stop(&sv);
}

TEST(callback_redirect_not_followed)
{
	struct server sv = { 0 }, other = { 0 };
	struct cb_stats st;
	char url[128];

	server_start(&other, 200);
	server_start(&sv, 302);
	snprintf(sv.location, sizeof(sv.location), "http://127.0.0.1:%d/other", other.port);
	struct cb_sender *s = sender(true, 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", sv.port);
	ASSERT_EQ(cb_send(s, url, body, strlen(body)), 0);
	settle(s, &st);
	usleep(50 * 1000);
	ASSERT_EQ(st.delivered, 0);
	ASSERT_EQ(st.failed, 1);
	ASSERT_EQ(atomic_load(&sv.requests), 1);
	ASSERT_EQ(atomic_load(&other.accepts), 0);
	cb_free(s);
	server_stop(&sv);
	server_stop(&other);
}

TEST(callback_connection_refused_fails)
{
	struct server sv = { 0 };
	struct cb_stats st;
	char url[128];

	/* A port nobody listens on: bound, then closed. */
	server_start(&sv, 200);
	server_stop(&sv);
	struct cb_sender *s = sender(true, 1);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", sv.port);
	ASSERT_EQ(cb_send(s, url, body, strlen(body)), 0);
	settle(s, &st);
	ASSERT_EQ(st.failed, 1);
	ASSERT_EQ(st.refused, 0);
	cb_free(s);
}

TEST(callback_queue_full_does_not_block)
{
	struct server sv = { .delay_ms = 300 };
	struct cb_config cfg = { .allow_private = true, .timeout_s = 5, .queue_max = 2,
				 .backoff_ms = 10 };
	struct cb_sender *s;
	struct cb_stats st;
	char url[128], why[256];

	need_curl();
	server_start(&sv, 200);
	ASSERT_EQ(cb_start(&s, &cfg, why, sizeof(why)), 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", sv.port);
	uint64_t t0 = util_now_ns();
	ASSERT_EQ(cb_send(s, url, body, strlen(body)), 0);
	ASSERT_EQ(cb_send(s, url, body, strlen(body)), 0);
	ASSERT_EQ(cb_send(s, url, body, strlen(body)), -EAGAIN);
	ASSERT(util_now_ns() - t0 < 100 * 1000000ull);
	cb_stats(s, &st);
	ASSERT_EQ(st.queued, 2);
	settle(s, &st);
	ASSERT_EQ(st.delivered, 2);
	ASSERT_EQ(cb_send(s, url, body, strlen(body)), 0);	/* room again */
	settle(s, &st);
	ASSERT_EQ(st.delivered, 3);
	ASSERT_EQ(cb_send(s, "not a url", body, strlen(body)), -EINVAL);
	cb_free(s);
	server_stop(&sv);
}

TEST(callback_stop_delivers_what_is_queued)
{
	struct server sv = { 0 };
	struct cb_stats st;
	char url[128];

	server_start(&sv, 200);
	struct cb_sender *s = sender(true, 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", sv.port);
	for (int i = 0; i < 5; i++)
		ASSERT_EQ(cb_send(s, url, body, strlen(body)), 0);
	cb_stop(s, 10);
	cb_stats(s, &st);
	ASSERT_EQ(st.delivered, 5);
	ASSERT_EQ(st.queued, 0);
	ASSERT_EQ(cb_send(s, url, body, strlen(body)), -ESHUTDOWN);
	cb_stop(s, 10);		/* idempotent */
	cb_free(s);
	server_stop(&sv);
}

TEST(callback_stop_cuts_the_retry_wait)
{
	struct server sv = { 0 };
	struct cb_config cfg = { .allow_private = true, .timeout_s = 5, .retries = 1,
				 .backoff_ms = 60 * 1000 };
	struct cb_sender *s;
	struct cb_stats st;
	char url[128], why[256];

	need_curl();
	server_start(&sv, 500);
	ASSERT_EQ(cb_start(&s, &cfg, why, sizeof(why)), 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", sv.port);
	ASSERT_EQ(cb_send(s, url, body, strlen(body)), 0);
	for (int i = 0; i < 500 && atomic_load(&sv.requests) < 1; i++)
		usleep(10 * 1000);
	uint64_t t0 = util_now_ns();
	cb_stop(s, 10);
	ASSERT(util_now_ns() - t0 < 2000 * 1000000ull);
	ASSERT_EQ(atomic_load(&sv.requests), 2);	/* the retry, made at once */
	cb_stats(s, &st);
	ASSERT_EQ(st.failed, 1);
	ASSERT_EQ(st.queued, 0);
	cb_free(s);
	server_stop(&sv);
}

TEST(callback_stop_gives_up_at_the_deadline)
{
	struct server sv = { .delay_ms = 1500 };
	struct cb_stats st;
	char url[128];

	server_start(&sv, 200);
	FILE *err = capture_stderr();
	struct cb_sender *s = sender(true, 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", sv.port);
	for (int i = 0; i < 4; i++)
		ASSERT_EQ(cb_send(s, url, body, strlen(body)), 0);
	for (int i = 0; i < 500 && atomic_load(&sv.requests) < 1; i++)
		usleep(10 * 1000);
	uint64_t t0 = util_now_ns();
	cb_stop(s, 1);
	uint64_t ms = (util_now_ns() - t0) / 1000000;
	ASSERT(ms < 2500);
	cb_stats(s, &st);
	ASSERT_EQ(st.delivered, 0);
	ASSERT_EQ(st.failed, 4);
	ASSERT_EQ(st.queued, 0);
	char log[4096];
	read_captured(err, log, sizeof(log));
	ASSERT(strstr(log, "the server stopped") != NULL);
	ASSERT(strstr(log, "secret") == NULL);
	cb_free(s);
	server_stop(&sv);
}
