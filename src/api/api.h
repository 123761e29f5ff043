/*
 * api.h - the HTTP API's data: request bodies parsed and checked, the error
 * codes clients see, and the JSON answers.  Knows nothing of sockets: the
 * HTTP layer (src/http/) hands it bytes and sends what it returns, so that
 * every rule here is unit-tested and fuzzed without a server.
 *
 * Untrusted bytes arrive as {data, len}, never assumed NUL-terminated.
 */
#ifndef SAFEXEC_API_H
#define SAFEXEC_API_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "job/job.h"
#include "runtime/runtime.h"
#include "sandbox/sandbox.h"

#define API_MAX_DEPTH	 32	/* deepest nesting of arrays and objects */
#define API_LIST_DEFAULT 20
#define API_LIST_MAX	 100
#define API_MESSAGE_MAX	 256
#define API_MAX_FILES	 64	/* files of one request */
#define API_FILE_NAME_MAX 64	/* bytes of a file's name */
#define API_MAX_TESTS	 256	/* tests of one request */
#define API_MAX_RUNS	 20	/* runs of each test */
/* The most output the tests of one request may keep, both streams of all
 * of them: what one answer holds in memory (seven times that as JSON). */
#define API_TESTS_OUTPUT_MAX (64u << 20)
#define API_URL_MAX	 2048	/* bytes of a callback_url */
/* The most the output directories of one request's tests may return
 * together: with many tests, output_files.max_bytes is each one's share. */
#define API_TESTS_FILES_MAX (64u << 20)

/* Every error a client may get; docs/api.md lists them with their meaning. */
enum api_error_code {
	API_E_NONE = 0,
	API_E_EMPTY_BODY,		/* 400 */
	API_E_INVALID_JSON,		/* 400 */
	API_E_INVALID_UTF8,		/* 400 */
	API_E_TOO_DEEP,			/* 400 */
	API_E_INVALID_REQUEST,		/* 400: wrong type, unknown field, bad query */
	API_E_MISSING_FIELD,		/* 400 */
	API_E_UNKNOWN_LANGUAGE,		/* 400 */
	API_E_INVALID_LIMIT,		/* 400: not an integer, or below the
					   sandbox's minimum */
	API_E_LIMIT_EXCEEDED,		/* 400: above the server's maximum */
	API_E_PAYLOAD_TOO_LARGE,	/* 413 */
	API_E_UNSUPPORTED_MEDIA_TYPE,	/* 415 */
	API_E_METHOD_NOT_ALLOWED,	/* 405 */
	API_E_CROSS_ORIGIN,		/* 403: a browser sent it from another site */
	API_E_UNKNOWN_HOST,		/* 403: a Host this server does not answer to */
	API_E_UNAUTHORIZED,		/* 401: keys are on; no valid key was sent */
	API_E_FORBIDDEN,		/* 403: the key may not use the endpoint */
	API_E_RATE_LIMITED,		/* 429: the key's or address's rate or runs */
	API_E_NOT_FOUND,		/* 404 */
	API_E_QUEUE_FULL,		/* 503 */
	API_E_SHUTTING_DOWN,		/* 503 */
	API_E_STORE_UNAVAILABLE,	/* 503: the database cannot be reached */
	API_E_NOT_FINISHED,		/* 504: a run waited for past wait_max */
	API_E_INTERNAL,			/* 500: the server failed (out of memory) */
	API_E_COUNT
};

struct api_error {
	enum api_error_code code;
	char message[API_MESSAGE_MAX];	/* for the client: short, no internals */
};

/* "empty_body", ...; "" for API_E_NONE. */
const char *api_error_name(enum api_error_code c);
/* The HTTP status for the code: 400, 401, 403, 404, 405, 413, 415, 429,
 * 500, 503 or 504. */
unsigned api_error_http_status(enum api_error_code c);
/* Fills *e and returns -EINVAL, so that parsers can `return api_fail(...)`. */
__attribute__((format(printf, 3, 4)))
int api_fail(struct api_error *e, enum api_error_code c, const char *fmt, ...);
/* {"error": {"code": "...", "message": "..."}}; NULL only on ENOMEM. */
json_t *api_error_json(const struct api_error *e);

/* The most a request may ask for, from the configuration. */
struct api_maxima {
	uint64_t wall_time_ms;
	uint64_t cpu_time_ms;
	uint64_t memory_bytes;
	uint64_t max_processes;
	uint64_t output_bytes;
	uint64_t file_size_bytes;	/* 0: the sandbox's maximum */
	/* output_files: the most files and bytes a run may return (0: the
	 * sandbox's maxima, SBX_MAX_OUT_FILES and SBX_MAX_OUT_BYTES). */
	uint64_t output_files;
	uint64_t output_files_bytes;
};

