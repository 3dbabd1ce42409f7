import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isDateTime } from '../../schemas/dateTime.ts';

const PATTERN = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;
/** What isDateTime replaced: the pattern, then whatever Date.parse makes of it. */
const reference = (value: string) => PATTERN.test(value) && !Number.isNaN(Date.parse(value));

test('isDateTime accepts exactly what the pattern plus Date.parse accepted, over every edge of every field', () => {
  const dates = ['0000-01-01', '1900-02-29', '2023-02-29', '2024-02-30', '2024-04-31', '9999-12-31'];
  for (const month of ['00', '01', '09', '10', '12', '13', '19', '99'])
    for (const day of ['00', '01', '28', '29', '30', '31', '32', '39', '99'])
      dates.push(`2024-${month}-${day}`);
  const times: string[] = [];
  for (const hour of ['00', '09', '23', '24', '25', '99'])
    for (const minute of ['00', '01', '59', '60', '99']) {
      times.push(`${hour}:${minute}`);
      for (const second of ['00', '01', '59', '60', '99']) {
        times.push(`${hour}:${minute}:${second}`);
        for (const fraction of ['0', '000', '000000000', '001', '5', '100000000', '0000000001', '1234'])
          times.push(`${hour}:${minute}:${second}.${fraction}`);
      }
    }
  const zones = [
    'Z',
    '+00:00',
    '-00:00',
    '+01:30',
    '-12:00',
    '+23:59',
    '+24:00',
    '-00:60',
    '+99:99',
    'z',
    '',
  ];
  let checked = 0;
  let accepted = 0;
  for (const date of dates)
    for (const time of times)
      for (const zone of zones) {
        const value = `${date}T${time}${zone}`;
        assert.equal(isDateTime(value), reference(value), value);
        checked++;
        if (reference(value)) accepted++;
      }
  for (const value of [
    '',
    'x',
    '2024-01-01',
    '2024-01-01T00:00:00',
    '2024-1-01T00:00:00Z',
    ' 2024-01-01T00:00Z',
  ])
    assert.equal(isDateTime(value), reference(value), value);
  assert.ok(checked > 100_000 && accepted > 10_000 && accepted < checked, `${accepted} of ${checked}`);
});
