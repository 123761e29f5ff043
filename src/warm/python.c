/*
 * python.c - the interpreter of the warm starts: libpython, loaded at run
 * time (only the zygote pays for it), initialised once with the very
 * command line of a cold run, and run in each program's process.
 *
 * Built with Python.h of the version the build machine has; the library
 * loaded is that version's (libpythonX.Y.so.1.0), and the zygote refuses
 * to start when the sandbox's python3 is another version.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/util.h"
#include "warm/internal.h"

#define PY_STR2(x) #x
#define PY_STR(x) PY_STR2(x)
#define PY_SONAME "libpython" PY_STR(PY_MAJOR_VERSION) "." PY_STR(PY_MINOR_VERSION) ".so.1.0"
#define PY_PACKAGE "libpython" PY_STR(PY_MAJOR_VERSION) "." PY_STR(PY_MINOR_VERSION)

static struct {
#define F(name) __typeof__(name) *name
	F(PyConfig_InitPythonConfig);
	F(PyConfig_SetBytesArgv);
	F(PyConfig_Clear);
	F(Py_InitializeFromConfig);
	F(PyStatus_Exception);
	F(Py_RunMain);
	F(PyOS_AfterFork_Child);
	F(PyRun_SimpleStringFlags);
	F(PySys_SetObject);
	F(PyList_New);
	F(PyList_SetItem);
	F(PyUnicode_DecodeFSDefault);
	F(Py_DecRef);
	F(Py_GetVersion);
#undef F
} py;

/* The dispositions Python's start set (SIGINT's handler, SIGPIPE and
 * SIGXFSZ ignored): the sandbox's init resets every signal, the program
 * gets these back, as a process of Python has them once started. */
static struct sigaction py_signals[NSIG];

static int load(char *why, size_t whylen)
{
	static const struct util_sym syms[] = {
#define SYM(name) { #name, (void **)&py.name }
		SYM(PyConfig_InitPythonConfig), SYM(PyConfig_SetBytesArgv), SYM(PyConfig_Clear),
		SYM(Py_InitializeFromConfig), SYM(PyStatus_Exception), SYM(Py_RunMain),
		SYM(PyOS_AfterFork_Child), SYM(PyRun_SimpleStringFlags), SYM(PySys_SetObject),
		SYM(PyList_New), SYM(PyList_SetItem), SYM(PyUnicode_DecodeFSDefault),
		SYM(Py_DecRef), SYM(Py_GetVersion),
#undef SYM
	};
	int r = util_dlsyms(PY_SONAME, PY_PACKAGE, syms, UTIL_ARRAY_SIZE(syms), why, whylen);

	if (r < 0)
		return r;
	/* Extension modules (numpy's, _ctypes...) take the interpreter's
	 * symbols from the process, as in python3, which has them built in. */
	if (!dlopen(PY_SONAME, RTLD_NOW | RTLD_NOLOAD | RTLD_GLOBAL)) {
		snprintf(why, whylen, "%s: %s", PY_SONAME, dlerror());
		return -ENOENT;
	}
	return 0;
}

int warm_py_init(const char *python, const char *version, char *why, size_t whylen)
{
	char e[] = "-E", s[] = "-s", u[] = "-u", script[] = WARM_SCRIPT;
	char *args[] = { (char *)python, e, s, u, script, NULL };
	const char *have;
	PyConfig config;
	PyStatus st;
	int r;

	if ((r = load(why, whylen)) < 0)
		return r;
	have = py.Py_GetVersion();
	/* "3.11" or "3.11.2": the same release, or at least the same X.Y. */
	if (!version[0] || strncmp(have, version, strlen(version)) != 0 ||
	    !strchr(" .", have[strlen(version)])) {
		snprintf(why, whylen, "%s is Python %.*s, the sandbox's %s is %s", PY_SONAME,
			 (int)strcspn(have, " "), have, python, version[0] ? version : "unknown");
		return -ENOTSUP;
	}
	/* Python's own reading of the command line: -E, -s and -u, and
	 * /box/main.py as the script (opened only by Py_RunMain()). */
	py.PyConfig_InitPythonConfig(&config);
	st = py.PyConfig_SetBytesArgv(&config, UTIL_ARRAY_SIZE(args) - 1, args);
	if (!py.PyStatus_Exception(st))
		st = py.Py_InitializeFromConfig(&config);
	py.PyConfig_Clear(&config);
	if (py.PyStatus_Exception(st)) {
		snprintf(why, whylen, "Python's start failed: %s%s%s", st.func ? st.func : "",
			 st.func ? ": " : "", st.err_msg ? st.err_msg : "exit");
		return -EIO;
	}
	/*
	 * The sandbox's /etc has no python3.X/sitecustomize.py (Debian's
	 * stdlib links to it): the host's, imported here, is forgotten so
	 * that `import sitecustomize` fails in a warm run as in a cold one.
	 * What the start made is frozen for the collector, so that no
	 * collection in a run touches (and copies) the zygote's objects.
	 * Nothing is bound in __main__.
	 */
	if (py.PyRun_SimpleStringFlags("__import__('sys').modules.pop('sitecustomize', None)\n"
				       "__import__('gc').freeze()\n"
				       "__import__('sys').modules.pop('gc')\n", NULL) != 0) {
		snprintf(why, whylen, "Python's start: the zygote's preparation failed");
		return -EIO;
	}
	for (int sig = 1; sig < NSIG; sig++)
		sigaction(sig, NULL, &py_signals[sig]);
	return 0;
}

static PyObject *str_list(char *const *v, size_t n)
{
	PyObject *list = py.PyList_New((Py_ssize_t)n);

	for (size_t i = 0; list && i < n; i++) {
		/* As Python decodes its command line: UTF-8, surrogateescape. */
		PyObject *s = py.PyUnicode_DecodeFSDefault(v[i]);
		if (!s || py.PyList_SetItem(list, (Py_ssize_t)i, s) < 0) {
			py.Py_DecRef(list);
			return NULL;
		}
	}
	return list;
}

static int set_list(const char *name, char *const *v, size_t n)
{
	PyObject *list = str_list(v, n);
	int r = list ? py.PySys_SetObject(name, list) : -1;

	py.Py_DecRef(list);
	return r;
}

static __attribute__((noreturn)) void refuse(const char *what)
{
	dprintf(2, "safexec: warm start: %s\n", what);
	_exit(125);
}

void warm_py_program(void *arg, char *const argv[], char *const envp[])
{
	extern char **environ;
	size_t script, argc, i;

	(void)arg;
	for (script = 0; argv[script] && strcmp(argv[script], WARM_SCRIPT) != 0; script++)
		;
	if (!argv[script])
		refuse("not the interpreter's command");
	for (argc = script; argv[argc]; argc++)
		;
	/* Python read its environment once, in the zygote: the program's
	 * must be that one (warm_eligible() sees to it). */
	for (i = 0; envp[i] && environ[i] && strcmp(envp[i], environ[i]) == 0; i++)
		;
	if (envp[i] || environ[i])
		refuse("another environment than the interpreter's");
	for (int sig = 1; sig < NSIG; sig++)
		sigaction(sig, &py_signals[sig], NULL);	/* KILL, STOP: refused, fine */
	/* Python's state after a fork: locks, threads, the at-fork hooks
	 * (random reseeds itself there). */
	py.PyOS_AfterFork_Child();
	if (set_list("argv", argv + script, argc - script) < 0 ||
	    set_list("orig_argv", argv, argc) < 0)
		refuse("sys.argv");
	_exit(py.Py_RunMain());
}