/* The limits a request gets when it asks for none: the engine's defaults,
 * or the maximum where the maximum is lower. */
void api_default_limits(const struct api_maxima *max, struct sbx_limits *l);

enum api_endpoint {
	API_RUN,	/* POST /run, the original service's: {"code": "..."} */
	API_EXECUTE,	/* POST /api/v1/execute */
	API_JOBS,	/* POST /api/v1/jobs: the same body, answered later */
	API_JUDGE0,	/* Judge0's /submissions, translated to API_EXECUTE's body */
	API_PISTON,	/* Piston's /api/v2/execute, likewise */
};

/* Whether the endpoint takes every field of /api/v1/execute (all but
 * API_RUN). */
static inline int api_endpoint_full(enum api_endpoint ep) { return ep != API_RUN; }

/* "run", "execute", "jobs", "judge0" or "piston", as recorded in the
 * history. */
const char *api_endpoint_name(enum api_endpoint ep);

/* A parsed, checked request.  Strings point into root, which it owns. */
struct api_request {
	json_t *root;
	const char *language;		/* canonical name: "python", rt's name */
	const struct runtime *rt;	/* NULL: the built-in Python */
	const char *code;		/* code_len bytes, may hold NUL */
	size_t code_len;
	/* The program's files, the entry point first: code as the
	 * runtime's source_file, or the request's files (base64 decoded
	 * into decoded[], which the request owns). */
	struct sbx_file *files;
	size_t nfiles;
	char **decoded;
	struct sbx_limits compile_limits; /* effective, when rt compiles */
	const char *stdin_data;		/* NULL when none */
	size_t stdin_len;
	const char **argv;		/* argc strings without NUL; malloc'ed array */
	size_t argc;
	struct sbx_limits limits;	/* effective limits */
	struct job_test *tests;		/* NULL: one run of stdin and args */
	size_t ntests;
	bool stop_on_failure;		/* tests after a failed one do not run */
	bool redirect_stderr;		/* stdout gets both streams */
	unsigned runs;			/* of each test (or the one run), >= 1 */
	const char **options;		/* compile options, allowed by rt */
	size_t noptions;
	const char *callback_url;	/* NULL: none; syntax not checked here */
	/* output_files: the run stage's output directory (each test's run),
	 * returned in the answer's files; the bounds are effective (never 0). */
	bool output_files;
	uint32_t out_max_files;
	uint64_t out_max_bytes;
	/* stream (POST /api/v1/execute only): the answer as Server-Sent
	 * Events while the program runs; stream_given: the field was there
	 * (true or false), which wins over the Accept header. */
	bool stream;
	bool stream_given;
};

/*
 * Parses and checks a body of len bytes for the endpoint.  On success fills
 * *req (release with api_request_release()) and returns 0, and *req passes
 * sbx_request_check() with the default language (fuzz_request.c holds the
 * parser to that); otherwise
 * returns -EINVAL with *err filled (a 4xx code), or -ENOMEM with
 * API_E_INTERNAL.  POST /run takes code and language and ignores other
 * fields, as the original service did; /api/v1/execute refuses unknown
 * fields so that a typo in a limit's name cannot pass silently.  The
 * language is looked up in runtimes (NULL: only the built-in Python).
 */
int api_parse_request(enum api_endpoint ep, const char *body, size_t len,
		      const struct api_maxima *max, const struct rt_registry *runtimes,
		      struct api_request *req, struct api_error *err);
void api_request_release(struct api_request *req);

/* A request body as a JSON object (*out, the caller's), with the checks
 * and errors of api_parse_request(): empty, too deep, invalid UTF-8 or
 * JSON, not an object.  Returns 0 or -EINVAL with *err. */
int api_parse_body(const char *body, size_t len, json_t **out, struct api_error *err);

/* The same as api_parse_request() for a parsed body (root, consumed): for the translators of the
 * peers' APIs, which build an /api/v1/execute body. */
int api_parse_value(enum api_endpoint ep, json_t *root, const struct api_maxima *max,
		    const struct rt_registry *runtimes, struct api_request *req,
		    struct api_error *err);

/* Whether len bytes name a file a request may give (in `files`, or in a
 * Judge0 zip): util_plain_name_ok() with API_FILE_NAME_MAX, the rule of
 * the files a run returns ([A-Za-z0-9._+-], not starting with '.' or '-'). */
bool api_file_name_ok(const char *s, size_t len);

/* Whether req can be streamed (live output): one run, no tests, no runs
 * beyond 1.  Returns 0, or -EINVAL with an invalid_request *err. */
