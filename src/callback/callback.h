/*
 * callback.h - PUTs a job's result (a JSON body) to the job's callback_url
 * when the job ends.
 *
 * The URL comes from whoever submitted the job, so the server must not be
 * turned into a way to reach what only it can reach: loopback, the private
 * networks, link-local (the cloud metadata service at 169.254.169.254) and
 * the like.  cb_check_url() refuses a bad URL at submission time, but a
 * name may resolve to anything, and to something else on the next lookup
 * (DNS rebinding), so the rule that matters is applied to the address each
 * connection is actually opened to (cb_address_allowed(), from libcurl's
 * open-socket callback).  No redirect is followed, no proxy is used, and
 * only http and https are spoken.
 *
 * libcurl is loaded at run time (util_dlsyms(), as src/http/mhd.h loads
 * libmicrohttpd): only the server uses it.
 */
#ifndef SAFEXEC_CALLBACK_H
#define SAFEXEC_CALLBACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* The longest callback_url, in bytes. */
#define CB_URL_MAX 2048

/* The soname of the libcurl ABI this code was built for, and its package. */
#define CB_CURL_SONAME "libcurl.so.4"
#define CB_CURL_PACKAGE "libcurl4"

/* Loads libcurl and initializes it, once (thread-safe).  cb_check_url()
 * and cb_start() call it; 0, or -ENOENT with a message. */
int cb_load(char *why, size_t whylen);

/*
 * Whether a connection may be opened to sa (AF_INET or AF_INET6; any other
 * family, or NULL, is refused).  Refused unless allow_private: 0.0.0.0/8,
 * 10/8, 100.64/10 (CGNAT), 127/8, 169.254/16, 172.16/12, 192.0.0/24,
 * 192.168/16, 198.18/15, 224/4 (multicast), 240/4 (reserved, and the
 * broadcast address); ::, ::1, the deprecated IPv4-compatible ::/96,
 * fc00::/7 (with the metadata address fd00:ec2::254), fe80::/10, fec0::/10,
 * ff00::/8, 100::/64 (discard), 2001::/32 (Teredo), 2001:db8::/32,
 * 64:ff9b:1::/48 (local NAT64); and the IPv4 address inside ::ffff:0:0/96
 * (mapped), ::ffff:0:0:0/96 (translated), 64:ff9b::/96 (NAT64) and
 * 2002::/16 (6to4) is judged by the IPv4 rule.  With allow_private every
 * IPv4 and IPv6 address is allowed (a test setup, or a private network).
 */
bool cb_address_allowed(const struct sockaddr *sa, bool allow_private);

/*
 * Checks a callback_url of len bytes (need not be NUL-terminated) when a
 * job is submitted: at most CB_URL_MAX bytes, printable ASCII only (no
 * control characters, spaces or bytes above 0x7f), http or https, a host,
 * no user name or password; a host that is a literal address must pass
 * cb_address_allowed() unless a sender started with allow_private runs
 * (the setting is process-wide: cb_start() sets it, cb_free() clears it).
 * Names are not resolved here.  Returns 0, -EINVAL with a message, or
 * -ENOENT when libcurl cannot be loaded.
 */
int cb_check_url(const char *url, size_t len, char *why, size_t whylen);

struct cb_config {
	bool allow_private;	/* see cb_address_allowed() */
	unsigned timeout_s;	/* each attempt, connecting included; 0 = 10 */
	unsigned retries;	/* attempts after a failed first one */
	unsigned queue_max;	/* deliveries that may wait; 0 = 1024 */
	unsigned backoff_ms;	/* the wait before the first retry, doubled
				   before each next one (at most 5 minutes);
				   0 = 1000 */
};

/* Counters, for the metrics. */
struct cb_stats {
	uint64_t delivered;	/* answered with a 2xx */
	uint64_t failed;	/* given up: attempts exhausted, or the stop */
	uint64_t refused;	/* address not allowed (never retried) */
	uint64_t queued;	/* waiting or being delivered now */
};

struct cb_sender;

/* Loads libcurl and starts the delivery threads.  0, or a negative errno
 * with a message. */
int cb_start(struct cb_sender **out, const struct cb_config *cfg,
	     char *why, size_t whylen);

/*
 * Queues a delivery of body (len bytes, copied) to url (a NUL-terminated
 * URL that passed cb_check_url(), copied) and returns at once.  A delivery
 * succeeds on any 2xx answer; anything else (and a failed connection) is
 * retried cfg->retries more times, 1 s, 2 s, 4 s... apart; a final failure
 * is logged on stderr in one line, "safexec: callback to HOST failed:
 * REASON", that never shows the body, the path or the query.  Returns 0,
 * -EAGAIN when queue_max deliveries wait, -EINVAL for a URL libcurl cannot
 * parse, -ESHUTDOWN after cb_stop(), or -ENOMEM.
 */
int cb_send(struct cb_sender *s, const char *url, const char *body, size_t len);

/* Fills *out with the counters (thread-safe). */
void cb_stats(struct cb_sender *s, struct cb_stats *out);

/*
 * Stops taking deliveries and delivers the queued ones for at most grace_s
 * seconds: waits between retries are cut short, and each attempt is cut at
 * the deadline.  What is left then is given up (counted as failed, logged
 * in one line).  Returns when the threads have ended.  Idempotent.
 */
void cb_stop(struct cb_sender *s, unsigned grace_s);

/* Stops (with no grace) if needed and frees.  NULL is allowed. */
void cb_free(struct cb_sender *s);

#endif
