/* Unit tests for src/piston/: the runtimes list, Piston requests into v1
 * requests (each checked again by api_parse_request), SemVer ranges, and
 * v1 answers rendered as Piston's. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "piston/piston.h"
#include "test.h"
#include "util/util.h"

static const struct api_maxima maxima = {
	.wall_time_ms = 20000,
	.cpu_time_ms = 15000,
	.memory_bytes = 512ull << 20,
	.max_processes = 256,
	.output_bytes = 8ull << 20,
};

static const char *const rt_texts[] = {
	"name = cpp\naliases = c++, g++\nsource_file = main.cpp\n"
	"compile = /usr/bin/g++ -o main main.cpp\nrun = /box/main\nversion = /bin/true\n",
	"name = javascript\naliases = js, node, nodejs\nsource_file = main.js\n"
	"run = /usr/bin/node {file}\nversion = /bin/true\n",
	"name = sqlite\naliases = sqlite3, sql\nsource_file = main.sql\n"
	"run = /usr/bin/sqlite3 -init {file}\nversion = /bin/true\n",
	"name = lua\nsource_file = main.lua\nrun = /usr/bin/lua {file}\nversion = /bin/true\n",
};
static const char *const rt_versions[] = { "12.2.0", "v18.19.0", "3.40.1", "5.4" };

/* A registry of probed runtimes; with_python adds python 3.11.2. */
static struct rt_registry *registry(bool with_python)
{
	struct rt_registry *reg = calloc(1, sizeof(*reg));
	size_t n = UTIL_ARRAY_SIZE(rt_texts) + 1;
	char why[256];

	reg->rt = calloc(n, sizeof(*reg->rt));
	for (size_t i = 0; i < n; i++) {
		const char *text = i < n - 1 ? rt_texts[i] :
			"name = python\naliases = python3, py\nsource_file = main.py\n"
			"run = /usr/bin/python3 {file}\nversion = /bin/true\n";
		if (i == n - 1 && !with_python)
			break;
		if (rt_parse(&reg->rt[reg->n], text, strlen(text), "t.conf", why, sizeof(why)) < 0) {
			fprintf(stderr, "rt_parse: %s\n", why);
			abort();
		}
		reg->rt[reg->n].available = true;
		snprintf(reg->rt[reg->n].version_text, RT_VERSION_MAX, "%s",
			 i < n - 1 ? rt_versions[i] : "3.11.2");
		reg->n++;
	}
	return reg;
}

static json_t *load(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, JSON_ALLOW_NUL, &e);

	if (!j) {
		fprintf(stderr, "bad test JSON: %s: %s\n", e.text, text);
		abort();
	}
	return j;
}

/* Translates body; msg gets the message. */
static int translate(const struct rt_registry *reg, const char *body, json_t **v1, char *msg)
{
	json_t *b = load(body);
	int r = pst_request_to_v1(b, reg, "3.11.4", &maxima, v1, NULL, msg, PST_MESSAGE_MAX);

	json_decref(b);
	return r;
}

/* The message for a body that must be refused. */
static const char *refused(const struct rt_registry *reg, const char *body)
{
	static char msg[PST_MESSAGE_MAX];
	json_t *v1 = NULL;

	if (translate(reg, body, &v1, msg) != -EINVAL || v1) {
		json_decref(v1);
		return "(accepted)";
	}
	return msg;
}

/* Whether the one v1 parser takes what the translator made. */
static bool v1_ok(const json_t *v1, const struct rt_registry *reg)
{
	char *text = json_dumps(v1, JSON_COMPACT);
	struct api_request req;
	struct api_error err;
	int r = api_parse_request(API_EXECUTE, text, strlen(text), &maxima, reg, &req, &err);

	if (r == 0)
		api_request_release(&req);
	else
		fprintf(stderr, "  v1 refused: %s\n  %s\n", err.message, text);
	free(text);
	return r == 0;
}

static const char *str(const json_t *o, const char *path)
{
	char key[64];
	const char *dot = strchr(path, '.');

	if (!dot)
		return json_string_value(json_object_get(o, path));
	snprintf(key, sizeof(key), "%.*s", (int)(dot - path), path);
	return str(json_object_get(o, key), dot + 1);
}

static long long num(const json_t *o, const char *path)
{
	char key[64];
	const char *dot = strchr(path, '.');

	if (!dot)
		return json_is_integer(json_object_get(o, path)) ?
			json_integer_value(json_object_get(o, path)) : -12345;
	snprintf(key, sizeof(key), "%.*s", (int)(dot - path), path);
	return num(json_object_get(o, key), dot + 1);
}

static const json_t *runtime_named(const json_t *list, const char *language)
{
	size_t i;
	const json_t *it;

	json_array_foreach(list, i, it)
		if (strcmp(json_string_value(json_object_get(it, "language")), language) == 0)
			return it;
	return NULL;
}

static bool has_alias(const json_t *rt, const char *alias)
{
	size_t i;
	const json_t *a;

	json_array_foreach(json_object_get(rt, "aliases"), i, a)
		if (strcmp(json_string_value(a), alias) == 0)
			return true;
	return false;
}

