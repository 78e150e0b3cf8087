#!/usr/bin/env bash
# The full protocol fuzz run (`bun run fuzz`): FUZZ_CASES cases (default 10,000) on a fresh
# random seed unless FUZZ_SEED is set, against a real gateway process on Redis, with RabbitMQ
# for jobs. Prints the seed first, so that a failing run can be repeated exactly:
#   FUZZ_SEED=<seed> FUZZ_CASES=<n> bun run fuzz
# What is sent and judged: test/fuzz/runner.ts; the figures: docs/security.md, Testing.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/services.sh redis >/dev/null
bash scripts/services.sh rabbitmq >/dev/null

export FUZZ_CASES="${FUZZ_CASES:-10000}"
export FUZZ_SEED="${FUZZ_SEED:-$(( (RANDOM << 17) ^ (RANDOM << 2) ^ RANDOM ))}"
echo "fuzz: FUZZ_SEED=$FUZZ_SEED FUZZ_CASES=$FUZZ_CASES"
exec bun test --timeout 30000 test/fuzz/protocol.fuzz.test.ts
