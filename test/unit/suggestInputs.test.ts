import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_SUGGEST_INPUTS, suggestInputs } from '../../projectors/suggestInputs.ts';

describe('suggestInputs', () => {
  it('gives the whole text (weight 2) and the suffix from each later word (weight 1)', () => {
    assert.deepEqual(suggestInputs('Abraham Lincoln'), [
      { input: ['Abraham Lincoln'], weight: 2 },
      { input: ['Lincoln'], weight: 1 },
    ]);
    assert.deepEqual(suggestInputs('  Cher '), [{ input: ['Cher'], weight: 2 }]);
    assert.deepEqual(suggestInputs('   '), []);
  });

  it('starts no suffix at a stop word or a word of fewer than two letters or digits', () => {
    const [, suffixes] = suggestInputs('State of the Union Address, 1862: Abraham Lincoln (part 5)');
    assert.deepEqual(suffixes!.input, [
      'Union Address, 1862: Abraham Lincoln (part 5)',
      'Address, 1862: Abraham Lincoln (part 5)',
      '1862: Abraham Lincoln (part 5)',
      'Abraham Lincoln (part 5)',
      'Lincoln (part 5)',
      '(part 5)',
    ]);
  });

  it('caps the inputs of a long headline, keeping the suffixes from the earliest words', () => {
    const words = Array.from({ length: 40 }, (_, i) => `word${i}`);
    const inputs = suggestInputs(words.join(' '));
    const all = inputs.flatMap((i) => i.input);
    assert.equal(all.length, MAX_SUGGEST_INPUTS);
    assert.equal(all[1], words.slice(1).join(' '));
    assert.equal(all.at(-1), words.slice(MAX_SUGGEST_INPUTS - 1).join(' '));
  });
});
