#!/usr/bin/env bash
# Builds a Gradescope autograder zip for one stage from the reference tree:
#
#   grader/gradescope/make_autograder.sh check2 /tmp/check2-autograder.zip
#
# The zip holds the whole starter tree (the reference with every solution
# stubbed out, so it can be shared with TAs), the stage name, and setup.sh
# and run_autograder at its root, as Gradescope wants them. Every stage
# gets the whole starter: check0 already runs webget in internal/interop,
# which links every lab; run_autograder puts in a submission's own code
# only for the labs the stage grades.
set -euo pipefail

usage="usage: make_autograder.sh check0..check4|all OUT.zip"
stage=${1:?$usage}
zip=${2:?$usage}
case $stage in
check[0-4] | all) ;;
*) echo "unknown stage $stage ($usage)" >&2; exit 2 ;;
esac

root=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$root" && go run ./cmd/mkstarter -out "$tmp/source" >/dev/null)
cp "$root/grader/gradescope/setup.sh" "$root/grader/gradescope/run_autograder" "$tmp/source/"
echo "$stage" >"$tmp/source/stage"
rm -f "$zip"
zip=$(realpath "$zip")
(cd "$tmp/source" && zip -qr "$zip" .)
echo "wrote $zip"
