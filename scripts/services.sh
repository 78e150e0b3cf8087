#!/usr/bin/env bash
# Makes sure the services the test suite talks to are running on loopback: Redis on
# 127.0.0.1:6379 and RabbitMQ on 127.0.0.1:5672. Starts them where they are installed but
# not running; says how to install them where they are not. Idempotent.
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

# Optional: the Python worker example's test runs where pika is importable and is skipped
# (saying so) where it is not.
ensure_python_pika() {
  if python3 -c 'import pika' 2>/dev/null || /usr/bin/python3 -c 'import pika' 2>/dev/null; then
    echo "services: python3 pika available"
    return
  fi
  echo "services: python3-pika is not installed; test/rpc/pythonWorker.test.ts will be skipped. Install it with: sudo apt-get install -y python3-pika" >&2
}

case "${1:-all}" in
  redis) ensure_redis ;;
  rabbitmq) ensure_rabbitmq ;;
  all) ensure_redis; ensure_rabbitmq; ensure_python_pika ;;
  *) echo "usage: $0 [redis|rabbitmq|all]" >&2; exit 2 ;;
esac
