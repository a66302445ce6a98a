/** Path of the Chromium executable used by the e2e suite (TOKENRELAY_CHROMIUM overrides). */
export const CHROMIUM: string;
