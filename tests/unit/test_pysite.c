/*
 * Unit tests of Python's site in the sandbox (src/pysite/): what a Python
 * run finds, and matplotlib's plots with and without the font list built
 * once.  The plotting tests need Debian's python3-matplotlib.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pysite/pysite.h"
#include "test.h"

#define MATPLOTLIB "/usr/lib/python3/dist-packages/matplotlib/__init__.py"

static struct sbx_host *open_site(unsigned flags, char *note, size_t notelen)
{
	struct sbx_host *host;
	char why[256];

	if (sbx_host_open(&host, why, sizeof(why)) < 0) {
		fprintf(stderr, "  sbx_host_open: %s\n", why);
		return NULL;
	}
	if (pysite_install(host, flags, note, notelen) < 0) {
		fprintf(stderr, "  pysite_install: %s\n", note);
		sbx_host_close(host);
		return NULL;
	}
	return host;
}

static int run_py(struct sbx_host *host, const char *code, bool out, struct sbx_result *res)
{
	struct sbx_request req;

	sbx_request_init(&req);
	req.code = code;
	req.code_len = strlen(code);
	req.collect_out = out;
	return sbx_run(host, &req, res);
}

static const struct sbx_file *out_file(const struct sbx_result *res, const char *name)
{
	for (size_t i = 0; i < res->nout_files; i++)
		if (strcmp(res->out_files[i].name, name) == 0)
			return &res->out_files[i];
	return NULL;
}

static void need_matplotlib(void)
{
	if (access(MATPLOTLIB, R_OK) < 0)
		TEST_SKIP("no Debian python3-matplotlib (" MATPLOTLIB ")");
}

TEST(pysite_python_finds_its_site_and_no_trace_of_it)
{
	char note[256];
	struct sbx_host *host = open_site(0, note, sizeof(note));
	struct sbx_result res;
	static const char code[] =
		"import os, sys\n"
		"print(sys.path[-1], getattr(sys.meta_path[0], '__name__', None))\n"
		"print(sorted(set(os.listdir('/etc')) - {'alternatives'}), os.listdir('/tmp'),\n"
		"      sorted(os.listdir('/box')))\n"
		"print('MPLCONFIGDIR' in os.environ, 'MPLBACKEND' in os.environ,\n"
		"      open('/etc/matplotlibrc').read().splitlines()[-1],\n"
		"      open('/etc/fonts/fonts.conf').read().count('<dir>'))\n";

	ASSERT(host != NULL);
	/* Every run: matplotlib's and fontconfig's configuration, the host's
	 * library alternatives; no Python site, nothing on sys.path. */
	ASSERT_EQ(run_py(host, code, false, &res), 0);
	ASSERT_EQ(res.status, SBX_OK);
	ASSERT(strstr(res.out.data, "\n['fonts', 'group', 'hostname', 'hosts', 'matplotlibrc', "
			  "'passwd'] [] ['main.py']\nFalse False backend: agg 2\n") != NULL);
	/* Neither the site's finder first in sys.meta_path (what is first
	 * depends on the host's .pth files: setuptools puts its own there)
	 * nor its directory on sys.path. */
	ASSERT(strstr(res.out.data, "_MatplotlibConfig") == NULL);
	ASSERT(strstr(res.out.data, "/etc/safexec") == NULL);
	ASSERT_STREQ(res.err.data, "");
	sbx_result_release(&res);

	/* With an output directory: the backend's directory last on sys.path
	 * (it shadows nothing), the finder first in sys.meta_path, nothing in
	 * /tmp or /box until matplotlib is imported. */
	ASSERT_EQ(run_py(host, code, true, &res), 0);
	ASSERT_EQ(res.status, SBX_OK);
	ASSERT(strncmp(res.out.data, "/etc/safexec _MatplotlibConfig\n", 31) == 0);
	ASSERT(strstr(res.out.data, "'matplotlibrc', 'passwd', 'python3.11', 'safexec'] [] "
			  "['main.py', 'out']\nFalse False backend: agg 2\n") != NULL);
	ASSERT_STREQ(res.err.data, "");
	sbx_result_release(&res);

	/* The host's library alternatives, as links to the same targets. */
	ASSERT_EQ(run_py(host, "import os\n"
			 "d = '/etc/alternatives'\n"
			 "for n in sorted(os.listdir(d) if os.path.isdir(d) else []):\n"
			 "    print(n, os.readlink(d + '/' + n))\n", false, &res), 0);
	ASSERT_EQ(res.status, SBX_OK);
	for (char *line = res.out.data, *nl; *line; line = nl + 1) {
		char host_path[512], target[512], *sp;
		nl = strchr(line, '\n');
		ASSERT(nl != NULL);
		*nl = '\0';
		ASSERT((sp = strchr(line, ' ')) != NULL);
		*sp = '\0';
		static const char *const libs[] = { "libblas.so.3-", "liblapack.so.3-",
						    "libopenblas.so.0-", "libblas64.so.3-",
						    "liblapack64.so.3-", "libopenblas64.so.0-" };
		bool known = false;
		for (size_t i = 0; i < sizeof(libs) / sizeof(libs[0]); i++)
			known |= strncmp(line, libs[i], strlen(libs[i])) == 0;
		ASSERT(known);
		snprintf(host_path, sizeof(host_path), "/etc/alternatives/%s", line);
		ssize_t n = readlink(host_path, target, sizeof(target) - 1);
		ASSERT(n > 0);
		target[n] = '\0';
		ASSERT_STREQ(sp + 1, target);
	}
	sbx_result_release(&res);
	sbx_host_close(host);
}

