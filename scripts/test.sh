#!/usr/bin/env bash
# The whole test suite, as the README and CI run it: start the services the tests need,
# typecheck, then `bun test`. Ends with one plain "N passed, N failed" line. The gateway
# suite runs on both cluster backends within this one run (each test/gateway file loops over
# them: test/support/backends.ts says why), so the counts include both.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/services.sh all
bun run typecheck

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
set +e
bun test --timeout 30000 "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
passed=$(grep -Eo '^ *[0-9]+ pass$' "$log" | grep -Eo '[0-9]+' | tail -1 || true)
failed=$(grep -Eo '^ *[0-9]+ fail$' "$log" | grep -Eo '[0-9]+' | tail -1 || true)
skipped=$(grep -Eo '^ *[0-9]+ skip$' "$log" | grep -Eo '[0-9]+' | tail -1 || true)
echo "tests: ${passed:-0} passed, ${failed:-0} failed, ${skipped:-0} skipped"
if [ "${passed:-0}" = "0" ] && [ "$status" = "0" ]; then
  echo "tests: no test ran" >&2
  exit 1
fi
exit "$status"
