/**
 * Soda's named formats (issue 15) accept and reject exactly the values of Soda Core v3's own
 * vectors: soda/core/tests/data_source/test_formats.py::test_formats (tag v3.5.6), run here
 * end to end: a `valid format` check per format over those values in PostgreSQL.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgExecutor } from '#dq/adapters/pg-executor.js';
import { runScan } from '#dq/core/runner.js';
import { createTestDatabase } from '../support/database.js';

const VECTORS: Record<string, { pass: string[]; fail: string[] }> = {
  email: {
    pass: ['info@soda.io', 'some+email@gmail.com', 'a@b.be'],
    fail: ['', 'a', ' ', '1.5', '4,2', '@@@@@'],
  },
  integer: {
    pass: ['0', '1234567890', '-0', '- 1234567890', '+0', '+1'],
    fail: ['', 'a', ' ', '1.5', '4,2'],
  },
  'positive integer': {
    pass: ['0', '1234567890', '+0', '+1'],
    fail: ['', 'a', ' ', '-0', '- 1234567890'],
  },
  'negative integer': {
    pass: ['0', '-0', '- 1234567890'],
    fail: ['', 'a', ' ', '1234567890', '+0', '+1'],
  },
  percentage: {
    pass: ['0%', ' 0 % ', '- 0 %', '+ 0 %', '010%', '0.0 %', '0,0  %', '.0 %', ',0 %', '99.99%'],
    fail: ['', ' ', '%', 'a %', '0', '0.0'],
  },
  'date us': {
    pass: [
      '1/1/2020',
      '01/06/2020',
      '12/31/1925',
      '11-13-1981',
      '9-05-2000',
      '11-10-2020',
      '06-14-1899',
      '07-04-1776',
      '08-15-1620',
      '09-20-1519',
      '01-01-2100',
      '01-01-1899',
    ],
    fail: [
      '',
      ' ',
      'a',
      '1/1/2020 12:00:00',
      '1/1/2020 12:00',
      '13/11/1981',
      '31-12-1925',
      '07-00-2021',
      '00-25-2019',
      '02-14-999',
    ],
  },
  'date eu': {
    pass: ['1/1/2020', '01/06/2020', '31/12/1925', '13-11-1981', '9-05-2000'],
    fail: ['', ' ', 'a', '1/1/2020 12:00:00', '1/1/2020 12:00', '11-13-1981', '12/31/1925'],
  },
  'date inverse': {
    pass: ['2020/1/1', '2020/01/06', '1925-12-31', '1981-11-13', '2000/9/05'],
    fail: ['', ' ', 'a', '2020/1/1 12:00:00', '2020/1/1 12:00', '1981-13-11', '1925/31/12'],
  },
  'date iso 8601': {
    pass: [
      '2020-02-08',
      '2020-W06-5',
      '2020-039',
      '20200208',
      '2020W065',
      '2020W06',
      '2020039',
      '2020-02-08T09',
      '2020-02-08 09',
      '2020-02-08 09:30',
      '2020-02-08 09:30:26',
      '2020-02-08 09:30:26.123',
      '20200208T080910,123',
      '20200208T080910.123',
      '20200208T080910',
      '20200208T0809',
      '20200208T08',
      '2020-W06-5 09',
      '2020-039 09',
      '2020-02-08 09+07:00',
      '2020-02-08 09-0100',
      '2020-02-08 09Z',
      '2020-04-30',
      '2020-04-30T00:00:00.000',
      '2020-10-11 11:34',
      '2100-01-01 14:36',
      '1899-01-01 21:55',
      '1623-10-11T10:10:10.0000+01:00',
    ],
    fail: ['', ' ', 'a', '9999-01-01', '2000-13-01', '2000-01-32', '2020-10-11 90:34', '2100-01-01 14:67'],
  },
};

let client: pg.Client;

beforeAll(async () => {
  client = new pg.Client({ connectionString: await createTestDatabase('dq_formats') });
  await client.connect();
  await client.query('CREATE TABLE vectors (format text, v text, soda_accepts boolean)');
  for (const [format, { pass, fail }] of Object.entries(VECTORS)) {
    for (const [values, accepts] of [
      [pass, true],
      [fail, false],
    ] as const) {
      for (const v of values) await client.query('INSERT INTO vectors VALUES ($1, $2, $3)', [format, v, accepts]);
    }
  }
});

afterAll(async () => {
  await client?.end();
});

describe("Soda's named formats", () => {
  it.each(Object.keys(VECTORS))('"%s" accepts and rejects exactly Soda\'s vectors', async (format) => {
    const acceptedAreValid = `  - invalid_count(v) = 0:
      name: accepted
      valid format: ${format}
      filter: format = '${format}' AND soda_accepts`;
    const rejectedAreInvalid = `  - valid_count(v) = 0:
      name: rejected values are never valid
      valid format: ${format}
      filter: format = '${format}' AND NOT soda_accepts`;
    const result = await runScan({
      files: [{ path: 'formats.yml', text: `checks for vectors:\n${acceptedAreValid}\n${rejectedAreInvalid}\n` }],
      executor: pgExecutor(client),
    });
    expect(result.errors).toEqual([]);
    const accepted = result.results.find((r) => r.name === 'accepted');
    const rejected = result.results.find((r) => r.name === 'rejected values are never valid');
    // Soda's passing values: no invalid one. Its failing values: none counted valid.
    expect([accepted?.value, accepted?.outcome]).toEqual([0, 'pass']);
    expect([rejected?.value, rejected?.outcome]).toEqual([0, 'pass']);
  });

  it('the vectors do tell formats apart (a rejected value really is counted invalid)', async () => {
    const result = await runScan({
      files: [
        {
          path: 'formats.yml',
          text: "checks for vectors:\n  - invalid_count(v) = 5:\n      valid format: email\n      filter: format = 'email' AND NOT soda_accepts AND v <> ''\n",
        },
      ],
      executor: pgExecutor(client),
    });
    // Only NULL is missing, so every rejected email but the filtered-out '' counts: 'a', ' ', '1.5', '4,2', '@@@@@'.
    expect([result.results[0]?.value, result.results[0]?.outcome]).toEqual([5, 'pass']);
  });
});