TEST(piston_runtimes_names_and_versions)
{
	struct rt_registry *reg = registry(false);
	json_t *list = pst_runtimes_json(reg, "3.11.4");
	const json_t *py, *cpp, *js, *sql, *lua;

	ASSERT(list);
	ASSERT_EQ(json_array_size(list), 5);
	py = runtime_named(list, "python");
	ASSERT(py);
	ASSERT_STREQ(str(py, "version"), "3.11.4");
	ASSERT(has_alias(py, "py") && has_alias(py, "py3") && has_alias(py, "python3"));
	ASSERT(has_alias(py, "python3.11"));
	ASSERT(!json_object_get(py, "runtime"));
	cpp = runtime_named(list, "c++");
	ASSERT(cpp);
	ASSERT_STREQ(str(cpp, "version"), "12.2.0");
	ASSERT_STREQ(str(cpp, "runtime"), "gcc");
	ASSERT(has_alias(cpp, "cpp") && has_alias(cpp, "g++"));
	ASSERT(!has_alias(cpp, "c++"));		/* its own name is no alias */
	js = runtime_named(list, "javascript");
	ASSERT(js);
	ASSERT_STREQ(str(js, "version"), "18.19.0");
	ASSERT_STREQ(str(js, "runtime"), "node");
	ASSERT(has_alias(js, "js") && has_alias(js, "node") && has_alias(js, "nodejs"));
	sql = runtime_named(list, "sqlite3");
	ASSERT(sql);
	ASSERT(has_alias(sql, "sqlite") && has_alias(sql, "sql"));
	lua = runtime_named(list, "lua");
	ASSERT(lua);
	ASSERT_STREQ(str(lua, "version"), "5.4.0");
	ASSERT_EQ(json_array_size(json_object_get(lua, "aliases")), 0);
	json_decref(list);

	/* An unavailable runtime is not listed; a python runtime replaces
	 * the built-in one. */
	reg->rt[3].available = false;
	list = pst_runtimes_json(reg, "3.11.4");
	ASSERT_EQ(json_array_size(list), 4);
	ASSERT(!runtime_named(list, "lua"));
	json_decref(list);
	rt_registry_free(reg);
	reg = registry(true);
	list = pst_runtimes_json(reg, "3.11.4");
	ASSERT_EQ(json_array_size(list), 5);
	ASSERT_STREQ(str(runtime_named(list, "python"), "version"), "3.11.2");
	json_decref(list);
	rt_registry_free(reg);

	/* Without a registry: the built-in Python alone. */
	list = pst_runtimes_json(NULL, "3.12.1");
	ASSERT_EQ(json_array_size(list), 1);
	ASSERT(has_alias(json_array_get(list, 0), "python3.12"));
	json_decref(list);
}

TEST(piston_version_text)
{
	char b[PST_VERSION_MAX];

	ASSERT_STREQ(pst_version("12.2.0", b, sizeof(b)), "12.2.0");
	ASSERT_STREQ(pst_version("v18.19.0", b, sizeof(b)), "18.19.0");
	ASSERT_STREQ(pst_version("5.4", b, sizeof(b)), "5.4.0");
	ASSERT_STREQ(pst_version("go1.19.8 linux", b, sizeof(b)), "1.19.8");
	ASSERT_STREQ(pst_version("17.0.13.1", b, sizeof(b)), "17.0.13");
	ASSERT_STREQ(pst_version("8", b, sizeof(b)), "8.0.0");
	ASSERT_STREQ(pst_version("none", b, sizeof(b)), "");
	ASSERT_STREQ(pst_version(NULL, b, sizeof(b)), "");
	ASSERT_STREQ(pst_language_name("cpp"), "c++");
	ASSERT_STREQ(pst_language_name("r"), "rscript");
	ASSERT_STREQ(pst_language_name("sqlite"), "sqlite3");
	ASSERT_STREQ(pst_language_name("c++"), "c++");
	ASSERT_STREQ(pst_language_name("plaintext"), "plaintext");
}

