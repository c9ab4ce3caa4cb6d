// Real rows from examples/data (REES46 clickstream, UCI Online Retail) through the CSV reader
// and the normaliser, with mappings like the one in lib/event/mapping.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createReadStream, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createNormalizer, normalizeEvent } from '../../lib/event/normalize.js';
import type { SourceMapping } from '../../lib/event/mapping.js';
import type { TributaryEvent } from '../../lib/event/event.js';
import { parseCsv, readCsv } from '../../lib/serde/csv.js';
import type { CsvItem } from '../../lib/serde/csv.js';

// Compiled tests run from dist/test/event/; the data stays in the source tree.
const dataDir = fileURLToPath(new URL('../../../examples/data/', import.meta.url));
const REES46_FILE = `${dataDir}rees46-2019-10-01-head.csv`;
const RETAIL_FILE = `${dataDir}online-retail-2010-12-first-days.csv`;

const rees46: SourceMapping = {
  fields: {
    timestamp: 'event_time', event: 'event_type', userId: 'user_id',
    'properties.productId': 'product_id', 'properties.price': 'price',
  },
  values: { event: { cart: 'add_to_cart', remove_from_cart: 'remove_from_cart' } },
  defaults: { type: 'track', 'context.channel': 'web' },
  messageId: 'hash',
  types: { 'properties.price': 'number' },
};

const retail: SourceMapping = {
  fields: {
    timestamp: 'InvoiceDate', userId: 'CustomerID', 'properties.orderId': 'InvoiceNo', 'properties.sku': 'StockCode',
    'properties.name': 'Description', 'properties.quantity': 'Quantity', 'properties.price': 'UnitPrice', 'context.country': 'Country',
  },
  defaults: { event: 'purchase', 'context.channel': 'store' },
  types: { 'properties.quantity': 'integer', 'properties.price': 'number' },
};

// Literal lines of the files (lines 1, 2, 4, 164, 333, 15517 and 15519 of the REES46 head; CRLF as in the file).
const REES46_ROWS = [
  'event_time,event_type,product_id,category_id,category_code,brand,price,user_id,user_session',
  '2019-10-01 00:00:00 UTC,view,44600062,2103807459595387724,,shiseido,35.79,541312140,72d76fde-8bb3-4e00-8c23-a032dfed738c',
  '2019-10-01 00:00:01 UTC,view,17200506,2053013559792632471,furniture.living_room.sofa,,543.10,519107250,566511c2-e2e3-422b-b695-cf8e6e792ca8',
  '2019-10-01 00:02:14 UTC,purchase,1004856,2053013555631882655,electronics.smartphone,samsung,130.76,543272936,8187d148-3c41-46d4-b0c0-9c08cd9dc564',
  '2019-10-01 00:05:14 UTC,cart,5100816,2053013553375346967,,xiaomi,29.51,550121407,6f623695-9581-4633-813f-825b8760c7ae',
  '2019-10-01 02:46:53 UTC,cart,1004833,2053013555631882655,electronics.smartphone,samsung,174.76,537717675,97a54368-3848-44ac-a249-14f84aeb3435',
  '2019-10-01 02:46:53 UTC,cart,1004833,2053013555631882655,electronics.smartphone,samsung,174.76,537717675,97a54368-3848-44ac-a249-14f84aeb3435',
].join('\r\n');

// Lines 1 (with the file's BOM), 2, 111 (quoted whole by the export), 143 (a cancellation) and 1445 (no CustomerID).
const RETAIL_ROWS = [
  '\ufeffInvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country',
  '536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,2010-12-01 08:26:00,2.55,17850.0,United Kingdom',
  '"536381,82567,""AIRLINE LOUNGE,METAL SIGN"",2,2010-12-01 09:41:00,2.1,15311.0,United Kingdom"',
  'C536379,D,Discount,-1,2010-12-01 09:41:00,27.5,14527.0,United Kingdom',
  '536544,21773,DECORATIVE ROSE BATHROOM BOTTLE,1,2010-12-01 14:32:00,2.51,,United Kingdom',
].join('\r\n') + '\r\n';

function records(items: CsvItem[]): Array<Record<string, string>> {
  return items.map((i) => {
    if (!i.ok) assert.fail(`line ${i.line}: ${i.reason} ${i.detail}`);
    return i.record;
  });
}

