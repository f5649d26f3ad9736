import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { parseTimestamptz } from '../../src/store/db.js';

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 1 });
after(() => pool.end());
const pgParse = pg.types.getTypeParser(1184, 'text') as (text: string) => Date | number;

test('timestamptz text as PostgreSQL writes it reads the same as with pg, in any session time zone', async () => {
  // Fractions of every length, offsets with minutes, pre-1900 local mean times (offsets with
  // seconds), years before 1000, BC and infinity: the last ones take pg's own parser.
  const zones = ['UTC', 'Asia/Kolkata', 'America/St_Johns', 'Europe/Amsterdam', 'Pacific/Chatham', 'America/Los_Angeles'];
  const values = [
    `'2026-11-23 16:35:04.123456+00'`, `'2026-11-23 16:35:04+00'`, `'2026-11-23 16:35:04.1+00'`, `'1969-12-31 23:59:59.999+00'`,
    `'1900-01-01 00:00:00+00'`, `'1850-06-01 12:00:00+00'`, `'0999-01-01 00:00:00+00'`, `'0044-03-15 12:00:00+00 BC'`,
    `'9999-12-31 23:59:59.999999+00'`, `'infinity'`, `'-infinity'`,
  ];
  const client = await pool.connect();
  try {
    let compared = 0;
    for (const zone of zones) {
      await client.query(`SET TIME ZONE '${zone}'`);
      const { rows } = await client.query<{ t: string }>({
        text: `SELECT v::text AS t FROM (VALUES ${values.map((v) => `(${v}::timestamptz)`).join(', ')}) x(v)
               UNION ALL SELECT (timestamptz '1000-01-01' + random() * (timestamptz '9999-01-01' - timestamptz '1000-01-01'))::text FROM generate_series(1, 300)`,
      });
      for (const { t } of rows) {
        const mine = parseTimestamptz(t);
        const theirs = pgParse(t);
        assert.equal(mine instanceof Date ? mine.getTime() : mine, theirs instanceof Date ? theirs.getTime() : theirs, `${t} in ${zone}`);
        compared++;
      }
    }
    assert.equal(compared, zones.length * (values.length + 300));
  } finally {
    client.release();
  }
});
