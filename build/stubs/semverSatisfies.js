"use strict";
// semver/functions/satisfies for vscode-languageclient's VS Code version check (see
// build/clientSlim.mjs), which only ever passes a caret range `^X.Y.Z` with X >= 1: that is
// `>=X.Y.Z <(X+1).0.0-0`, and a version with a prerelease only matches within X.Y.Z (semver's
// default, includePrerelease off). Any other range is refused rather than guessed.
const parse = require('./semverParse.js');

function satisfies(version, range) {
  const r = /^\^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$/.exec(range);
  if (!r || +r[1] === 0) throw new TypeError(`semver stub: unsupported range ${range}`);
  const v = parse(version);
  if (!v) return false;
  const [X, Y, Z] = [+r[1], +r[2], +r[3]];
  if (v.major !== X) return false;
  // A prerelease of X.Y.Z is below X.Y.Z, and prereleases of other versions are excluded.
  if (v.prerelease.length) return false;
  if (v.minor !== Y) return v.minor > Y;
  return v.patch >= Z;
}
module.exports = satisfies;