function events(rows: Array<Record<string, string>>, mapping: SourceMapping): TributaryEvent[] {
  return rows.map((row) => {
    const r = normalizeEvent(row, mapping);
    if (!r.ok) assert.fail(`${r.reason}: ${r.detail}`);
    return r.event;
  });
}

test('REES46 rows normalise to exact events', () => {
  const got = events(records(parseCsv(REES46_ROWS)), rees46);
  const expected: TributaryEvent[] = [
    {
      messageId: 'h-fe2e8d3a582ae91b51fc03789ef3332d', type: 'track', event: 'view', userId: '541312140', anonymousId: null,
      timestamp: 1569888000000, properties: { productId: '44600062', price: 35.79 }, context: { channel: 'web' },
      category_id: '2103807459595387724', brand: 'shiseido', user_session: '72d76fde-8bb3-4e00-8c23-a032dfed738c',
    },
    {
      messageId: 'h-aa2a7bad2eb68de4362280f54894387d', type: 'track', event: 'view', userId: '519107250', anonymousId: null,
      timestamp: 1569888001000, properties: { productId: '17200506', price: 543.1 }, context: { channel: 'web' },
      category_id: '2053013559792632471', category_code: 'furniture.living_room.sofa', user_session: '566511c2-e2e3-422b-b695-cf8e6e792ca8',
    },
    {
      messageId: 'h-70baa9f3569db4710b8ddaabf0afd3cf', type: 'track', event: 'purchase', userId: '543272936', anonymousId: null,
      timestamp: 1569888134000, properties: { productId: '1004856', price: 130.76 }, context: { channel: 'web' },
      category_id: '2053013555631882655', category_code: 'electronics.smartphone', brand: 'samsung', user_session: '8187d148-3c41-46d4-b0c0-9c08cd9dc564',
    },
    {
      messageId: 'h-6f88fbb16bfd23a17e5d4f4a0bc8b633', type: 'track', event: 'add_to_cart', userId: '550121407', anonymousId: null,
      timestamp: 1569888314000, properties: { productId: '5100816', price: 29.51 }, context: { channel: 'web' },
      category_id: '2053013553375346967', brand: 'xiaomi', user_session: '6f623695-9581-4633-813f-825b8760c7ae',
    },
    {
      messageId: 'h-0658b008d5b8ffea820546f045d1bf76', type: 'track', event: 'add_to_cart', userId: '537717675', anonymousId: null,
      timestamp: 1569898013000, properties: { productId: '1004833', price: 174.76 }, context: { channel: 'web' },
      category_id: '2053013555631882655', category_code: 'electronics.smartphone', brand: 'samsung', user_session: '97a54368-3848-44ac-a249-14f84aeb3435',
    },
  ];
  // The last two lines are an exact duplicate in the file: same event, same id, so dedupe catches it.
  expected.push({ ...(expected[4] as TributaryEvent) });
  assert.deepEqual(got, expected);
  assert.equal(new Set(got.slice(0, 5).map((e) => e.messageId)).size, 5, 'different rows, different ids');
});

test('the hash is SHA-256 of the raw row as sorted-key JSON (ids stay stable across releases)', () => {
  const [row] = records(parseCsv(REES46_ROWS));
  const canonical =
    '{"brand":"shiseido","category_id":"2103807459595387724","event_time":"2019-10-01 00:00:00 UTC","event_type":"view",' +
    '"price":"35.79","product_id":"44600062","user_id":"541312140","user_session":"72d76fde-8bb3-4e00-8c23-a032dfed738c"}';
  const id = `h-${createHash('sha256').update(canonical).digest('hex').slice(0, 32)}`;
  const r = normalizeEvent(row, rees46);
  assert.equal(r.ok && r.event.messageId, id);
});

