/** For the tests of the bundles' library conversions (build/clientSlim.mjs, build/serverSlim.mjs). */
import assert from 'node:assert/strict';

type Lib = Record<string, any>;

/** Asserts that `slim` exports what `full` exports, in the same shapes (functions' arity, name and own properties; objects' keys; values). */
export function assertSameExports(full: Lib, slim: Lib): void {
  assert.deepEqual(Object.keys(slim).sort(), Object.keys(full).sort());
  // esbuild may rename a class or function to avoid a clash (Foo2, _Foo).
  const baseName = (n: string) => n.replace(/^_+/, '').replace(/\d+$/, '');
  for (const [k, a] of Object.entries(full)) {
    const b = slim[k];
    assert.equal(typeof b, typeof a, k);
    if (typeof a === 'function') {
      assert.equal(b.length, a.length, `${k}.length`);
      assert.equal(baseName(b.name), baseName(a.name), `${k}.name`);
      assert.deepEqual(Object.getOwnPropertyNames(b).sort(), Object.getOwnPropertyNames(a).sort(), `${k}'s own properties (strict mode too)`);
    } else if (typeof a === 'object' && a !== null) {
      assert.deepEqual(Object.keys(b).sort(), Object.keys(a).sort(), `${k}'s members`);
    } else {
      assert.equal(b, a, k);
    }
  }
}
