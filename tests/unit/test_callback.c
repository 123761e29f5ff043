/* Unit tests: the callback address rule. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/un.h>

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

