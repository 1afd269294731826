// Feeds the golden Messages and Responses outputs (../golden) to the official
// SDKs through a loopback server and checks what the SDKs make of them:
// create == stream accumulation, the stream helpers' events, error classes.
// Not part of go test (it needs npm). To run:
//
//	mkdir /tmp/sdk && cd /tmp/sdk && npm init -y && npm install openai @anthropic-ai/sdk
//	cp <repo>/internal/chatwire/testdata/sdk/check.mjs . &&
//	GOLDEN=<repo>/internal/chatwire/testdata/golden node check.mjs
//
// Last run: openai 6.49.0, @anthropic-ai/sdk 1.16.0, node 20: ALL OK.

import http from 'node:http';
import fs from 'node:fs';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';

const G = process.env.GOLDEN ?? new URL('../golden', import.meta.url).pathname;
let next = null; // {status, type, body}
const srv = http.createServer((req, res) => {
  let body = '';
  req.on('data', (c) => (body += c));
  req.on('end', () => {
    const n = next;
    res.writeHead(n.status, { 'content-type': n.type, 'request-id': 'req_1' });
    res.end(n.body);
  });
});
await new Promise((r) => srv.listen(0, '127.0.0.1', r));
const base = 'http://127.0.0.1:' + srv.address().port;
const serve = (status, type, file) => { next = { status, type, body: fs.readFileSync(G + '/' + file) }; };
const serveText = (status, type, body) => { next = { status, type, body }; };

const anthropic = new Anthropic({ apiKey: 'k', baseURL: base, maxRetries: 0 });
const openai = new OpenAI({ apiKey: 'k', baseURL: base + '/v1', maxRetries: 0 });
const params = { model: 'deepseek-chat', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] };
let fail = 0;
const check = (name, cond, got) => { if (!cond) { fail++; console.log('FAIL', name, JSON.stringify(got)); } else console.log('ok', name); };

for (const t of ['tool', 'text']) {
  serve(200, 'application/json', 'messages_' + t + '.json');
  const m = await anthropic.messages.create(params);
  serve(200, 'text/event-stream', 'messages_' + t + '.sse');
  const stream = anthropic.messages.stream(params);
  let textDeltas = '', thinking = '', json = '';
  stream.on('text', (d) => (textDeltas += d));
  stream.on('thinking', (d) => (thinking += d));
  stream.on('inputJson', (d, snap) => (json = snap));
  const sm = await stream.finalMessage();
  check('anthropic ' + t + ' stream == create (content)', JSON.stringify(sm.content) === JSON.stringify(m.content), { sm: sm.content, m: m.content });
  check('anthropic ' + t + ' stream usage', sm.usage.output_tokens === m.usage.output_tokens && sm.usage.input_tokens === m.usage.input_tokens && sm.usage.cache_read_input_tokens === m.usage.cache_read_input_tokens, sm.usage);
  check('anthropic ' + t + ' stop_reason', sm.stop_reason === m.stop_reason, [sm.stop_reason, m.stop_reason]);
  const txt = m.content.filter((b) => b.type === 'text').map((b) => b.text).join('');
  check('anthropic ' + t + ' text event', textDeltas === txt, textDeltas);
  const th = m.content.filter((b) => b.type === 'thinking').map((b) => b.thinking).join('');
  check('anthropic ' + t + ' thinking event', thinking === th, thinking);

  serve(200, 'application/json', 'responses_' + t + '.json');
  const r = await openai.responses.create({ model: 'deepseek-chat', input: 'hi' });
  serve(200, 'text/event-stream', 'responses_' + t + '.sse');
  const rs = openai.responses.stream({ model: 'deepseek-chat', input: 'hi' });
  let outText = '';
  rs.on('response.output_text.delta', (e) => (outText += e.delta));
  const fr = await rs.finalResponse();
  check('openai ' + t + ' output_text', r.output_text === fr.output_text && outText === r.output_text, [r.output_text, fr.output_text, outText]);
  // The SDK's stream helper adds its parse helpers' fields; drop them.
  const strip = (o) => JSON.stringify(o, (k, v) => (k === 'parsed' || k === 'parsed_arguments' ? undefined : v));
  check('openai ' + t + ' output', strip(r.output) === strip(fr.output), { r: r.output, fr: fr.output });
  check('openai ' + t + ' usage', JSON.stringify(r.usage) === JSON.stringify(fr.usage), fr.usage);
  // the raw stream through the SDK's async iterator
  serve(200, 'text/event-stream', 'responses_' + t + '.sse');
  const raw = await openai.responses.create({ model: 'deepseek-chat', input: 'hi', stream: true });
  const types = [];
  for await (const ev of raw) types.push(ev.type);
  check('openai ' + t + ' raw stream ends completed', types.at(-1) === 'response.completed', types);
}

// errors
serveText(429, 'application/json', '{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}');
try { await anthropic.messages.create(params); check('anthropic 429', false, 'no error'); } catch (e) {
  check('anthropic 429 class', e instanceof Anthropic.RateLimitError && e.error?.error?.type === 'rate_limit_error', { name: e.constructor.name, err: e.error });
}
serveText(200, 'text/event-stream', 'event: message_start\ndata: {"type":"message_start","message":{"id":"m","type":"message","role":"assistant","model":"x","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":0,"output_tokens":0}}}\n\nevent: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"busy"}}\n\n');
try { await anthropic.messages.stream(params).finalMessage(); check('anthropic stream error', false, 'no error'); } catch (e) {
  check('anthropic stream error', String(e.message).includes('busy') || JSON.stringify(e.error ?? '').includes('busy'), { name: e.constructor.name, msg: e.message });
}
srv.close();
console.log(fail ? 'FAILURES: ' + fail : 'ALL OK');
process.exit(fail ? 1 : 0);
