# safexec: `make` builds build/safexec; `make test` runs the whole suite.
#
# Plain make rather than meson or cmake: one binary, a handful of folders, and
# nothing a newcomer has to install beyond the compiler and the -dev packages.
# Every .c file under src/<part>/ is part of the build, so adding a file to a
# part needs no edit here.

CC       ?= cc
PKGS     := libseccomp jansson libmicrohttpd sqlite3 nettle libcurl libzip libpq
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
# Every `safexec run` pays for loading the binary's shared libraries before
# the sandbox starts: libmicrohttpd (with GnuTLS under it) is therefore not
# linked at all but loaded by the server when it starts (src/http/mhd.h), and
# libseccomp, jansson and SQLite come from the static archives of the same
# Debian -dev packages (0.5 ms less per run, measured with bench/startup.py
# side by side).  A Debian update of those three takes a rebuild: `make`.
# libseccomp is needed only at build time: tools/seccomp-gen.c compiles the
# filter of src/sandbox/seccomp.c once and the binary carries the BPF.
STATIC_PKGS := jansson sqlite3 nettle
PKG_LIBS   := -Wl,-Bstatic $(shell pkg-config --libs-only-l $(STATIC_PKGS) 2>/dev/null) \
	-Wl,-Bdynamic -lm
SECCOMP_LIBS := -Wl,-Bstatic $(shell pkg-config --libs-only-l libseccomp 2>/dev/null) -Wl,-Bdynamic

WARN := -Wall -Wextra -Wformat=2 -Wformat-security -Wshadow -Wpointer-arith \
	-Wstrict-prototypes -Wmissing-prototypes -Wvla -Wwrite-strings \
	-Wimplicit-fallthrough -Wundef -Wno-unused-parameter \
	-Werror=implicit-function-declaration -Werror=return-type
ifeq ($(WERROR),1)
WARN += -Werror
endif
HARDEN := -D_FORTIFY_SOURCE=3 -fstack-protector-strong -fstack-clash-protection \
	-fcf-protection -fPIE -fno-strict-overflow -fno-delete-null-pointer-checks
LDHARDEN := -pie -Wl,-z,relro,-z,now -Wl,-z,noexecstack -Wl,--as-needed

# Python's headers, for the warm starts' embedding of libpython, which is
# loaded at run time, by the zygote only (src/warm/python.c).
PY_CFLAGS := $(shell pkg-config --cflags python3-embed 2>/dev/null)

OPT      ?= -O2 -g
CFLAGS_ALL = -std=c11 -D_GNU_SOURCE $(OPT) $(WARN) -Isrc $(PKG_CFLAGS) $(PY_CFLAGS) $(EXTRA_CFLAGS)
LIBS     := $(PKG_LIBS) -lpthread

