import { toPositionedRecord } from '#adapters/lambda/kinesis-event.js';
import { packErrorMessages } from '#domain/error-message.js';
import type { ErrorRecord } from '#domain/reading.js';
import { classifyBatch } from '#pipeline/classify-batch.js';
import { kinesisEvents, recordSet } from '#bench/records.js';
const spec = { count: 20000, seed: 1, sensors: 1000, positionOffset: 0 };
const set = recordSet(spec);
const events = kinesisEvents(set, spec, 500);
const now = new Date();
const batches = events.map((e) => classifyBatch(e.Records.map(toPositionedRecord), { payloadCapBytes: 65536, now }).rejections);
const all = batches.flat();
console.log(JSON.stringify(packErrorMessages([all[0] as ErrorRecord])[0]?.body).slice(0, 800));
const NON_ASCII = /[\u007f-\uffff]/;
function ascii(s: string) { return NON_ASCII.test(s) ? s.replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`) : s; }
function enc2(error: ErrorRecord): string {
  const p = error.position;
  const q = JSON.stringify;
  return ascii(`{"errorType":${q(error.errorType)},"errorMessage":${q(error.errorMessage)},"raw":"${Buffer.from(error.rawBytes.buffer, error.rawBytes.byteOffset, error.rawBytes.byteLength).toString('base64')}","rawSize":${error.rawSize},"sensorId":${q(error.sensorId)},"readingId":${q(error.readingId)},"streamName":${q(p.streamName)},"shardId":${q(p.shardId)},"sequenceNumber":${q(p.sequenceNumber)},"partitionKey":${q(p.partitionKey)},"arrivalTime":${p.arrivalTime ? `"${p.arrivalTime.toISOString()}"` : 'null'},"errorTime":"${error.errorTime.toISOString()}"}`);
}
const old = packErrorMessages(all, 1e9)[0]?.body ?? '';
const neu = `{"v":2,"errors":[${all.map(enc2).join(',')}]}`;
console.log('identical', old === neu, old.length);
function time(label: string, f: () => void) { for (let w = 0; w < 3; w++) f(); const t = performance.now(); for (let i = 0; i < 5; i++) f(); console.log(label, ((performance.now() - t) / 5 / batches.length).toFixed(3), 'ms per 500-batch'); }
time('pack (current)', () => { for (const b of batches) packErrorMessages(b); });
time('encode v2', () => { for (const b of batches) for (const e of b) enc2(e); });
time('base64 only', () => { for (const b of batches) for (const e of b) Buffer.from(e.rawBytes.buffer, e.rawBytes.byteOffset, e.rawBytes.byteLength).toString('base64'); });
time('stringify obj', () => { for (const b of batches) for (const e of b) JSON.stringify({a: e.errorType, b: e.errorMessage, c: e.sensorId, d: e.position.sequenceNumber, t: e.errorTime.toISOString()}); });
time('toISOString x2', () => { for (const b of batches) for (const e of b) { e.errorTime.toISOString(); e.position.arrivalTime?.toISOString(); } });
time('q x7', () => { const q = JSON.stringify; for (const b of batches) for (const e of b) { q(e.errorType); q(e.errorMessage); q(e.sensorId); q(e.readingId); q(e.position.streamName); q(e.position.shardId); q(e.position.sequenceNumber); q(e.position.partitionKey);} });
time('ascii test', () => { for (const b of batches) for (const e of b) NON_ASCII.test(enc2(e)); });
const encoded = all.map(enc2);
time('ascii test only', () => { let i = 0; for (const b of batches) for (const _ of b) NON_ASCII.test(encoded[i++] as string); });
time('join', () => { let i = 0; for (const b of batches) { const parts = []; for (const _ of b) parts.push(encoded[i++]); `{"v":2,"errors":[${parts.join(',')}]}`; } });
