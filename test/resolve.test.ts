// Resolution order: provider query, provider/model prefix, models map, defaultProvider, the only provider.
import t from 'tap'
import { ProviderRegistry } from '../lib/index.js'
import { fakeUpstream, refused, startProxy } from './helpers.js'

const registry = new ProviderRegistry({
  providers: { openai: {}, azure: { baseURL: 'https://r.openai.azure.com' }, xai: {} },
  models: { 'gpt-realtime': { provider: 'azure', model: 'prod-deploy' }, 'grok-voice': 'xai' },
  defaultProvider: 'openai'
})

const pick = (query: Parameters<ProviderRegistry['resolve']>[0]): [string, string | undefined] => {
  const r = registry.resolve(query)
  return [r.provider.name, r.model]
}

t.test('provider query wins, mapping the model only for that provider', async (t) => {
  t.same(pick({ provider: 'azure', model: 'gpt-realtime' }), ['azure', 'prod-deploy'])
  t.same(pick({ provider: 'openai', model: 'gpt-realtime' }), ['openai', 'gpt-realtime'])
  t.same(pick({ provider: 'xai', model: 'azure/x' }), ['xai', 'azure/x'])
})

t.test('then a provider/model prefix', async (t) => {
  t.same(pick({ model: 'azure/gpt-realtime' }), ['azure', 'gpt-realtime'])
  t.same(pick({ model: 'xai/grok/voice' }), ['xai', 'grok/voice'])
  // a slash that names no provider is part of the model
  t.same(pick({ model: 'accounts/fw/models/m' }), ['openai', 'accounts/fw/models/m'])
})

t.test('then the models map, then defaultProvider', async (t) => {
  t.same(pick({ model: 'gpt-realtime' }), ['azure', 'prod-deploy'])
  t.same(pick({ model: 'grok-voice' }), ['xai', 'grok-voice'])
  t.same(pick({ model: 'anything-else' }), ['openai', 'anything-else'])
})

t.test('then the only provider', async (t) => {
  const one = new ProviderRegistry({ providers: { bailian: {} } })
  t.equal(one.resolve({ model: 'qwen-omni' }).provider.name, 'bailian')
})

t.test('failures are typed 400 errors naming the problem', async (t) => {
  const two = new ProviderRegistry({ providers: { openai: {}, xai: {} } })
  t.throws(() => two.resolve({ model: 'm' }), { code: 'FST_REALTIME_UNROUTABLE_MODEL', statusCode: 400, message: /No provider for model "m"/ })
  t.throws(() => two.resolve({}), { code: 'FST_REALTIME_MODEL_REQUIRED', statusCode: 400 })
  t.throws(() => two.resolve({ provider: 'nope', model: 'm' }), { code: 'FST_REALTIME_UNKNOWN_PROVIDER', message: 'Unknown provider "nope"; configured providers: openai, xai' })
  t.throws(() => two.resolve({ model: 'xai/' }), { code: 'FST_REALTIME_MODEL_REQUIRED' })
  t.throws(() => registry.resolve({ provider: 'xai' }), { code: 'FST_REALTIME_MODEL_REQUIRED' })
})

t.test('runtime changes apply to the next resolution', async (t) => {
  const r = new ProviderRegistry({ providers: { openai: {} }, models: { m: 'openai' }, defaultProvider: 'openai' })
  r.set('openai', { baseURL: 'https://other.example.com/v1' })
  t.equal(r.resolve({ model: 'm' }).provider.baseURL, 'https://other.example.com/v1')
  t.equal(r.delete('openai'), true)
  t.equal(r.delete('openai'), false)
  t.throws(() => r.resolve({ model: 'm' }), { code: 'FST_REALTIME_UNROUTABLE_MODEL' })
  r.set('xai', {})
  r.route('grok', { provider: 'xai' })
  t.same([r.resolve({ model: 'grok' }).provider.name, r.resolve({ model: 'grok' }).model], ['xai', 'grok'])
  t.same(r.names(), ['xai'])
  t.equal(r.defaultProvider, 'openai')
})

t.test('over HTTP: a JSON 400 before anything is dialed', async (t) => {
  const upstream = await fakeUpstream(t)
  const proxy = await startProxy(t, { providers: { a: { baseURL: upstream.url }, b: { baseURL: upstream.url } } })
  const cases: Array<[string, string, string]> = [
    ['', 'FST_REALTIME_MODEL_REQUIRED', 'Missing "model" query parameter: connect with ?model=<model>'],
    ['?model=m', 'FST_REALTIME_UNROUTABLE_MODEL', 'No provider for model "m": add it to the "models" option, prefix it as "<provider>/m", pass ?provider=, or set "defaultProvider"'],
    ['?model=m&provider=c', 'FST_REALTIME_UNKNOWN_PROVIDER', 'Unknown provider "c"; configured providers: a, b'],
    ['?model=a&model=b', 'FST_REALTIME_BAD_QUERY', 'Invalid query: "model" must be given once'],
    ['?model=has%20space', 'FST_REALTIME_BAD_QUERY', 'Invalid query: "model" must be 1 to 256 printable ASCII characters without spaces'],
    [`?model=${'m'.repeat(257)}`, 'FST_REALTIME_BAD_QUERY', 'Invalid query: "model" must be 1 to 256 printable ASCII characters without spaces'],
    ['?model=a/m&intent=speech', 'FST_REALTIME_BAD_QUERY', 'Invalid query: "intent" may only be "transcription"'],
    ['?provider=a&call_id=../x', 'FST_REALTIME_BAD_QUERY', 'Invalid query: "call_id" must be 1 to 128 letters, digits, "_" or "-"']
  ]
  for (const [query, code, message] of cases) {
    const res = await refused(t, `${proxy.url}/v1/realtime${query}`)
    t.equal(res.status, 400, query)
    t.match(res.headers['content-type'], /^application\/json/)
    t.same(JSON.parse(res.body), { statusCode: 400, code, error: 'Bad Request', message }, query)
  }
  t.equal(upstream.requests.length, 0, 'nothing was dialed')
})
