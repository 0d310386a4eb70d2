"use strict";
// semver/functions/parse for vscode-languageclient's VS Code version check (see
// build/clientSlim.mjs): semver's strict (default) parse, returning the fields that
// semverSatisfies.js reads, or null for an invalid version.
const NUM = '(0|[1-9]\\d*)';
const ID = '(?:0|[1-9]\\d*|\\d*[a-zA-Z-][a-zA-Z0-9-]*)';
const FULL = new RegExp(`^v?${NUM}\\.${NUM}\\.${NUM}(?:-(${ID}(?:\\.${ID})*))?(?:\\+[0-9A-Za-z-]+(?:\\.[0-9A-Za-z-]+)*)?$`);

function parse(version) {
  if (typeof version === 'object' && version !== null && typeof version.major === 'number') return version;
  if (typeof version !== 'string' || version.length > 256) return null;
  const m = FULL.exec(version.trim());
  if (!m) return null;
  const [major, minor, patch] = [+m[1], +m[2], +m[3]];
  if (major > Number.MAX_SAFE_INTEGER || minor > Number.MAX_SAFE_INTEGER || patch > Number.MAX_SAFE_INTEGER) return null;
  const prerelease = m[4] ? m[4].split('.').map((id) => (/^\d+$/.test(id) && +id <= Number.MAX_SAFE_INTEGER ? +id : id)) : [];
  return { major, minor, patch, prerelease, version: `${major}.${minor}.${patch}${prerelease.length ? `-${prerelease.join('.')}` : ''}` };
}
module.exports = parse;
