/* mhd.c - loads libmicrohttpd at run time; see mhd.h for why. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>

#include "http/mhd.h"
#include "util/util.h"

struct http_mhd http_mhd;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int load_result;
static char load_error[256];

static void load(void)
{
	static const struct util_sym syms[] = {
#define SYM(field) { "MHD_" #field, (void **)&http_mhd.field }
		SYM(start_daemon), SYM(stop_daemon), SYM(quiesce_daemon),
		SYM(suspend_connection), SYM(resume_connection),
		SYM(get_connection_info), SYM(lookup_connection_value),
		SYM(create_response_from_buffer), SYM(create_response_from_callback),
		SYM(add_response_header),
		SYM(queue_response), SYM(destroy_response),
#undef SYM
	};

	/* Never unloaded: the server keeps using it until the process ends. */
	load_result = util_dlsyms(HTTP_MHD_SONAME, "libmicrohttpd12", syms,
				  UTIL_ARRAY_SIZE(syms), load_error, sizeof(load_error));
}

int http_mhd_load(char *why, size_t whylen)
{
	pthread_once(&once, load);
	if (load_result < 0)
		snprintf(why, whylen, "%s", load_error);
	return load_result;
}
