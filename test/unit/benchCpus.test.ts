import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseCpuList } from '../../scripts/bench/cpus.ts';

describe('bench CPU lists', () => {
  it('reads CPUs and ranges as taskset -c does, sorted and without repeats', () => {
    const allowed = [0, 1, 2, 3, 4, 5];
    assert.deepEqual(parseCpuList('0', allowed), [0]);
    assert.deepEqual(parseCpuList('3,1', allowed), [1, 3]);
    assert.deepEqual(parseCpuList('1-3,2, 5', allowed), [1, 2, 3, 5]);
  });

  it('says which part is wrong', () => {
    assert.throws(() => parseCpuList('0,x', [0, 1]), /"x" is not a CPU or a range/);
    assert.throws(() => parseCpuList('', [0, 1]), /"" is not a CPU or a range/);
    assert.throws(() => parseCpuList('3-1', [0, 1, 2, 3]), /range 3-1 is backwards/);
    assert.throws(() => parseCpuList('0-2', [0, 1]), /CPU 2 is not one this process may use \(0,1\)/);
  });
});