int api_check_stream(const struct api_request *req, struct api_error *err);

/* Whether an Accept header (NULL: none) names text/event-stream among its
 * media ranges (any case, with or without parameters; a q of 0 refuses
 * it). */
bool api_accepts_event_stream(const char *accept);

/* Points *out at req's data (borrowed). */
void api_request_sbx(const struct api_request *req, struct sbx_request *out);

/* The job of a request (borrowing req's data). */
void api_request_job(const struct api_request *req, struct job_spec *out);

/* Content-Type check for request bodies: NULL or empty passes, any JSON
 * media type (application/json, or application/NAME+json) with parameters
 * passes, and text/plain when text_plain_ok (Piston's clients label their
 * JSON so; the caller allows it only for requests not from a browser);
 * anything else fills *err with API_E_UNSUPPORTED_MEDIA_TYPE. */
int api_check_content_type(const char *content_type, bool text_plain_ok, struct api_error *err);

/* Cross-site request check for the endpoints that run code: a browser
 * marks a request another site's page made it send (Sec-Fetch-Site:
 * cross-site or same-site), or names that page (an Origin whose host and
 * port differ from the Host it was sent to, or "null").  Such requests
 * fill *err with API_E_CROSS_ORIGIN; requests without either header (not
 * from a browser) and the page's own pass.  Any argument may be NULL. */
int api_check_origin(const char *sec_fetch_site, const char *origin, const char *host,
		     struct api_error *err);

/* Host check against DNS rebinding (a name the attacker controls, made to
 * point at this server, turns another site's page into a same-origin one):
 * the Host header must be an IP address, "localhost", or one of allowed (a
 * comma-separated list of names, any case; "*" allows any).  A request
 * without Host (HTTP/1.0) passes.  Else fills *err with API_E_UNKNOWN_HOST. */
int api_check_host(const char *host, const char *allowed, struct api_error *err);

/* {"wall_time_ms", "cpu_time_ms", "memory_bytes", "max_processes",
 * "output_bytes"}. */
json_t *api_limits_json(const struct sbx_limits *l);

/* The 200 answer to a job: for API_RUN, output first then every result
 * field, message and id; for the others, id, language, every result field,
 * message and limits.  The result fields are those of the decisive test
 * (job.h); a request with tests also gets verdict, tests and totals.  id
 * < 0 is written as null (not recorded). */
json_t *api_response_json(enum api_endpoint ep, int64_t id, const struct api_request *req,
			  const struct job_result *res);

/*
 * Live output as Server-Sent Events.  An event is "event: NAME\n" and one
 * "data: JSON\n" line, then an empty line.  api_output_event() makes a
 * "stdout" (stream 1) or "stderr" (stream 2) event whose data is {"data":
 * the len bytes as a JSON string}, with the answers' rule for bytes that
 * are not UTF-8 (codec_string()); api_event() makes the event name with
 * the JSON value v (consumed) as its data: "result" with a run's answer,
 * "error" with an error body.  Both return a malloc'ed text of *outlen
 * bytes (not NUL-terminated), or NULL when out of memory.
 */
char *api_output_event(int stream, const char *data, size_t len, size_t *outlen);
char *api_event(const char *name, json_t *v, size_t *outlen);
/* The most bytes api_output_event() can make of len bytes. */
size_t api_output_event_max(size_t len);

/* The tests part of that answer alone, {verdict, tests, totals}, for the
 * history; NULL when the request had no tests. */
json_t *api_tests_json(const struct api_request *req, const struct job_result *res);

/* The most memory api_response_json() and its text can take for res,
 * counted from when the result exists until the text is sent. */
size_t api_answer_max_bytes(const struct job_result *res);

/* The server's maxima as limits (the engine's where the API has none). */
void api_max_limits(const struct api_maxima *max, struct sbx_limits *l);

/* GET /api/v1/languages: every available runtime of reg, with its limits
 * under this server's maxima; without runtimes, the built-in Python. */
json_t *api_languages_json(const struct rt_registry *reg, const struct api_maxima *max,
			   const char *python_version);

/* The query of GET /api/v1/executions: limit (1..100, default 20) and
 * before (a positive id; absent = from the newest, *before = 0).  NULL means
 * absent.  Returns 0 or -EINVAL with *err. */
int api_parse_list_query(const char *limit, const char *before,
			 unsigned *limit_out, int64_t *before_out,
			 struct api_error *err);

/* An execution id in a path: 1..INT64_MAX in plain decimal.  Returns 0 or
 * -EINVAL. */
int api_parse_id(const char *s, size_t len, int64_t *id);

#endif
