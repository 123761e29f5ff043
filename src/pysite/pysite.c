/*
 * pysite.c - Python's site in the sandbox (see pysite.h): the files, and
 * matplotlib's font list built once in a sandbox.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pysite/pysite.h"
#include "util/util.h"

/* Where the site's own files are, inside the sandbox. */
#define MODULE_DIR	"/etc/safexec/python"
#define FONT_DIR	"/etc/safexec/matplotlib"
#define CONFIG_DIR	"/tmp/matplotlib"

/*
 * Imported by Python at every start, before the program: it must stay
 * cheap and leave no trace where matplotlib is not used (/tmp stays
 * empty).  So the configuration directory is made when matplotlib is
 * first imported, by a finder at the head of sys.meta_path that then
 * leaves: in /tmp, because matplotlib wants one it can write, with a link
 * to the font list built once, because building one takes half a second.
 */
static const char sitecustomize[] =
	"# Python's site customization in the safexec sandbox (docs/runtimes.md,\n"
	"# \"Plots\"), imported at every start of Python: the plotting backend's\n"
	"# directory on sys.path, and, once matplotlib is imported, a matplotlib\n"
	"# configuration directory of the run's own holding the font list built\n"
	"# for the sandbox.\n"
	"import os\n"
	"import sys\n"
	"\n"
	"sys.path.append(\"" MODULE_DIR "\")\n"
	"\n"
	"\n"
	"class _MatplotlibConfig:\n"
	"    \"\"\"Makes matplotlib's configuration directory as it is first imported.\"\"\"\n"
	"\n"
	"    @staticmethod\n"
	"    def find_spec(name, path=None, target=None):\n"
	"        if name != \"matplotlib\":\n"
	"            return None\n"
	"        sys.meta_path.remove(_MatplotlibConfig)\n"
	"        if \"MPLCONFIGDIR\" in os.environ:\n"
	"            return None\n"
	"        os.environ[\"MPLCONFIGDIR\"] = \"" CONFIG_DIR "\"\n"
	"        try:\n"
	"            os.mkdir(\"" CONFIG_DIR "\", 0o700)\n"
	"            for name in os.listdir(\"" FONT_DIR "\"):\n"
	"                os.symlink(\"" FONT_DIR "/\" + name, \"" CONFIG_DIR "/\" + name)\n"
	"        except OSError:\n"
	"            pass\n"
	"        return None\n"
	"\n"
	"\n"
	"sys.meta_path.insert(0, _MatplotlibConfig)\n";

static const char matplotlibrc[] =
	"# matplotlib's site configuration in the safexec sandbox, where Debian's\n"
	"# matplotlib reads it (docs/runtimes.md, \"Plots\"): figures are drawn by\n"
	"# Agg, without a display, and plt.show() saves them into the run's\n"
	"# output directory.  The defaults of everything else are matplotlib's.\n"
	"backend: module://safexec_plot\n";

static const char backend[] =
	"\"\"\"safexec's matplotlib backend: Agg, and show() saves the figures.\n"
	"\n"
	"The sandbox's matplotlibrc names it (docs/runtimes.md, \"Plots\").  A\n"
	"figure plt.show() or Figure.show() would show is saved into the run's\n"
	"output directory, $SAFEXEC_OUT (there when the request asks for\n"
	"output_files), as figure-N.png, N the first number not taken there; then\n"
	"plt.show() closes the figures, as a user closing their windows would.\n"
	"plt.show(block=False) and plt.pause() save nothing and close nothing.\n"
	"\"\"\"\n"
	"import os\n"
	"import sys\n"
	"\n"
	"from matplotlib._pylab_helpers import Gcf\n"
	"from matplotlib.backend_bases import FigureManagerBase\n"
	"from matplotlib.backends.backend_agg import FigureCanvasAgg\n"
	"\n"
	"_number = 0\n"
	"_told = False\n"
	"\n"
	"\n"
	"def _say(text):\n"
	"    print(\"safexec: \" + text, file=sys.stderr)\n"
	"\n"
	"\n"
	"def _save(figure):\n"
	"    global _number, _told\n"
	"    out = os.environ.get(\"SAFEXEC_OUT\")\n"
	"    if not out:\n"
	"        if not _told:\n"
	"            _say(\"a figure shown is not saved: this run has no output \"\n"
	"                 \"directory (ask for output_files)\")\n"
	"            _told = True\n"
	"        return\n"
	"    while True:\n"
	"        _number += 1\n"
	"        path = os.path.join(out, \"figure-%d.png\" % _number)\n"
	"        try:\n"
	"            with open(path, \"xb\") as f:\n"
	"                figure.savefig(f, format=\"png\")\n"
	"            return\n"
	"        except FileExistsError:\n"
	"            continue\n"
	"        except OSError as e:\n"
	"            _say(\"%s: %s\" % (path, e.strerror))\n"
	"            return\n"
	"\n"
	"\n"
	"class FigureManager(FigureManagerBase):\n"
	"    def show(self):\n"
	"        _save(self.canvas.figure)\n"
	"\n"
	"\n"
	"class FigureCanvas(FigureCanvasAgg):\n"
	"    manager_class = FigureManager\n"
	"\n"
	"\n"
	"def show(*args, block=None, **kwargs):\n"
	"    if block is False:\n"
	"        return\n"
	"    for manager in Gcf.get_all_fig_managers():\n"
	"        manager.show()\n"
	"    Gcf.destroy_all()\n";

