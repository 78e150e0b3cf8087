/** Reads a gateway's or the bridge's /metrics (Prometheus text format) for assertions. */

/** Every sample line as `name{labels}` -> value. */
export async function scrape(http: string): Promise<Map<string, number>> {
  const text = await (await fetch(`${http}/metrics`)).text();
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    out.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return out;
}

/** One sample (`name` or `name{label="value",…}` exactly as exposed), or null when absent. */
export async function metricValue(http: string, sample: string): Promise<number | null> {
  return (await scrape(http)).get(sample) ?? null;
}
