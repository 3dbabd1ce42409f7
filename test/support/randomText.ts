/**
 * Characters JSON.stringify treats differently: quotes, backslashes, control characters,
 * DEL, line/paragraph separators, a paired surrogate (emoji) and lone surrogates.
 */
export const JSON_SPECIAL = [
  '"',
  '\\',
  '\n',
  '\u0000',
  '\u001f',
  '\u007f',
  '\u2028',
  '😀',
  '\ud800',
  '\udfff',
  'é',
  ' ',
];

/** `length` characters of printable ASCII, each one of `specials` instead at `specialRate`. */
export function randomText(
  random: () => number,
  length: number,
  specialRate: number,
  specials: readonly string[] = JSON_SPECIAL,
): string {
  let text = '';
  for (let i = 0; i < length; i++) {
    text +=
      random() < specialRate
        ? specials[Math.floor(random() * specials.length)]
        : String.fromCharCode(0x20 + Math.floor(random() * 95));
  }
  return text;
}
