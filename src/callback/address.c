/* address.c - which addresses a callback may connect to (see callback.h). */
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "callback/callback.h"
#include "util/util.h"

struct net4 { uint32_t addr; unsigned bits; };

/* IPv4 networks no callback may reach (RFC 6890 and its successors). */
static const struct net4 refused4[] = {
	{ 0x00000000, 8 },	/* "this network", 0.0.0.0 */
	{ 0x0a000000, 8 },	/* private */
	{ 0x64400000, 10 },	/* shared address space (CGNAT) */
	{ 0x7f000000, 8 },	/* loopback */
	{ 0xa9fe0000, 16 },	/* link-local, the cloud metadata service */
	{ 0xac100000, 12 },	/* private */
	{ 0xc0000000, 24 },	/* IETF protocol assignments */
	{ 0xc0a80000, 16 },	/* private */
	{ 0xc6120000, 15 },	/* benchmarking, used inside networks */
	{ 0xe0000000, 4 },	/* multicast */
	{ 0xf0000000, 4 },	/* reserved, and the broadcast address */
};

static bool allowed4(uint32_t a)
{
	for (size_t i = 0; i < UTIL_ARRAY_SIZE(refused4); i++) {
		uint32_t mask = ~0u << (32 - refused4[i].bits);
		if ((a & mask) == refused4[i].addr)
			return false;
	}
	return true;
}

static uint32_t be32_at(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Whether the first bits of a equal those of prefix. */
static bool in_prefix(const uint8_t *a, const uint8_t *prefix, unsigned bits)
{
	unsigned bytes = bits / 8, rest = bits % 8;

	if (memcmp(a, prefix, bytes) != 0)
		return false;
	if (rest == 0)
		return true;
	uint8_t mask = (uint8_t)(0xff << (8 - rest));
	return (a[bytes] & mask) == (prefix[bytes] & mask);
}

struct net6 { uint8_t addr[16]; unsigned bits; };

/* IPv6 networks refused whole.  :: and ::1 are in ::/96. */
static const struct net6 refused6[] = {
	{ { 0 }, 96 },						/* ::/96: unspecified, loopback, IPv4-compatible */
	{ { 0xfc }, 7 },					/* unique local, fd00:ec2::254 */
	{ { 0xfe, 0x80 }, 10 },					/* link-local */
	{ { 0xfe, 0xc0 }, 10 },					/* site-local (deprecated) */
	{ { 0xff }, 8 },					/* multicast */
	{ { 0x01, 0x00 }, 64 },					/* discard-only */
	{ { 0x20, 0x01, 0x00, 0x00 }, 32 },			/* Teredo */
	{ { 0x20, 0x01, 0x0d, 0xb8 }, 32 },			/* documentation */
	{ { 0x00, 0x64, 0xff, 0x9b, 0x00, 0x01 }, 48 },		/* local-use NAT64 */
};

/* IPv6 networks with an IPv4 address in their last 32 bits. */
static const struct net6 embed6[] = {
	{ { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff }, 96 },		/* mapped */
	{ { 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0 }, 96 },		/* translated */
	{ { 0x00, 0x64, 0xff, 0x9b }, 96 },				/* NAT64 */
};

static bool allowed6(const uint8_t *a)
{
	for (size_t i = 0; i < UTIL_ARRAY_SIZE(embed6); i++)
		if (in_prefix(a, embed6[i].addr, embed6[i].bits))
			return allowed4(be32_at(a + 12));
	for (size_t i = 0; i < UTIL_ARRAY_SIZE(refused6); i++)
		if (in_prefix(a, refused6[i].addr, refused6[i].bits))
			return false;
	/* 6to4: 2002:AABB:CCDD::/48 carries AA.BB.CC.DD. */
	if (a[0] == 0x20 && a[1] == 0x02)
		return allowed4(be32_at(a + 2));
	return true;
}

bool cb_address_allowed(const struct sockaddr *sa, bool allow_private)
{
	if (!sa)
		return false;
	if (sa->sa_family == AF_INET) {
		struct sockaddr_in in;
		memcpy(&in, sa, sizeof(in));
		return allow_private || allowed4(ntohl(in.sin_addr.s_addr));
	}
	if (sa->sa_family == AF_INET6) {
		struct sockaddr_in6 in6;
		memcpy(&in6, sa, sizeof(in6));
		return allow_private || allowed6(in6.sin6_addr.s6_addr);
	}
	return false;
}
