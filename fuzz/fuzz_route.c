/* libFuzzer target: routing of a method and path, and the list query.
 * The input is "METHOD PATH[?LIMIT&BEFORE]". */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"
#include "util/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char method[16] = "";
	const char *sp = memchr(data, ' ', size < 15 ? size : 15);
	const char *path;
	struct http_route r;
	struct api_error err;
	unsigned limit;
	int64_t before;
	char *q;

	if (!sp)
		return 0;
	memcpy(method, data, (size_t)(sp - (const char *)data));
	path = sp + 1;
	/* Only the given bytes may be read: copy without a terminator. */
	q = malloc(size - (size_t)(path - (const char *)data) + 1);
	memcpy(q, path, size - (size_t)(path - (const char *)data));
	if (http_route_match(method, q, size - (size_t)(path - (const char *)data), &r, &err) == 0)
		(void)http_content_type(r.asset ? r.asset->path : "/x");
	q[size - (size_t)(path - (const char *)data)] = '\0';
	{
		char *amp = strchr(q, '&');

		if (amp)
			*amp++ = '\0';
		api_parse_list_query(q, amp, &limit, &before, &err);
	}
	free(q);
	return 0;
}
