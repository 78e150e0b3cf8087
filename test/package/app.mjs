// An app that installed switchyard as a dependency: imports the entry points by package name
// and uses both, in whichever runtime runs it (Node or Bun). Prints one JSON line.
// Arguments: <gateway ws URL> <app> <amqp URL> <AMQP prefix> <method>.
import { SwitchyardClient } from 'switchyard/client';
import { createWorker } from 'switchyard/worker';

const [url, app, amqpUrl, prefix, method] = process.argv.slice(2);
const runtime = typeof Bun === 'undefined' ? `node ${process.version}` : `bun ${Bun.version}`;

const worker = await createWorker({
  url: amqpUrl,
  prefix,
  methods: {
    [method]: async (params, ctx) => {
      await ctx.progress({ step: 1 });
      return { params, runtime };
    },
  },
});
const client = new SwitchyardClient({ urls: [url], app });
let resolveMessage;
const message = new Promise((resolve) => (resolveMessage = resolve));
await client.subscribe('package-test', (m) => resolveMessage(m.data));
await client.publish('package-test', { from: runtime });
const progress = [];
const result = await client.rpc(method, { n: 1 }, { onProgress: (p) => progress.push(p), timeoutMs: 15000 });
console.log(JSON.stringify({ runtime, message: await message, result, progress }));
client.close();
await worker.stop();
process.exit(0);
