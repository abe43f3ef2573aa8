/**
 * Which link targets the editor accepts, whether typed, pasted or received from another client
 * (FM-3.6). Only web, mail and phone links, and relative ones; `javascript:`, `data:`,
 * `vbscript:` and every other scheme are refused. Whitespace and control characters are removed
 * first, as browsers ignore them inside a scheme ("java\tscript:" is still javascript:).
 */
const ALLOWED_SCHEMES = new Set(['http', 'https', 'mailto', 'tel']);

// eslint-disable-next-line no-control-regex
const IGNORED_IN_SCHEME = /[\u0000-\u0020\u007f-\u00a0\u1680\u180e\u2000-\u200f\u2028\u2029\u205f\u3000\ufeff]/g;

export function isSafeHref(raw: string | null | undefined): boolean {
  if (typeof raw !== 'string') return false;
  const s = raw.replace(IGNORED_IN_SCHEME, '');
  if (!s) return false;
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(s);
  if (!scheme) return true; // a relative URL: same origin, no scheme to abuse
  return ALLOWED_SCHEMES.has(scheme[1].toLowerCase());
}

/** What a user typed into the link box, made into an href: "example.com" → "https://example.com". */
export function normalizeHref(input: string): string | null {
  const s = input.trim();
  if (!s) return null;
  const withScheme = /^[a-z][a-z0-9+.-]*:/i.test(s) || s.startsWith('/') || s.startsWith('#') ? s : /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(s) ? `mailto:${s}` : `https://${s}`;
  return isSafeHref(withScheme) ? withScheme : null;
}
