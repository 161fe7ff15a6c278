// Escaping for the XML reports (JUnit): text and attribute values, so a server's reply, a
// threshold expression or a transcript can never break the document.

import { escapeControl } from "./visible.js";

// XML 1.0 forbids most control characters even when escaped; make them visible instead.
// eslint-disable-next-line no-control-regex
const ILLEGAL = /[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]/g;

function clean(s: string): string {
  return s.replace(ILLEGAL, escapeControl);
}

/** Character data (element content). */
export function xmlText(s: string): string {
  return clean(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** An attribute value in double quotes; line breaks and tabs survive as character references. */
export function xmlAttr(s: string): string {
  return xmlText(s).replace(/"/g, "&quot;").replace(/\n/g, "&#10;").replace(/\r/g, "&#13;").replace(/\t/g, "&#9;");
}
