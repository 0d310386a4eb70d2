/**
 * Checks of the Prometheus text exposition format (0.0.4) for the metrics tests: every sample
 * line is `name{labels} value` (the check the manager's metrics tests make), every family is
 * declared by HELP and TYPE before its samples and its samples come together, and a
 * summary's samples are its quantiles, `_sum` and `_count`.
 */
import assert from 'node:assert/strict';

export function assertPrometheusText(text: string): void {
  assert.ok(text.endsWith('\n'), 'the text ends with a line feed');
  const types = new Map<string, string>();
  const finished = new Set<string>();
  let current: string | undefined;
  for (const line of text.trim().split('\n')) {
    const meta = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.+)$/.exec(line);
    if (meta) {
      const [, kind, name, rest] = meta;
      if (kind === 'TYPE') {
        assert.match(rest!, /^(counter|gauge|summary|histogram|untyped)$/, line);
        assert.ok(!types.has(name!), `family ${name} declared twice`);
        types.set(name!, rest!);
      }
      if (current !== name) {
        if (current) finished.add(current);
        assert.ok(!finished.has(name!), `family ${name} is split: ${line}`);
        current = name;
      }
      continue;
    }
    assert.ok(!line.startsWith('#'), `a comment the format does not know: ${line}`);
    assert.match(line, /^[a-z_]+(\{[^}]*\})? [-+0-9.eInfNa]+$/, line);
    const name = /^[a-z_]+/.exec(line)![0];
    const family = types.has(name) ? name : name.replace(/_(sum|count)$/, '');
    assert.ok(types.has(family), `sample ${line} of no declared family`);
    assert.equal(family, current, `sample ${line} outside its family's block`);
    if (types.get(family) === 'summary' && family === name) assert.match(line, /quantile="[0-9.]+"/, `a summary's own samples are quantiles: ${line}`);
    if (family !== name) assert.equal(types.get(family), 'summary', `${line}: _sum and _count belong to a summary`);
  }
}

/** The value of one sample (`name{labels}` exactly as written), failing when it is not in the text. */
export function sample(text: string, series: string): number {
  const m = new RegExp(`^${series.replace(/[{}.()"+\\[\]]/g, (c) => `\\${c}`)} (\\S+)$`, 'm').exec(text);
  assert.ok(m, `no sample ${series} in:\n${text}`);
  return Number(m[1]);
}
