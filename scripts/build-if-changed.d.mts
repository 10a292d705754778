/** Where the fingerprint of the inputs of the last successful build is kept. */
export function stampPath(root: string): string
/** A SHA-256 over every build input's path and content, in a stable order. */
export function inputsFingerprint(root: string): string
/** True when dist/ was built from exactly the inputs on disk now. */
export function isBuildCurrent(root: string): boolean
/** Notes the inputs on disk as the ones a build starting now builds from (`npm run build` starts with this). */
export function beginBuild(root: string): void
/** Records that dist/ was built from the inputs noted by beginBuild, or else those on disk now (`npm run build` ends with this). */
export function recordBuild(root: string): void
/** True when the tools `npm run build` needs are installed (not on a production install). */
export function buildToolsInstalled(root: string): boolean
/**
 * Builds when out of date and records the inputs it built from; returns whether it built. Without
 * the build tools (`canBuild` false) it runs the build in dist/ as it is, and throws when there is none.
 */
export function buildIfChanged(
  root: string,
  run?: (cmd: string, args: string[]) => { status: number | null },
  options?: { canBuild?: boolean },
): boolean
