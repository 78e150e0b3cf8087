#!/usr/bin/python3
"""
A Switchyard job worker in Python (pika, BlockingConnection): the same wire behaviour as the
TypeScript worker SDK (src/rpc/worker.ts), in one file.

  - Declares the topology exactly as src/amqp/topology.ts does (same types, flags and
    arguments; RabbitMQ refuses a redeclaration that differs with PRECONDITION_FAILED):
      <prefix>.dead          fanout exchange, durable, and a quorum queue bound to it
      <prefix>.jobs          direct exchange, durable
      <prefix>.results       RPC queue, durable, x-dead-letter-exchange <prefix>.dead
      <prefix>.jobs.<method> RPC queue, durable, bound to <prefix>.jobs with key <method>
    where an RPC queue has the deployment's RPC_QUEUE_TYPE (classic by default, or quorum).
  - Validates each job body (src/protocol/job.ts JobSchema); drops malformed jobs and jobs
    past their deadlineMs (acknowledged, no reply: nobody waits for them).
  - Runs the method's handler; a return value becomes a `result` reply, an exception an
    `error` reply (the client gets `job_failed`); ctx.progress() sends `progress` replies.
  - Replies to the job's reply_to queue (default exchange), correlation_id = jobId, with
    the job's own delivery mode (persistent exactly when the job was), on a channel with
    publisher confirms; acknowledges the job only after the
    broker confirmed its reply, so a worker that dies mid-job leaves the job to another.
  - SIGTERM/SIGINT: finishes the job in hand, stops consuming, closes, exits 0. Jobs
    prefetched but not started go back to the queue.

Jobs run one at a time (pika's BlockingConnection is single-threaded); run more processes
for more throughput. Configuration (environment):

  AMQP_URL     amqp://guest:guest@127.0.0.1:5672/
  AMQP_PREFIX  switchyard   (the deployment's AMQP_PREFIX)
  RPC_QUEUE_TYPE classic    (the deployment's RPC_QUEUE_TYPE: classic or quorum)
  METHODS      resize,fail  (comma-separated; each must have a handler in HANDLERS)
  PREFETCH     1            (jobs held unacknowledged per method queue)
  LOG_LEVEL    info
"""

import json
import logging
import os
import signal
import sys
import time

try:
    import pika
    import pika.exceptions
except ImportError:
    # The usual cause: a python3 first on PATH (pyenv, a virtualenv) that is not the one
    # Debian's python3-pika installed into.
    sys.exit(
        f"worker.py: {sys.executable} cannot import pika. Install Debian's package "
        "(sudo apt-get install -y python3-pika) and run: /usr/bin/python3 examples/python-worker/worker.py"
    )

log = logging.getLogger("switchyard.worker")

# JobReplySchema: error.message is at most 2000 UTF-16 code units (a JavaScript string length).
MAX_ERROR_MESSAGE = 2000


# --- handlers ------------------------------------------------------------------------------


class JobContext:
    """What a handler knows about its job, and how it reports progress (cf. JobContext in TS)."""

    def __init__(self, job, attempt, send_progress):
        self.job_id = job["jobId"]
        self.method = job["method"]
        self.app = job["app"]
        self.user_id = job["userId"]
        self.deadline_ms = job["deadlineMs"]
        # 1 on the first delivery; more when the job was redelivered after a worker failed.
        self.attempt = attempt
        self._send_progress = send_progress

    def remaining_ms(self):
        return self.deadline_ms - now_ms()

    def progress(self, data):
        """Sends a progress update to the client (waits for the broker's confirm)."""
        self._send_progress(data)


def resize(params, ctx):
    """{"width": 800, "height": 600, "scale": 0.5} -> {"width": 400, "height": 300}."""
    if not isinstance(params, dict):
        raise ValueError("params must be an object with width, height and scale")
    width, height, scale = params.get("width"), params.get("height"), params.get("scale", 1)
    for name, value in (("width", width), ("height", height), ("scale", scale)):
        if not is_number(value) or value <= 0:
            raise ValueError(f"{name} must be a positive number")
    ctx.progress({"stage": "scaling", "percent": 50})
    return {"width": max(1, round(width * scale)), "height": max(1, round(height * scale))}


def fail(params, ctx):
    """Always raises: shows how an exception reaches the client as a job_failed error."""
    message = params.get("message") if isinstance(params, dict) else None
    raise RuntimeError(message if isinstance(message, str) else "this method always fails")


HANDLERS = {"resize": resize, "fail": fail}


# --- the job wire format ---------------------------------------------------------------------


def now_ms():
    return time.time() * 1000


