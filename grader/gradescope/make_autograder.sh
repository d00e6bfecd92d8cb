#!/usr/bin/env bash
# Builds a Gradescope autograder zip for one stage from the reference tree:
#
#   grader/gradescope/make_autograder.sh check2 /tmp/check2-autograder.zip
#
# The zip holds the starter tree for the labs that stage grades (the
# reference with solutions stubbed out, so it can be shared with TAs), the
# stage name, and setup.sh and run_autograder at its root, as Gradescope
# wants them.
set -euo pipefail

stage=${1:?usage: make_autograder.sh check0..check4|all OUT.zip}
zip=${2:?usage: make_autograder.sh check0..check4|all OUT.zip}
case $stage in
check[0-4]) through=${stage#check} ;;
all) through=4 ;;
*) echo "unknown stage $stage" >&2; exit 2 ;;
esac

root=$(git rev-parse --show-toplevel)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$root" && go run ./cmd/mkstarter -through "$through" -out "$tmp/source")
cp "$root/grader/gradescope/setup.sh" "$root/grader/gradescope/run_autograder" "$tmp/source/"
echo "$stage" >"$tmp/source/stage"
rm -f "$zip"
zip=$(realpath "$zip")
(cd "$tmp/source" && zip -qr "$zip" .)
echo "wrote $zip"
