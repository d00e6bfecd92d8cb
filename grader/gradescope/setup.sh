#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image
# (its Ubuntu base image: apt-get, and the network, at build time only).
# The autograder zip (see make_autograder.sh) is unpacked in
# $ag/source: the starter tree plus these scripts.
#
# It installs the Go release go.mod names (or uses TCPLAB_GOROOT, a Go
# already there), builds the grader, makes the unprivileged user the
# students' code runs as, and warms that user's build cache so a submission
# compiles only its own code. Grading itself needs no network.
set -euo pipefail
ag=${AUTOGRADER_ROOT:-/autograder}
user=${TCPLAB_STUDENT_USER:-student}
cd "$ag/source"

if [ -n "${TCPLAB_GOROOT:-}" ]; then
	goroot=$TCPLAB_GOROOT
else
	go_version=$(sed -n 's/^go //p' go.mod)
	apt-get update -q && apt-get install -y -q curl ca-certificates
	curl -fsSL "https://go.dev/dl/go${go_version}.linux-amd64.tar.gz" | tar -C /usr/local -xz
	goroot=/usr/local/go
fi

# Everything grading needs, in one place the student's user can read:
# modules (read-only once downloaded) and a build cache of its own.
gohome=$ag/go
mkdir -p "$gohome/mod" "$gohome/cache"
id -u "$user" >/dev/null 2>&1 || useradd --system --no-create-home --home-dir "$gohome" --shell /usr/sbin/nologin "$user"
cat >"$ag/env" <<ENV
export PATH=$goroot/bin:\$PATH
export GOMODCACHE=$gohome/mod
export GOCACHE=$gohome/cache
export GOTOOLCHAIN=local
export TCPLAB_STUDENT_USER=$user
ENV
# shellcheck source=/dev/null
. "$ag/env"

# The grader is built from the instructors' copy, as root, so a submission
# cannot change how it is graded; it carries the official tests inside it.
go build -o "$ag/grader" ./grader
go mod download
chown -R "$user" "$gohome/cache"
chmod -R a+rX "$gohome/mod" "$ag/source"
# Warm the student user's cache with what grading builds.
runuser -u "$user" -- env GOFLAGS=-mod=readonly GOPROXY=off HOME="$gohome" \
	go test -count=1 -run '^$' ./labs/... ./internal/interop/ >/dev/null
runuser -u "$user" -- env GOFLAGS=-mod=readonly GOPROXY=off HOME="$gohome" \
	go build -o /dev/null ./cmd/webget ./cmd/tcpcat ./internal/sandbox/... >/dev/null 2>&1 || true