TEST(piston_semver_ranges)
{
	static const struct { const char *v, *range; bool ok; } cases[] = {
		/* any */
		{ "3.11.2", "*", true }, { "3.11.2", "", true }, { "3.11.2", "x", true },
		{ "3.11.2", "X", true }, { "0.0.0", "*", true },
		/* exact, with v and = */
		{ "3.11.2", "3.11.2", true }, { "3.11.2", "3.11.3", false },
		{ "3.11.2", "v3.11.2", true }, { "3.11.2", "=3.11.2", true },
		{ "3.11.2", "  3.11.2  ", true }, { "3.11.2", "3.11.2+build.7", true },
		/* partial and x-ranges */
		{ "3.11.2", "3", true }, { "3.11.2", "3.11", true }, { "3.11.2", "3.1", false },
		{ "3.11.2", "3.x", true }, { "3.11.2", "3.11.x", true }, { "3.11.2", "3.*", true },
		{ "3.11.2", "3.12.x", false }, { "3.11.2", "4.x", false }, { "3.11.2", "3.x.x", true },
		{ "3.11.2", "=3.11", true },
		/* tilde */
		{ "3.11.2", "~3.11.0", true }, { "3.11.2", "~3.11.3", false },
		{ "3.11.2", "~3.10", false }, { "3.11.2", "~3", true }, { "3.11.2", "~>3.11.1", true },
		{ "3.12.0", "~3.11.0", false },
		/* caret */
		{ "3.11.2", "^3.0.0", true }, { "3.11.2", "^3.11.3", false }, { "4.0.0", "^3.0.0", false },
		{ "0.2.5", "^0.2.3", true }, { "0.3.0", "^0.2.3", false }, { "0.0.3", "^0.0.3", true },
		{ "0.0.4", "^0.0.3", false }, { "3.11.2", "^3.x", true }, { "0.0.9", "^0.0.x", true },
		{ "0.1.0", "^0.0", false }, { "3.11.2", "^3.11", true }, { "3.11.2", "^ 3.11", true },
		/* comparators */
		{ "3.11.2", ">=3.11.2", true }, { "3.11.2", ">3.11.2", false }, { "3.11.2", "<3.12", true },
		{ "3.11.2", "<3.11", false }, { "3.11.2", "<=3.11", true }, { "3.11.2", ">3.11", false },
		{ "3.12.0", ">3.11", true }, { "3.11.2", ">3", false }, { "4.0.0", ">3", true },
		{ "3.11.2", ">= 3.10", true }, { "3.11.2", ">=3.10 <3.12", true },
		{ "3.12.0", ">=3.10 <3.12", false }, { "3.11.2", "<=3.11.2", true },
		{ "3.11.2", ">*", false }, { "3.11.2", "<*", false }, { "3.11.2", ">=*", true },
		{ "3.11.2", "<=3", true }, { "4.0.0", "<=3", false },
		/* pre-release bounds: below their release */
		{ "3.11.2", "<3.11.2-rc.1", false }, { "3.11.1", "<3.11.2-rc.1", true },
		{ "3.11.2", ">3.11.2-rc.1", true }, { "3.11.2", "3.11.2-rc.1", false },
		{ "3.11.2", ">=3.11.2-0", true },
		/* hyphen ranges */
		{ "3.11.2", "3.10 - 3.12", true }, { "3.13.0", "3.10 - 3.12", false },
		{ "3.12.9", "3.10 - 3.12", true }, { "3.11.2", "3.11.3 - 4", false },
		{ "3.11.2", "3.11.2 - 3.11.2", true }, { "3.11.3", "1.0.0 - 3.11.2", false },
		{ "3.11.2", "* - 3.11.2", true },
		/* unions */
		{ "3.11.2", "2.x || 3.x", true }, { "3.11.2", "2.x || 4.x", false },
		{ "3.11.2", "2.7||3.11", true }, { "3.11.2", "1.0.0 - 2.0.0 || >=3.11.1 <3.12", true },
		/* invalid: nothing matches */
		{ "3.11.2", "3.11.2.1", false }, { "3.11.2", "latest", false },
		{ "3.11.2", "03.11.2", false }, { "3.11.2", ">=3.11 foo", false },
		{ "3.11.2", "3.11.2-", false }, { "3.11.2", "2.x || bad", false },
		{ "3.11.2", "=>3.11", false }, { "3.11.2", "12345678901234567.0.0", false },
		/* bad versions on the left */
		{ "3.11", "*", false }, { "", "*", false },
	};

	for (size_t i = 0; i < UTIL_ARRAY_SIZE(cases); i++)
		if (pst_semver_satisfies(cases[i].v, cases[i].range) != cases[i].ok)
			TEST_FAIL_("satisfies(\"%s\", \"%s\") should be %s", cases[i].v,
				   cases[i].range, cases[i].ok ? "true" : "false");
	ASSERT(!pst_semver_satisfies(NULL, "*"));
	ASSERT(!pst_semver_satisfies("1.0.0", NULL));
}

/* What piston-client 1.0.2 sends for client.execute(language, code). */
#define CLIENT(lang, ver, code)							\
	"{\"language\": \"" lang "\", \"version\": \"" ver "\", "		\
	"\"files\": [{\"content\": \"" code "\"}], \"stdin\": \"\", "		\
	"\"args\": [\"1\", \"2\", \"3\"], \"compile_timeout\": 10000, "		\
	"\"run_timeout\": 3000, \"compile_memory_limit\": -1, "			\
	"\"run_memory_limit\": -1}"

TEST(piston_request_client_defaults)
{
	struct rt_registry *reg = registry(true);
	char msg[PST_MESSAGE_MAX];
	json_t *v1;
	const struct runtime *rt = NULL;
	json_t *b = load(CLIENT("python", "3.11.2", "print(1)"));

	ASSERT_EQ(pst_request_to_v1(b, reg, "3.11.4", &maxima, &v1, &rt, msg, sizeof(msg)), 0);
	json_decref(b);
	ASSERT(rt && strcmp(rt->name, "python") == 0);
	ASSERT_STREQ(str(v1, "language"), "python");
	ASSERT_STREQ(str(v1, "version"), "3.11.2");
	ASSERT_EQ(json_array_size(json_object_get(v1, "files")), 1);
	ASSERT_STREQ(str(json_array_get(json_object_get(v1, "files"), 0), "name"), "main.py");
	ASSERT_STREQ(str(json_array_get(json_object_get(v1, "files"), 0), "content"), "print(1)");
	ASSERT_STREQ(str(json_array_get(json_object_get(v1, "files"), 0), "encoding"), "utf8");
	ASSERT_STREQ(str(v1, "stdin"), "\n");	/* Piston adds the newline */
	ASSERT_EQ(json_array_size(json_object_get(v1, "args")), 3);
	ASSERT_EQ(num(v1, "limits.wall_time_ms"), 3000);
	ASSERT_EQ(num(v1, "limits.cpu_time_ms"), 3000);
	ASSERT_EQ(num(v1, "limits.memory_bytes"), SBX_DEFAULT_MEMORY);	/* -1 */
	ASSERT(!json_object_get(v1, "compile_limits"));
	ASSERT(!json_object_get(v1, "code"));
	ASSERT(v1_ok(v1, reg));
	json_decref(v1);

	/* A compiled language: compile limits, 10 s by default. */
	ASSERT_EQ(translate(reg, CLIENT("c++", "12.2.0", "int main(){}"), &v1, msg), 0);
	ASSERT_STREQ(str(v1, "language"), "cpp");
	ASSERT_STREQ(str(v1, "version"), "12.2.0");
	ASSERT_STREQ(str(json_array_get(json_object_get(v1, "files"), 0), "name"), "main.cpp");
	ASSERT_EQ(num(v1, "compile_limits.wall_time_ms"), 10000);
	ASSERT_EQ(num(v1, "compile_limits.cpu_time_ms"), 10000);
	ASSERT_EQ(num(v1, "compile_limits.memory_bytes"), RT_COMPILE_DEFAULT_MEMORY);
	ASSERT(v1_ok(v1, reg));
	json_decref(v1);

	/* Nothing but the required fields: Piston's defaults. */
	ASSERT_EQ(translate(reg, "{\"language\": \"cpp\", \"version\": \"*\", "
			    "\"files\": [{\"content\": \"x\"}]}", &v1, msg), 0);
	ASSERT_EQ(num(v1, "limits.wall_time_ms"), 3000);
	ASSERT_EQ(num(v1, "compile_limits.wall_time_ms"), 10000);
	ASSERT_STREQ(str(v1, "stdin"), "\n");
	ASSERT(!json_object_get(v1, "args"));
	ASSERT(v1_ok(v1, reg));
	json_decref(v1);
	rt_registry_free(reg);
}

