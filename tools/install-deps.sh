#!/bin/sh
# Installs the Debian packages safexec needs: to build and run it (and curl,
# for README.md's example), and with --test, to run the whole test suite too.
# Quick when all are present.  Debian 12's own archive only, no other
# registry (the compat suite fetches Piston's npm client, piston-client
# 1.0.2, into build/npm itself, with the npm installed here).  `--list`
# prints the packages instead.  `--runtime` installs only what an installed
# safexec needs to run, with no compiler of its own nor -dev package (the
# container image's second stage, Dockerfile).
#
#     tools/install-deps.sh [--test | --runtime] [--languages LIST] [--list]
#
# The languages: each runtimes/NAME.conf runs a Debian package's compiler or
# interpreter, and the service offers only the languages whose packages are
# there: Python, and C, C++, Bash, Perl and plain text, whose packages come
# with the build's.  --test installs every language's packages (the
# language suite, tests/e2e/languages.py, needs them all: about 340 MB to
# download, a minute and a half on a two-CPU machine).  Otherwise
# `make serve` installs no other language's unless asked, with the
# LANGUAGES variable (from the environment or make's command line) or
# --languages: `all`, or names of runtimes/*.conf separated by spaces or
# commas:
#
#     LANGUAGES=all make serve
#     make serve LANGUAGES="java go"
#
# Node.js must be Debian's own package: a `nodejs` package from another
# archive (NodeSource's has the same name and a higher version) lacks the
# types of Node.js that TypeScript needs (Debian's has them in
# /usr/share/nodejs/@types) and is not Debian's.  When JavaScript or
# TypeScript is asked for and such a package is installed, it is replaced by
# Debian's, saying so.
set -eu
test=0 runtime=0 list=0 langs=${LANGUAGES:-}
while [ $# -gt 0 ]; do
	case $1 in
	--test) test=1 ;;
	--runtime) runtime=1 ;;
	--list) list=1 ;;
	--languages) [ $# -ge 2 ] || { echo "install-deps: --languages needs a list" >&2; exit 2; }
		langs=$2; shift ;;
	--languages=*) langs=${1#--languages=} ;;
	*) echo "install-deps: unknown option $1" >&2; exit 2 ;;
	esac
	shift
done

# The packages of each language, by the name of its runtime file.
lang_pkgs() {
	case $1 in
	python) echo python3 ;;
	c) echo gcc libc6-dev ;;
	cpp) echo g++ ;;
	javascript) echo nodejs ;;
	typescript) echo node-typescript nodejs ;;
	bash) echo bash ;;
	ruby) echo ruby ;;
	php) echo php-cli ;;
	perl) echo perl ;;
	lua) echo lua5.4 ;;
	go) echo golang-go ;;
	rust) echo rustc gcc libc6-dev ;;
	java) echo openjdk-17-jdk-headless ;;
	sqlite) echo sqlite3 ;;
	plaintext) echo coreutils ;;
	fortran) echo gfortran ;;
	pascal) echo fp-compiler ;;
	csharp) echo mono-mcs mono-runtime ;;
	r) echo r-base-core ;;
	*) return 1 ;;
	esac
}
ALL_LANGS="python c cpp javascript typescript bash ruby php perl lua go rust java sqlite plaintext fortran pascal csharp r"

# libpq-dev: libpq's header, which the build needs; the binary loads libpq
# (libpq5, a dependency of libpq-dev) at run time, for a PostgreSQL store.
# libpython3-dev: Python's headers, for the warm starts, and the library
# (libpython3.11, its dependency) the zygote loads at run time.
PKGS="build-essential pkg-config libseccomp-dev libjansson-dev libmicrohttpd-dev libsqlite3-dev libpq-dev libpython3-dev nettle-dev libcurl4-openssl-dev libzip-dev python3 curl"
if [ "$runtime" = 1 ]; then
	# The libraries the binary loads (debian/control's Depends), libpython
	# for the warm starts, the certificate authorities for callbacks over
	# HTTPS, curl for a health check, and the packages of the languages
	# offered by default (which come with the build's otherwise).
	PKGS="libmicrohttpd12 libpq5 libcurl4 libzip4 libpython3.11 python3 ca-certificates curl"
	langs="c cpp bash perl plaintext $langs"
fi
if [ "$test" = 1 ]; then
	# clang and its runtime: the fuzzers; util-linux and procps: the escape
	# suite; chromium, chromium-driver, python3-selenium and python3-pil:
	# the browser suite (tests/browser/run); python3-matplotlib: the plots of
	# the unit, e2e and browser suites; npm (and nodejs, a language's):
	# the compat suite's Piston client (tests/e2e/compat.py); postgresql:
	# the server the scale suite starts (tests/e2e/scale.py) and its psql;
	# every language: the language suite; debhelper, dpkg-dev, lintian,
	# man-db, systemd (systemd-analyze), debootstrap, systemd-container
	# (systemd-nspawn) and git: the package suite (tests/package/run);
	# docker.io, docker-compose, podman and uidmap: the container suite
	# (tests/container/run).
	PKGS="$PKGS clang libclang-rt-14-dev util-linux procps chromium chromium-driver python3-selenium python3-pil python3-matplotlib npm postgresql debhelper dpkg-dev lintian man-db systemd debootstrap systemd-container git docker.io docker-compose podman uidmap"
	langs=all
fi
langs=$(echo "$langs" | tr ',' ' ')
case " $langs " in *" all "*) langs=$ALL_LANGS ;; esac
for l in $langs; do
	p=$(lang_pkgs "$l") || { echo "install-deps: unknown language $l (one of: all $ALL_LANGS)" >&2; exit 2; }
	PKGS="$PKGS $p"
done
# Each package once, in the order first named.
PKGS=$(echo "$PKGS" | tr ' ' '\n' | awk 'NF && !seen[$0]++' | tr '\n' ' ')
PKGS=${PKGS% }
if [ "$list" = 1 ]; then
	echo "$PKGS"
	exit 0
fi

# The installed nodejs's version when the languages need it and it is not
# Debian's: NodeSource's, or one no archive apt knows offers.
foreign_nodejs() {
	case " $PKGS " in *" nodejs "*) ;; *) return 0 ;; esac
	v=$(dpkg-query -W -f='${Status} ${Version}' nodejs 2>/dev/null) || return 0
	case $v in *"ok installed "*) v=${v##* } ;; *) return 0 ;; esac
	case $v in
	*nodesource*) echo "$v" ;;
	*) apt-cache madison nodejs 2>/dev/null | grep -qF "| $v |" || echo "$v" ;;
	esac
}

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
foreign=$(foreign_nodejs)
[ -z "$missing" ] && [ -z "$foreign" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
	[ -z "$missing" ] || echo "install-deps: missing packages:$missing (run as root to install them)" >&2
	[ -z "$foreign" ] || echo "install-deps: nodejs $foreign is not Debian's (run as root to replace it)" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
foreign=$(foreign_nodejs)
if [ -n "$foreign" ]; then
	debian=$(apt-cache madison nodejs | awk -F'|' '{gsub(/ /, "", $2)} $2 !~ /nodesource/ {print $2; exit}')
	if [ -z "$debian" ]; then
		echo "install-deps: nodejs $foreign is not Debian's, and apt offers no other" >&2
		exit 1
	fi
	echo "install-deps: replacing nodejs $foreign, which is not Debian's, with Debian's $debian" >&2
	apt-get install -y -q --no-install-recommends --allow-downgrades "nodejs=$debian"
fi
if [ -n "$missing" ]; then
	# shellcheck disable=SC2086
	apt-get install -y -q --no-install-recommends $missing
fi
