// The base of the feature stubs of build/clientSlim.mjs: a static feature that advertises no
// client capability. Should the server still offer the capability the real feature would have
// served, it says so in the client's output channel rather than leaving it unexplained.
class StubFeature {
  constructor(client, name, capability) {
    this._client = client;
    this._name = name;
    this._capability = capability;
  }
  getState() {
    return { kind: 'static' };
  }
  fillClientCapabilities() {}
  initialize(capabilities) {
    let v = capabilities;
    for (const k of this._capability.split('.')) v = v == null ? undefined : v[k];
    if (v != null && v !== false) {
      this._client.warn(`The server offers ${this._capability}, which this build of the client leaves out (${this._name}).`, undefined, false);
    }
  }
  clear() {}
}
export { StubFeature };