TEST(piston_request_languages_and_versions)
{
	struct rt_registry *reg = registry(true);
	char msg[PST_MESSAGE_MAX];
	json_t *v1;

	static const char *const ok[][3] = {
		{ "c++", "12.2.0", "cpp" }, { "cpp", "12", "cpp" }, { "g++", "^12.1", "cpp" },
		{ "c++", "12.x", "cpp" }, { "c++", ">=12 <13", "cpp" }, { "c++", "~12.2", "cpp" },
		{ "javascript", "18.19.0", "javascript" }, { "node-js", "*", "javascript" },
		{ "nodejs", "18", "javascript" }, { "js", ">=16", "javascript" },
		{ "sqlite3", "3.40.1", "sqlite" }, { "sql", "3", "sqlite" },
		{ "lua", "5.4.0", "lua" }, { "lua", "5.4", "lua" },
		{ "py3", "3.11", "python" }, { "python3.11", "*", "python" },
	};
	for (size_t i = 0; i < UTIL_ARRAY_SIZE(ok); i++) {
		char body[256];
		snprintf(body, sizeof(body), "{\"language\": \"%s\", \"version\": \"%s\", "
			 "\"files\": [{\"content\": \"x\"}]}", ok[i][0], ok[i][1]);
		if (translate(reg, body, &v1, msg) != 0)
			TEST_FAIL_("%s %s: %s", ok[i][0], ok[i][1], msg);
		ASSERT_STREQ(str(v1, "language"), ok[i][2]);
		ASSERT(v1_ok(v1, reg));
		json_decref(v1);
	}
	ASSERT_STREQ(refused(reg, "{\"language\": \"c++\", \"version\": \"11\", "
			     "\"files\": [{\"content\": \"x\"}]}"), "c++-11 runtime is unknown");
	ASSERT_STREQ(refused(reg, "{\"language\": \"cobol\", \"version\": \"*\", "
			     "\"files\": [{\"content\": \"x\"}]}"), "cobol-* runtime is unknown");
	ASSERT_STREQ(refused(reg, "{\"language\": \"python\", \"version\": \"latest\", "
			     "\"files\": [{\"content\": \"x\"}]}"),
		     "python-latest runtime is unknown");
	/* Case counts, as in Piston. */
	ASSERT_STREQ(refused(reg, "{\"language\": \"Python\", \"version\": \"*\", "
			     "\"files\": [{\"content\": \"x\"}]}"), "Python-* runtime is unknown");
	/* An unavailable runtime is unknown. */
	reg->rt[3].available = false;
	ASSERT_STREQ(refused(reg, "{\"language\": \"lua\", \"version\": \"*\", "
			     "\"files\": [{\"content\": \"x\"}]}"), "lua-* runtime is unknown");
	rt_registry_free(reg);
}

TEST(piston_request_builtin_python)
{
	struct rt_registry *reg = registry(false);
	char msg[PST_MESSAGE_MAX];
	json_t *v1;
	const struct runtime *rt = (const struct runtime *)1;
	json_t *b = load(CLIENT("python", "3.11.4", "print(2)"));

	ASSERT_EQ(pst_request_to_v1(b, reg, "3.11.4", &maxima, &v1, &rt, msg, sizeof(msg)), 0);
	json_decref(b);
	ASSERT(rt == NULL);
	ASSERT_STREQ(str(v1, "language"), "python");
	ASSERT(!json_object_get(v1, "version"));	/* the built-in has none to choose */
	ASSERT(!json_object_get(v1, "files"));
	ASSERT_STREQ(str(v1, "code"), "print(2)");
	ASSERT(v1_ok(v1, reg));
	json_decref(v1);
	ASSERT_EQ(translate(reg, CLIENT("py", "3.x", "print(2)"), &v1, msg), 0);
	ASSERT(v1_ok(v1, reg));
	json_decref(v1);
	ASSERT_EQ(translate(NULL, CLIENT("python3", "^3.11", "print(2)"), &v1, msg), 0);
	ASSERT(v1_ok(v1, NULL));
	json_decref(v1);
	ASSERT_STREQ(refused(reg, CLIENT("python", "3.12", "x")), "python-3.12 runtime is unknown");
	ASSERT_STREQ(refused(reg, "{\"language\": \"python\", \"version\": \"*\", \"files\": "
			     "[{\"content\": \"x\"}, {\"content\": \"y\"}]}"),
		     "the built-in python runs one file: files must have one");
	rt_registry_free(reg);
}

