// The browser the e2e suite and the demo checks use: Debian's chromium (Playwright's own browsers
// cannot be downloaded here). TOKENRELAY_CHROMIUM overrides the path.
export const CHROMIUM = process.env.TOKENRELAY_CHROMIUM || '/usr/bin/chromium';
