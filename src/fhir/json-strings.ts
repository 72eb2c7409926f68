// Shared by the linear JSON pre-scans (nesting depth, member count, number texts): skipping a string
// with indexOf keeps a 4 MB string to a few milliseconds instead of a per-character loop.

/** Index of the quote that closes the JSON string whose opening quote is at `open` (or text.length). */
export function endOfString(text: string, open: number): number {
  let q = text.indexOf('"', open + 1);
  while (q !== -1) {
    let backslashes = 0;
    for (let b = q - 1; b > open && text.charCodeAt(b) === 0x5c; b--) backslashes++;
    if (backslashes % 2 === 0) return q;
    q = text.indexOf('"', q + 1);
  }
  return text.length;
}