TEST(piston_request_piston_messages)
{
	struct rt_registry *reg = registry(true);

	/* Piston's checks in its order. */
	ASSERT_STREQ(refused(reg, "{}"), "language is required as a string");
	ASSERT_STREQ(refused(reg, "{\"language\": \"\"}"), "language is required as a string");
	ASSERT_STREQ(refused(reg, "{\"language\": 3}"), "language is required as a string");
	ASSERT_STREQ(refused(reg, "[]"), "language is required as a string");
	ASSERT_STREQ(refused(reg, "{\"language\": \"c++\"}"), "version is required as a string");
	ASSERT_STREQ(refused(reg, "{\"language\": \"c++\", \"version\": 12}"),
		     "version is required as a string");
	ASSERT_STREQ(refused(reg, "{\"language\": \"c++\", \"version\": \"*\"}"),
		     "files is required as an array");
	ASSERT_STREQ(refused(reg, "{\"language\": \"c++\", \"version\": \"*\", \"files\": {}}"),
		     "files is required as an array");
	ASSERT_STREQ(refused(reg, "{\"language\": \"c++\", \"version\": \"*\", \"files\": "
			     "[{\"content\": \"a\"}, {\"name\": \"b\"}]}"),
		     "files[1].content is required as a string");
	ASSERT_STREQ(refused(reg, "{\"language\": \"c++\", \"version\": \"*\", \"files\": [7]}"),
		     "files[0].content is required as a string");
	ASSERT_STREQ(refused(reg, "{\"language\": \"c++\", \"version\": \"*\", \"files\": []}"),
		     "files must include at least one utf8 encoded file");
	ASSERT_STREQ(refused(reg, "{\"language\": \"c++\", \"version\": \"*\", \"files\": "
			     "[{\"content\": \"AA==\", \"encoding\": \"base64\"}]}"),
		     "files must include at least one utf8 encoded file");
	/* The runtime is looked up before the files' encodings are. */
	ASSERT_STREQ(refused(reg, "{\"language\": \"d\", \"version\": \"*\", \"files\": []}"),
		     "d-* runtime is unknown");
	/* Our own, where Piston has none. */
	ASSERT_STREQ(refused(reg, "{\"language\": \"c++\", \"version\": \"*\", \"files\": "
			     "[{\"content\": \"a\"}], \"stdin\": 5}"), "stdin must be a string");
	ASSERT_STREQ(refused(reg, "{\"language\": \"c++\", \"version\": \"*\", \"files\": "
			     "[{\"content\": \"a\"}], \"args\": \"1 2\"}"),
		     "args must be an array of strings");
	ASSERT_STREQ(refused(reg, "{\"language\": \"c++\", \"version\": \"*\", \"files\": "
			     "[{\"content\": \"a\"}], \"args\": [1]}"),
		     "args must be an array of strings");
	ASSERT_STREQ(refused(reg, "{\"language\": \"c++\", \"version\": \"*\", \"files\": "
			     "[{\"content\": \"a\", \"name\": 5}]}"),
		     "files[0].name must be a string");
	rt_registry_free(reg);
}

#define BODY_WITH(extra)							\
	"{\"language\": \"c++\", \"version\": \"*\", \"files\": [{\"content\": \"x\"}], " extra "}"

