// Reads an `akidb export` Parquet file with DuckDB and checks it against
// the facts mkdata recorded from the engine: the record count, one vector
// bit for bit, metadata fields, a deleted and a replaced record, and the
// file's key-value metadata. Usage: node check.mjs FILE EXPECT.json
// Any mismatch or error exits non-zero.
import { readFileSync } from 'node:fs';
import { DuckDBInstance } from '@duckdb/node-api';

const [file, expectPath] = process.argv.slice(2);
if (!file || !expectPath) {
  console.error('usage: node check.mjs FILE EXPECT.json');
  process.exit(2);
}
const want = JSON.parse(readFileSync(expectPath, 'utf8'));
const failures = [];
let passed = 0;
function check(what, got, expected) {
  const ok = JSON.stringify(got) === JSON.stringify(expected);
  if (ok) passed++;
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}: ${JSON.stringify(got)}${ok ? '' : ` (want ${JSON.stringify(expected)})`}`);
  if (!ok) failures.push(what);
}

const instance = await DuckDBInstance.create(':memory:');
const con = await instance.connect();
async function rows(sql, params) {
  const reader = await con.runAndReadAll(sql, params);
  return reader.getRowObjectsJS();
}
const src = `read_parquet($file)`;
const p = { file };

// The query docs/export.md shows.
const [count] = await rows(`SELECT count(*) AS n FROM ${src}`, p);
check('row count', Number(count.n), want.count);

const probe = await rows(`SELECT vector, metadata->>'$.title' AS title, len(vector) AS dim FROM ${src} WHERE id = $id`, { ...p, id: want.probe_id });
check(`rows with id ${want.probe_id}`, probe.length, 1);
if (probe.length === 1) {
  check(`vector of ${want.probe_id} (float32 values, exact)`, probe[0].vector, want.probe_vector);
  check(`metadata title of ${want.probe_id}`, probe[0].title, want.probe_title);
  check('vector length', Number(probe[0].dim), want.dimension);
  if (want.metric === 'cosine') {
    const norm = Math.sqrt(probe[0].vector.reduce((s, x) => s + x * x, 0));
    check('cosine vector is unit length (to 1e-6)', Math.abs(norm - 1) < 1e-6, true);
  }
}
const [repl] = await rows(`SELECT metadata->>'$.title' AS title FROM ${src} WHERE id = $id`, { ...p, id: want.replaced_id });
check(`title of replaced ${want.replaced_id}`, repl && repl.title, want.replaced_title);
const [del] = await rows(`SELECT count(*) AS n FROM ${src} WHERE id = $id`, { ...p, id: want.deleted_id });
check(`rows with deleted id ${want.deleted_id}`, Number(del.n), 0);
const [dups] = await rows(`SELECT count(*) - count(DISTINCT id) AS n FROM ${src}`, p);
check('duplicate ids', Number(dups.n), 0);

const kv = Object.fromEntries((await rows(
  `SELECT decode(key) AS k, decode(value) AS v FROM parquet_kv_metadata($file)`, p)).map((r) => [r.k, r.v]));
check('akidb.seq', kv['akidb.seq'], String(want.seq));
check('akidb.collection', kv['akidb.collection'], want.collection);
check('akidb.tenant', kv['akidb.tenant'], want.tenant);
check('akidb.metric', kv['akidb.metric'], want.metric);
check('akidb.dimension', kv['akidb.dimension'], String(want.dimension));
check('akidb.records', kv['akidb.records'], String(want.count));
check('akidb.format_version', kv['akidb.format_version'], '1');

const types = Object.fromEntries((await rows(`DESCRIBE SELECT * FROM ${src}`, p)).map((r) => [r.column_name, r.column_type]));
check('column types', types, { id: 'VARCHAR', vector: 'FLOAT[]', metadata: 'JSON' });

con.closeSync();
instance.closeSync();
if (failures.length > 0) {
  console.error(`DuckDB check of ${file} failed: ${failures.join('; ')}`);
}
console.log(`duckdb: ${passed} passed, ${failures.length} failed`);
process.exit(failures.length > 0 ? 1 : 0);