def delivery_attempt(props, deliver):
    """1 on the first delivery. Quorum queues count deliveries (x-delivery-count); classic
    queues only flag a redelivery, which counts as at least the second attempt."""
    count = (props.headers or {}).get("x-delivery-count")
    if count is not None:
        return int(count) + 1
    return 2 if deliver.redelivered else 1


def is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def is_str(value, min_length=0):
    return isinstance(value, str) and len(value) >= min_length


def parse_job(body):
    """The job as a dict when the body matches JobSchema (v == 1, every field typed), else None."""
    try:
        job = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(job, dict):
        return None
    reply_to = job.get("replyTo")
    valid = (
        is_number(job.get("v"))
        and job["v"] == 1
        and is_str(job.get("jobId"))
        and is_str(job.get("method"), 1)
        and is_str(job.get("app"), 1)
        and (job.get("userId") is None or is_str(job.get("userId")))
        and "userId" in job
        and is_number(job.get("deadlineMs"))
        and isinstance(reply_to, dict)
        and is_str(reply_to.get("sessionId"), 1)
        and is_str(reply_to.get("requestId"), 1)
        and is_str(reply_to.get("instanceId"))
    )
    if not valid:
        return None
    job.setdefault("params", None)
    return job


def utf16_truncate(text, limit):
    """`text` cut to at most `limit` UTF-16 code units (how JavaScript counts string length)."""
    if len(text) <= limit // 2:
        return text
    units = 0
    for i, ch in enumerate(text):
        units += 2 if ord(ch) > 0xFFFF else 1
        if units > limit:
            return text[:i]
    return text


def reply_body(job, kind, payload):
    """A JobReplySchema body: v, kind, jobId, replyTo echoed verbatim, and result/data/error."""
    body = {"v": 1, "kind": kind, "jobId": job["jobId"], "replyTo": job["replyTo"]}
    if kind == "result":
        body["result"] = payload
    elif kind == "progress":
        body["data"] = payload
    else:
        body["error"] = {"message": utf16_truncate(payload, MAX_ERROR_MESSAGE)}
    # allow_nan=False: NaN/Infinity are not JSON, and the bridge would dead-letter the reply.
    return json.dumps(body, allow_nan=False, separators=(",", ":")).encode("utf-8")


# --- the worker --------------------------------------------------------------------------------