TEST(piston_request_limits)
{
	struct rt_registry *reg = registry(true);
	char msg[PST_MESSAGE_MAX];
	json_t *v1;

	/* Every field reaches its place. */
	ASSERT_EQ(translate(reg, BODY_WITH("\"run_timeout\": 5000, \"run_cpu_time\": 4000, "
					   "\"run_memory_limit\": 67108864, "
					   "\"compile_timeout\": 20000, \"compile_cpu_time\": 15000, "
					   "\"compile_memory_limit\": 268435456"), &v1, msg), 0);
	ASSERT_EQ(num(v1, "limits.wall_time_ms"), 5000);
	ASSERT_EQ(num(v1, "limits.cpu_time_ms"), 4000);
	ASSERT_EQ(num(v1, "limits.memory_bytes"), 64ll << 20);
	ASSERT_EQ(num(v1, "compile_limits.wall_time_ms"), 20000);
	ASSERT_EQ(num(v1, "compile_limits.cpu_time_ms"), 15000);
	ASSERT_EQ(num(v1, "compile_limits.memory_bytes"), 256ll << 20);
	ASSERT(v1_ok(v1, reg));
	json_decref(v1);

	/* The maxima, in Piston's words, checked in its order. */
	ASSERT_STREQ(refused(reg, BODY_WITH("\"run_timeout\": 20001")),
		     "run_timeout cannot exceed the configured limit of 20000");
	ASSERT_STREQ(refused(reg, BODY_WITH("\"run_cpu_time\": 15001")),
		     "run_cpu_time cannot exceed the configured limit of 15000");
	ASSERT_STREQ(refused(reg, BODY_WITH("\"run_memory_limit\": 536870913")),
		     "run_memory_limit cannot exceed the configured limit of 536870912");
	ASSERT_STREQ(refused(reg, BODY_WITH("\"compile_timeout\": 60001")),
		     "compile_timeout cannot exceed the configured limit of 60000");
	ASSERT_STREQ(refused(reg, BODY_WITH("\"compile_memory_limit\": 3000000000")),
		     "compile_memory_limit cannot exceed the configured limit of 2147483648");
	ASSERT_STREQ(refused(reg, BODY_WITH("\"run_timeout\": 99999, \"run_memory_limit\": "
					    "999999999999")),
		     "run_memory_limit cannot exceed the configured limit of 536870912");
	ASSERT_STREQ(refused(reg, BODY_WITH("\"run_cpu_time\": 99999, \"compile_timeout\": "
					    "999999")),
		     "compile_timeout cannot exceed the configured limit of 60000");
	ASSERT_STREQ(refused(reg, BODY_WITH("\"run_timeout\": -5")),
		     "run_timeout must be non-negative");
	ASSERT_STREQ(refused(reg, BODY_WITH("\"compile_cpu_time\": -1")),
		     "compile_cpu_time must be non-negative");
	ASSERT_STREQ(refused(reg, BODY_WITH("\"run_timeout\": \"3000\"")),
		     "If specified, run_timeout must be a number");
	ASSERT_STREQ(refused(reg, BODY_WITH("\"run_memory_limit\": true")),
		     "If specified, run_memory_limit must be a number");
	/* Even for a language that does not compile, as Piston checks. */
	ASSERT_STREQ(refused(reg, "{\"language\": \"lua\", \"version\": \"*\", \"files\": "
			     "[{\"content\": \"x\"}], \"compile_timeout\": 60001}"),
		     "compile_timeout cannot exceed the configured limit of 60000");

	/* Values that take the default: 0, null, false, "", and a negative
	 * memory limit. */
	ASSERT_EQ(translate(reg, BODY_WITH("\"run_timeout\": 0, \"run_cpu_time\": null, "
					   "\"compile_timeout\": false, \"compile_cpu_time\": \"\", "
					   "\"run_memory_limit\": -1, \"compile_memory_limit\": -7"),
			    &v1, msg), 0);
	ASSERT_EQ(num(v1, "limits.wall_time_ms"), 3000);
	ASSERT_EQ(num(v1, "limits.cpu_time_ms"), 3000);
	ASSERT_EQ(num(v1, "limits.memory_bytes"), SBX_DEFAULT_MEMORY);
	ASSERT_EQ(num(v1, "compile_limits.wall_time_ms"), 10000);
	ASSERT_EQ(num(v1, "compile_limits.cpu_time_ms"), 10000);
	ASSERT_EQ(num(v1, "compile_limits.memory_bytes"), RT_COMPILE_DEFAULT_MEMORY);
	json_decref(v1);

	/* A fraction is rounded up; the exact maximum passes. */
	ASSERT_EQ(translate(reg, BODY_WITH("\"run_timeout\": 2500.2, \"run_cpu_time\": 15000"),
			    &v1, msg), 0);
	ASSERT_EQ(num(v1, "limits.wall_time_ms"), 2501);
	ASSERT_EQ(num(v1, "limits.cpu_time_ms"), 15000);
	ASSERT(v1_ok(v1, reg));
	json_decref(v1);
	rt_registry_free(reg);

	/* Maxima below Piston's defaults lower the defaults. */
	struct api_maxima low = maxima;
	low.wall_time_ms = 2000;
	low.cpu_time_ms = 1000;
	json_t *b = load("{\"language\": \"python\", \"version\": \"*\", "
			 "\"files\": [{\"content\": \"x\"}]}");
	ASSERT_EQ(pst_request_to_v1(b, NULL, "3.11.4", &low, &v1, NULL, msg, sizeof(msg)), 0);
	ASSERT_EQ(num(v1, "limits.wall_time_ms"), 2000);
	ASSERT_EQ(num(v1, "limits.cpu_time_ms"), 1000);
	json_decref(v1);
	json_decref(b);
}

static const json_t *file_at(const json_t *v1, size_t i)
{
	return json_array_get(json_object_get(v1, "files"), i);
}

