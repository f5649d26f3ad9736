import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { serializePayload } from '../../src/core/validate.js';
import { KairosValidationError } from '../../src/core/errors.js';

const nested = (depth: number, inner: unknown): unknown => (depth === 0 ? inner : [nested(depth - 1, inner)]);

test('payloads at the limits: a sparse array, an empty object 100 levels deep, one level deeper', () => {
  // eslint-disable-next-line no-sparse-arrays
  assert.equal(serializePayload([, 1]), '[null,1]');
  assert.equal(serializePayload(nested(100, {})), `${'['.repeat(100)}{}${']'.repeat(100)}`);
  assert.throws(() => serializePayload(nested(101, 1)), /nested at most 100/);
  const circular: Record<string, unknown> = { a: 1 };
  circular.self = circular;
  assert.throws(() => serializePayload(circular), /circular/);
  assert.throws(() => serializePayload({ a: [1, { b: new Date(0) }] }), (e: KairosValidationError) => e.field === 'payload.a[1].b' && /plain object/.test(e.message));
});

test('any JSON value is accepted as JSON.stringify writes it', () => {
  fc.assert(fc.property(fc.jsonValue(), (value) => serializePayload(value) === JSON.stringify(value)), { numRuns: 500 });
});

test('anything else is accepted or refused with a message that names the problem', () => {
  fc.assert(
    fc.property(fc.anything({ withDate: true, withMap: true, withBigInt: true, withNullPrototype: true, withSparseArray: true, withBoxedValues: true }), (value) => {
      try {
        serializePayload(value);
      } catch (error) {
        assert.ok(error instanceof KairosValidationError, String(error));
        // The quick check and the walk that names the path must agree on what is wrong.
        assert.doesNotMatch(error.message, /to be a plain JSON value$/);
      }
    }),
    { numRuns: 1000 },
  );
});
