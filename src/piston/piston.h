/*
 * piston.h - Piston's v2 API (GET /api/v2/runtimes, POST /api/v2/execute)
 * as a translator over /api/v1: a Piston request becomes a v1 request,
 * which api_parse_request() checks and the engine runs, and the v1 answer
 * is rendered back in Piston's shape.  Pure functions on json_t: no
 * sockets, no threads, so every rule is unit-tested without a server.
 *
 * Names: Piston calls some languages otherwise ("c++" for our "cpp",
 * "rscript" for "r", "sqlite3" for "sqlite"); its names and aliases are
 * offered, ours stay aliases, so that clients written for Piston work.
 * Versions are shown as SemVer ("12.2.0") and chosen with SemVer ranges,
 * as Piston does with the npm semver package.
 *
 * Every error is a 400 {"message": ...} in Piston's own words where Piston
 * has words for it.
 */
#ifndef SAFEXEC_PISTON_H
#define SAFEXEC_PISTON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "api/api.h"
#include "runtime/runtime.h"

#define PST_MESSAGE_MAX 256	/* room for any message of pst_request_to_v1() */
#define PST_VERSION_MAX 64

/* Piston's defaults where a request gives no value (its config.js); never
 * above this server's maxima. */
#define PST_RUN_TIMEOUT_MS	3000u
#define PST_COMPILE_TIMEOUT_MS	10000u

/* GET /api/v2/runtimes: [{language, version, aliases, runtime?}] for every
 * available runtime of reg, in Piston's names (ours among the aliases);
 * the built-in Python, of python_version, when reg has no python.  NULL
 * only when out of memory. */
json_t *pst_runtimes_json(const struct rt_registry *reg, const char *python_version);

/*
 * POST /api/v2/execute: the Piston request body into a v1 request (*v1,
 * the caller's reference).  python_version: the built-in Python's, which
 * a version range is matched against when reg has no python.  Returns 0;
 * -EINVAL with Piston's message in msg (a 400 {"message": msg}); -ENOMEM.
 * *rt_out (may be NULL) gets the runtime chosen, NULL for the built-in
 * Python.
 *
 * Fields: language (a name or alias), version (a SemVer range, see
 * pst_semver_satisfies()), files [{name?, content, encoding?}] (utf8,
 * base64 or hex; the first utf8 file is the entry point and, unnamed,
 * takes the runtime's source_file; other unnamed files are "file<i>.code"),
 * stdin (a newline is added when it does not end in one, as Piston does),
 * args, {run,compile}_timeout and _cpu_time (ms), {run,compile}_memory_limit
 * (bytes; negative: this server's default).  A value left out, null or 0
 * takes Piston's default (timeouts and CPU times 3000 ms for the run,
 * 10000 ms for the compile) lowered to our maximum, or our default memory.
 * Unknown fields are ignored, as Piston ignores them.
 */
int pst_request_to_v1(const json_t *body, const struct rt_registry *reg,
		      const char *python_version, const struct api_maxima *max, json_t **v1,
		      const struct runtime **rt_out, char *msg, size_t msglen);

/*
 * The v1 answer as Piston's: {compile?, run, language, version}, each
 * stage {stdout, stderr, output, code, signal, message, status, cpu_time,
 * wall_time, memory}.  status: null (fine), "RE" (non-zero exit), "SG"
 * (a signal; the memory limit too, SIGKILL, as under Piston's cgroup),
 * "TO", "OL"/"EL" (stdout/stderr over the output limit), "XX".  A failed
 * compile has no run of its own: run repeats compile, as Piston answers.
 * language and version may be ours or Piston's (e.g. the v1 request's,
 * with the built-in Python's version for a v1 request that has none):
 * they are shown in Piston's names and as SemVer.  NULL only when out of
 * memory.
 */
json_t *pst_render(const json_t *v1_answer, const char *language, const char *version);

/* {"message": msg}. */
json_t *pst_error_json(const char *msg);

/* Piston's name for our language name ("cpp" -> "c++"); others unchanged. */
const char *pst_language_name(const char *ours);

/* A runtime's version as SemVer: the first one to three numbers of text
 * ("v18.19.0" -> "18.19.0", "5.4" -> "5.4.0").  Returns buf, "" when text
 * has no number. */
char *pst_version(const char *text, char *buf, size_t len);

/*
 * Whether version (pst_version()'s form) is in range, as the npm semver
 * package's satisfies() without options: "*", "" and "x"; exact "1.2.3"
 * (with optional "v" or "="); partial "1.2" and x-ranges "1.x", "1.2.*";
 * ~ and ^; <, <=, >, >=, = with full or partial versions; hyphen ranges
 * "1.2 - 2.3"; space-separated intersections and "||" unions; pre-release
 * tags ("1.2.3-beta.1") ordered below their release; build metadata
 * ("+b1") ignored.  Not supported: loose-mode forms the package takes only
 * with {loose: true}, and pre-release versions on the left (ours have
 * none).  A range it cannot parse matches nothing, as in the package.
 */
bool pst_semver_satisfies(const char *version, const char *range);

#endif