TEST(pysite_plt_show_saves_the_figures_with_the_font_list_built_once)
{
	char note[256];
	struct sbx_host *host;
	struct sbx_result res;
	const struct sbx_file *f;

	need_matplotlib();
	ASSERT((host = open_site(PYSITE_FONT_LIST, note, sizeof(note))) != NULL);
	ASSERT(strncmp(note, "matplotlib's font list: ", 24) == 0);
	/* Two figures shown, one saved by the program, one shown after the
	 * first show closed the others; figure-1.png taken already. */
	ASSERT_EQ(run_py(host, "import os\n"
			 "out = os.environ['SAFEXEC_OUT']\n"
			 "open(out + '/figure-1.png', 'w').write('mine')\n"
			 "import matplotlib.pyplot as plt\n"
			 "plt.plot([1, 2, 3], [1, 4, 9])\n"
			 "plt.savefig('out/plot.png')\n"
			 "plt.figure()\n"
			 "plt.bar([1, 2], [3, 4])\n"
			 "plt.show()\n"
			 "print(plt.get_fignums())\n"
			 "plt.plot([0, 1])\n"
			 "plt.show(block=False)\n"
			 "plt.pause(0.01)\n"
			 "print(plt.get_fignums())\n"
			 "plt.show()\n"
			 "d = '/tmp/matplotlib'\n"
			 "print([(n, os.path.islink(d + '/' + n)) for n in os.listdir(d)])\n",
			 true, &res), 0);
	ASSERT_EQ(res.status, SBX_OK);
	ASSERT_STREQ(res.err.data, "");	/* quiet: nothing built, no warning */
	ASSERT(strncmp(res.out.data, "[]\n[1]\n[('fontlist-v", 20) == 0);
	ASSERT(strstr(res.out.data, ".json', True)]\n") != NULL);
	ASSERT_EQ(res.nout_files, 5);
	ASSERT((f = out_file(&res, "figure-1.png")) != NULL);
	ASSERT_MEMEQ(f->data, f->len, "mine", 4);
	static const char *const pngs[] = { "plot.png", "figure-2.png", "figure-3.png",
					    "figure-4.png" };
	for (size_t i = 0; i < sizeof(pngs) / sizeof(pngs[0]); i++) {
		ASSERT((f = out_file(&res, pngs[i])) != NULL);
		ASSERT(f->len > 1000 && memcmp(f->data, "\x89PNG\r\n\x1a\n", 8) == 0);
	}
	sbx_result_release(&res);
	sbx_host_close(host);
}

TEST(pysite_plots_without_the_font_list_and_without_an_output_directory)
{
	char note[256];
	struct sbx_host *host;
	struct sbx_result res;

	need_matplotlib();
	ASSERT((host = open_site(0, note, sizeof(note))) != NULL);
	ASSERT_STREQ(note, "");
	/* The run builds its own font list, quietly, in /tmp/matplotlib. */
	ASSERT_EQ(run_py(host, "import os\n"
			 "import matplotlib.pyplot as plt\n"
			 "plt.plot([1, 2])\n"
			 "plt.show()\n"
			 "d = '/tmp/matplotlib'\n"
			 "print([(n[:9], os.path.islink(d + '/' + n)) for n in os.listdir(d)])\n",
			 true, &res), 0);
	ASSERT_EQ(res.status, SBX_OK);
	ASSERT_STREQ(res.err.data, "");
	ASSERT_STREQ(res.out.data, "[('fontlist-', False)]\n");
	ASSERT_EQ(res.nout_files, 1);
	ASSERT_STREQ(res.out_files[0].name, "figure-1.png");
	sbx_result_release(&res);

	/* No output directory: numpy and matplotlib work, drawing with Agg;
	 * a figure shown goes nowhere, without a word. */
	ASSERT_EQ(run_py(host, "import io\n"
			 "import numpy\n"
			 "import matplotlib.pyplot as plt\n"
			 "plt.plot(numpy.arange(3))\n"
			 "buf = io.BytesIO()\n"
			 "plt.savefig(buf, format='png')\n"
			 "plt.show()\n"
			 "print(plt.get_backend(), buf.getvalue()[:4])\n", false, &res), 0);
	ASSERT_EQ(res.status, SBX_OK);
	ASSERT_STREQ(res.out.data, "agg b'\\x89PNG'\n");
	ASSERT_STREQ(res.err.data, "");
	sbx_result_release(&res);
	sbx_host_close(host);
}
