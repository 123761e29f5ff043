/* Unit tests: number and size parsing, size formatting. */
#include <errno.h>

#include "test.h"
#include "util/util.h"

TEST(util_parse_u64_accepts_plain_decimal)
{
	uint64_t v = 0;
	ASSERT_EQ(util_parse_u64("0", 10, &v), 0);
	ASSERT_EQ(v, 0);
	ASSERT_EQ(util_parse_u64("10000", UINT64_MAX, &v), 0);
	ASSERT_EQ(v, 10000);
	ASSERT_EQ(util_parse_u64("18446744073709551615", UINT64_MAX, &v), 0);
	ASSERT(v == UINT64_MAX);
}

TEST(util_parse_u64_rejects_junk_and_overflow)
{
	uint64_t v = 7;
	ASSERT_EQ(util_parse_u64("", 10, &v), -EINVAL);
	ASSERT_EQ(util_parse_u64("-1", 10, &v), -EINVAL);
	ASSERT_EQ(util_parse_u64("+1", 10, &v), -EINVAL);
	ASSERT_EQ(util_parse_u64(" 1", 10, &v), -EINVAL);
	ASSERT_EQ(util_parse_u64("1 ", 10, &v), -EINVAL);
	ASSERT_EQ(util_parse_u64("1e3", 10000, &v), -EINVAL);
	ASSERT_EQ(util_parse_u64("0x10", 100, &v), -EINVAL);
	ASSERT_EQ(util_parse_u64("18446744073709551616", UINT64_MAX, &v), -ERANGE);
	ASSERT_EQ(util_parse_u64("11", 10, &v), -ERANGE);
	ASSERT_EQ(util_parse_u64(NULL, 10, &v), -EINVAL);
	ASSERT_EQ(v, 7);	/* untouched on failure */
}

TEST(util_parse_size_suffixes)
{
	uint64_t v;
	ASSERT_EQ(util_parse_size("512", UINT64_MAX, &v), 0);
	ASSERT_EQ(v, 512);
	ASSERT_EQ(util_parse_size("64k", UINT64_MAX, &v), 0);
	ASSERT_EQ(v, 64 << 10);
	ASSERT_EQ(util_parse_size("128M", UINT64_MAX, &v), 0);
	ASSERT_EQ(v, 128 << 20);
	ASSERT_EQ(util_parse_size("2G", UINT64_MAX, &v), 0);
	ASSERT_EQ(v, 2ull << 30);
	ASSERT_EQ(util_parse_size("1MiB", UINT64_MAX, &v), 0);
	ASSERT_EQ(v, 1 << 20);
	ASSERT_EQ(util_parse_size("3KB", UINT64_MAX, &v), 0);
	ASSERT_EQ(v, 3 << 10);
	ASSERT_EQ(util_parse_size("100B", UINT64_MAX, &v), 0);
	ASSERT_EQ(v, 100);
}

TEST(util_parse_size_rejects)
{
	uint64_t v = 9;
	ASSERT_EQ(util_parse_size("M", UINT64_MAX, &v), -EINVAL);
	ASSERT_EQ(util_parse_size("1T", UINT64_MAX, &v), -EINVAL);
	ASSERT_EQ(util_parse_size("1 M", UINT64_MAX, &v), -EINVAL);
	ASSERT_EQ(util_parse_size("1MM", UINT64_MAX, &v), -EINVAL);
	ASSERT_EQ(util_parse_size("1.5G", UINT64_MAX, &v), -EINVAL);
	ASSERT_EQ(util_parse_size("-1M", UINT64_MAX, &v), -EINVAL);
	ASSERT_EQ(util_parse_size("17179869184G", UINT64_MAX, &v), -ERANGE);	/* 2^64 */
	ASSERT_EQ(util_parse_size("99999999999999999999999999999999", UINT64_MAX, &v), -ERANGE);
	ASSERT_EQ(util_parse_size("17G", 16ull << 30, &v), -ERANGE);
	ASSERT_EQ(v, 9);
}

TEST(util_format_size)
{
	char b[32];
	ASSERT_STREQ(util_format_size(0, b, sizeof(b)), "0 B");
	ASSERT_STREQ(util_format_size(512, b, sizeof(b)), "512 B");
	ASSERT_STREQ(util_format_size(1024, b, sizeof(b)), "1 KiB");
	ASSERT_STREQ(util_format_size(128ull << 20, b, sizeof(b)), "128 MiB");
	ASSERT_STREQ(util_format_size(3ull << 29, b, sizeof(b)), "1.5 GiB");
	ASSERT_STREQ(util_format_size(1536, b, sizeof(b)), "1.5 KiB");
}