B        ?= build
POLICY   := src/sandbox/seccomp.c
SRC      := $(filter-out src/main.c $(POLICY),$(wildcard src/*/*.c))
WEB      := $(wildcard web/*)
API_DOC  := docs/openapi.json
OBJ      := $(SRC:%.c=$(B)/%.o) $(B)/web_assets.o $(B)/seccomp_bpf.o
UNIT_SRC := $(wildcard tests/unit/*.c)
FUZZ_SRC := $(wildcard fuzz/fuzz_*.c)

# Where `make install` puts things: PREFIX (/usr/local), and DESTDIR, a
# folder to install into as if it were /, for a package.  With PREFIX=/usr
# the configuration goes to /etc and the unit to /lib/systemd/system, as a
# Debian package has them; each of the folders may be given on its own.
PREFIX   ?= /usr/local
BINDIR   ?= $(PREFIX)/bin
DATADIR  ?= $(PREFIX)/share
MANDIR   ?= $(DATADIR)/man
DOCDIR   ?= $(DATADIR)/doc/safexec
SYSCONFDIR ?= $(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc)
SYSTEMDUNITDIR ?= $(if $(filter /usr,$(PREFIX)),/lib/systemd/system,$(PREFIX)/lib/systemd/system)
RUNTIMESDIR := $(DATADIR)/safexec/runtimes
# Compiled into the binary: the runtime files' folder (looked up after
# $$SAFEXEC_RUNTIMES and the runtimes folder beside the binary's folder,
# src/runtime/runtime.c) and, for safexec.conf(5) and `serve --help`, the
# config file and the documentation.  $(B)/paths holds the folders,
# rewritten only when they change, so that a new PREFIX rebuilds what uses
# them.
PATH_DEFS := -DSAFEXEC_RUNTIMES_DIR='"$(RUNTIMESDIR)"' \
	-DSAFEXEC_CONFIG_FILE='"$(SYSCONFDIR)/safexec/safexec.conf"' \
	-DSAFEXEC_DOC_DIR='"$(DOCDIR)"'
# What `make install` substitutes in dist/*.in.
SUBST := sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
	-e 's|@RUNTIMESDIR@|$(RUNTIMESDIR)|g' -e 's|@DOCDIR@|$(DOCDIR)|g'

.PHONY: all clean test unit asan fuzz serve layers install uninstall man container-profile FORCE
all: $(B)/safexec

# The two commands of README.md.  Each installs the Debian packages it needs
# first, then builds in a fresh make (pkg-config must see them).
serve:
	tools/install-deps.sh
	$(MAKE) all
	exec $(B)/safexec serve $(ARGS)

test:
	tools/install-deps.sh --test
	$(MAKE) all unit asan layers
	tests/run

$(B)/safexec: $(B)/src/main.o $(OBJ)
	$(CC) $(OPT) $(LDHARDEN) $(EXTRA_LDFLAGS) -o $@ $^ $(LIBS)

$(B)/%.o: %.c $(wildcard src/*/*.h) Makefile
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(HARDEN) -c -o $@ $<

$(B)/paths: FORCE
	@mkdir -p $(B)
	@echo '$(BINDIR) $(RUNTIMESDIR) $(SYSCONFDIR) $(DOCDIR)' | cmp -s - $@ || \
		echo '$(BINDIR) $(RUNTIMESDIR) $(SYSCONFDIR) $(DOCDIR)' > $@
$(B)/src/runtime/runtime.o $(B)/src/config/config.o: $(B)/paths
$(B)/src/runtime/runtime.o $(B)/src/config/config.o: CFLAGS_ALL += $(PATH_DEFS)

# The web page's files and the API's description (served at
# /api/v1/openapi.json) go into the binary as one generated C table.
$(B)/web_assets.c: $(WEB) $(API_DOC) tools/embed.sh
	@mkdir -p $(B)
	sh tools/embed.sh $(WEB) $(API_DOC) > $@
$(B)/web_assets.o: $(B)/web_assets.c
	$(CC) $(CFLAGS_ALL) $(HARDEN) -c -o $@ $<

# The seccomp filters, compiled by libseccomp at build time.
$(B)/seccomp-gen: tools/seccomp-gen.c $(POLICY) src/sandbox/internal.h src/sandbox/sandbox.h
	@mkdir -p $(B)
	$(CC) $(CFLAGS_ALL) -o $@ tools/seccomp-gen.c $(POLICY) $(SECCOMP_LIBS) $(PKG_LIBS)
$(B)/seccomp_bpf.c: $(B)/seccomp-gen
	$(B)/seccomp-gen > $@.tmp && mv $@.tmp $@
# The seccomp profile of the container (Dockerfile, docs/deploy.md), written
# from the same policy; the container suite checks it is up to date.
container-profile: $(B)/seccomp-gen
	$(B)/seccomp-gen --container > dist/container/seccomp.json
$(B)/seccomp_bpf.o: $(B)/seccomp_bpf.c
	$(CC) $(CFLAGS_ALL) $(HARDEN) -c -o $@ $<

$(B)/unit-tests: $(UNIT_SRC) $(OBJ) $(B)/$(POLICY:.c=.o)
	$(CC) $(CFLAGS_ALL) $(LDHARDEN) $(EXTRA_LDFLAGS) -Itests/unit -o $@ $^ $(LIBS) $(SECCOMP_LIBS)

unit: $(B)/unit-tests

# Unit tests under AddressSanitizer and UndefinedBehaviorSanitizer.
asan:
	$(MAKE) B=build/asan OPT="-O1 -g -fno-omit-frame-pointer" \
		EXTRA_CFLAGS="-fsanitize=address,undefined -fno-sanitize-recover=all" \
		EXTRA_LDFLAGS="-fsanitize=address,undefined" build/asan/safexec build/asan/unit-tests

# For the escape suite only: a binary that can leave one protection layer
# out (SAFEXEC_TEST_WITHOUT=caps|seccomp, see src/sandbox/internal.h), so
# that each remaining layer is shown to hold by itself.  Never installed.
layers:
	$(MAKE) B=build/layers EXTRA_CFLAGS="-DSBX_TEST_LAYERS" build/layers/safexec

# libFuzzer targets (clang).
fuzz:
	$(MAKE) CC=clang B=build/fuzz OPT="-O1 -g" \
		EXTRA_CFLAGS="-fsanitize=fuzzer-no-link,address,undefined" build/fuzz/objs
	@for f in $(FUZZ_SRC); do n=$$(basename $$f .c); \
	  echo "clang $$f -> build/fuzz/$$n"; \
	  clang -std=c11 -D_GNU_SOURCE -O1 -g -Isrc $(PKG_CFLAGS) \
	    -fsanitize=fuzzer,address,undefined -o build/fuzz/$$n $$f $(OBJ:$(B)/%=build/fuzz/%) $(LIBS) || exit 1; done
build/fuzz/objs: $(OBJ)
	@touch $@

# The manual pages: safexec(1), written by hand (dist/safexec.1.in), and
# safexec.conf(5), written by the binary from the settings' table
# (cfg_man() in src/config/config.c), so that it names every setting.
man: $(B)/safexec.conf.5 $(B)/safexec.1
$(B)/safexec.conf.5: $(B)/safexec
	$(B)/safexec __conf-man > $@.tmp && mv $@.tmp $@
$(B)/safexec.1: dist/safexec.1.in $(B)/paths
	$(SUBST) dist/safexec.1.in > $@.tmp && mv $@.tmp $@
$(B)/safexec.service: dist/safexec.service.in $(B)/paths
	$(SUBST) dist/safexec.service.in > $@.tmp && mv $@.tmp $@

# The binary, its runtime files, the manual pages, the systemd unit, the
# documentation and the example config; the config itself only where there
# is none yet (an edited one is kept).  docs/deploy.md lists the files.
install: $(B)/safexec man $(B)/safexec.service
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(RUNTIMESDIR) \
		$(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 \
		$(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(DOCDIR) $(DESTDIR)$(SYSCONFDIR)/safexec
	install -m 0755 $(B)/safexec $(DESTDIR)$(BINDIR)/safexec
	install -m 0644 runtimes/*.conf $(DESTDIR)$(RUNTIMESDIR)/
	install -m 0644 $(B)/safexec.1 $(DESTDIR)$(MANDIR)/man1/safexec.1
	install -m 0644 $(B)/safexec.conf.5 $(DESTDIR)$(MANDIR)/man5/safexec.conf.5
	install -m 0644 $(B)/safexec.service $(DESTDIR)$(SYSTEMDUNITDIR)/safexec.service
	install -m 0644 README.md docs/*.md safexec.conf.example $(DESTDIR)$(DOCDIR)/
	test -e $(DESTDIR)$(SYSCONFDIR)/safexec/safexec.conf || \
		install -m 0644 safexec.conf.example $(DESTDIR)$(SYSCONFDIR)/safexec/safexec.conf

# Leaves the config file, as a package's removal does.
uninstall:
	rm -f $(DESTDIR)$(BINDIR)/safexec $(DESTDIR)$(MANDIR)/man1/safexec.1 \
		$(DESTDIR)$(MANDIR)/man5/safexec.conf.5 $(DESTDIR)$(SYSTEMDUNITDIR)/safexec.service
	rm -rf $(DESTDIR)$(RUNTIMESDIR) $(DESTDIR)$(DOCDIR)
	-rmdir $(DESTDIR)$(DATADIR)/safexec

clean:
	rm -rf build
