// The official Anthropic and OpenAI Node SDKs against dsgate, unchanged:
// node sdks.mjs <base URL>. Run by e2e/apis_node_test.go; exits non-zero
// with the failed check on stderr.
import assert from 'node:assert/strict';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';

const base = process.argv[2];
const anthropic = new Anthropic({ baseURL: base, apiKey: 'sk-any', maxRetries: 0 });
const openai = new OpenAI({ baseURL: base + '/v1', apiKey: 'sk-any', maxRetries: 0 });

const weather = {
  name: 'get_weather',
  description: 'Current weather of a city',
  input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
};

const checks = {
  async 'anthropic messages.create'() {
    const m = await anthropic.messages.create({
      model: 'deepseek-chat', max_tokens: 16, system: 'Be brief.',
      messages: [{ role: 'user', content: 'hello' }],
    });
    assert.equal(m.type, 'message');
    assert.equal(m.content[0].type, 'text');
    assert.ok(m.content[0].text.length > 0);
    assert.ok(m.usage.input_tokens > 0 && m.usage.output_tokens > 0);
  },
  async 'anthropic messages.stream'() {
    const stream = anthropic.messages.stream({
      model: 'deepseek-chat', max_tokens: 8, messages: [{ role: 'user', content: 'hello' }],
    });
    let text = '';
    stream.on('text', (t) => { text += t; });
    const m = await stream.finalMessage();
    assert.equal(m.content[0].text, text);
    assert.equal(m.stop_reason, 'max_tokens');
  },
  async 'anthropic tools round trip'() {
    const messages = [{ role: 'user', content: 'What is the weather in Paris?' }];
    const first = await anthropic.messages.create({ model: 'deepseek-chat', max_tokens: 64, tools: [weather], messages });
    assert.equal(first.stop_reason, 'tool_use');
    const use = first.content.find((b) => b.type === 'tool_use');
    assert.equal(use.name, 'get_weather');
    assert.equal(typeof use.input.city, 'string');
    messages.push({ role: 'assistant', content: first.content });
    messages.push({ role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: 'sunny, 21C' }] });
    const second = await anthropic.messages.create({ model: 'deepseek-chat', max_tokens: 16, tools: [weather], messages });
    assert.equal(second.stop_reason, 'max_tokens');
    assert.equal(second.content[0].type, 'text');
  },
  async 'anthropic thinking (stream, signature round trip)'() {
    const messages = [{ role: 'user', content: 'What is the weather in Paris?' }];
    const stream = anthropic.messages.stream({
      model: 'deepseek-v4-flash', max_tokens: 64, thinking: { type: 'enabled', budget_tokens: 1024 }, tools: [weather], messages,
    });
    const first = await stream.finalMessage();
    const thinking = first.content.find((b) => b.type === 'thinking');
    assert.ok(thinking && thinking.thinking.length > 0 && thinking.signature.length > 0, JSON.stringify(first.content));
    const use = first.content.find((b) => b.type === 'tool_use');
    assert.ok(use, JSON.stringify(first.content));
    messages.push({ role: 'assistant', content: first.content });
    messages.push({ role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: 'sunny' }] });
    const second = await anthropic.messages.create({
      model: 'deepseek-v4-flash', max_tokens: 16, thinking: { type: 'enabled', budget_tokens: 1024 }, tools: [weather], messages,
    });
    assert.ok(second.content.some((b) => b.type === 'text'));
  },
  async 'anthropic count_tokens'() {
    const c = await anthropic.messages.countTokens({ model: 'deepseek-chat', messages: [{ role: 'user', content: 'hello there' }] });
    assert.ok(c.input_tokens > 0);
  },
  async 'anthropic errors'() {
    await assert.rejects(
      anthropic.messages.create({ model: 'no-such-model', max_tokens: 8, messages: [{ role: 'user', content: 'x' }] }),
      (e) => e instanceof Anthropic.NotFoundError && e.error?.error?.type === 'not_found_error');
    await assert.rejects(
      anthropic.messages.create({ model: 'deepseek-chat', max_tokens: 8, messages: [] }),
      (e) => e instanceof Anthropic.BadRequestError && e.error?.type === 'error');
  },
  async 'openai responses.create'() {
    const r = await openai.responses.create({ model: 'deepseek-chat', instructions: 'Be brief.', input: 'hello', max_output_tokens: 12 });
    assert.equal(r.object, 'response');
    assert.ok(r.output_text.length > 0);
    assert.ok(r.usage.input_tokens > 0);
    const again = await openai.responses.retrieve(r.id);
    assert.equal(again.id, r.id);
    const items = await openai.responses.inputItems.list(r.id);
    assert.equal(items.data[0].role, 'user');
    const next = await openai.responses.create({ model: 'deepseek-chat', input: 'and then?', previous_response_id: r.id, max_output_tokens: 4 });
    assert.equal(next.previous_response_id, r.id);
  },
  async 'openai responses stream'() {
    const stream = openai.responses.stream({ model: 'deepseek-chat', input: 'hello', max_output_tokens: 8 });
    let text = '';
    stream.on('response.output_text.delta', (e) => { text += e.delta; });
    const r = await stream.finalResponse();
    assert.equal(r.output_text, text);
  },
  async 'openai function calling round trip'() {
    const tools = [{ type: 'function', name: 'get_weather', description: 'Current weather of a city',
      parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] }, strict: false }];
    const input = [{ role: 'user', content: 'What is the weather in Paris?' }];
    const first = await openai.responses.create({ model: 'deepseek-chat', tools, input, store: false });
    const call = first.output.find((i) => i.type === 'function_call');
    assert.ok(call, JSON.stringify(first.output));
    assert.equal(call.name, 'get_weather');
    input.push(...first.output, { type: 'function_call_output', call_id: call.call_id, output: 'sunny' });
    const second = await openai.responses.create({ model: 'deepseek-chat', tools, input, store: false, max_output_tokens: 8 });
    assert.ok(second.output_text.length > 0);
  },
  async 'openai reasoning'() {
    const r = await openai.responses.create({ model: 'deepseek-reasoner', input: 'hello', max_output_tokens: 16, reasoning: { effort: 'high' } });
    const rs = r.output.find((i) => i.type === 'reasoning');
    assert.ok(rs && rs.content[0].text.length > 0, JSON.stringify(r.output));
    assert.ok(r.usage.output_tokens_details.reasoning_tokens > 0);
  },
  async 'openai responses errors'() {
    await assert.rejects(openai.responses.retrieve('resp_nope'), (e) => e instanceof OpenAI.NotFoundError);
    await assert.rejects(openai.responses.create({ model: 'no-such-model', input: 'x' }), (e) => e instanceof OpenAI.NotFoundError);
  },
};

let failed = 0;
for (const [name, fn] of Object.entries(checks)) {
  try {
    await fn();
    console.log('ok', name);
  } catch (e) {
    failed++;
    console.error('FAIL', name, e?.stack ?? e);
  }
}
process.exit(failed ? 1 : 0);
