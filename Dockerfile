# safexec's container image: `safexec serve` on port 8080, as root in the
# container with two capabilities and safexec's own seccomp profile, never
# --privileged.  docs/deploy.md ("A container") gives the options and why
# each is needed; compose.yaml has them too.
#
#     docker build -t safexec .
#     docker run -d -p 8080:8080 --cap-drop ALL --cap-add SETUID --cap-add SETGID \
#         --security-opt seccomp=dist/container/seccomp.json \
#         --security-opt systempaths=unconfined --security-opt apparmor=unconfined \
#         --security-opt no-new-privileges safexec
#
# Build arguments: DEBIAN, the Debian 12 image to start from (the tests make
# one with debootstrap and `docker import`); LANGUAGES, the languages to
# install besides the default ones (Python, C, C++, Bash, Perl, plain text),
# as tools/install-deps.sh takes them: "all", or names of runtimes/*.conf;
# PACKAGES, more Debian packages for the programs, such as
# python3-matplotlib for Python's plots (about 700 MB with what it needs).

ARG DEBIAN=debian:bookworm

FROM ${DEBIAN} AS build
ENV DEBIAN_FRONTEND=noninteractive
WORKDIR /src
# The packages first, in a layer of their own that a change of the sources
# keeps.
COPY tools/install-deps.sh tools/
RUN tools/install-deps.sh && rm -rf /var/lib/apt/lists/*
COPY . .
# (The unit under /usr/lib: a /lib of its own would hide the image's
# /lib, a link to /usr/lib.)
RUN make -j"$(nproc)" all \
 && make install DESTDIR=/out PREFIX=/usr SYSTEMDUNITDIR=/usr/lib/systemd/system \
 && install -D -m 0755 dist/container/entrypoint.sh /out/usr/libexec/safexec-entrypoint \
 && install -D -m 0644 dist/container/seccomp.json /out/usr/share/safexec/seccomp.json

FROM ${DEBIAN}
ARG LANGUAGES=""
ARG PACKAGES=""
ENV DEBIAN_FRONTEND=noninteractive
COPY tools/install-deps.sh /tmp/
# tini: the container's init, which reaps what is left to it and passes
# signals on.  (Not `docker run --init`: that mounts its init at
# /sbin/docker-init, below /usr here, and the sandbox binds /usr without
# what is mounted below it.)
RUN sh /tmp/install-deps.sh --runtime --languages "${LANGUAGES}" \
 && apt-get install -y -q --no-install-recommends tini ${PACKAGES} \
 && rm -rf /var/lib/apt/lists/* /tmp/install-deps.sh
COPY --from=build /out/ /
# The history database and the executions' log, kept in a volume.
RUN mkdir -p /var/lib/safexec
VOLUME /var/lib/safexec
WORKDIR /var/lib/safexec
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s CMD curl -fsS http://127.0.0.1:8080/healthz >/dev/null || exit 1
# The server stops at SIGTERM, letting runs finish for --grace-period.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/libexec/safexec-entrypoint"]
CMD ["serve", "--listen", "0.0.0.0:8080", "--data-dir", "/var/lib/safexec", \
     "--log", "/var/lib/safexec/executions.log"]