static const char fonts_conf[] =
	"<?xml version=\"1.0\"?>\n"
	"<!DOCTYPE fontconfig SYSTEM \"urn:fontconfig:fonts.dtd\">\n"
	"<!-- fontconfig's configuration in the safexec sandbox: the system's\n"
	"     fonts, and a cache of the run's own. -->\n"
	"<fontconfig>\n"
	"\t<dir>/usr/share/fonts</dir>\n"
	"\t<dir>/usr/local/share/fonts</dir>\n"
	"\t<cachedir>/tmp/fontconfig</cachedir>\n"
	"</fontconfig>\n";

/* Builds the font list into the output directory: matplotlib writes it
 * into its configuration directory when it first loads its fonts. */
static const char build_font_list[] =
	"import os\n"
	"os.environ[\"MPLCONFIGDIR\"] = os.environ[\"SAFEXEC_OUT\"]\n"
	"import matplotlib.font_manager\n";

#define FONT_LIST_MAX	(2u << 20)	/* bytes; 33 KiB with Debian's own fonts */
#define MAX_LIBS	16		/* links of alternatives/ */

/* What the site gives the sandbox's /etc: the entries and their storage. */
struct site {
	struct sbx_etc_entry e[SBX_MAX_ETC];
	size_t n;
	char sitecustomize_path[96];
	char names[MAX_LIBS][2][NAME_MAX + 16];	/* "alternatives/NAME", its target */
	char font_path[NAME_MAX + 32];
};

static void add(struct site *s, const char *path, const char *data, size_t len, bool link)
{
	if (s->n < SBX_MAX_ETC)
		s->e[s->n++] = (struct sbx_etc_entry){ path, data, len, link };
}

/*
 * The host's links to the shared libraries it chose among alternatives
 * (libblas.so.3-x86_64-linux-gnu -> /usr/lib/x86_64-linux-gnu/blas/...):
 * /usr's own links to those libraries lead through /etc/alternatives, and
 * the sandbox's /etc is its own.  Only targets in /usr, which the sandbox
 * has; the links' names and targets, never a file of the host's /etc.
 */
static void add_library_alternatives(struct site *s)
{
	DIR *d = opendir("/etc/alternatives");
	struct dirent *de;
	size_t nlibs = 0;

	if (!d)
		return;
	while ((de = readdir(d)) && nlibs < MAX_LIBS) {
		char *name = s->names[nlibs][0], *target = s->names[nlibs][1], path[PATH_MAX];
		if (strncmp(de->d_name, "lib", 3) != 0 || !strstr(de->d_name, ".so.") ||
		    !sbx_file_name_ok(de->d_name))
			continue;
		snprintf(path, sizeof(path), "/etc/alternatives/%s", de->d_name);
		ssize_t n = readlink(path, target, NAME_MAX + 16);
		if (n <= 5 || n >= NAME_MAX + 16 || strncmp(target, "/usr/", 5) != 0)
			continue;
		target[n] = '\0';
		snprintf(name, NAME_MAX + 16, "alternatives/%s", de->d_name);
		add(s, name, target, (size_t)n, true);
		nlibs++;
	}
	closedir(d);
}

/* The site's files without a font list.  -ENOENT when the host's Python
 * does not read its site customization from /etc/python3.X. */
