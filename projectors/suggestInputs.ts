import type { SuggestInput } from '../schemas/documents.ts';

/**
 * Most inputs one document gives its `suggest` field: the whole text and up to nine
 * suffixes. Every input is a path in the completion FST (held in memory per segment), so
 * a long headline must not multiply it by its word count.
 */
export const MAX_SUGGEST_INPUTS = 10;

/**
 * Words a suffix never starts at: someone typing "the" or "of" is not looking for the
 * rest of a headline from there, and skipping them keeps the FST small.
 */
const STOP_WORDS = new Set(['a', 'an', 'and', 'as', 'at', 'by', 'for', 'in', 'of', 'on', 'or', 'the', 'to']);

/** A word worth starting a suggestion at: two or more letters or digits, not a stop word. */
function startsSuggestion(word: string): boolean {
  const core = word.replace(/^[^\p{L}\p{N}]+|[^\p{L}\p{N}]+$/gu, '');
  return [...core].length >= 2 && !STOP_WORDS.has(core.toLowerCase());
}

/**
 * The inputs of a `completion` field that completes `text` from the start of any word in
 * it, not only from its first: "Abraham Lincoln" gives the whole name and "Lincoln", so
 * typing "linc" finds it. The whole text has weight 2 and the suffixes weight 1: a
 * document whose text starts with what was typed ranks above one where it starts a
 * later word. Pure; an empty text gives no inputs. At most `max` inputs (the whole text
 * and the suffixes from the earliest words).
 */
export function suggestInputs(text: string, max = MAX_SUGGEST_INPUTS): SuggestInput[] {
  const words = text.trim().split(/\s+/).filter(Boolean);
  if (words.length === 0) return [];
  const whole = words.join(' ');
  const suffixes: string[] = [];
  for (let i = 1; i < words.length && suffixes.length < max - 1; i++) {
    if (startsSuggestion(words[i]!)) suffixes.push(words.slice(i).join(' '));
  }
  return suffixes.length === 0
    ? [{ input: [whole], weight: 2 }]
    : [
        { input: [whole], weight: 2 },
        { input: suffixes, weight: 1 },
      ];
}
