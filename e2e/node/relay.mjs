// The official Anthropic Node SDK through dsgate to DeepSeek's Anthropic
// endpoint (its strict double): node relay.mjs <base URL>. Run by
// e2e/apis_node_test.go (TestNodeAnthropicRelay). Thinking signatures
// starting with "sig_" are the double's own: only a relayed answer has
// them (dsgate's translation signs with its own digest).
import assert from 'node:assert/strict';
import Anthropic from '@anthropic-ai/sdk';

const base = process.argv[2];
const anthropic = new Anthropic({ baseURL: base, apiKey: 'sk-any', maxRetries: 0 });

const weather = {
  name: 'get_weather',
  description: 'Current weather of a city',
  input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
};

const hello = { model: 'deepseek-v4-flash', max_tokens: 24, system: 'Be brief.', messages: [{ role: 'user', content: 'relay hello' }] };

const checks = {
  async 'relayed messages.create'() {
    const m = await anthropic.messages.create(hello);
    assert.equal(m.type, 'message');
    assert.equal(m.model, 'deepseek-v4-flash');
    const thinking = m.content.find((b) => b.type === 'thinking');
    assert.ok(thinking && thinking.signature.startsWith('sig_'), JSON.stringify(m.content));
    assert.ok(m.content.some((b) => b.type === 'text' && b.text.length > 0));
    assert.ok(m.usage.input_tokens > 0 && m.usage.output_tokens > 0);
  },
  async 'relayed usage with cache reads'() {
    const m = await anthropic.messages.create(hello);
    assert.ok(m.usage.cache_read_input_tokens > 0, JSON.stringify(m.usage));
  },
  async 'relayed messages.stream'() {
    const stream = anthropic.messages.stream({ ...hello, model: 'deepseek-chat' });
    let text = '';
    stream.on('text', (t) => { text += t; });
    const m = await stream.finalMessage();
    assert.equal(m.model, 'deepseek-chat');
    assert.ok(!m.content.some((b) => b.type === 'thinking'), 'deepseek-chat is configured thinking: false');
    assert.equal(m.content[0].text, text);
    assert.equal(m.stop_reason, 'max_tokens');
    assert.ok(m.usage.output_tokens > 0);
  },
  async 'relayed tools round trip'() {
    const messages = [{ role: 'user', content: 'What is the weather in Paris?' }];
    const first = await anthropic.messages.create({ model: 'deepseek-v4-pro', max_tokens: 64, tools: [weather], messages });
    assert.equal(first.stop_reason, 'tool_use');
    const use = first.content.find((b) => b.type === 'tool_use');
    assert.equal(use.name, 'get_weather');
    messages.push({ role: 'assistant', content: first.content });
    messages.push({ role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: 'sunny' }] });
    const second = await anthropic.messages.create({ model: 'deepseek-v4-pro', max_tokens: 16, tools: [weather], messages });
    assert.ok(second.content.some((b) => b.type === 'text'));
  },
  async 'error of DeepSeek Anthropic endpoint'() {
    const image = { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } };
    await assert.rejects(
      anthropic.messages.create({ model: 'deepseek-v4-flash', max_tokens: 8, messages: [{ role: 'user', content: [image] }] }),
      (e) => e instanceof Anthropic.BadRequestError && e.error?.type === 'error' &&
        e.error?.error?.type === 'invalid_request_error' && /not supported/.test(e.error?.error?.message));
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
