/* libFuzzer target: the `key = value` config file parser. */
#include <stdint.h>
#include <stdio.h>

#include "config/config.h"
#include "util/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cfg c;
	char why[512];

	cfg_init(&c);
	if (cfg_parse(&c, (const char *)data, size, "fuzz.conf", why, sizeof(why)) == 0)
		cfg_finish(&c, why, sizeof(why));
	return 0;
}