test('Online Retail rows normalise to exact events (17850.0 → "17850", empty CustomerID → null)', () => {
  const got = events(records(parseCsv(RETAIL_ROWS, { unwrapQuotedRows: true })), retail);
  const common = { type: 'track', event: 'purchase', anonymousId: null } as const;
  const expected: TributaryEvent[] = [
    {
      messageId: 'h-3f66337e0b025defbde791561632adab', ...common, userId: '17850', timestamp: 1291191960000,
      properties: { orderId: '536365', sku: '85123A', name: 'WHITE HANGING HEART T-LIGHT HOLDER', quantity: 6, price: 2.55 },
      context: { country: 'United Kingdom', channel: 'store' },
    },
    {
      messageId: 'h-707e9811a2b794b752e61b67e3bf7e86', ...common, userId: '15311', timestamp: 1291196460000,
      properties: { orderId: '536381', sku: '82567', name: 'AIRLINE LOUNGE,METAL SIGN', quantity: 2, price: 2.1 },
      context: { country: 'United Kingdom', channel: 'store' },
    },
    {
      messageId: 'h-1f03017092b6bd839c9ce9ab99276ffc', ...common, userId: '14527', timestamp: 1291196460000,
      properties: { orderId: 'C536379', sku: 'D', name: 'Discount', quantity: -1, price: 27.5 },
      context: { country: 'United Kingdom', channel: 'store' },
    },
    {
      messageId: 'h-4db5a7fcb0c6d278dab7a69ae6e29e9b', ...common, userId: null, timestamp: 1291213920000,
      properties: { orderId: '536544', sku: '21773', name: 'DECORATIVE ROSE BATHROOM BOTTLE', quantity: 1, price: 2.51 },
      context: { country: 'United Kingdom', channel: 'store' },
    },
  ];
  assert.deepEqual(got, expected);
});

test('an Online Retail row without CustomerID has no key', () => {
  const rows = records(parseCsv(RETAIL_ROWS, { unwrapQuotedRows: true }));
  const normalize = createNormalizer(retail, { key: ['userId', 'anonymousId'] });
  assert.deepEqual(
    rows.map((r) => {
      const n = normalize(r);
      return n.ok ? n.event.userId : n.reason;
    }),
    ['17850', '15311', '14527', 'missing-key'],
  );
});

test('REES46 file: every row normalises; exact duplicate rows, and only they, share an id', async () => {
  const lines = readFileSync(REES46_FILE, 'utf8').split(/\r?\n/).slice(1).filter((l) => l.length > 0);
  const distinctLines = new Set(lines).size;
  const normalize = createNormalizer(rees46, { key: ['anonymousId', 'userId'] });
  const byId = new Map<string, number[]>();
  let n = 0;
  for await (const item of readCsv(createReadStream(REES46_FILE))) {
    if (!item.ok) assert.fail(`line ${item.line}: ${item.detail}`);
    const r = normalize(item.record);
    if (!r.ok) assert.fail(`line ${item.line}: ${r.reason} ${r.detail}`);
    n++;
    const seen = byId.get(r.event.messageId) ?? [];
    seen.push(item.line);
    byId.set(r.event.messageId, seen);
  }
  assert.equal(n, 17434);
  assert.equal(lines.length, 17434);
  assert.ok(distinctLines < lines.length, 'the sample has duplicate rows');
  assert.equal(byId.size, distinctLines);
  const dup = [...byId.values()].find((l) => l.includes(15517));
  assert.deepEqual(dup, [15517, 15519]);
});

test('Online Retail file: all 8373 rows read with unwrapQuotedRows, 119 rejected without', async () => {
  let ok = 0;
  let noCustomer = 0;
  for await (const item of readCsv(createReadStream(RETAIL_FILE), { unwrapQuotedRows: true })) {
    if (!item.ok) assert.fail(`line ${item.line}: ${item.detail}`);
    const r = normalizeEvent(item.record, retail);
    if (!r.ok) assert.fail(`line ${item.line}: ${r.reason} ${r.detail}`);
    ok++;
    if (r.event.userId === null) noCustomer++;
    else assert.match(r.event.userId, /^\d+$/);
  }
  assert.equal(ok, 8373);
  assert.ok(noCustomer > 0);
  const strict = parseCsv(readFileSync(RETAIL_FILE));
  const rejected = strict.filter((i) => !i.ok);
  assert.equal(rejected.length, 119);
  assert.deepEqual(
    rejected.map((i) => !i.ok && i.reason),
    Array(119).fill('malformed-csv'),
  );
  assert.equal(strict.length, 8373);
});
