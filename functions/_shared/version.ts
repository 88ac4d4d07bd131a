/** The release of Latchkey this code is; `/version` reports it. */
export const latchkeyVersion = "0.1.0";
