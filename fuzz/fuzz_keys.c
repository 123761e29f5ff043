/* libFuzzer target: the keys file parser and the check of a presented key
 * (the headers a client sends). */
#include <stdint.h>
#include <string.h>

#include "auth/auth.h"
#include "util/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct auth_keys *keys = NULL;
	char why[512], header[AUTH_PRESENTED_MAX + 16];
	const char *k;
	size_t n;

	if (auth_keys_parse((const char *)data, size, "fuzz.keys", &keys, why, sizeof(why)) < 0)
		return 0;
	/* The first bytes as an Authorization header against the keys read. */
	n = size < sizeof(header) - 1 ? size : sizeof(header) - 1;
	memcpy(header, data, n);
	header[n] = '\0';
	if (auth_presented(header, header, &k, &n))
		auth_check(keys, k, n);
	auth_keys_free(keys);
	return 0;
}