class Worker:
    def __init__(self, url, prefix, queue_type, methods, prefetch):
        self.url = url
        self.prefix = prefix
        self.queue_type = queue_type
        self.methods = methods
        self.prefetch = prefetch
        self.stopping = False
        self.stop_signal = None
        self.completed = 0
        self.results_queue = f"{prefix}.results"

    def stop(self, signum, _frame):
        # Only sets a flag: pika is not reentrant, so the loop in serve() stops between jobs
        # (within 0.2 s of the current job's end).
        self.stop_signal = signal.Signals(signum).name
        self.stopping = True

    def declare(self, ch):
        """The topology, declared with exactly the arguments of src/amqp/topology.ts."""
        quorum = {"x-queue-type": "quorum"}
        rpc = {"x-queue-type": self.queue_type}
        dead = f"{self.prefix}.dead"
        jobs = f"{self.prefix}.jobs"
        # declareDead
        ch.exchange_declare(exchange=dead, exchange_type="fanout", durable=True)
        ch.queue_declare(queue=dead, durable=True, arguments=quorum)
        ch.queue_bind(queue=dead, exchange=dead, routing_key="")
        # declareJobs
        ch.exchange_declare(exchange=jobs, exchange_type="direct", durable=True)
        ch.queue_declare(queue=self.results_queue, durable=True, arguments={**rpc, "x-dead-letter-exchange": dead})
        # declareJobQueue, per method
        queues = []
        for method in self.methods:
            queue = f"{jobs}.{method}"
            ch.queue_declare(queue=queue, durable=True, arguments=rpc)
            ch.queue_bind(queue=queue, exchange=jobs, routing_key=method)
            queues.append((method, queue))
        return queues

    def serve(self):
        """Connects and consumes; reconnects with capped backoff until stopped."""
        delay = 0.1
        while not self.stopping:
            connection = None
            try:
                connection = pika.BlockingConnection(pika.URLParameters(self.url))
                ch = connection.channel()
                ch.confirm_delivery()
                ch.basic_qos(prefetch_count=self.prefetch)
                tags = []
                for method, queue in self.declare(ch):
                    handler = HANDLERS[method]
                    callback = lambda c, d, p, b, handler=handler: self.on_job(c, d, p, b, handler)
                    tags.append(ch.basic_consume(queue=queue, on_message_callback=callback))
                log.info("worker ready: consuming %s", ", ".join(f"{self.prefix}.jobs.{m}" for m in self.methods))
                delay = 0.1
                while not self.stopping:
                    connection.process_data_events(time_limit=0.2)
                log.info("%s received; stopping", self.stop_signal)
                for tag in tags:
                    ch.basic_cancel(tag)
                # Closing returns the jobs prefetched but not started to the queue.
                connection.close()
                return
            except pika.exceptions.AMQPChannelError as error:
                # PRECONDITION_FAILED (a declaration that differs from the gateway's), ACCESS_REFUSED, ...
                log.error("channel error, giving up: %s", error)
                raise SystemExit(1)
            except pika.exceptions.AMQPConnectionError as error:
                if self.stopping:
                    return
                log.warning("connection lost (%s); reconnecting in %.1f s", error or type(error).__name__, delay)
                wait_until = time.monotonic() + delay
                while not self.stopping and time.monotonic() < wait_until:
                    time.sleep(0.05)
                delay = min(delay * 2, 5.0)
            finally:
                if connection is not None and connection.is_open:
                    try:
                        connection.close()
                    except pika.exceptions.AMQPError:
                        pass

    def on_job(self, ch, deliver, props, body, handler):
        if self.stopping:
            # Not started: it goes back to the queue when the channel closes.
            return
        job = parse_job(body)
        if job is None:
            log.warning("malformed job dropped (message_id %s)", props.message_id)
            ch.basic_ack(deliver.delivery_tag)
            return
        if job["deadlineMs"] <= now_ms():
            log.info("job %s is past its deadline; dropped", job["jobId"])
            ch.basic_ack(deliver.delivery_tag)
            return
        reply_queue = props.reply_to or self.results_queue
        attempt = delivery_attempt(props, deliver)
        delivery_mode = props.delivery_mode or 1

        def publish(reply):
            # Blocks until the broker confirms (confirm_delivery); raises NackError if it refuses.
            ch.basic_publish(
                exchange="",
                routing_key=reply_queue,
                body=reply,
                properties=pika.BasicProperties(content_type="application/json", correlation_id=job["jobId"], delivery_mode=delivery_mode),
            )

        ctx = JobContext(job, attempt, lambda data: publish(reply_body(job, "progress", data)))
        try:
            try:
                reply = reply_body(job, "result", handler(job["params"], ctx))
            except pika.exceptions.AMQPError:
                raise
            except Exception as error:  # noqa: BLE001 - any handler failure (or an unserialisable result) is the job's error
                log.info("job %s (%s) failed: %s", job["jobId"], job["method"], error)
                reply = reply_body(job, "error", str(error) or type(error).__name__)
            publish(reply)
        except pika.exceptions.NackError:
            # The broker refused a reply: give the job back for another attempt.
            log.warning("a reply to job %s was refused by the broker; job requeued", job["jobId"])
            ch.basic_nack(deliver.delivery_tag, requeue=True)
            return
        # Acknowledged only now that the reply is confirmed. (A lost connection raises out of
        # here: the job stays unacknowledged and the broker redelivers it.)
        ch.basic_ack(deliver.delivery_tag)
        self.completed += 1


def main():
    logging.basicConfig(
        level=os.environ.get("LOG_LEVEL", "info").upper(),
        format="%(asctime)s %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("pika").setLevel(logging.WARNING)
    url = os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
    prefix = os.environ.get("AMQP_PREFIX", "switchyard")
    methods = [m.strip() for m in os.environ.get("METHODS", ",".join(HANDLERS)).split(",") if m.strip()]
    unknown = [m for m in methods if m not in HANDLERS]
    if not methods or unknown:
        log.error("METHODS must name handlers among %s; unknown: %s", ", ".join(HANDLERS), ", ".join(unknown) or "(none given)")
        return 1
    try:
        prefetch = int(os.environ.get("PREFETCH", "1"))
        if not 1 <= prefetch <= 65535:
            raise ValueError
    except ValueError:
        log.error("PREFETCH must be an integer from 1 to 65535")
        return 1
    queue_type = os.environ.get("RPC_QUEUE_TYPE", "classic")
    if queue_type not in ("classic", "quorum"):
        log.error("RPC_QUEUE_TYPE must be classic or quorum")
        return 1
    worker = Worker(url, prefix, queue_type, methods, prefetch)
    signal.signal(signal.SIGTERM, worker.stop)
    signal.signal(signal.SIGINT, worker.stop)
    worker.serve()
    log.info("worker stopped after %d jobs", worker.completed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
