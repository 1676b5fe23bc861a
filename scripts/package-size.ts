/**
 * The tarball's size as the changelog states it, held to what `npm pack`
 * measures: scripts/check-package.ts fails when the changelog's figures are
 * more than SIZE_CLAIM_TOLERANCE off, naming both, so the stated size cannot
 * go stale silently. test/package.test.ts checks the reading and the
 * comparison.
 */

/** How far the changelog's figure may be from the measured size: a fraction of the measured size. */
export const SIZE_CLAIM_TOLERANCE = 0.1;

/** Sizes in bytes. */
export interface PackageSizes {
  packed: number;
  unpacked: number;
}

/** Bytes in kB of 1,000 bytes, as npm prints them: `95.0 kB`. */
export function kb(bytes: number): string {
  return `${(bytes / 1000).toFixed(1)} kB`;
}

/** The sentence that states the size: "The tarball is 95 kB packed and 330 kB unpacked". */
const CLAIM = /The tarball is (\d+(?:\.\d+)?) kB packed and (\d+(?:\.\d+)?) kB unpacked/g;

/** The size the changelog states (kB of 1,000 bytes, as npm prints them); throws unless it states exactly one. */
export function changelogSizeClaim(markdown: string): PackageSizes {
  const claims = [...markdown.replace(/\s+/g, ' ').matchAll(CLAIM)];
  if (claims.length !== 1) {
    throw new Error(`CHANGELOG.md states the tarball's size ${claims.length} times; expected one "The tarball is N kB packed and N kB unpacked"`);
  }
  const [, packed = '', unpacked = ''] = claims[0] ?? [];
  return { packed: Number(packed) * 1000, unpacked: Number(unpacked) * 1000 };
}

/** What is wrong with the stated sizes against the measured ones, one line each (empty: both within the tolerance). */
export function sizeClaimProblems(claimed: PackageSizes, measured: PackageSizes, tolerance = SIZE_CLAIM_TOLERANCE): string[] {
  return (['packed', 'unpacked'] as const)
    .filter((which) => Math.abs(claimed[which] - measured[which]) > measured[which] * tolerance)
    .map(
      (which) =>
        `CHANGELOG.md says the tarball is ${kb(claimed[which])} ${which}, npm pack measured ${kb(measured[which])} ` +
        `(more than ${tolerance * 100} % apart): update the changelog's "The tarball is … kB packed and … kB unpacked"`,
    );
}