TEST(piston_request_files_and_encodings)
{
	struct rt_registry *reg = registry(true);
	char msg[PST_MESSAGE_MAX];
	json_t *v1;

	/* The entry point is the first utf8 file: it moves first.  Unnamed
	 * files: the source file for it, "file<i>.code" for others. */
	ASSERT_EQ(translate(reg, "{\"language\": \"c++\", \"version\": \"*\", \"files\": ["
			    "{\"content\": \"aGk=\", \"encoding\": \"base64\"}, "
			    "{\"content\": \"int main(){}\"}, "
			    "{\"name\": \"util.hpp\", \"content\": \"// x\", \"encoding\": \"utf8\"}, "
			    "{\"content\": \"6869\", \"encoding\": \"hex\"}]}", &v1, msg), 0);
	ASSERT_EQ(json_array_size(json_object_get(v1, "files")), 4);
	ASSERT_STREQ(str(file_at(v1, 0), "name"), "main.cpp");
	ASSERT_STREQ(str(file_at(v1, 0), "content"), "int main(){}");
	ASSERT_STREQ(str(file_at(v1, 1), "name"), "file0.code");
	ASSERT_STREQ(str(file_at(v1, 1), "content"), "aGk=");
	ASSERT_STREQ(str(file_at(v1, 1), "encoding"), "base64");
	ASSERT_STREQ(str(file_at(v1, 2), "name"), "util.hpp");
	ASSERT_STREQ(str(file_at(v1, 3), "name"), "file3.code");
	ASSERT_STREQ(str(file_at(v1, 3), "content"), "aGk=");	/* hex "hi" */
	ASSERT_STREQ(str(file_at(v1, 3), "encoding"), "base64");
	ASSERT(v1_ok(v1, reg));
	json_decref(v1);

	/* A named entry point keeps its name; an unknown encoding is utf8,
	 * as Piston takes it. */
	ASSERT_EQ(translate(reg, "{\"language\": \"js\", \"version\": \"*\", \"files\": ["
			    "{\"name\": \"my_cool_code.js\", \"content\": \"1\", "
			    "\"encoding\": \"latin1\"}]}", &v1, msg), 0);
	ASSERT_STREQ(str(file_at(v1, 0), "name"), "my_cool_code.js");
	ASSERT_STREQ(str(file_at(v1, 0), "encoding"), "utf8");
	ASSERT(v1_ok(v1, reg));
	json_decref(v1);

	/* Base64 as Node reads it: URL-safe, unpadded, with line breaks. */
	ASSERT_EQ(translate(reg, "{\"language\": \"c++\", \"version\": \"*\", \"files\": ["
			    "{\"content\": \"x\"}, "
			    "{\"name\": \"a.bin\", \"content\": \"-_8\\nAAQ\", \"encoding\": \"base64\"}, "
			    "{\"name\": \"b.bin\", \"content\": \"\", \"encoding\": \"base64\"}, "
			    "{\"name\": \"c.bin\", \"content\": \"00FFfe\", \"encoding\": \"hex\"}]}",
			    &v1, msg), 0);
	ASSERT_STREQ(str(file_at(v1, 1), "content"), "+/8AAQ==");
	ASSERT_STREQ(str(file_at(v1, 2), "content"), "");
	ASSERT_STREQ(str(file_at(v1, 3), "content"), "AP/+");
	ASSERT(v1_ok(v1, reg));
	json_decref(v1);

	ASSERT_STREQ(refused(reg, "{\"language\": \"c++\", \"version\": \"*\", \"files\": ["
			     "{\"content\": \"x\"}, {\"content\": \"abc\", \"encoding\": \"hex\"}]}"),
		     "files[1].content is not valid hex");
	ASSERT_STREQ(refused(reg, "{\"language\": \"c++\", \"version\": \"*\", \"files\": ["
			     "{\"content\": \"x\"}, {\"content\": \"zz\", \"encoding\": \"hex\"}]}"),
		     "files[1].content is not valid hex");
	ASSERT_STREQ(refused(reg, "{\"language\": \"c++\", \"version\": \"*\", \"files\": ["
			     "{\"content\": \"x\"}, {\"content\": \"a*b=\", \"encoding\": \"base64\"}]}"),
		     "files[1].content is not valid base64");
	ASSERT_STREQ(refused(reg, "{\"language\": \"c++\", \"version\": \"*\", \"files\": ["
			     "{\"content\": \"x\"}, {\"content\": \"abcde\", \"encoding\": \"base64\"}]}"),
		     "files[1].content is not valid base64");

	/* Stdin that ends in a newline is kept as it is; NUL bytes pass. */
	ASSERT_EQ(translate(reg, BODY_WITH("\"stdin\": \"a\\u0000b\\n\", \"args\": []"), &v1, msg), 0);
	ASSERT_EQ(json_string_length(json_object_get(v1, "stdin")), 4);
	ASSERT_EQ(json_array_size(json_object_get(v1, "args")), 0);
	ASSERT(v1_ok(v1, reg));
	json_decref(v1);
	ASSERT_EQ(translate(reg, BODY_WITH("\"stdin\": \"5\""), &v1, msg), 0);
	ASSERT_STREQ(str(v1, "stdin"), "5\n");
	json_decref(v1);
	rt_registry_free(reg);
}

/* ---- rendering ---- */

static json_t *render(const char *answer, const char *lang, const char *ver)
{
	json_t *a = load(answer), *r = pst_render(a, lang, ver);

	json_decref(a);
	return r;
}

#define STAGE(status, code, sig, extra)						\
	"\"status\": \"" status "\", \"exit_code\": " code ", \"signal\": " sig ", "	\
	"\"stdout\": \"out\", \"stderr\": \"err\", \"output\": \"outerr\", "	\
	"\"wall_time_ms\": 12, \"cpu_time_ms\": 7, \"memory_bytes\": 4096, " extra

static bool is_null(const json_t *o, const char *key)
{
	return json_is_null(json_object_get(o, key));
}

