/* fuzz_registry.h - for the libFuzzer targets of the peers' APIs: the
 * repository's runtimes/ loaded without probing, every runtime marked
 * available with a made-up version (so that every Judge0 language id and
 * Piston name maps), and the maxima of a default configuration. */
#ifndef SAFEXEC_FUZZ_REGISTRY_H
#define SAFEXEC_FUZZ_REGISTRY_H

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/api.h"
#include "config/config.h"
#include "runtime/runtime.h"

#define FUZZ_PYTHON_VERSION "3.11.2"

/* runtimes/ of the source tree: $SAFEXEC_RUNTIMES, else two folders up
 * from build/fuzz/fuzz_*, else ./runtimes. */
static inline struct rt_registry *fuzz_registry(void)
{
	struct rt_registry *reg = NULL;
	char dirs[PATH_MAX + 32], exe[PATH_MAX], why[512];
	const char *env = getenv("SAFEXEC_RUNTIMES");
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char *slash;

	if (env && *env)
		snprintf(dirs, sizeof(dirs), "%s", env);
	else if (n > 0 && (exe[n] = '\0', slash = strrchr(exe, '/')) != NULL) {
		*slash = '\0';
		snprintf(dirs, sizeof(dirs), "%s/../../runtimes:runtimes", exe);
	} else
		snprintf(dirs, sizeof(dirs), "runtimes");
	if (rt_registry_load(&reg, dirs, why, sizeof(why)) < 0 || !reg || reg->n == 0) {
		fprintf(stderr, "fuzz: no runtimes from %s: %s\n", dirs, why);
		abort();
	}
	for (size_t i = 0; i < reg->n; i++) {
		reg->rt[i].available = true;
		snprintf(reg->rt[i].version_text, RT_VERSION_MAX, "%zu.%zu.%zu", i + 1, i % 4,
			 i % 3);
	}
	return reg;
}

/* The maxima `safexec serve` takes from a default configuration. */
static inline struct api_maxima fuzz_maxima(const struct cfg *c)
{
	return (struct api_maxima){
		.wall_time_ms = c->max_wall_time_ms,
		.cpu_time_ms = c->max_cpu_time_ms,
		.memory_bytes = c->max_memory_bytes,
		.max_processes = c->max_processes,
		.output_bytes = c->max_output_bytes,
	};
}

#endif