static int site_files(struct site *s, const struct sbx_features *f, char *note, size_t notelen)
{
	char link[PATH_MAX], want[96], target[96];
	ssize_t n;

	memset(s, 0, sizeof(*s));
	snprintf(link, sizeof(link), "/usr/lib/python%s/sitecustomize.py", f->python_version);
	snprintf(want, sizeof(want), "/etc/python%s/sitecustomize.py", f->python_version);
	n = f->python_version[0] ? readlink(link, target, sizeof(target) - 1) : -1;
	if (n < 0 || (size_t)n != strlen(want) || memcmp(target, want, (size_t)n) != 0) {
		snprintf(note, notelen, "no Python site: %s is not Debian's link to %s",
			 f->python_version[0] ? link : "/usr/bin/python3's version", want);
		return -ENOENT;
	}
	snprintf(s->sitecustomize_path, sizeof(s->sitecustomize_path), "%s", want + 5);
	add(s, s->sitecustomize_path, sitecustomize, sizeof(sitecustomize) - 1, false);
	add(s, "matplotlibrc", matplotlibrc, sizeof(matplotlibrc) - 1, false);
	add(s, "safexec/python/safexec_plot.py", backend, sizeof(backend) - 1, false);
	add(s, "fonts/fonts.conf", fonts_conf, sizeof(fonts_conf) - 1, false);
	add_library_alternatives(s);
	return 0;
}

/* Runs build_font_list in a sandbox of the host, which has the site's
 * files already.  0 with *out (the caller's to release) holding the font
 * list, or -1 with why in note. */
static int build_fonts(struct sbx_host *host, struct sbx_result *out, const struct sbx_file **list,
		       char *note, size_t notelen)
{
	struct sbx_request req;

	sbx_request_init(&req);
	req.code = build_font_list;
	req.code_len = sizeof(build_font_list) - 1;
	req.collect_out = true;
	req.out_max_files = 4;
	req.out_max_bytes = FONT_LIST_MAX;
	req.limits.wall_ms = req.limits.cpu_ms = 60000;	/* a host with many fonts */
	req.limits.memory_bytes = 512ull << 20;
	*list = NULL;
	if (sbx_run(host, &req, out) < 0 || out->status != SBX_OK) {
		if (out->status == SBX_RUNTIME_ERROR &&
		    strstr(out->err.data, "No module named 'matplotlib'"))
			snprintf(note, notelen, "no matplotlib");
		else
			snprintf(note, notelen, "matplotlib's font list could not be built: %s%s%.200s",
				 sbx_status_name(out->status), out->err.len ? ": " : "",
				 out->err.len > 200 ? out->err.data + out->err.len - 200
						    : out->err.data);
		return -1;
	}
	for (size_t i = 0; i < out->nout_files; i++)
		if (strncmp(out->out_files[i].name, "fontlist-", 9) == 0)
			*list = &out->out_files[i];
	if (!*list) {
		snprintf(note, notelen, "matplotlib's font list could not be built: %s",
			 out->out_dropped_total ? "larger than 2 MiB" : "matplotlib wrote none");
		return -1;
	}
	return 0;
}

int pysite_install(struct sbx_host *host, unsigned flags, char *note, size_t notelen)
{
	struct site *s = calloc(1, sizeof(*s));
	struct sbx_result res;
	const struct sbx_file *list;
	int r;

	note[0] = '\0';
	if (!s)
		return -ENOMEM;
	if ((r = site_files(s, sbx_host_features(host), note, notelen)) < 0 ||
	    (r = sbx_host_set_etc(host, s->e, s->n)) < 0)
		goto out;
	if (!(flags & PYSITE_FONT_LIST))
		goto out;

	uint64_t start = util_now_ns();
	memset(&res, 0, sizeof(res));
	if (build_fonts(host, &res, &list, note, notelen) == 0) {
		char size[32];
		snprintf(s->font_path, sizeof(s->font_path), "safexec/matplotlib/%s", list->name);
		add(s, s->font_path, list->data, list->len, false);
		if ((r = sbx_host_set_etc(host, s->e, s->n)) == 0)
			snprintf(note, notelen, "matplotlib's font list: %s, built in %.1f s",
				 util_format_size(list->len, size, sizeof(size)),
				 (double)(util_now_ns() - start) / 1e9);
	}
	sbx_result_release(&res);
out:
	if (r < 0 && !note[0])
		snprintf(note, notelen, "the Python site: %s", strerror(-r));
	free(s);
	return r;
}