TEST(piston_render_statuses)
{
	json_t *r;
	const json_t *run;

	r = render("{\"id\": 1, \"language\": \"python\", " STAGE("ok", "0", "null",
		   "\"stdout_truncated\": false, \"stderr_truncated\": false, \"message\": \"\"") "}",
		   "python", "3.11.2");
	ASSERT(r);
	ASSERT_STREQ(str(r, "language"), "python");
	ASSERT_STREQ(str(r, "version"), "3.11.2");
	ASSERT(!json_object_get(r, "compile"));
	run = json_object_get(r, "run");
	ASSERT_STREQ(str(run, "stdout"), "out");
	ASSERT_STREQ(str(run, "stderr"), "err");
	ASSERT_STREQ(str(run, "output"), "outerr");
	ASSERT_EQ(num(run, "code"), 0);
	ASSERT(is_null(run, "signal") && is_null(run, "status") && is_null(run, "message"));
	ASSERT_EQ(num(run, "cpu_time"), 7);
	ASSERT_EQ(num(run, "wall_time"), 12);
	ASSERT_EQ(num(run, "memory"), 4096);
	ASSERT_EQ(json_object_size(run), 10);
	json_decref(r);

	r = render("{" STAGE("runtime_error", "3", "null", "\"message\": \"Exited with code 3\"") "}",
		   "cpp", "12.2.0");
	ASSERT_STREQ(str(r, "language"), "c++");
	run = json_object_get(r, "run");
	ASSERT_STREQ(str(run, "status"), "RE");
	ASSERT_EQ(num(run, "code"), 3);
	ASSERT(is_null(run, "signal"));
	ASSERT_STREQ(str(run, "message"), "Exited with error status 3");
	json_decref(r);

	r = render("{" STAGE("signaled", "null", "11", "\"message\": \"x\"") "}", "lua", "5.4");
	ASSERT_STREQ(str(r, "version"), "5.4.0");
	run = json_object_get(r, "run");
	ASSERT_STREQ(str(run, "status"), "SG");
	ASSERT_STREQ(str(run, "signal"), "SIGSEGV");
	ASSERT(is_null(run, "code"));
	ASSERT_STREQ(str(run, "message"), "Caught fatal signal 11");
	json_decref(r);

	r = render("{" STAGE("timeout", "null", "9", "\"message\": \"Time limit exceeded (3 s)\"")
		   "}", "javascript", "v18.19.0");
	ASSERT_STREQ(str(r, "version"), "18.19.0");
	run = json_object_get(r, "run");
	ASSERT_STREQ(str(run, "status"), "TO");
	ASSERT_STREQ(str(run, "signal"), "SIGKILL");
	ASSERT(is_null(run, "code"));
	ASSERT_STREQ(str(run, "message"), "Time limit exceeded (wall clock)");
	json_decref(r);
	r = render("{" STAGE("timeout", "null", "null",
			     "\"message\": \"CPU time limit exceeded (1 s)\"") "}", "python", "3.11.2");
	ASSERT_STREQ(str(json_object_get(r, "run"), "message"), "Time limit exceeded");
	json_decref(r);

	r = render("{" STAGE("memory_limit", "null", "9", "\"message\": \"Memory limit\"") "}",
		   "python", "3.11.2");
	run = json_object_get(r, "run");
	ASSERT_STREQ(str(run, "status"), "SG");
	ASSERT_STREQ(str(run, "signal"), "SIGKILL");
	ASSERT_STREQ(str(run, "message"), "Caught fatal signal 9");
	ASSERT(is_null(run, "code"));
	json_decref(r);

	r = render("{" STAGE("output_limit", "null", "null", "\"stdout_truncated\": true, "
			     "\"stderr_truncated\": false") "}", "python", "3.11.2");
	run = json_object_get(r, "run");
	ASSERT_STREQ(str(run, "status"), "OL");
	ASSERT_STREQ(str(run, "message"), "stdout length exceeded");
	ASSERT_STREQ(str(run, "signal"), "SIGKILL");
	json_decref(r);
	r = render("{" STAGE("output_limit", "null", "null", "\"stdout_truncated\": false, "
			     "\"stderr_truncated\": true") "}", "python", "3.11.2");
	run = json_object_get(r, "run");
	ASSERT_STREQ(str(run, "status"), "EL");
	ASSERT_STREQ(str(run, "message"), "stderr length exceeded");
	json_decref(r);

	r = render("{" STAGE("internal_error", "null", "null", "\"message\": \"Internal error\"")
		   "}", "python", NULL);
	run = json_object_get(r, "run");
	ASSERT_STREQ(str(run, "status"), "XX");
	ASSERT_STREQ(str(run, "message"), "Internal error");
	ASSERT(is_null(run, "code") && is_null(run, "signal"));
	ASSERT_STREQ(str(r, "version"), "");
	json_decref(r);

	/* Memory 0 is "not measured": null. */
	r = render("{\"status\": \"ok\", \"exit_code\": 0, \"memory_bytes\": 0}", "python", "3");
	run = json_object_get(r, "run");
	ASSERT(is_null(run, "memory"));
	ASSERT_STREQ(str(run, "stdout"), "");
	json_decref(r);
}

TEST(piston_render_compile_stages)
{
	json_t *r;
	const json_t *run, *comp;

	/* Compiled and ran: both stages. */
	r = render("{" STAGE("ok", "0", "null", "\"message\": \"\", \"compile\": {"
			     STAGE("ok", "0", "null", "\"message\": \"\"") "}") "}",
		   "cpp", "12.2.0");
	comp = json_object_get(r, "compile");
	run = json_object_get(r, "run");
	ASSERT(comp && run);
	ASSERT(is_null(comp, "status"));
	ASSERT_EQ(num(comp, "code"), 0);
	ASSERT(is_null(run, "status"));
	json_decref(r);

	/* A failed compile: Piston answers it as the run too. */
	r = render("{\"status\": \"compile_error\", \"exit_code\": null, \"signal\": null, "
		   "\"stdout\": \"\", \"stderr\": \"\", \"output\": \"\", \"wall_time_ms\": 0, "
		   "\"cpu_time_ms\": 0, \"memory_bytes\": 0, "
		   "\"message\": \"Compilation failed: Exited with code 1\", \"compile\": {"
		   "\"status\": \"runtime_error\", \"exit_code\": 1, \"signal\": null, "
		   "\"stdout\": \"\", \"stderr\": \"main.cpp:1: error\", "
		   "\"output\": \"main.cpp:1: error\", \"wall_time_ms\": 300, \"cpu_time_ms\": 250, "
		   "\"memory_bytes\": 1000000, \"message\": \"Exited with code 1\"}}",
		   "cpp", "12.2.0");
	comp = json_object_get(r, "compile");
	run = json_object_get(r, "run");
	ASSERT(comp && run);
	ASSERT_STREQ(str(comp, "status"), "RE");
	ASSERT_EQ(num(comp, "code"), 1);
	ASSERT_STREQ(str(comp, "stderr"), "main.cpp:1: error");
	ASSERT(json_equal((json_t *)comp, (json_t *)run));
	ASSERT(run != comp);	/* a copy, not the same object twice */
	json_decref(r);

	/* A compile that timed out. */
	r = render("{\"status\": \"compile_error\", \"compile\": {\"status\": \"timeout\", "
		   "\"exit_code\": null, \"signal\": 9, \"message\": \"Time limit exceeded (10 s)\"}}",
		   "cpp", "12.2.0");
	ASSERT_STREQ(str(json_object_get(r, "run"), "status"), "TO");
	ASSERT_STREQ(str(json_object_get(r, "compile"), "signal"), "SIGKILL");
	json_decref(r);
}

TEST(piston_error_json)
{
	json_t *e = pst_error_json("c++-11 runtime is unknown");

	ASSERT_STREQ(str(e, "message"), "c++-11 runtime is unknown");
	ASSERT_EQ(json_object_size(e), 1);
	json_decref(e);
}
