#!/usr/bin/env bash
# Makes sure what the test suite needs is there: Redis on 127.0.0.1:6379 and RabbitMQ on
# 127.0.0.1:5672 (started where installed but not running; how to install them is printed
# where they are not), and the Debian packages the tests use (installed as root where
# missing). Idempotent, and quick when everything is already in place.
set -euo pipefail

REDIS_PORT="${REDIS_PORT:-6379}"
AMQP_PORT="${AMQP_PORT:-5672}"

port_open() { (echo > "/dev/tcp/127.0.0.1/$1") >/dev/null 2>&1; }

wait_port() { # port seconds name
  for _ in $(seq 1 $(( $2 * 10 ))); do port_open "$1" && return 0; sleep 0.1; done
  echo "services: $3 did not open 127.0.0.1:$1 within $2 s" >&2
  return 1
}

ensure_redis() {
  if port_open "$REDIS_PORT"; then echo "services: redis already on 127.0.0.1:$REDIS_PORT"; return; fi
  if ! command -v redis-server >/dev/null; then
    echo "services: redis-server is not installed. Install it with: sudo apt-get install -y redis-server" >&2
    return 1
  fi
  mkdir -p /tmp/switchyard-redis
  redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no \
    --dir /tmp/switchyard-redis --logfile /tmp/switchyard-redis/redis.log
  wait_port "$REDIS_PORT" 10 redis
  echo "services: started redis on 127.0.0.1:$REDIS_PORT"
}

ensure_rabbitmq() {
  if port_open "$AMQP_PORT"; then echo "services: rabbitmq already on 127.0.0.1:$AMQP_PORT"; return; fi
  if ! command -v rabbitmq-server >/dev/null; then
    echo "services: rabbitmq-server is not installed. Install it with: sudo apt-get install -y rabbitmq-server" >&2
    return 1
  fi
  rabbitmq-server -detached
  wait_port "$AMQP_PORT" 90 rabbitmq
  echo "services: started rabbitmq on 127.0.0.1:$AMQP_PORT"
}

# Packages from Debian that tests need. Each `ensure_deb NAME CHECK PACKAGE...` costs only its
# check when the package is there. Missing: as root it runs `apt-get update` (once per run)
# and installs; otherwise it prints the exact command and fails. Later needs (chromium for
# browser tests, say) are one more `ensure_…` function of this form and one more target.
apt_updated=0
ensure_deb() { # name check-function package...
  local name="$1" check="$2"
  shift 2
  if "$check"; then echo "services: $name available"; return; fi
  if [ "$(id -u)" != 0 ]; then
    echo "services: $name is missing. Install it with: sudo apt-get update && sudo apt-get install -y $*" >&2
    return 1
  fi
  echo "services: installing $* for $name"
  if [ "$apt_updated" = 0 ]; then
    apt-get update -qq
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive DEBCONF_NOWARNINGS=yes apt-get install -y -qq "$@" >/dev/null
  if ! "$check"; then
    echo "services: installed $* but $name is still not usable" >&2
    return 1
  fi
  echo "services: installed $*"
}

# The Python worker example and its test run on Debian's interpreter with Debian's pika (a
# pyenv or other python3 earlier on PATH does not see python3-pika).
pika_importable() { /usr/bin/python3 -c 'import pika' >/dev/null 2>&1; }
ensure_python_pika() { ensure_deb "/usr/bin/python3 with pika" pika_importable python3-pika; }

# The browser tests drive Debian's Chromium with playwright-core (test/ops/dashboard.test.ts, test/browser/).
chromium_runs() { [ -x /usr/bin/chromium ] && /usr/bin/chromium --headless --no-sandbox --disable-gpu --version >/dev/null 2>&1; }
ensure_chromium() { ensure_deb "/usr/bin/chromium" chromium_runs chromium; }

case "${1:-all}" in
  redis) ensure_redis ;;
  rabbitmq) ensure_rabbitmq ;;
  python) ensure_python_pika ;;
  chromium) ensure_chromium ;;
  all) ensure_redis; ensure_rabbitmq; ensure_python_pika; ensure_chromium ;;
  *) echo "usage: $0 [redis|rabbitmq|python|chromium|all]" >&2; exit 2 ;;
esac
