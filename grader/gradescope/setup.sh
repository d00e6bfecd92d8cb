#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image.
# The autograder zip (see make_autograder.sh) is unpacked in
# /autograder/source: a tcplab starter tree plus these scripts.
set -euo pipefail

cd /autograder/source
# The Go release go.mod asks for.
go_version=$(sed -n 's/^go //p' go.mod)
apt-get update -q && apt-get install -y -q curl ca-certificates git
curl -fsSL "https://go.dev/dl/go${go_version}.linux-amd64.tar.gz" | tar -C /usr/local -xz
export PATH=/usr/local/go/bin:$PATH

go mod download
# The grader is built from the instructors' copy, so a submission cannot
# change how it is graded; it carries the official tests inside it.
go build -o /autograder/grader ./grader
# Warm the build cache so each submission compiles only its own code.
go test -count=1 -run '^$' ./... >/dev/null 2>&1 || true
